"""The ticket pages over the whole site: create with preview, view, comment and reply,
change fields, move through the workflow, collisions, exports, bad input."""

from __future__ import annotations

import html
import re

import pytest

from codeyard.perm import PermissionSystem
from codeyard.ticket.model import Ticket
from tests.unit.web.conftest import text

pytestmark = pytest.mark.db


@pytest.fixture
def site(served):
    env, site = served(options=[("codeyard", "config_check_interval", "0")])
    PermissionSystem(env).grant("dev", "TICKET_MODIFY")
    site.get("/login", environ={"REMOTE_USER": "dev"})
    return env, site


def create(site, **fields):
    data = {"field_summary": "It crashes", "field_description": "When ''saving''.",
            "field_type": "defect", "field_priority": "major", "action": "create",
            "submit": "Create ticket"}
    data.update({f"field_{k}": v for k, v in fields.items()})
    return site.post("/newticket", data)


def test_new_ticket_form_uses_trac_field_names(site):
    env, site = site
    page = text(site.get("/newticket?type=task&summary=Prefilled"))
    for name in ("field_summary", "field_description", "field_type", "field_priority",
                 "field_component", "field_milestone", "__FORM_TOKEN"):
        assert f'name="{name}"' in page
    assert 'value="Prefilled"' in page
    assert '<option selected>task</option>' in page
    assert 'name="action" value="create"' in page


def test_create_preview_view_and_export(site):
    env, site = site
    preview = site.post("/newticket", {"field_summary": "Draft", "field_description": "''hi''",
                                       "action": "create", "preview": "Preview"})
    assert preview.status_code == 200 and "<em>hi</em>" in text(preview)
    made = create(site)
    assert made.status_code == 303
    number = int(made.headers["Location"].rsplit("/", 1)[1])
    ticket = Ticket(env, number)
    assert (ticket["summary"], ticket["status"], ticket["reporter"]) == ("It crashes", "new", "dev")
    page = text(site.get(f"/ticket/{number}"))
    assert f"#{number}" in page and "It crashes" in page and "<em>saving</em>" in page
    assert 'name="view_time"' in page and 'name="comment"' in page
    csv_text = site.get(f"/ticket/{number}?format=csv").get_data(as_text=True)
    assert csv_text.splitlines()[0].lstrip("\ufeff").startswith("id,summary,reporter")
    assert f"{number},It crashes,dev" in csv_text
    rss = site.get(f"/ticket/{number}?format=rss")
    assert rss.headers["Content-Type"].startswith("application/rss+xml")


def test_comment_reply_and_resolve(site):
    env, site = site
    number = int(create(site).headers["Location"].rsplit("/", 1)[1])
    view_time = Ticket(env, number).time_changed
    first = site.post(f"/ticket/{number}", {"comment": "First look", "action": "leave",
                                            "view_time": view_time, "submit": "1"})
    assert first.status_code == 303
    t = Ticket(env, number)
    reply = site.post(f"/ticket/{number}", {"comment": "Agreed", "replyto": "1", "action": "resolve",
                                            "action_resolve_resolve_resolution": "fixed",
                                            "view_time": t.time_changed, "submit": "1"})
    assert reply.status_code == 303, text(reply)
    t = Ticket(env, number)
    assert (t["status"], t["resolution"]) == ("closed", "fixed")
    comments = [(old, new) for _w, _a, field, old, new, _p in t.get_changelog() if field == "comment"]
    assert comments == [("1", "First look"), ("1.2", "Agreed")]
    page = text(site.get(f"/ticket/{number}"))
    assert 'id="comment:2"' in page and "in reply to" in page
    assert "resolution</strong> set to <em>fixed</em>" in page


def test_mid_air_collision_keeps_the_text(site):
    env, site = site
    number = int(create(site).headers["Location"].rsplit("/", 1)[1])
    seen = Ticket(env, number).time_changed
    other = Ticket(env, number)
    other["keywords"] = "meanwhile"
    other.save_changes("someone", "Changed meanwhile")
    late = site.post(f"/ticket/{number}", {"comment": "My careful words", "action": "leave",
                                           "view_time": seen, "submit": "1"})
    assert late.status_code == 409
    body = html.unescape(text(late))
    assert "modified by someone else" in body and "My careful words" in body
    comments = [new for _w, _a, f, _o, new, _p in Ticket(env, number).get_changelog() if f == "comment"]
    assert comments == ["Changed meanwhile"]


def test_bad_input_is_refused_with_the_input_kept(site):
    env, site = site
    no_summary = create(site, summary="")
    assert no_summary.status_code == 400 and "summary" in text(no_summary).lower()
    bad_value = create(site, priority="urgent!!", description="keep this text")
    assert bad_value.status_code == 400 and "keep this text" in text(bad_value)
    with env.db_query as db:
        assert db("SELECT COUNT(*) FROM ticket")[0][0] == 0
    number = int(create(site).headers["Location"].rsplit("/", 1)[1])
    t = Ticket(env, number)
    wrong = site.post(f"/ticket/{number}", {"comment": "x", "action": "reopen",
                                            "view_time": t.time_changed, "submit": "1"})
    assert wrong.status_code == 400
    assert Ticket(env, number)["status"] == "new"
    for path in ("/ticket/999", "/ticket/abc", "/ticket/0", "/ticket/99999999999999999999"):
        assert site.get(path).status_code == 404, path
    assert site.get(f"/ticket/{number}?format=pdf").status_code == 400
    stale = site.post(f"/ticket/{number}", {"comment": "x", "view_time": "yesterday", "submit": "1"})
    assert stale.status_code == 400


def test_permissions(site, served):
    env, site = site
    number = int(create(site).headers["Location"].rsplit("/", 1)[1])
    _, anon = served("anon")  # anonymous may view but not create tickets
    assert anon.get("/newticket").status_code == 403
    PermissionSystem(env).revoke("anonymous", "TICKET_VIEW")
    from tests.unit.web.conftest import Site

    stranger = Site({"codeyard.env_path": env.path})
    assert stranger.get(f"/ticket/{number}").status_code == 403
    assert re.search(r"New Ticket</a>", text(site.get("/wiki/WikiStart")))


def test_ticket_page_lists_attachments_and_offers_to_attach(site):
    import io

    env, site = site
    number = int(create(site).headers["Location"].rsplit("/", 1)[1])
    page = text(site.get(f"/ticket/{number}"))
    assert f'href="/attachment/ticket/{number}/">Attach file</a>' in page
    upload = site.post(f"/attachment/ticket/{number}/", {
        "attachment": (io.BytesIO(b"trace lines\n"), "trace.txt"), "description": "the trace",
        "action": "new"}, content_type="multipart/form-data")
    assert upload.status_code in (200, 303), text(upload)[:500]
    page = text(site.get(f"/ticket/{number}"))
    assert f'href="/attachment/ticket/{number}/trace.txt">trace.txt</a>' in page
    assert "the trace" in page
    history = [f for _w, _a, f, _o, _n, _p in Ticket(env, number).get_changelog()]
    assert "attachment" in history
