"""The ticket system's TracLinks: tickets, ranges, comments, reports, milestones, queries."""

from __future__ import annotations

import time
from contextlib import contextmanager
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event

from codeyard import cachekeys
from codeyard.perm import PermissionCache, PermissionSystem, Resource
from codeyard.ticket import values
from codeyard.ticket.links import parse_ranges, pretty_timedelta
from codeyard.ticket.model import Ticket
from codeyard.util.href import Href
from codeyard.wiki.formatter import FormatContext, format_to_html

pytestmark = pytest.mark.db

DAY = 86400 * 1_000_000
LONG_SUMMARY = ("A summary long enough to be shortened in the title of every link that points "
                "to this ticket")


def fill(env, now_us: int) -> None:
    """The tickets, comments, reports and milestones the link tests (and the compatibility
    test with Trac) render against. Milestone dates are relative to ``now_us``, kept to
    whole seconds and away from the boundaries of Trac's rounded spans."""
    with env.db_transaction as db:
        for table in ("ticket", "ticket_change", "ticket_custom", "milestone", "report"):
            db(f"DELETE FROM {table}")
    specs = [("defect", "First <ticket>", "new", ""),
             ("enhancement", "Second", "closed", "fixed"),
             ("task", "Third", "assigned", ""),
             ("defect", LONG_SUMMARY, "reopened", ""),
             ("task", "Fifth", "closed", "wontfix")]
    for type_, summary, status, resolution in specs:
        t = Ticket(env)
        t.populate({"type": type_, "summary": summary, "reporter": "ann"})
        t["status"] = status
        t["resolution"] = resolution
        t.insert(when=now_us - 50 * DAY)
    first = Ticket(env, 1)
    first.save_changes("bob", "a first comment", when=now_us - 40 * DAY)
    first["keywords"] = "x"
    first.save_changes("cy", "a second comment", when=now_us - 39 * DAY)
    Ticket(env, 2).save_changes("bob", "closing words", when=now_us - 38 * DAY)
    whole = now_us - now_us % 1_000_000
    values.add_milestone(env, "m1")
    values.add_milestone(env, "soon", due=whole + 10 * DAY)
    values.add_milestone(env, "late", due=whole - 20 * DAY)
    values.add_milestone(env, "done", due=whole - 50 * DAY, completed=whole - 40 * DAY)
    with env.db_transaction as db:  # numbered 1 and 2 on both databases
        for number, title in ((1, "Active tickets"), (2, "Mine")):
            db("INSERT INTO report (id, author, title, query, description) "
               "VALUES (%s, 'admin', %s, 'SELECT id FROM ticket', '')", (number, title))
        db.update_sequence("report")


@pytest.fixture
def lenv(env):
    fill(env, int(time.time() * 1_000_000))
    return env


def html(env, text, realm="wiki", rid="WikiStart", **kw) -> str:
    ctx = FormatContext(env, Href("/p"), resource=Resource(realm, rid), **kw)
    return str(format_to_html(ctx, text))


def anonymous_without(env, *actions) -> PermissionCache:
    system = PermissionSystem(env)
    for action in actions:
        system.revoke("anonymous", action)
    env.invalidate(cachekeys.PERMISSIONS)
    return PermissionCache(env, "anonymous")


@contextmanager
def counted_statements(env):
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    engine = env.database.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_ticket_links_carry_status_class_and_summary_title(lenv):
    out = html(lenv, "#1 ticket:2 bug:3 issue:5 [ticket:4 four] #99 #0 ticket:abc #1:3")
    assert ('<a class="new ticket" href="/p/ticket/1" title="#1: defect: First &lt;ticket&gt; '
            '(new)">#1</a>') in out
    assert ('<a class="closed ticket" href="/p/ticket/2" title="#2: enhancement: Second '
            '(closed: fixed)">ticket:2</a>') in out
    assert 'class="assigned ticket" href="/p/ticket/3" title="#3: task: Third (assigned)"' in out
    assert 'title="#5: task: Fifth (closed: wontfix)">issue:5</a>' in out
    shortened = "A summary long enough to be shortened in the title of every link that ..."
    assert f'class="reopened ticket" href="/p/ticket/4" title="#4: defect: {shortened} (reopened)">four' in out
    for missing in ("#99", "#0", "ticket:abc", "#1:3"):
        assert f'<a class="missing ticket">{missing}</a>' in out
    perm = anonymous_without(lenv, "TICKET_VIEW")  # forbidden tickets look missing
    assert html(lenv, "#1", perm=perm) == '<p>\n<a class="missing ticket">#1</a>\n</p>\n'


