"""The ticket page's further parts over HTTP against a real `codeyard serve`: editing
comments (who may edit which) and their versions, diffs of long fields, previous/next in
the user's last query, attachments right after creating, and type-dependent defaults."""

from __future__ import annotations

import html
import re
import uuid

import pytest

from codeyard.env import Environment
from codeyard.perm import PermissionSystem
from codeyard.ticket.model import Ticket
from codeyard.web.session import Session
from tests.conftest import USE_POSTGRES
from tests.functional.conftest import write_htpasswd
from tests.support.codeyard_server import CodeyardServer
from tests.support.http import Client, Response

pytestmark = [pytest.mark.slow, pytest.mark.db]

USERS = {"alice": "alice-pw", "bob": "bob-pw", "carol": "carol-pw"}
DEFECT_TEMPLATE = "== What happened ==\n== What I expected =="


class Project:
    def __init__(self, env: Environment, server: CodeyardServer) -> None:
        self.env = env
        self.server = server
        self.clients: dict[str, Client] = {}

    def client(self, user: str | None = None) -> Client:
        """A logged-in client (or an anonymous one for None), with its form token."""
        if user in self.clients:
            return self.clients[user]  # type: ignore[index]
        client = Client(self.server.url)
        page = client.get("login")
        assert page.status == 200, page.text[:500]
        if user:
            done = client.post("login", {"user": user, "password": USERS[user], "referer": "",
                                         "__FORM_TOKEN": client.cookies["trac_form_token"]})
            assert done.status in (302, 303), done.text[:500]
        if user is not None:
            self.clients[user] = client
        return client

    def token(self, client: Client) -> str:
        return client.cookies["trac_form_token"]

    def new_ticket(self, user: str, **fields: str) -> int:
        client = self.client(user)
        data = {"__FORM_TOKEN": self.token(client), "field_summary": "A ticket",
                "field_description": "line one\nline two", "action": "create",
                "submit": "Create ticket"}
        data.update({f"field_{k}": v for k, v in fields.items()})
        made = client.post("newticket", data)
        assert made.status == 303, made.text[:1000]
        return int(made.location.rsplit("/", 1)[1])

    def comment(self, user: str, number: int, text: str, **fields: str) -> Response:
        client = self.client(user)
        data = {"__FORM_TOKEN": self.token(client), "comment": text, "action": "leave",
                "view_time": str(Ticket(self.env, number).time_changed), "submit": "1"}
        data.update({f"field_{k}": v for k, v in fields.items()})
        done = client.post(f"ticket/{number}", data)
        assert done.status == 303, done.text[:1000]
        return done


@pytest.fixture(scope="module")
def project(tmp_path_factory, request):
    root = tmp_path_factory.mktemp("tpage")
    url = "sqlite:db/trac.db"
    if USE_POSTGRES:
        url = request.getfixturevalue("postgres").url(schema="t_" + uuid.uuid4().hex[:12])
    htpasswd = write_htpasswd(str(root / "htpasswd"), USERS)
    env = Environment.create(str(root / "proj"), [
        ("logging", "log_type", "none"), ("trac", "database", url),
        ("account-manager", "password_file", htpasswd),
        ("ticket-custom", "notes", "textarea"),
        ("ticket-type-defaults", "task.priority", "minor"),
        ("ticket-type-defaults", "task.component", "component2"),
    ])
    with open(env.config.filename, "a", encoding="utf-8") as fh:  # indented lines continue
        fh.write("\n[ticket-type-defaults]\ndefect.description = "
                 + DEFECT_TEMPLATE.replace("\n", "\n  ") + "\n")
    env.config.parse()
    assert env.config.get("ticket-type-defaults", "defect.description") == DEFECT_TEMPLATE
    PermissionSystem(env).grant("carol", "TICKET_EDIT_COMMENT")
    PermissionSystem(env).grant("anonymous", "TICKET_CREATE")  # but not TICKET_APPEND
    with CodeyardServer("-s", env.path) as server:
        yield Project(env, server)
    env.shutdown()


def page_text(response: Response) -> str:
    return html.unescape(response.text)


