"""Ages read as Trac writes them: the nearest whole unit, not the floor."""

from datetime import UTC, datetime, timedelta

from codeyard.util.timefmt import pretty_timedelta
from codeyard.vcs.web_util import pretty_age

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_ages_round_like_trac():
    for delta, words in ((timedelta(days=365 * 2.9), "3 years"),
                         (timedelta(days=1.95), "2 days"),
                         (timedelta(days=1.5), "36 hours"),
                         (timedelta(seconds=45), "45 seconds"),
                         (timedelta(seconds=1), "1 second"),
                         (timedelta(minutes=2.6), "3 minutes")):
        assert pretty_age(NOW - delta, NOW) == words == pretty_timedelta(NOW, NOW - delta)
    assert pretty_age(None) == ""