def test_a_ticket_without_a_status_is_linked_as_a_plain_ticket(lenv):
    # A script or an older plugin can write a ticket row with no status: its links carry the
    # class "ticket", not "None ticket".
    with lenv.db_transaction as db:
        db("INSERT INTO ticket (id, type, time, changetime, summary, reporter, status) "
           "VALUES (6, 'task', 0, 0, 'Statusless', 'ann', NULL)")
    out = html(lenv, "#6 comment:description:ticket:6 [[TicketQuery(id=6,format=compact)]]")
    assert out.count('class="ticket"') == 3, out
    assert "None" not in out


def test_ticket_link_keeps_arguments_and_fragment(lenv):
    out = html(lenv, "ticket:1#comment:2 ticket:1?version=1 ticket:1#comment:description "
                     "ticket:2-2#comment:1")
    assert 'href="/p/ticket/1#comment:2"' in out and 'href="/p/ticket/1?version=1"' in out
    assert 'href="/p/ticket/1#comment:description" title="#1: defect:' in out
    # A range of one ticket is that ticket, as in Trac.
    assert 'href="/p/ticket/2#comment:1" title="#2: enhancement: Second (closed: fixed)"' in out


def test_ranges_link_to_the_query_of_those_tickets(lenv):
    out = html(lenv, "#1-3 ticket:1,3-5 #3,1-2 ticket:1-2?status=new #5-3 #1,1 #1-1")
    assert '<a href="/p/query?id=1-3" title="Tickets 1-3">#1-3</a>' in out
    assert ('<a href="/p/query?id=1%2C3-5" title="Tickets 1, 3-5">ticket:1,\u200b3-5</a>'
            in out)
    assert '<a href="/p/query?id=1-3" title="Tickets 1-3">#3,\u200b1-2</a>' in out
    assert 'href="/p/query?id=1-2&amp;status=new"' in out
    assert '<a href="/p/query?id=" title="Tickets ">#5-3</a>' in out  # Trac drops 5-3
    assert out.count('href="/p/ticket/1"') == 2  # one ticket, written as a range


def test_parse_ranges_reads_as_trac_does():
    assert parse_ranges("3,1-2,9-12,\u200b10") == [(1, 3), (9, 12)]
    assert parse_ranges("7-5") == []
    for bad in ("1:3", "1,", "a", "1-2-3"):
        with pytest.raises(ValueError):
            parse_ranges(bad)


def test_comment_links(lenv):
    out = html(lenv, "comment:2:ticket:1 comment:9:ticket:1 comment:1:ticket:99 "
                     "comment:description:ticket:2 comment:ticket:1:1 comment:1:bug:2 "
                     "comment:x:ticket:1 comment:1:ticket:1:2")
    assert ('<a class="new ticket" href="/p/ticket/1#comment:2" title="Comment 2 for #1: defect: '
            'First &lt;ticket&gt; (new)">comment:2:ticket:1</a>') in out
    assert ('<a class="missing ticket" title="ticket comment does not exist">'
            'comment:9:ticket:1</a>') in out
    assert '<a class="missing ticket" title="ticket does not exist">comment:1:ticket:99</a>' in out
    assert ('<a class="closed ticket" href="/p/ticket/2#comment:description" title="Description '
            'for #2: enhancement: Second (closed: fixed)">comment:description:ticket:2</a>') in out
    assert 'href="/p/ticket/1#comment:1" title="Comment 1 for #1:' in out  # the older order
    assert 'href="/p/ticket/2#comment:1" title="Comment 1 for #2:' in out
    assert " comment:x:ticket:1 comment:1:ticket:1:2\n" in out  # not comment links: text