def edit_buttons(text: str) -> set[int]:
    return {int(n) for n in re.findall(r'id="edit-comment-(\d+)"', text)}


def comment_text(env, number: int, cnum: int) -> str:
    with env.db_query as db:
        rows = db("SELECT newvalue FROM ticket_change WHERE ticket=%s AND field='comment' "
                  "AND oldvalue=%s", (number, str(cnum)))
    return rows[0][0]


# ---------------------------------------------------------------------------
# 1. Comment editing


def test_who_may_edit_which_comment(project):
    number = project.new_ticket("alice")
    project.comment("alice", number, "Alice's first words")
    project.comment("bob", number, "Bob's note")
    path = f"ticket/{number}"
    assert edit_buttons(project.client("alice").get(path).text) == {1}
    assert edit_buttons(project.client("bob").get(path).text) == {2}
    assert edit_buttons(project.client("carol").get(path).text) == {1, 2}  # TICKET_EDIT_COMMENT
    assert edit_buttons(project.client(None).get(path).text) == set()

    bob = project.client("bob")
    assert bob.get(f"{path}?cnum_edit=1").status == 403
    refused = bob.post(path, {"__FORM_TOKEN": project.token(bob), "cnum_edit": "1",
                              "edited_comment": "Bob was here", "edit_comment": "1"})
    assert refused.status == 403 and "TICKET_EDIT_COMMENT" in refused.text
    anonymous = project.client(None)
    refused = anonymous.post(path, {"__FORM_TOKEN": project.token(anonymous), "cnum_edit": "2",
                                    "edited_comment": "x", "edit_comment": "1"})
    assert refused.status == 403
    assert comment_text(project.env, number, 1) == "Alice's first words"
    assert comment_text(project.env, number, 2) == "Bob's note"


def test_editing_a_comment_keeps_its_versions(project):
    number = project.new_ticket("alice")
    project.comment("alice", number, "The ''first'' words")
    path = f"ticket/{number}"
    alice = project.client("alice")
    editor = alice.get(f"{path}?cnum_edit=1")
    assert editor.status == 200
    text = page_text(editor)
    assert 'name="edited_comment"' in text and "The ''first'' words</textarea>" in text
    assert 'name="__FORM_TOKEN"' in text and 'name="edit_comment"' in text
    assert 'name="cancel_comment"' in text and 'name="comment_version" value="0"' in text

    form = {"__FORM_TOKEN": project.token(alice), "cnum_edit": "1", "comment_version": "0",
            "edited_comment": "The ''better'' words"}
    preview = alice.post(path, {**form, "preview_comment": "Preview"})
    assert preview.status == 200 and "<em>better</em>" in preview.text
    assert comment_text(project.env, number, 1) == "The ''first'' words"

    saved = alice.post(path, {**form, "edit_comment": "Submit changes"})
    assert saved.status == 303 and saved.location.endswith(f"/{path}#comment:1")
    assert comment_text(project.env, number, 1) == "The ''better'' words"
    with project.env.db_query as db:
        kept = db("SELECT author, oldvalue FROM ticket_change WHERE ticket=%s "
                  "AND field='_comment0'", (number,))
    assert kept == [("alice", "The ''first'' words")]

    page = page_text(alice.get(path))
    assert "(last modified by <span class=\"trac-author\">alice</span>" in page
    assert f"/ticket/{number}?cnum_hist=1&cversion=0#comment:1" in page
    assert f"/ticket/{number}?action=comment-diff&cnum=1&version=1" in page
    assert f"/ticket/{number}?action=comment-history&cnum=1" in page

    old = page_text(alice.get(f"{path}?cversion=0&cnum_hist=1"))
    assert "<em>first</em>" in old and "Version 0 of this comment" in old
    assert "<em>better</em>" not in old

    diff = alice.get(f"{path}?action=comment-diff&cnum=1&version=1")
    assert diff.status == 200
    assert "<del>first</del>" in diff.text and "<ins>better</ins>" in diff.text
    history = alice.get(f"{path}?action=comment-history&cnum=1")
    assert history.status == 200 and 'name="old_version"' in history.text
    assert 'name="action" value="comment-diff"' in history.text

    # A stale editor (it saw version 0; the comment is at version 1 now) is refused.
    stale = alice.post(path, {**form, "edited_comment": "Late text", "edit_comment": "1"})
    assert stale.status == 409 and "Late text</textarea>" in page_text(stale)
    assert comment_text(project.env, number, 1) == "The ''better'' words"
    cancelled = alice.post(path, {**form, "cancel_comment": "Cancel"})
    assert cancelled.status == 303 and cancelled.location.endswith("#comment:1")

    # Someone with TICKET_EDIT_COMMENT edits it again: the page names them.
    carol = project.client("carol")
    again = carol.post(path, {"__FORM_TOKEN": project.token(carol), "cnum_edit": "1",
                              "comment_version": "1", "edited_comment": "Carol's words",
                              "edit_comment": "1"})
    assert again.status == 303
    assert "(last modified by <span class=\"trac-author\">carol</span>" in page_text(
        alice.get(path))
    middle = page_text(alice.get(f"{path}?cversion=1&cnum_hist=1"))
    assert "<em>better</em>" in middle and "Version 1 of this comment" in middle
    assert f'href="/ticket/{number}?cnum_hist=1&cversion=0#comment:1">previous</a>' in middle
    assert f'href="/ticket/{number}#comment:1">next</a>' in middle


