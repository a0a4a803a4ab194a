"""Batch modify from the query page: all the selected tickets or none."""

from __future__ import annotations

import pytest

from codeyard.perm import PermissionSystem
from codeyard.ticket.model import Ticket
from tests.unit.web.conftest import text

pytestmark = pytest.mark.db


@pytest.fixture
def site(served):
    env, site = served(options=[("codeyard", "config_check_interval", "0")])
    ids = []
    for i in range(4):
        t = Ticket(env)
        t.populate({"summary": f"T{i}", "reporter": "ann", "owner": "bob", "priority": "major"})
        t["status"] = "new"  # what the create action of the workflow sets
        ids.append(t.insert())
    PermissionSystem(env).grant("lead", "TICKET_ADMIN")
    site.get("/login", environ={"REMOTE_USER": "lead"})
    return env, site, ids


def test_query_page_offers_the_batch_form_with_trac_names(site):
    env, site, ids = site
    page = text(site.get("/query?status=new&order=id"))
    assert 'action="/batchmodify"' in page
    assert f'name="selected_tickets" value="{ids[0]}"' in page
    assert 'name="batchmod_value_priority"' in page and 'name="batchmod_value_comment"' in page
    assert 'name="action" value="resolve"' in page


def test_batch_changes_fields_comments_and_resolves(site):
    env, site, ids = site
    done = site.post("/batchmodify", {"selected_tickets": f"{ids[0]},{ids[1]}",
                                      "batchmod_value_priority": "blocker",
                                      "batchmod_value_keywords": "",
                                      "batchmod_value_comment": "Triaged together",
                                      "action": "resolve", "action_resolve_resolve_resolution": "fixed",
                                      "query_href": "/query?status=new"})
    assert done.status_code == 303 and done.headers["Location"].endswith("/query?status=new")
    for tkt_id in ids[:2]:
        t = Ticket(env, tkt_id)
        assert (t["priority"], t["status"], t["resolution"]) == ("blocker", "closed", "fixed")
        assert [n for _w, _a, f, _o, n, _p in t.get_changelog() if f == "comment"] == ["Triaged together"]
    assert Ticket(env, ids[2])["priority"] == "major"


def test_one_bad_ticket_changes_none(site):
    env, site, ids = site
    refused = site.post("/batchmodify", {"selected_tickets": [str(ids[0]), "999"],
                                         "batchmod_value_priority": "blocker"})
    assert refused.status_code == 400 and "No ticket was changed" in text(refused)
    assert Ticket(env, ids[0])["priority"] == "major"
    bad_value = site.post("/batchmodify", {"selected_tickets": str(ids[0]),
                                           "batchmod_value_priority": "not-a-priority"})
    assert bad_value.status_code == 400 and Ticket(env, ids[0])["priority"] == "major"
    for form in ({"selected_tickets": "abc"}, {"selected_tickets": ""},
                 {"selected_tickets": str(ids[0]), "batchmod_value_summary": "x"}):
        assert site.post("/batchmodify", form).status_code == 400
    assert Ticket(env, ids[0])["summary"] == "T0"


def test_batch_needs_its_permission(site, served):
    env, site, ids = site
    other_env, other = served("plain")
    assert other.post("/batchmodify", {"selected_tickets": "1"}).status_code == 403
    assert 'action="/batchmodify"' not in text(other.get("/query?status=new"))