def test_comment_links_inside_a_ticket(lenv):
    out = html(lenv, "comment:2 comment:9 comment:description comment:1:ticket:1 comment:1:ticket:2",
               realm="ticket", rid=1)
    assert '<a class="ticket" href="/p/ticket/1#comment:2" title="Comment 2">comment:2</a>' in out
    assert 'title="ticket comment does not exist">comment:9</a>' in out
    assert ('<a class="ticket" href="/p/ticket/1#comment:description" title="Description">'
            'comment:description</a>') in out
    assert '<a class="ticket" href="/p/ticket/1#comment:1" title="Comment 1">comment:1:ticket:1' in out
    assert 'class="closed ticket" href="/p/ticket/2#comment:1" title="Comment 1 for #2:' in out
    assert "<p>\ncomment:2\n</p>" in html(lenv, "comment:2")  # no ticket to belong to
    out = html(lenv, "comment:1", realm="ticket", rid=77)
    assert '<a class="missing ticket" title="ticket does not exist">comment:1</a>' in out


def test_comment_link_to_a_forbidden_ticket(lenv):
    perm = anonymous_without(lenv, "TICKET_VIEW")
    out = html(lenv, "comment:1:ticket:1", perm=perm)
    assert ('<a class="forbidden ticket" title="no permission to view ticket">'
            'comment:1:ticket:1</a>') in out


def test_report_links(lenv):
    out = html(lenv, "report:1 {2} report:1?USER=x&a=b report:9 {9} report:abc")
    assert '<a class="report" href="/p/report/1">report:1</a>' in out
    assert '<a class="report" href="/p/report/2">{2}</a>' in out
    assert '<a class="report" href="/p/report/1?USER=x&amp;a=b">report:1?USER=x&amp;a=b</a>' in out
    for missing in ("report:9", "{9}", "report:abc"):
        assert f'<a class="missing report" title="report does not exist">{missing}</a>' in out
    with counted_statements(lenv) as statements:
        html(lenv, " ".join("{%d}" % n for n in range(100)))
    assert len([s for s in statements if "report" in s]) == 1  # all of them read at once
    perm = anonymous_without(lenv, "REPORT_VIEW")
    out = html(lenv, "{1}", perm=perm)
    assert '<a class="forbidden report" title="no permission to view report">{1}</a>' in out