def test_bad_comment_edit_input_is_a_readable_4xx(project):
    number = project.new_ticket("alice")
    project.comment("alice", number, "Only comment")
    path = f"ticket/{number}"
    alice = project.client("alice")
    token = project.token(alice)
    cases = [
        (alice.get(f"{path}?cnum_edit=99"), 404),
        (alice.get(f"{path}?cnum_edit=abc"), 400),
        (alice.get(f"{path}?cnum_hist=1&cversion=5"), 404),
        (alice.get(f"{path}?cnum_hist=abc&cversion=0"), 400),
        (alice.get(f"{path}?cnum_hist=42&cversion=0"), 404),
        (alice.get(f"{path}?action=comment-diff&cnum=1&version=7"), 404),
        (alice.get(f"{path}?action=comment-diff&version=1"), 400),
        (alice.get(f"{path}?action=comment-diff&cnum=99&version=1"), 404),
        (alice.get(f"{path}?action=comment-history&cnum=x"), 400),
        (alice.get(f"{path}?action=explode"), 400),
        (alice.post(path, {"__FORM_TOKEN": token, "cnum_edit": "99", "edited_comment": "x",
                           "edit_comment": "1"}), 404),
        (alice.post(path, {"__FORM_TOKEN": token, "edited_comment": "x", "edit_comment": "1"}),
         400),
        (alice.post(path, {"__FORM_TOKEN": token, "cnum_edit": "1", "comment_version": "zero",
                           "edited_comment": "x", "edit_comment": "1"}), 400),
        (alice.post(path, {"cnum_edit": "1", "edited_comment": "x", "edit_comment": "1"}), 400),
    ]
    for response, status in cases:
        assert response.status == status, (response.url, response.text[:300])
        assert "Traceback" not in response.text and len(response.text.strip()) > 20
    browser = alice.get(f"{path}?cnum_edit=99", headers={"Accept": "text/html"})
    assert browser.status == 404 and "<html" in browser.text
    assert f"Ticket #{number} has no comment 99." in browser.text
    assert comment_text(project.env, number, 1) == "Only comment"


# ---------------------------------------------------------------------------
# 2. Diffs of long fields


