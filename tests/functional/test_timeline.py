"""/timeline through the whole site: each kind of event, day grouping in the reader's time
zone, the from/daysback/authors arguments, filters remembered in the session, permissions,
the RSS feed, ``timeline:`` links and bad input."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from codeyard.perm import PermissionSystem
from codeyard.timeline.events import to_us
from codeyard.vcs import cache
from codeyard.vcs.manager import RepositoryManager
from tests.unit.vcs.test_git_contract import GitWorkTree
from tests.unit.web.conftest import get_page as _get
from tests.unit.web.conftest import main_of as _main
from tests.unit.web.conftest import text

pytestmark = pytest.mark.db

# A fixed day far from today, so default pages made at creation never show.
DAY = datetime(2020, 3, 10, tzinfo=UTC)


def _us(hours: float) -> int:
    return to_us(DAY + timedelta(hours=hours))


def _fill(env) -> None:
    with env.db_transaction as db:
        db("INSERT INTO wiki (name, version, time, author, text, comment, readonly) "
           "VALUES (%s, 1, %s, 'alice', 'x', 'First draft', 0)", ("DraftPage", _us(9)))
        db("INSERT INTO wiki (name, version, time, author, text, comment, readonly) "
           "VALUES (%s, 2, %s, 'bob', 'y', 'See #1', 0)", ("DraftPage", _us(10)))
        db("INSERT INTO ticket (id, type, time, changetime, component, severity, priority, "
           "owner, reporter, cc, version, milestone, status, resolution, summary, "
           "description, keywords) VALUES (1, 'defect', %s, %s, '', '', 'major', '', "
           "'carol', '', '', '', 'closed', 'fixed', 'Broken <thing>', 'It breaks', '')",
           (_us(11), _us(13)))
        for field, old, new in (("comment", "1", "Looking at it"),):
            db("INSERT INTO ticket_change VALUES (1, %s, 'dave', %s, %s, %s)",
               (_us(12), field, old, new))
        for field, old, new in (("status", "new", "closed"), ("resolution", "", "fixed"),
                                ("comment", "2", "Done now")):
            db("INSERT INTO ticket_change VALUES (1, %s, 'dave', %s, %s, %s)",
               (_us(13), field, old, new))
        db("INSERT INTO milestone (name, due, completed, description) "
           "VALUES ('m1', 0, %s, 'The first')", (_us(14),))
        db("INSERT INTO attachment (type, id, filename, size, time, description, author) "
           "VALUES ('wiki', 'DraftPage', 'notes.txt', 3, %s, 'Some notes', 'erin')", (_us(15),))


@pytest.fixture
def site(served):
    env, client = served("project")
    _fill(env)
    return env, client


def test_every_kind_of_event(site):
    env, client = site
    html = _main(_get(client, "/timeline?from=2020-03-10&daysback=1&wiki=on&ticket=on"
                              "&ticket_details=on&milestone=on"))
    assert '<dt class="wiki">' in html and "<em>DraftPage</em> edited" in html
    assert "<em>DraftPage</em> created" in html and "/wiki/DraftPage?version=2" in html
    assert '<dt class="newticket">' in html and "Broken &lt;thing&gt;" in html
    assert '<dt class="closedticket">' in html and "<i>fixed</i>: Done now" in html
    assert '<dt class="editedticket">' in html and "/ticket/1#comment:1" in html
    assert '<dt class="milestone">' in html and "Milestone <em>m1</em> completed" in html
    assert '<dt class="attachment">' in html and "<em>notes.txt</em> attached to" in html
    # the comment is wiki text: #1 is a link to the ticket
    assert 'href="/ticket/1"' in html.split("See ", 1)[1][:200]
    # newest first
    assert html.index("notes.txt") < html.index("m1") < html.index("DraftPage</em> created")
    assert "2020-03-10:" in html


def test_ticket_updates_are_off_by_default(site):
    env, client = site
    html = _main(_get(client, "/timeline?from=2020-03-10&daysback=1"))
    assert '<dt class="closedticket">' in html
    assert '<dt class="editedticket">' not in html


def test_days_in_the_readers_time_zone(served):
    env, client = served("tz", options=[("trac", "default_timezone", "America/New_York")])
    _fill(env)
    # 9:00 and 10:00 UTC are 05:00 and 06:00 in New York; 03:00 UTC is the evening before.
    with env.db_transaction as db:
        db("INSERT INTO wiki (name, version, time, author, text, comment, readonly) "
           "VALUES ('Late', 1, %s, 'alice', 'x', '', 0)", (_us(3),))
    html = _main(_get(client, "/timeline?from=2020-03-10&daysback=1&wiki=on"))
    days = re.findall(r"<h2>([^<]*)</h2>", html)
    assert days == ["2020-03-10:", "2020-03-09:"]
    late = html.split("2020-03-09:", 1)[1]
    assert "<em>Late</em>" in late and '<span class="time">23:00</span>' in late
    assert '<span class="time">05:00</span>' in html


def test_from_daysback_and_authors(site):
    env, client = site
    assert "DraftPage" not in _main(_get(client, "/timeline?from=2020-03-09&daysback=3"))
    assert "DraftPage" in _main(_get(client, "/timeline?from=2020-03-12&daysback=2"))
    assert "DraftPage" not in _main(_get(client, "/timeline?from=2020-03-12&daysback=1"))
    html = _main(_get(client, "/timeline?from=2020-03-10&daysback=1&authors=bob"))
    assert "<em>DraftPage</em> edited" in html and "created" not in html
    html = _main(_get(client, "/timeline?from=2020-03-10&daysback=1&authors=-bob+-dave"))
    assert "<em>DraftPage</em> created" in html and "edited" not in html
    assert "closedticket" not in html


def test_filters_and_settings_remembered_in_the_session(site):
    env, client = site
    _get(client, "/timeline")  # a first visit: the session cookie its choices are kept under
    _get(client, "/timeline?from=2020-03-10&daysback=5&authors=-bob&milestone=on&update=Update")
    html = _main(_get(client, "/timeline?from=2020-03-10"))
    assert "Milestone <em>m1</em>" in html and "DraftPage" not in html
    assert 'name="daysback" value="5"' in html and 'name="authors" value="-bob"' in html
    with env.db_query as db:
        rows = dict(db("SELECT name, value FROM session_attribute WHERE name LIKE 'timeline.%%'"))
    assert rows == {"timeline.filter.milestone": "1", "timeline.daysback": "5",
                    "timeline.authors": "-bob"}


def test_permissions(site):
    env, client = site
    PermissionSystem(env).revoke("anonymous", "TICKET_VIEW")
    html = _main(_get(client, "/timeline?from=2020-03-10&daysback=1&ticket=on&ticket_details=on"
                              "&wiki=on"))
    assert "ticket" not in re.findall(r'<dt class="(\w+)', html).__str__()
    assert 'name="ticket"' not in html and "DraftPage" in html
    PermissionSystem(env).revoke("anonymous", "TIMELINE_VIEW")
    _get(client, "/timeline", status=403)
    assert ">Timeline</a>" not in text(_get(client, "/wiki"))


def test_navigation_item_between_wiki_and_roadmap(site):
    env, client = site
    nav = text(_get(client, "/wiki"))
    assert '<a href="/timeline">Timeline</a>' in nav
    assert nav.index('href="/wiki"') < nav.index('href="/timeline"') < nav.index('href="/roadmap"')


def test_rss(site):
    env, client = site
    page = _get(client, "/timeline?format=rss&from=2020-03-10&daysback=1&wiki=on")
    assert page.headers["Content-Type"].startswith("application/rss+xml")
    body = text(page)
    assert body.count("<item>") == 3
    assert "<title>DraftPage edited</title>" in body
    assert "<pubDate>Tue, 10 Mar 2020 15:00:00 GMT</pubDate>" in body
    assert "<link>http://localhost/wiki/DraftPage?version=2</link>" in body


def test_timeline_links(site):
    env, client = site
    cases = {
        "timeline:2008-01-29": "/timeline?from=2008-01-29T00%3A00%3A00Z",
        "timeline:2008-01-29T15:48Z": "/timeline?from=2008-01-29T15%3A48%3A00Z&amp;precision=minutes",
        "timeline:2008-01-29T16:48+01:00":
            "/timeline?from=2008-01-29T15%3A48%3A00Z&amp;precision=minutes",
    }
    for link, href in cases.items():
        page = client.post("/wiki_render", {"realm": "wiki", "id": "WikiStart", "text": link})
        assert page.status_code == 200
        assert f'href="{href}"' in text(page), (link, text(page))
    bad = text(client.post("/wiki_render", {"realm": "wiki", "text": "timeline:2008-13-45"}))
    assert 'class="timeline missing"' in bad


@pytest.mark.parametrize("query,status,days", [
    ("from=garbage", 400, None), ("from=2020-02-31", 400, None),
    ("daysback=-5", 200, "1"), ("daysback=100000", 200, "90"), ("daysback=abc", 200, "30"),
])
def test_bad_input(site, query, status, days):
    env, client = site
    page = _get(client, f"/timeline?{query}", status=status)
    if days is not None:
        assert f'name="daysback" value="{days}"' in text(page)
    else:
        assert "is not a date" in text(page)


def test_changesets(served, tmp_path):
    tree = GitWorkTree(tmp_path / "repo")
    tree.write("a.txt", b"a\n")
    rev = tree.commit("Fix #1 for good")
    env, client = served("vcs", options=[
        ("repositories", "main.dir", str(tree.path)), ("repositories", "main.type", "git"),
        ("repositories", "secret.dir", str(tree.path)), ("repositories", "secret.type", "git"),
        ("repositories", "secret.hidden", "true"),
        ("repositories", "gone.dir", str(tmp_path / "missing")),
        ("repositories", "gone.type", "git")])
    manager = RepositoryManager(env)
    for name in ("main", "secret"):
        cache.sync(env, manager.require_repository(name))
    with env.db_query as db:
        when = datetime.fromtimestamp(db("SELECT MAX(time) FROM revision")[0][0] / 1e6, UTC)
    html = _main(_get(client, f"/timeline?from={when.date().isoformat()}&daysback=1"))
    assert html.count('<dt class="changeset">') == 1
    assert f"Changeset <em>[{rev}]</em> in main" in html
    assert f"/changeset/{rev}/main" in html and "Fix" in html


def _now_us(minutes_ago: float) -> int:
    return to_us(datetime.now(UTC) - timedelta(minutes=minutes_ago))


def test_unread_marks_since_the_last_visit(served):
    env, client = served("unread")
    client.get("/login", environ={"REMOTE_USER": "alice"})
    with env.db_transaction as db:
        db("DELETE FROM wiki")  # the default pages, made just now
        db("INSERT INTO wiki (name, version, time, author, text, comment, readonly) "
           "VALUES ('Seen', 1, %s, 'bob', 'x', '', 0)", (_now_us(30),))
    first = _main(_get(client, "/timeline?wiki=on"))
    assert "<em>Seen</em>" in first and "unread" not in first  # a first visit marks nothing
    with env.db_transaction as db:
        db("INSERT INTO wiki (name, version, time, author, text, comment, readonly) "
           "VALUES ('Fresh', 1, %s, 'bob', 'x', '', 0)", (_now_us(10),))
    second = _main(_get(client, "/timeline"))
    assert re.search(r'<dt class="wiki unread"><a href="/wiki/Fresh', second)
    assert re.search(r'<dt class="wiki"><a href="/wiki/Seen', second)
    assert second.count('<dl class="unread">') == 1
    # Adjusting the form keeps the marks of the visit it started from…
    assert 'class="wiki unread"' in _main(_get(client, "/timeline?daysback=2&update=Update"))
    # …and the next plain visit has seen everything.
    assert "unread" not in _main(_get(client, "/timeline"))
    with env.db_query as db:
        kept = dict(db("SELECT name, value FROM session_attribute WHERE sid='alice' "
                       "AND name LIKE 'timeline.%%visit'"))
    assert int(kept["timeline.lastvisit"]) == int(kept["timeline.nextlastvisit"]) > 0


def test_a_crawler_leaves_no_session_behind(site):
    env, client = site
    for url in ("/timeline", "/timeline?daysback=30&authors=-bob",
                "/timeline?update=1&wiki=on&daysback=3"):
        client.client._cookies.clear()
        assert "<dt " in _main(_get(client, url))  # the default pages, made today
    with env.db_query as db:
        assert db("SELECT COUNT(*) FROM session WHERE authenticated=0")[0][0] == 0


def test_messages_abbreviated_on_the_page_whole_in_the_feed(served):
    env, client = served("abbrev")
    _fill(env)
    long = "Done now, see comment:1 " + "and more words " * 8
    with env.db_transaction as db:
        db("UPDATE ticket_change SET newvalue=%s WHERE field='comment' AND oldvalue='2'",
           (long + "\n\nThe '''second''' paragraph",))
    page = _main(_get(client, "/timeline?from=2020-03-10&daysback=1&ticket=on"))
    closed = page.split('<dd class="closedticket">', 1)[1].split("</dd>", 1)[0]
    assert "second" not in closed and "Done now" in closed
    # a relative link resolves against the ticket the comment belongs to
    assert 'href="/ticket/1#comment:1"' in closed
    feed = text(_get(client, "/timeline?format=rss&from=2020-03-10&daysback=1&ticket=on"))
    assert "&lt;strong&gt;second&lt;/strong&gt; paragraph" in feed
    assert "http://localhost/ticket/1#comment:1" in feed
    env.config.set("timeline", "abbreviated_messages", "false")
    env.config.save()
    page = _main(_get(client, "/timeline?from=2020-03-10&daysback=1&ticket=on"))
    assert "second" in page.split('<dd class="closedticket">', 1)[1].split("</dd>", 1)[0]


def test_days_in_the_time_zone_of_the_readers_session(site):
    env, client = site
    client.post("/prefs", {"tz": "Asia/Tokyo"})
    # 15:00 UTC on the 10th is 00:00 on the 11th in Tokyo.
    html = _main(_get(client, "/timeline?from=2020-03-11&daysback=1&wiki=on"))
    assert re.findall(r"<h2>([^<]*)</h2>", html) == ["2020-03-11:", "2020-03-10:"]
    assert '<span class="time">00:00</span>' in html.split("2020-03-11:", 1)[1].split("<h2>")[0]


def test_max_limits_the_page_too(site):
    env, client = site
    html = _main(_get(client, "/timeline?from=2020-03-10&daysback=1&wiki=on&max=2"))
    assert html.count("<dt ") == 2


def test_a_busy_period_is_paged(site):
    env, client = site
    env.config.set("timeline", "max_events", "2")
    env.config.save()
    # a few older events, days before the others: windows reaching back must find them
    with env.db_transaction as db:
        for day in (3, 6):
            db("INSERT INTO wiki (name, version, time, author, text, comment, readonly) "
               "VALUES (%s, 1, %s, 'zed', 'x', '', 0)", (f"Old{day}", _us(-24 * day)))
    url = "/timeline?from=2020-03-10&daysback=10&wiki=on&ticket=on&milestone=on"
    seen: list[str] = []
    for _ in range(10):
        html = _main(_get(client, url))
        titles = re.findall(r'<span class="time">[^<]*</span> (.*?)(?: by <span|</a>)', html)
        assert 1 <= len(titles) <= 2
        seen += titles
        found = re.search(r'<a rel="next" href="([^"]+)">Earlier events', html)
        if not found:
            break
        url = found.group(1).replace("&amp;", "&")
        assert "page=" in url
    assert len(seen) == len(set(seen)) == 8
    assert seen[0].startswith("<em>notes.txt</em>") and seen[-1] == "<em>Old6</em> created"
    env.config.set("timeline", "max_events", "0")  # the whole period on one page, as Trac
    env.config.save()
    html = _main(_get(client, "/timeline?from=2020-03-10&daysback=10&wiki=on&ticket=on"
                              "&milestone=on"))
    assert html.count("<dt ") == 8 and "Earlier events" not in html


@pytest.mark.parametrize("page", ["abc", "-1", "0", "99999999", "1e9"])
def test_odd_page_numbers(site, page):
    env, client = site
    html = text(_get(client, f"/timeline?from=2020-03-10&daysback=1&page={page}"))
    assert "Timeline" in html


def test_kept_messages_need_no_context_of_their_own(site, monkeypatch):
    from codeyard.timeline import events

    env, client = site
    url = "/timeline?from=2020-03-10&daysback=1&wiki=on&ticket=on&ticket_details=on"
    first = _main(_get(client, url))
    made = []
    real = events.format_context
    monkeypatch.setattr(events, "format_context", lambda *a, **k: made.append(a[1])
                        or real(*a, **k))
    assert _main(_get(client, url)) == first
    assert len(made) == 1  # the first text's, which names the kept rendering
    with env.db_transaction as db:  # a new text: each one is rendered in its own context
        db("INSERT INTO wiki (name, version, time, author, text, comment, readonly) "
           "VALUES (%s, 3, %s, 'bob', 'z', 'See [wiki:Other]', 0)", ("DraftPage", _us(16)))
    made.clear()
    assert "See <a" in _main(_get(client, url)) and len(made) > 2


def _busy(env) -> None:
    """Three days of tickets, changes (closings, reopenings, plain updates, comment edits
    alone) and wiki edits, each at a moment of its own, and the newest changes of all
    making no event (edits of earlier comments): providers told a limit must still give
    the page's newest events."""
    import random

    rnd = random.Random(7)
    moments = iter(range(0, 3 * 24 * 60, 7))  # minutes after DAY - 2 days, each once
    base = DAY - timedelta(days=2)

    def at() -> int:
        return to_us(base + timedelta(minutes=next(moments)))

    with env.db_transaction as db:
        made = 0
        for n in range(210):
            if made < 60 and (made < 5 or rnd.random() < 0.3):  # new tickets all along
                db("INSERT INTO ticket (id, type, time, changetime, status, summary, "
                   "reporter, description) VALUES (%s, 'defect', %s, 0, 'new', %s, 'rita', "
                   "'')", (100 + made, at(), f"Busy {100 + made}"))
                made += 1
                continue
            tid, when = rnd.randrange(100, 100 + made), at()
            kind = rnd.choice(["close", "reopen", "assign", "comment"])
            if kind == "close":
                rows = [("status", "new", "closed"), ("resolution", "", "fixed")]
            elif kind == "reopen":
                rows = [("status", "closed", "reopened")]
            elif kind == "assign":
                rows = [("status", "new", "assigned"), ("owner", "", "sam")]
            else:
                rows = [("comment", str(n), f"Note {n}")]
            who = rnd.choice(["sam", "tess"])
            for field, old, new in rows:
                db("INSERT INTO ticket_change VALUES (%s, %s, %s, %s, %s, %s)",
                   (tid, when, who, field, old, new))
            if rnd.random() < 0.4:
                db("INSERT INTO wiki (name, version, time, author, text, comment, readonly) "
                   "VALUES (%s, %s, %s, 'walt', 'x', '', 0)", (f"Busy{n % 9}", n, at()))
        for tid in range(160, 170):  # the newest events: tickets, every other one hidden below
            db("INSERT INTO ticket (id, type, time, changetime, status, summary, reporter, "
               "description) VALUES (%s, 'defect', %s, 0, 'new', %s, 'rita', '')",
               (tid, at(), f"Busy {tid}"))
        for k in range(6):  # then wiki edits, every other one hidden below
            db("INSERT INTO wiki (name, version, time, author, text, comment, readonly) "
               "VALUES (%s, %s, %s, 'walt', 'x', '', 0)",
               ("Busy3" if k % 2 else "Busy5", 1000 + k, at()))
        for _ in range(40):  # the newest of all: edits of an earlier comment, no event
            db("INSERT INTO ticket_change VALUES (100, %s, 'sam', '_comment0', 'a', 'b')",
               (to_us(DAY + timedelta(hours=20, minutes=next(moments) % 200)),))


