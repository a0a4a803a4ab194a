"""/query and [[TicketQuery]] over the whole site."""

from __future__ import annotations

import pytest

from codeyard.perm import PermissionSystem
from codeyard.ticket.model import Ticket
from codeyard.wiki.api import FormatContext
from codeyard.wiki.formatter import format_to_html
from tests.unit.web.conftest import text

pytestmark = pytest.mark.db


@pytest.fixture
def site(served):
    env, site = served(options=[("codeyard", "config_check_interval", "0")])
    for i in range(7):
        t = Ticket(env)
        t.populate({"summary": f"Ticket {i}", "reporter": "ann", "owner": "bob" if i % 2 else "cy",
                    "priority": ["major", "minor", "blocker"][i % 3], "component": "component1"})
        t["status"] = "closed" if i == 0 else "new"
        t.insert()
    return env, site


def test_query_page_filters_sorts_groups_and_pages(site):
    env, site = site
    page = site.get("/query?status=!closed&order=id&col=id&col=summary&col=owner")
    assert page.status_code == 200
    body = text(page)
    assert "(6 matches)" in body and "Ticket 0" not in body
    assert body.index("Ticket 1<") < body.index("Ticket 6<")
    assert 'href="/query?' in body and "order=owner" in body
    grouped = text(site.get("/query?status=!closed&group=owner&order=id"))
    assert "Owner: bob (3)" in grouped and "Owner: cy (3)" in grouped
    env.config.set("query", "items_per_page", "4")
    env.config.save()
    first = text(site.get("/query?status=!closed&order=id"))
    assert "Next page" in first and "Ticket 5<" not in first
    second = text(site.get("/query?status=!closed&order=id&page=2"))
    assert "Ticket 5<" in second and "Previous page" in second


def test_query_exports(site):
    env, site = site
    csv_text = site.get("/query?owner=bob&col=id&col=summary&order=id&format=csv").get_data(as_text=True)
    assert csv_text.lstrip("\ufeff").splitlines() == ["id,summary", "2,Ticket 1", "4,Ticket 3",
                                                      "6,Ticket 5"]
    tab = site.get("/query?owner=bob&format=tab")
    assert tab.headers["Content-Type"].startswith("text/tab-separated-values")
    rss = site.get("/query?owner=bob&format=rss")
    assert rss.status_code == 200 and "<item>" in rss.get_data(as_text=True)


def test_bad_queries_are_readable_400s(site):
    env, site = site
    for path in ("/query?order=nosuchfield&status=new&max=x", "/query?id=1-&page=x",
                 "/query?status=new&page=99", "/query?status=new&format=pdf"):
        page = site.get(path)
        assert page.status_code == 400, path
        assert "Traceback" not in text(page)


def test_query_needs_ticket_view(site):
    env, site = site
    PermissionSystem(env).revoke("anonymous", "TICKET_VIEW")
    assert site.get("/query").status_code == 403


def test_ticket_query_macro_formats(site):
    env, site = site
    ctx = FormatContext(env)
    count = str(format_to_html(ctx, "[[TicketQuery(owner=bob,format=count)]]"))
    assert ">3</a>" in count and 'class="query_count"' in count
    assert '<span class="query_count">3</span>' in str(format_to_html(ctx, "[[TicketQuery(owner=bob,format=rawcount)]]"))
    compact = str(format_to_html(ctx, "[[TicketQuery(owner=bob,order=id,format=compact)]]"))
    assert compact.count('class="new ticket"') == 3 and ">#2<" in compact
    table = str(format_to_html(ctx, "[[TicketQuery(owner=bob,format=table,col=summary|owner)]]"))
    assert "<table" in table and "Ticket 3" in table
    progress = str(format_to_html(ctx, "[[TicketQuery(component=component1,format=progress)]]"))
    assert "1 / 7" in progress
    listing = str(format_to_html(ctx, "[[TicketQuery(owner=nobody)]]"))
    assert "No results" in listing
    broken = str(format_to_html(ctx, "[[TicketQuery(nosuchfield=1)]]"))
    assert "system-message" in broken


def test_result_cells_are_kept_by_what_they_show(site, monkeypatch):
    from codeyard.ticket import query_web

    env, site = site
    made = []
    real = query_web._ticket_cells
    monkeypatch.setattr(query_web, "_ticket_cells",
                        lambda req, cols, t: made.append(t["id"]) or real(req, cols, t))
    url = "/query?status=!closed&order=id&col=id&col=summary&col=owner"
    first = text(site.get(url))
    assert len(made) == 6
    made.clear()
    assert text(site.get(url)) == first and made == []
    ticket = Ticket(env, 3)
    ticket["summary"] = "Renamed <three>"
    ticket.save_changes("ann", "")
    changed = text(site.get(url))
    assert made == [3] and "Renamed &lt;three&gt;" in changed and "Ticket 2<" not in changed
    made.clear()
    text(site.get(url.replace("&col=owner", "")))  # other columns: other cells
    assert len(made) == 6