def test_description_changes_link_to_diff_pages(project):
    number = project.new_ticket("alice", description="line one\nline two\nline three")
    path = f"ticket/{number}"
    project.comment("alice", number, "Reworded", description="line one\nline 2\nline three")
    project.comment("bob", number, "Less urgent", priority="minor")
    project.comment("alice", number, "More", description="line one\nline 2\nline three\nline 4")
    project.comment("bob", number, "Notes", notes="some notes")
    alice = project.client("alice")
    page = page_text(alice.get(path))
    assert f'description</strong> modified (<a href="/ticket/{number}?action=diff&version=1">diff</a>)' in page
    assert f'notes</strong> modified (<a href="/ticket/{number}?action=diff&version=4">diff</a>)' in page
    assert f'<a href="/ticket/{number}?action=diff&version=3">diff</a>' in page  # under Description

    first = alice.get(f"{path}?action=diff&version=1")
    assert first.status == 200
    text = page_text(first)
    assert "Initial version" in text and "<del>two</del>" in text and "<ins>2</ins>" in text
    assert f'rel="next" href="/ticket/{number}?action=diff&version=3"' in text
    assert f'href="/ticket/{number}?action=history"' in text
    assert 'name="viewport"' in text and 'class="diff inline"' in text

    third = page_text(alice.get(f"{path}?action=diff&version=3"))
    assert "Version 1" in third and "Version 3" in third and "line 4" in third
    assert "Priority" in third and "<em>major</em> to <em>minor</em>" in third
    assert f'rel="prev" href="/ticket/{number}?action=diff&version=1"' in third
    whole = page_text(alice.get(f"{path}?action=diff&version=3&old_version=0&style=sidebyside"))
    assert 'class="diff sidebyside"' in whole and "2 changes" in whole and "Initial version" in whole
    notes = page_text(alice.get(f"{path}?action=diff&version=4&field=notes"))
    assert "some notes" in notes and "line 4" not in notes

    history = alice.get(f"{path}?action=history")
    assert history.status == 200
    versions = re.findall(r'name="version" value="(\d+)"', history.text)
    assert versions == ["4", "3", "1", "0"]

    for query, status in (("action=diff&version=99", 404), ("action=diff&version=abc", 400),
                          ("action=diff&version=1&old_version=x", 400),
                          ("action=diff&version=1&field=nope", 404),
                          ("action=history&field=nope", 404)):
        response = alice.get(f"{path}?{query}")
        assert response.status == status, (query, response.text[:300])
        assert "Traceback" not in response.text


# ---------------------------------------------------------------------------
# 3. Previous / next in the current query


def test_previous_and_next_follow_the_last_query(project):
    numbers = [project.new_ticket("alice", summary=f"Nav {i}") for i in range(4)]
    a, b, c, d = numbers
    session = Session(project.env, "alice", True)
    session["query_href"] = "/query?status=new&order=priority"
    session["query_tickets"] = f"{c} {a} {d}"
    session.save()
    alice = project.client("alice")

    middle = page_text(alice.get(f"ticket/{a}"))
    nav = middle.split('<nav id="ctxtnav"', 1)[1].split("</nav>", 1)[0]
    assert f'<a rel="prev" href="/ticket/{c}">← Previous Ticket</a>' in nav
    assert f'<a rel="next" href="/ticket/{d}">Next Ticket →</a>' in nav
    assert '<a href="/query?status=new&order=priority">Back to Query</a>' in nav
    assert f'<link rel="prev" href="/ticket/{c}">' in middle
    assert f'<link rel="next" href="/ticket/{d}">' in middle
    assert '<link rel="up" href="/query?status=new&order=priority">' in middle

    first = page_text(alice.get(f"ticket/{c}"))
    assert '<span class="missing">← Previous Ticket</span>' in first
    assert f'<a rel="next" href="/ticket/{a}">Next Ticket →</a>' in first

    # Not among the query's results: the neighbours by number, and no way back to the query.
    outside = page_text(alice.get(f"ticket/{b}"))
    assert f'<a rel="prev" href="/ticket/{a}">' in outside
    assert f'<a rel="next" href="/ticket/{c}">' in outside
    assert "Back to Query" not in outside
    # Another user's session is theirs alone.
    bob_view = page_text(project.client("bob").get(f"ticket/{a}"))
    assert "Back to Query" not in bob_view and f'<a rel="next" href="/ticket/{b}">' in bob_view


# ---------------------------------------------------------------------------
# 4. Attachments on create