def test_milestone_links_titles(lenv):
    out = html(lenv, "milestone:m1 milestone:soon milestone:late milestone:done milestone:nope "
                     "[milestone:m1 First] milestone:soon#x")
    assert '<a class="milestone" href="/p/milestone/m1" title="No date set">milestone:m1</a>' in out
    assert '<a class="milestone" href="/p/milestone/soon" title="Due in 10 days (' in out
    assert '<a class="milestone" href="/p/milestone/late" title="3 weeks late (' in out
    assert '<a class="closed milestone" href="/p/milestone/done" title="Completed 6 weeks ago (' in out
    assert ('<a class="missing milestone" href="/p/milestone/nope" rel="nofollow">milestone:nope'
            in out)
    assert 'title="No date set">First</a>' in out and 'href="/p/milestone/soon#x"' in out
    done = values.get_milestone(lenv, "done").completed
    stamp = time.strftime("%m/%d/%y %H:%M:%S", time.gmtime(done // 1_000_000))
    assert f'title="Completed 6 weeks ago ({stamp})"' in out


def test_milestone_dates_follow_the_reader(lenv):
    done = values.get_milestone(lenv, "done").completed
    reader = SimpleNamespace(tz=ZoneInfo("Asia/Tokyo"), session={"lc_time": "iso8601"})
    out = html(lenv, "milestone:done", req=reader)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S+09:00", time.gmtime(done // 1_000_000 + 9 * 3600))
    assert f'title="Completed 6 weeks ago ({stamp})"' in out
    lenv.config.set("trac", "default_date_format", "iso8601")
    out = html(lenv, "milestone:done", req=SimpleNamespace(tz=None, session={}))
    assert time.strftime("(%Y-%m-%dT%H:%M:%SZ)", time.gmtime(done // 1_000_000)) in out


def test_milestone_links_without_permissions(lenv):
    perm = anonymous_without(lenv, "MILESTONE_VIEW")
    out = html(lenv, "milestone:m1 milestone:nope", perm=perm)
    assert '<a class="milestone">milestone:m1</a>' in out
    assert '<a class="milestone missing">milestone:nope</a>' in out


def test_pretty_timedelta_words_spans_as_trac():
    from datetime import UTC, datetime, timedelta

    start = datetime(2024, 1, 1, tzinfo=UTC)
    cases = {timedelta(seconds=1): "1 second", timedelta(seconds=100): "100 seconds",
             timedelta(minutes=3): "3 minutes", timedelta(hours=5): "5 hours",
             timedelta(days=10): "10 days", timedelta(days=20): "3 weeks",
             timedelta(days=40): "6 weeks", timedelta(days=100): "3 months",
             timedelta(days=800): "2 years"}
    for delta, words in cases.items():
        assert pretty_timedelta(start, start + delta) == words
        assert pretty_timedelta(start + delta, start) == words


def test_query_links(lenv):
    out = html(lenv, "query:status=new&owner=x query:?status=new query:status=new|assigned&order=id "
                     "[query:status=new New tickets] query:foo query:status=new&or&owner=x "
                     "query:col=summary query:id=abc&max=100&page=1&desc=1 query:order=created")
    assert ('<a class="query" href="/p/query?owner=x&amp;status=new&amp;order=priority">'
            'query:status=new&amp;owner=x</a>') in out
    assert '<a class="query" href="/p/query?status=new">query:?status=new</a>' in out
    assert 'href="/p/query?status=new&amp;status=assigned&amp;order=id"' in out
    assert '<a class="query" href="/p/query?status=new&amp;order=priority">New tickets</a>' in out
    assert ('<em class="error">[Error: Query filter requires field and constraints separated by '
            'a &#34;=&#34;]</em>') in out
    assert 'href="/p/query?status=new&amp;or&amp;owner=x&amp;order=priority"' in out
    assert 'href="/p/query?order=priority&amp;col=id&amp;col=summary"' in out
    assert 'href="/p/query?id=abc&amp;order=priority&amp;desc=1"' in out
    assert 'href="/p/query?order=time"' in out


def test_links_are_plain_text_without_the_ticket_plugins(make_env):
    env = make_env("off", options=[("components", "codeyard.ticket.*", "disabled")])
    assert not env.is_enabled("codeyard.ticket.links")
    text = "#1 ticket:1 [ticket:1 one] #1-3 {1} report:1 comment:1:ticket:1 milestone:m1 query:a=b"
    assert html(env, text) == f"<p>\n{text}\n</p>\n"


def test_namespaces_follow_the_plugins_serving_their_pages(make_env):
    env = make_env("part", options=[("components", "codeyard.ticket.report_web", "disabled"),
                                    ("components", "codeyard.ticket.roadmap_web", "disabled"),
                                    ("components", "codeyard.ticket.query_web", "disabled")])
    out = html(env, "{1} report:1 milestone:milestone1 query:status=new #1")
    assert out.startswith("<p>\n{1} report:1 milestone:milestone1 query:status=new ")
    assert '<a class="missing ticket">#1</a>' in out  # tickets stay links


def test_queries_do_not_grow_with_the_links(lenv):
    text = "\n".join([" ".join(f"#{n}" for n in range(1, 201)),
                      " ".join(f"ticket:{n}" for n in range(1, 50)),
                      " ".join("{%d}" % n for n in range(1, 60)),
                      " ".join(f"milestone:m{n}" for n in range(60)),
                      "{{{#!div", " ".join(f"#{n}" for n in range(100, 300)), "}}}",
                      "||" + "||".join(f"#{n}" for n in range(300, 350)) + "||"])
    with counted_statements(lenv) as statements:
        out = html(lenv, text)
    assert out.count('class="new ticket"') == 2 and out.count('class="missing ticket"') == 489
    assert out.count('class="report"') == 2 and 'href="/p/milestone/m1"' in out
    touching = [s for s in statements if "ticket" in s or "report" in s or "milestone" in s]
    # The page's tickets (one query, one more for the {{{#!div}}} block), its reports and
    # its milestones: five, however many links there are.
    assert len(touching) <= 5, touching


def test_many_texts_rendered_together_look_up_their_tickets_once(lenv):
    """A log page's messages: each renders as it would alone, the tickets all of them
    mention come from one query."""
    from codeyard.wiki.formatter import format_many, format_to_oneliner

    ctx = FormatContext(lenv, Href("/p"), resource=Resource("wiki", "WikiStart"))
    texts = ["fixes #1", "", "refs #2 and #3", "see ticket:1", "nothing here"]
    alone = [str(format_to_oneliner(ctx, t)) for t in texts]
    with counted_statements(lenv) as statements:
        together = [str(m) for m in format_many(ctx, texts, oneliner=True)]
    assert together == alone and 'class="' in together[0]
    assert sum("FROM ticket" in s for s in statements) == 1