def _whole_period(client, url: str) -> list[str]:
    """Every event line of the period, page after page."""
    lines: list[str] = []
    for _ in range(200):
        html = _main(_get(client, url))
        lines += re.findall(r"<dt .*?</dt>", html)
        found = re.search(r'<a rel="next" href="([^"]+)">Earlier events', html)
        if not found:
            return lines
        url = found.group(1).replace("&amp;", "&")
    raise AssertionError("endless paging")


@pytest.mark.parametrize("filters", ["ticket=on", "ticket=on&ticket_details=on",
                                     "wiki=on&ticket=on", "wiki=on&ticket_details=on"])
def test_paged_timeline_matches_the_whole_period(served, tmp_path, monkeypatch, filters):
    from codeyard.timeline import web

    env, client = served("project")
    _busy(env)
    real = web.gather_events
    limited = []

    def checked(req, start, stop, filters, include, exclude, limit=None):
        """Each limited gathering begins with the newest events of the unlimited one."""
        found = real(req, start, stop, filters, include, exclude, limit)
        if limit:
            whole = real(req, start, stop, filters, include, exclude)
            key = [(e.date, e.kind, str(e.title)) for e in found][:limit]
            assert key == [(e.date, e.kind, str(e.title)) for e in whole][:limit]
            limited.append(len(whole) > limit)
        return found

    monkeypatch.setattr(web, "gather_events", checked)
    url = f"/timeline?from=2020-03-10&daysback=3&{filters}&authors="  # none remembered
    env.config.set("timeline", "max_events", "0")
    env.config.save()
    whole = _whole_period(client, url)
    by_others = _whole_period(client, url + "-tess")  # providers' events by one author
    assert len(whole) > 40 and 0 < len(by_others) <= len(whole)
    for size in ("3", "7", "25"):
        env.config.set("timeline", "max_events", size)
        env.config.save()
        assert _whole_period(client, url) == whole, size
        assert _whole_period(client, url + "-tess") == by_others, size
    # A policy that looks at each ticket: no provider may cut its list short then.
    rules = tmp_path / "authz.ini"
    rules.write_text("".join(f"[ticket:{n}@*]\n* =\n\n"
                             for n in ("13*", "14*", "15*", 161, 163, 165, 167, 169))
                     + "[wiki:Busy3@*]\n* =\n\n"
                     + "[*]\n* = TICKET_VIEW, WIKI_VIEW, TIMELINE_VIEW\n")
    env.config.set("authz_policy", "authz_file", str(rules))
    env.config.set("trac", "permission_policies", "AuthzPolicy, DefaultPermissionPolicy")
    env.config.set("timeline", "max_events", "0")
    env.config.save()
    hidden = _whole_period(client, url)
    assert hidden != whole and not any(f"#{n}" in line for line in hidden
                                       for n in (13, 14, 15, 161, 163, 165, 167, 169))
    assert not any("Busy3" in line for line in hidden)
    assert any("Busy3" in line for line in whole) == ("wiki" in filters)
    assert any("#12" in line for line in hidden)
    for size in ("3", "7"):
        env.config.set("timeline", "max_events", size)
        env.config.save()
        assert _whole_period(client, url) == hidden, size
    assert any(limited)  # some gatherings had more events than they were asked for