def test_files_to_attach_lead_to_the_upload_form(project):
    alice = project.client("alice")
    form = page_text(alice.get("newticket"))
    assert 'name="attachment"' in form and "I have files to attach to this ticket" in form
    made = alice.post("newticket", {"__FORM_TOKEN": project.token(alice),
                                    "field_summary": "With files", "action": "create",
                                    "attachment": "on", "submit": "Create ticket"})
    assert made.status == 303, made.text[:500]
    number = Ticket(project.env, int(re.search(r"/attachment/ticket/(\d+)/", made.location)[1])).id
    assert made.location.endswith(f"/attachment/ticket/{number}/?action=new")
    upload = alice.get(made.location)
    assert upload.status == 200 and 'enctype="multipart/form-data"' in upload.text
    assert 'type="file"' in upload.text

    # Without TICKET_APPEND there is no checkbox, and asking anyway just shows the ticket.
    anonymous = project.client(None)
    assert 'name="attachment"' not in anonymous.get("newticket").text
    plain = anonymous.post("newticket", {"__FORM_TOKEN": project.token(anonymous),
                                         "field_summary": "Anonymous", "action": "create",
                                         "attachment": "on", "submit": "Create ticket"})
    assert plain.status == 303 and re.search(r"/ticket/\d+$", plain.location), plain.location


# ---------------------------------------------------------------------------
# 5. Type-dependent defaults


def selected(text: str, field: str) -> str:
    block = text.split(f'name="field_{field}"', 1)[1].split("</select>", 1)[0]
    return re.search(r"<option selected>([^<]*)</option>", block)[1]


def textarea(text: str, field: str) -> str:
    return html.unescape(text.split(f'name="field_{field}"', 1)[1].split(">", 1)[1]
                         .split("</textarea>", 1)[0])


def test_new_ticket_form_takes_the_defaults_of_its_type(project):
    alice = project.client("alice")
    defect = alice.get("newticket").text
    assert selected(defect, "type") == "defect" and selected(defect, "priority") == "major"
    assert textarea(defect, "description") == DEFECT_TEMPLATE
    assert 'name="defaults_type" value="defect"' in defect

    task = alice.get("newticket?type=task").text
    assert selected(task, "priority") == "minor" and selected(task, "component") == "component2"
    assert textarea(task, "description") == ""
    preset = alice.get("newticket?type=task&priority=critical&summary=Prefilled").text
    assert selected(preset, "priority") == "critical" and 'value="Prefilled"' in preset

    # The user switches the form from defect to task and previews: untouched fields follow.
    token = project.token(alice)
    switched = alice.post("newticket", {
        "__FORM_TOKEN": token, "defaults_type": "defect", "field_type": "task",
        "field_summary": "Switch", "field_priority": "major", "field_component": "component1",
        "field_description": DEFECT_TEMPLATE.replace("\n", "\r\n"), "action": "create",
        "preview": "Preview"})
    assert switched.status == 200, switched.text[:500]
    assert selected(switched.text, "priority") == "minor"
    assert selected(switched.text, "component") == "component2"
    assert textarea(switched.text, "description") == ""
    assert 'name="defaults_type" value="task"' in switched.text
    # What the user changed stays theirs.
    kept = alice.post("newticket", {
        "__FORM_TOKEN": token, "defaults_type": "defect", "field_type": "task",
        "field_summary": "Switch", "field_priority": "blocker", "field_component": "component1",
        "field_description": "My own words", "action": "create", "preview": "Preview"})
    assert selected(kept.text, "priority") == "blocker"
    assert textarea(kept.text, "description") == "My own words"
    assert selected(kept.text, "component") == "component2"

    # A script posting only a type and a summary gets that type's defaults.
    made = alice.post("newticket", {"__FORM_TOKEN": token, "field_type": "task",
                                    "field_summary": "Scripted", "action": "create",
                                    "submit": "Create ticket"})
    assert made.status == 303
    ticket = Ticket(project.env, int(made.location.rsplit("/", 1)[1]))
    assert (ticket["type"], ticket["priority"], ticket["component"]) == ("task", "minor",
                                                                         "component2")
