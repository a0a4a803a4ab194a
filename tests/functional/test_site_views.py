"""Pages at a parent directory's root that combine its projects (``/?view=…``): each
project read as the visitor, through its own permissions."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from codeyard.perm import PermissionSystem
from codeyard.timeline.events import to_us
from tests.unit.web.conftest import Site, text

pytestmark = pytest.mark.db


def _recent(minutes: int) -> int:
    return to_us(datetime.now(UTC) - timedelta(minutes=minutes))


@pytest.fixture
def site(make_env, tmp_path):
    made = {}
    for name in ("alpha", "beta", "gamma"):
        env = made[name] = make_env(name, options=[("project", "descr", f"The {name} project")])
        with env.db_transaction as db:
            db("DELETE FROM wiki")  # the default pages, made just now
    with made["alpha"].db_transaction as db:
        db("INSERT INTO wiki (name, version, time, author, text, comment, readonly) "
           "VALUES ('AlphaPlan', 1, %s, 'alice', 'x', 'See #1', 0)", (_recent(30),))
    with made["beta"].db_transaction as db:
        db("INSERT INTO ticket (id, type, time, changetime, component, severity, priority, "
           "owner, reporter, cc, version, milestone, status, resolution, summary, "
           "description, keywords) VALUES (1, 'defect', %s, %s, '', '', 'major', '', 'bob', "
           "'', '', '', 'new', '', 'Beta breaks', 'Badly', '')", (_recent(20), _recent(20)))
    with made["gamma"].db_transaction as db:
        db("INSERT INTO wiki (name, version, time, author, text, comment, readonly) "
           "VALUES ('GammaSecret', 1, %s, 'carol', 'x', '', 0)", (_recent(10),))
    perms = PermissionSystem(made["gamma"])
    perms.revoke("anonymous", "TIMELINE_VIEW")
    perms.grant("carol", "TRAC_ADMIN")
    from codeyard.env import forget_environment

    yield made, Site({"codeyard.env_parent_dir": str(tmp_path)})
    for env in made.values():
        forget_environment(env.path)


def test_index_links_to_the_combined_views(site):
    made, client = site
    page = text(client.get("/"))
    assert 'href="/?view=timeline"' in page and ">alpha</a>" in page


def test_combined_timeline(site):
    made, client = site
    page = client.get("/?view=timeline")
    assert page.status_code == 200
    html = text(page)
    assert "<em>AlphaPlan</em> created" in html and "Beta breaks" in html
    assert "GammaSecret" not in html  # gamma keeps its timeline from anonymous visitors
    # newest first across projects, each event naming its project and linking into it
    assert html.index("Beta breaks") < html.index("AlphaPlan")
    assert '<span class="project">The alpha project</span>' not in html
    assert re.search(r'<span class="project">alpha</span> <a href="/alpha/wiki/AlphaPlan', html)
    assert 'href="/beta/ticket/1"' in html
    # the comment's #1 is alpha's ticket 1 (which does not exist), not beta's
    assert '<dd class="wiki">See <a class="missing ticket">#1</a></dd>' in html


def test_as_the_authenticated_visitor(site):
    made, client = site
    html = text(client.get("/?view=timeline", environ={"REMOTE_USER": "carol"}))
    assert "GammaSecret" in html and "AlphaPlan" in html


def test_projects_and_filters_picked(site):
    made, client = site
    html = text(client.get("/?view=timeline&project=alpha&update=Update"))
    assert "AlphaPlan" in html and "Beta breaks" not in html
    html = text(client.get("/?view=timeline&ticket=on&update=Update"))
    assert "Beta breaks" in html and "AlphaPlan" not in html


def test_feed(site):
    made, client = site
    page = client.get("/?view=timeline&format=rss")
    assert page.headers["Content-Type"].startswith("application/rss+xml")
    body = text(page)
    assert body.count("<item>") == 2
    assert "<title>alpha: AlphaPlan created</title>" in body
    assert "<link>http://localhost/beta/ticket/1</link>" in body


@pytest.mark.parametrize("query,status", [
    ("view=timeline&from=garbage", 400), ("view=nothing", 404),
    ("view=timeline&daysback=-3", 200), ("view=timeline&daysback=99999", 200),
])
def test_bad_input(site, query, status):
    made, client = site
    page = client.get(f"/?{query}")
    assert page.status_code == status, text(page)[:500]
    assert "Traceback" not in text(page)


def _ticket(env, tid: int, summary: str, status: str = "new", priority: str = "major") -> None:
    with env.db_transaction as db:
        db("INSERT INTO ticket (id, type, time, changetime, component, severity, priority, "
           "owner, reporter, cc, version, milestone, status, resolution, summary, "
           "description, keywords) VALUES (%s, 'defect', %s, %s, '', '', %s, 'bob', 'bob', "
           "'', '', '', %s, '', %s, '', '')",
           (tid, _recent(5), _recent(5), priority, status, summary))


def test_combined_ticket_query(site):
    made, client = site
    _ticket(made["alpha"], 7, "Alpha blocker", priority="blocker")
    _ticket(made["alpha"], 8, "Alpha done", status="closed")
    _ticket(made["gamma"], 3, "Gamma hidden")
    PermissionSystem(made["gamma"]).revoke("anonymous", "TICKET_VIEW")
    html = text(client.get("/?view=query&status=!closed"))
    assert "Alpha blocker" in html and "Beta breaks" in html
    assert "Alpha done" not in html and "Gamma hidden" not in html
    # by priority across projects: the blocker first
    assert html.index("Alpha blocker") < html.index("Beta breaks")
    assert 'href="/alpha/ticket/7"' in html and 'href="/beta/ticket/1"' in html
    assert "(2 matches)" in html
    html = text(client.get("/?view=query&status=!closed&project=beta"))
    assert "Beta breaks" in html and "Alpha blocker" not in html
    # the query: language, with project= as one more field
    html = text(client.get("/?view=query&query=status%3Dnew%26project%3D!beta"))
    assert "Alpha blocker" in html and "Beta breaks" not in html
    html = text(client.get("/?view=query&query=status%3Dnew", environ={"REMOTE_USER": "carol"}))
    assert "Gamma hidden" in html


@pytest.mark.parametrize("query", ["view=query&query=nonsense", "view=query&page=x",
                                   "view=query&query=nofield%3D1"])
def test_bad_ticket_queries(site, query):
    made, client = site
    page = client.get(f"/?{query}")
    assert page.status_code == 400, text(page)[:400]
    assert "Traceback" not in text(page)


# -- /?view=search


def test_combined_search_across_projects(site):
    made, client = site
    PermissionSystem(made["gamma"]).revoke("anonymous", "SEARCH_VIEW")
    assert 'href="/?view=search"' in text(client.get("/"))
    page = client.get("/?view=search&q=breaks")
    assert page.status_code == 200, text(page)[:1500]
    html = text(page)
    # beta's ticket, written straight into its tables, is found once the index catches up
    assert re.search(r'<span class="project">beta</span> <a href="/beta/ticket/1"', html)
    assert 'Results (1 - 1 of 1)' in html
    both = text(client.get("/?view=search&q=alphaplan"))
    assert 'href="/alpha/wiki/AlphaPlan"' in both
    # gamma lets anonymous visitors not search it: its page stays out, until carol asks
    assert "GammaSecret" not in text(client.get("/?view=search&q=gammasecret"))
    mine = text(client.get("/?view=search&q=gammasecret", environ={"REMOTE_USER": "carol"}))
    assert 'href="/gamma/wiki/GammaSecret"' in mine
    assert "No matches found." in text(client.get("/?view=search&q=nothing+like+this"))


def test_combined_search_picks_projects_and_ranks_by_each_index(site):
    made, client = site
    with made["alpha"].db_transaction as db:
        db("INSERT INTO wiki (name, version, time, author, text, comment, readonly) "
           "VALUES ('Notes', 1, %s, 'alice', 'one mention of breaks among other words', '', 0)",
           (_recent(5),))
    html = text(client.get("/?view=search&q=breaks"))
    # the ticket whose summary says it ranks above a page that mentions it once
    assert html.index('href="/beta/ticket/1"') < html.index('href="/alpha/wiki/Notes"')
    only_alpha = text(client.get("/?view=search&q=breaks&project=alpha"))
    assert "/alpha/wiki/Notes" in only_alpha and "/beta/ticket/1" not in only_alpha
    not_alpha = text(client.get("/?view=search&q=breaks&project=!alpha"))
    assert "/alpha/wiki/Notes" not in not_alpha and "/beta/ticket/1" in not_alpha
    assert client.get("/?view=search&q=a").status_code == 400  # shorter than min_query_length
