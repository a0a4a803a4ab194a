"""The ticket TracLinks against the real Trac 1.6: the same wiki text, rendered by both on
the same environment (tickets, comments, reports, milestones made by codeyard), gives the
same HTML, for a reader with every permission and for one without."""

from __future__ import annotations

import json
import subprocess
import time
from html.parser import HTMLParser
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from codeyard.perm import PermissionCache, PermissionSystem, Resource
from codeyard.util.href import Href
from codeyard.wiki.formatter import FormatContext, format_to_html
from tests.support.trac import _clean_env
from tests.unit.ticket.test_links import fill

pytestmark = pytest.mark.db

# (text, where it is rendered, reader): reader None has every permission, "anonymous" is
# the anonymous user of the environment (stripped of the viewing permissions below),
# "tokyo" a reader with every permission, in Tokyo, who reads dates as ISO 8601.
CASES = [
    ("#1 #2 #3 #4 #5 #99 #0 #1:3", "wiki:WikiStart", None),
    ("ticket:1 ticket:1#comment:2 ticket:1?version=1 ticket:1#comment:description bug:1 "
     "issue:2 [ticket:4 four] [[ticket:5|five]]", "wiki:WikiStart", None),
    ("ticket:1,3-5 #1-3 #3,1-2 ticket:1-2?status=new #5-3 #1,1 #1-1", "wiki:WikiStart", None),
    ("comment:2:ticket:1 comment:1:ticket:1 comment:9:ticket:1 comment:1:ticket:99 "
     "comment:description:ticket:2 comment:ticket:1:2 comment:1:bug:2 comment:x:ticket:1",
     "wiki:WikiStart", None),
    ("comment:2 comment:9 comment:description comment:1:ticket:1 comment:1:ticket:2 [.]",
     "ticket:1", None),
    ("comment:2", "wiki:WikiStart", None),
    ("comment:1", "ticket:77", None),
    ("report:1 {1} {2} report:1?USER=x report:9 {9} report:abc", "wiki:WikiStart", None),
    ("milestone:m1 milestone:soon milestone:late milestone:done milestone:nope "
     "[milestone:m1 First] milestone:soon#x milestone:?a", "wiki:WikiStart", None),
    ("milestone:soon milestone:late milestone:done", "wiki:WikiStart", "tokyo"),
    ("query:status=new&owner=x query:?status=new query:status=new|assigned&order=id "
     "[query:status=new New tickets] query:foo query:status=new&or&owner=x query:col=summary "
     "query:id=1-3&group=owner&desc=1 query:max=100&page=1 query:order=created "
     'query:"?a b&c=\u00e9" query:owner=$USER query:status=new&format=rss', "wiki:WikiStart", None),
    ("#1 ticket:2 #1-3 comment:1:ticket:1 comment:9:ticket:1 report:1 milestone:m1 "
     "milestone:nope query:status=new", "wiki:WikiStart", "anonymous"),
    ("== Tickets #1 and {1} ==\n * #2\n || #3 || comment:1:ticket:1 ||\n"
     "{{{#!div\n#4 milestone:m1\n}}}", "wiki:WikiStart", None),
]
DISABLED = [("#1 ticket:1 [ticket:1 one] #1-3 {1} report:1 comment:1:ticket:1 milestone:m1 "
             "query:status=new bug:1", "wiki:WikiStart", None)]
REVOKED = ("TICKET_VIEW", "REPORT_VIEW", "MILESTONE_VIEW")

TRAC_SCRIPT = r"""
import json, sys
from trac.env import Environment
from trac.resource import Resource
from trac.test import MockRequest
from trac.util.datefmt import FixedOffset
from trac.web.chrome import web_context
from trac.wiki.formatter import format_to_html

env = Environment(sys.argv[1])
out = []
for text, where, reader in json.load(sys.stdin):
    realm, rid = where.split(":", 1)
    kwargs = {"script_name": "/p"}
    if reader == "anonymous":
        kwargs["authname"] = "anonymous"
    elif reader == "tokyo":
        kwargs.update(tz=FixedOffset(9 * 60, "GMT +9:00"), lc_time="iso8601")
    req = MockRequest(env, **kwargs)
    resource = Resource(realm, int(rid) if realm == "ticket" else rid)
    out.append(str(format_to_html(env, web_context(req, resource), text)))
print(json.dumps(out))
"""


def ours(env, cases) -> list[str]:
    rendered = []
    for text, where, reader in cases:
        realm, rid = where.split(":", 1)
        kw: dict = {}
        if reader == "anonymous":
            kw["perm"] = PermissionCache(env, "anonymous")
        elif reader == "tokyo":
            kw["req"] = SimpleNamespace(tz=ZoneInfo("Asia/Tokyo"), session={"lc_time": "iso8601"})
        ctx = FormatContext(env, Href("/p"), resource=Resource(
            realm, int(rid) if realm == "ticket" else rid), **kw)
        rendered.append(str(format_to_html(ctx, text)))
    return rendered


def theirs(trac, env, cases) -> list[str]:
    environ = _clean_env()
    environ["TZ"] = "UTC"
    done = subprocess.run([trac.python, "-c", TRAC_SCRIPT, env.path], input=json.dumps(cases),
                          capture_output=True, text=True, env=environ, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


class _Tokens(HTMLParser):
    """Tags, attributes (in their order) and text, with character references read: the
    two programs escape quotes in text differently, and that is all this forgives."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tokens: list[tuple] = []

    def handle_starttag(self, tag, attrs):
        self.tokens.append(("start", tag, tuple(attrs)))

    def handle_endtag(self, tag):
        self.tokens.append(("end", tag))

    def handle_data(self, data):
        self.tokens.append(("text", data))


def tokens(html: str) -> list[tuple]:
    parser = _Tokens()
    parser.feed(html)
    parser.close()
    return parser.tokens


def differences(cases, ours_html, trac_html) -> str:
    return "\n".join(f"--- {case}\n  codeyard: {a}\n  trac:     {b}"
                      for case, a, b in zip(cases, ours_html, trac_html, strict=True)
                      if tokens(a) != tokens(b))


def assert_same(cases, mine, trac_html) -> None:
    assert len(mine) == len(trac_html) == len(cases)
    assert [tokens(h) for h in mine] == [tokens(h) for h in trac_html], \
        differences(cases, mine, trac_html)


def test_ticket_links_render_as_in_trac(trac, make_env):
    env = make_env()
    fill(env, int(time.time() * 1_000_000))
    system = PermissionSystem(env)
    for action in REVOKED:
        system.revoke("anonymous", action)
    mine, trac_html = ours(env, CASES), theirs(trac, env, CASES)
    assert_same(CASES, mine, trac_html)
    # The cases show what they are meant to: classes that differ, dates in titles, errors.
    joined = "\n".join(mine)
    for sign in ('class="closed ticket"', 'class="forbidden ticket"', 'class="forbidden report"',
                 'title="ticket does not exist"', 'title="ticket comment does not exist"',
                 'class="closed milestone"', "late (", "Due in", "+09:00)", 'class="error"',
                 'class="milestone missing"', "href=\"/p/query?id=1%2C3-5\""):
        assert sign in joined, sign


def test_without_the_ticket_system_both_show_text(trac, make_env):
    env = make_env(options=[("components", "codeyard.ticket.*", "disabled"),
                            ("components", "trac.ticket.*", "disabled")])
    mine, trac_html = ours(env, DISABLED), theirs(trac, env, DISABLED)
    assert_same(DISABLED, mine, trac_html)
    assert "<a" not in mine[0]
