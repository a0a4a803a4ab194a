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


def _next_change_by_walking(start, seconds):
    shown = pretty_timedelta(start, start + timedelta(seconds=seconds))
    later = seconds + 1
    while pretty_timedelta(start, start + timedelta(seconds=later)) == shown:
        later += 1
    return later


def test_the_moment_an_age_reads_differently_is_found_exactly():
    import random

    from codeyard.util.timefmt import age_changes_at

    start = datetime(2025, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)
    rng = random.Random(7)
    # every 7th second of the first hours, then samples up to three days; larger spans below
    samples = list(range(0, 4 * 3600, 7)) + [rng.randrange(4 * 3600, 3 * 86400)
                                            for _ in range(60)]
    for seconds in samples:
        now = start + timedelta(seconds=seconds, microseconds=rng.randrange(1_000_000))
        expected = start + timedelta(seconds=_next_change_by_walking(start, seconds))
        assert age_changes_at(start, now) == expected, seconds
    for seconds in (int(86400 * 365 * 2.45), int(86400 * 30 * 5.5), int(86400 * 365 * 1.899)):
        now = start + timedelta(seconds=seconds)
        moment = age_changes_at(start, now)
        assert moment > now
        assert pretty_timedelta(start, moment) != pretty_timedelta(start, now)
        assert pretty_timedelta(start, moment - timedelta(seconds=1)) == \
            pretty_timedelta(start, now)
    # a commit dated in the future: the age is not trusted to hold for long
    assert age_changes_at(start + timedelta(hours=1), start) == start + timedelta(seconds=1)
