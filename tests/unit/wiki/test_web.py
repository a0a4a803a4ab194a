"""The wiki and attachments on the web, through the whole site application."""

from __future__ import annotations

import io
import re

import pytest
from werkzeug.test import Client

from codeyard.env import forget_environment, open_environment
from codeyard.perm import PermissionSystem
from codeyard.web.wsgi import application
from codeyard.wiki.model import WikiPage

pytestmark = pytest.mark.db


class Site:
    """A browser-like client of one project (cookies kept, form token sent with POSTs)."""

    def __init__(self, env_path: str) -> None:
        self.environ = {"codeyard.env_path": env_path}
        self.client = Client(application)

    def get(self, path: str, headers=None, **kw):
        headers = {"Accept": "text/html", **(headers or {})}
        return self.client.get(path, environ_base=self.environ, headers=headers, **kw)

    def post(self, path: str, data=None, token: bool = True, headers=None, **kw):
        data = dict(data or {})
        if token:
            data.setdefault("__FORM_TOKEN", self.token())
        headers = {"Accept": "text/html", **(headers or {})}
        return self.client.post(path, data=data, environ_base=self.environ, headers=headers, **kw)

    def token(self) -> str:
        cookie = self.client.get_cookie("trac_form_token", domain="localhost")
        if cookie is None:
            self.get("/about")
            cookie = self.client.get_cookie("trac_form_token", domain="localhost")
        return cookie.value

    def login(self, user: str) -> None:
        response = self.client.get("/login", environ_base={**self.environ, "REMOTE_USER": user})
        assert response.status_code in (302, 303), response.get_data(as_text=True)

    def save(self, page: str, text: str, version: int, comment: str = "", **extra):
        return self.post(f"/wiki/{page}", {"action": "edit", "text": text, "version": str(version),
                                           "comment": comment, "save": "1", **extra})


def body(response) -> str:
    return response.get_data(as_text=True)


def article(response) -> str:
    html = body(response)
    match = re.search(r'<article class="wikipage[^"]*" id="wikipage">(.*?)</article>', html, re.S)
    assert match, html[:3000]
    return match.group(1)


@pytest.fixture
def alice(project):
    env, site = project
    site.login("alice")
    return env, site


# ---------------------------------------------------------------------------
# Viewing


def test_start_page_is_the_project_root_and_wiki_nav(project):
    env, site = project
    root = site.get("/")
    assert root.status_code == 200
    assert 'id="wikipage"' in body(root)
    start = WikiPage(env, "WikiStart")
    assert "Welcome" in start.text or start.text.splitlines()[0][:10] in body(root)
    wiki = site.get("/wiki")
    assert article(wiki) == article(root)
    assert re.search(r'<li class="nav-wiki[^"]* active"><a href="/wiki" aria-current="page">Wiki</a>', body(wiki))


def test_missing_page_offers_creation_only_to_creators(project):
    env, site = project
    anonymous = site.get("/wiki/NoSuchPage")
    assert anonymous.status_code == 404
    site.login("alice")
    page = site.get("/wiki/NoSuchPage")
    assert page.status_code == 200
    assert "Create this page" in body(page)
    assert site.get("/wiki/NoSuchPage?format=txt").status_code == 404


def test_format_txt_and_old_versions(alice):
    env, site = alice
    assert site.save("Notes", "first ''text''", 0).status_code == 303
    assert site.save("Notes", "second '''text'''", 1, comment="more").status_code == 303
    raw = site.get("/wiki/Notes?format=txt")
    assert raw.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert body(raw) == "second '''text'''"
    assert body(site.get("/wiki/Notes?format=txt&version=1")) == "first ''text''"
    old = site.get("/wiki/Notes?version=1")
    assert "<em>text</em>" in article(old) and "View latest version" in body(old)
    assert "<strong>text</strong>" in article(site.get("/wiki/Notes"))
    assert site.get("/wiki/Notes?version=9").status_code == 404
    assert site.get("/wiki/Notes?version=x").status_code == 400
    assert site.get("/wiki/Notes/").status_code in (301, 302, 303, 308)
    assert site.get("/wiki/a/../b").status_code in (400, 404)


# ---------------------------------------------------------------------------
# Editing


def test_create_preview_and_save(alice):
    env, site = alice
    form = site.get("/wiki/FreshPage?action=edit")
    assert form.status_code == 200
    html = body(form)
    for field in ('name="text"', 'name="comment"', 'name="version" value="0"', 'name="save"',
                  'name="preview"', "wiki-edit.js"):
        assert field in html
    assert 'name="readonly"' not in html  # WIKI_ADMIN only
    preview = site.post("/wiki/FreshPage", {"action": "edit", "text": "= Title =\n * item",
                                            "version": "0", "preview": "1"})
    assert preview.status_code == 200
    assert '<ul><li>item' in body(preview) and "= Title =\n * item</textarea>" in body(preview)
    assert not WikiPage(env, "FreshPage").exists
    saved = site.save("FreshPage", "= Title =\n * item", 0, comment="new page")
    assert saved.status_code == 303 and saved.headers["Location"].endswith("/wiki/FreshPage")
    page = WikiPage(env, "FreshPage")
    assert (page.version, page.author, page.comment) == (1, "alice", "new page")
    assert 'id="Title">Title</h1>' in article(site.get("/wiki/FreshPage"))


def test_save_with_stale_version_keeps_text_and_shows_conflict(alice):
    env, site = alice
    site.save("Shared", "line one\nline two\n", 0)
    # Someone else saves version 2 meanwhile.
    other = WikiPage(env, "Shared")
    other.text = "line one\nline two changed by bob\n"
    other.save("bob", "bob's change")
    mine = "line one\nmy own careful words\n"
    conflict = site.save("Shared", mine, 1, comment="mine")
    assert conflict.status_code == 409
    html = body(conflict)
    assert "changed by someone else" in html
    assert "my own careful words\n</textarea>" in html  # the text is not lost
    assert "changed by bob" in html  # their change is shown
    assert 'name="merge" value="2"' in html
    assert WikiPage(env, "Shared").text == other.text  # nothing overwritten
    merged = site.save("Shared", mine, 1, merge="2")
    assert merged.status_code == 303
    assert WikiPage(env, "Shared").text == mine and WikiPage(env, "Shared").version == 3


def test_page_templates_for_new_pages(alice):
    env, site = alice
    template = WikiPage(env, "PageTemplates/Meeting")
    template.text = "== Agenda ==\n"
    template.save("admin")
    missing = body(site.get("/wiki/Minutes"))
    assert "<option>Meeting</option>" in missing
    form = body(site.get("/wiki/Minutes?action=edit&template=Meeting"))
    assert "== Agenda ==\n</textarea>" in form


def test_anonymous_cannot_edit_and_readonly_needs_admin(project):
    env, site = project
    assert site.get("/wiki/WikiStart?action=edit").status_code == 403
    assert site.save("Anon", "text", 0).status_code == 403
    assert not WikiPage(env, "Anon").exists
    page = WikiPage(env, "Locked")
    page.text = "frozen"
    page.readonly = 1
    page.save("admin")
    site.login("alice")
    assert site.get("/wiki/Locked?action=edit").status_code == 403
    assert site.save("Locked", "changed", 1).status_code == 403
    assert "Edit</a>" not in body(site.get("/wiki/Locked"))
    PermissionSystem(env).grant("alice", "WIKI_ADMIN")
    form = body(site.get("/wiki/Locked?action=edit"))
    assert 'name="readonly" value="1" checked' in form
    assert site.save("Locked", "changed", 1).status_code == 303  # readonly box unticked
    assert WikiPage(env, "Locked").readonly == 0


def test_missing_form_token_is_refused(alice):
    env, site = alice
    refused = site.post("/wiki/NoToken", {"action": "edit", "text": "x", "version": "0",
                                          "save": "1"}, token=False)
    assert refused.status_code == 400
    assert not WikiPage(env, "NoToken").exists


# ---------------------------------------------------------------------------
# History and diff


def _three_versions(env):
    page = WikiPage(env, "Doc")
    for text in ("alpha\nbeta\ngamma\n", "alpha\nBETA two\ngamma\n", "alpha\nBETA two\ngamma\ndelta\n"):
        page.text = text
        page.save("writer", f"to {text.split()[1]}")
    return page


def test_history_lists_versions(project):
    env, site = project
    _three_versions(env)
    html = body(site.get("/wiki/Doc?action=history"))
    for version in (1, 2, 3):
        assert f'href="/wiki/Doc?version={version}"' in html
    assert html.count('name="old_version"') == 3 and "to BETA" in html


def test_revert_to_an_old_version(project, alice):
    env, site = project
    _three_versions(env)
    old = body(site.get("/wiki/Doc?version=1"))
    form = re.search(r'<form method="get" action="/wiki/Doc" id="modifypage".*?</form>', old, re.S)
    assert form and 'name="version" value="1"' in form.group(0)
    assert "Revert to this version" in form.group(0)
    assert "Revert to this version" not in body(site.get("/wiki/Doc"))
    editor = body(site.get("/wiki/Doc?action=edit&version=1"))
    assert "alpha\nbeta\ngamma" in editor  # the old text, in the editor
    assert 'name="version" value="3"' in editor  # saved over the latest version
    assert "Reverted to version 1" in editor
    saved = site.save("Doc", "alpha\nbeta\ngamma\n", 3, "Reverted to version 1")
    assert saved.status_code in (302, 303), body(saved)[:2000]
    latest = WikiPage(env, "Doc")
    assert (latest.version, latest.text, latest.comment) == (4, "alpha\nbeta\ngamma\n",
                                                             "Reverted to version 1")
    assert site.get("/wiki/Doc?action=edit&version=9").status_code == 404


def diff_table(response) -> str:
    html = body(response)
    assert response.status_code == 200, html[:2000]
    start = html.index('<table class="diff')
    return html[start:html.index("</table>", start)]


def test_diff_inline_and_side_by_side_with_options(project):
    env, site = project
    _three_versions(env)
    inline = site.get("/wiki/Doc?action=diff&version=2&old_version=1")
    assert '<table class="diff inline">' in body(inline)
    assert "<del>beta</del>" in diff_table(inline) and "<ins>BETA two</ins>" in diff_table(inline)
    side = site.get("/wiki/Doc?action=diff&version=2&old_version=1&style=sidebyside")
    assert '<table class="diff sidebyside">' in body(side)
    assert "<ins>BETA two</ins>" in diff_table(side)
    default = diff_table(site.get("/wiki/Doc?action=diff&version=3"))
    assert "delta" in default and "beta" not in default
    ignored = diff_table(site.get("/wiki/Doc?action=diff&version=2&old_version=1&ignorecase=1"))
    assert "<ins>BETA two</ins>" not in ignored and "BETA<ins> two</ins>" in ignored
    whole = diff_table(site.get("/wiki/Doc?action=diff&version=3&old_version=2&contextall=1"))
    assert "alpha" in whole
    short = diff_table(site.get("/wiki/Doc?action=diff&version=3&old_version=2&contextlines=0"))
    assert "alpha" not in short and "gamma" not in short and "delta" in short
    assert site.get("/wiki/Doc?action=diff&version=7").status_code == 404


def test_diff_ignores_whitespace_and_blank_lines(project):
    env, site = project
    page = WikiPage(env, "Spaces")
    page.text = "a b\nc\n"
    page.save("w")
    page.text = "a   b\n\nc\n"
    page.save("w")
    assert "No differences" in body(site.get(
        "/wiki/Spaces?action=diff&version=2&ignorewhitespace=1&ignoreblanklines=1"))
    assert "No differences" not in body(site.get("/wiki/Spaces?action=diff&version=2"))


# ---------------------------------------------------------------------------
# Rename and delete


def test_rename_with_redirect(alice):
    env, site = alice
    site.save("OldName", "content", 0)
    assert site.get("/wiki/OldName?action=rename").status_code == 403
    PermissionSystem(env).grant("alice", "WIKI_RENAME")
    form = body(site.get("/wiki/OldName?action=rename"))
    assert 'name="new_name"' in form and 'name="redirect"' in form
    done = site.post("/wiki/OldName", {"action": "rename", "new_name": "NewName", "redirect": "1"})
    assert done.status_code == 303 and done.headers["Location"].endswith("/wiki/NewName")
    assert WikiPage(env, "NewName").text == "content"
    redirect = WikiPage(env, "OldName")
    assert redirect.exists and "NewName" in redirect.text
    assert 'href="/wiki/NewName"' in article(site.get("/wiki/OldName"))
    taken = site.post("/wiki/NewName", {"action": "rename", "new_name": "OldName"})
    assert taken.status_code == 409 and "already exists" in body(taken)


def test_delete_a_version_then_the_page(alice):
    env, site = alice
    _three_versions(env)
    assert site.get("/wiki/Doc?action=delete").status_code == 403
    PermissionSystem(env).grant("alice", "WIKI_DELETE")
    confirm = body(site.get("/wiki/Doc?action=delete&version=3"))
    assert 'name="delete_version"' in confirm and "version 3" in confirm
    done = site.post("/wiki/Doc", {"action": "delete", "version": "3", "delete_version": "1"})
    assert done.status_code == 303
    assert WikiPage(env, "Doc").version == 2
    assert site.post("/wiki/Doc", {"action": "delete", "cancel": "1"}).status_code == 303
    assert WikiPage(env, "Doc").exists
    gone = site.post("/wiki/Doc", {"action": "delete"})
    assert gone.status_code == 303
    assert not WikiPage(env, "Doc").exists
    assert "has been deleted" in body(site.get(gone.headers["Location"]))


# ---------------------------------------------------------------------------
# The rendered-page cache


def test_cached_view_follows_creation_and_deletion_of_linked_pages(alice):
    env, site = alice
    site.save("Linker", "See TargetPage and [wiki:Other other].", 0)
    first = article(site.get("/wiki/Linker"))
    assert 'class="missing wiki" href="/wiki/TargetPage"' in first
    again = article(site.get("/wiki/Linker"))
    assert again == first
    # Another process creates the target: simulated by writing through a separate
    # Environment object, so only the shared generation counter can tell this one.
    from codeyard.env import Environment

    other_process = Environment(env.path)
    target = WikiPage(other_process, "TargetPage")
    target.text = "here"
    target.save("bob")
    other_process.shutdown()
    after = article(site.get("/wiki/Linker"))
    assert 'class="wiki" href="/wiki/TargetPage"' in after and "missing" not in after.split("TargetPage</a>")[0]
    WikiPage(env, "TargetPage").delete()
    assert 'class="missing wiki" href="/wiki/TargetPage"' in article(site.get("/wiki/Linker"))


def test_cache_serves_repeated_views(alice, monkeypatch):
    env, site = alice
    site.save("Stable", "Just '''text''' and WikiStart.", 0)
    from codeyard.wiki import web

    calls = []
    real = web.format_to_html
    monkeypatch.setattr(web, "format_to_html", lambda ctx, text, **kw: calls.append(1) or real(ctx, text, **kw))
    for _ in range(3):
        assert "<strong>text</strong>" in article(site.get("/wiki/Stable"))
    assert len(calls) == 1


# ---------------------------------------------------------------------------
# /wiki_render


def test_wiki_render_needs_a_token_and_view_permission(project):
    env, site = project
    fields = {"realm": "wiki", "id": "WikiStart", "text": "'''bold''' WikiStart"}
    assert site.post("/wiki_render", fields, token=False).status_code == 400
    done = site.post("/wiki_render", fields)
    assert done.status_code == 200
    assert done.headers["Content-Type"].startswith("text/html")
    assert "<strong>bold</strong>" in body(done) and "<html" not in body(done)
    oneliner = site.post("/wiki_render", {**fields, "text": "= x =\n'''b'''", "flavor": "oneliner"})
    assert "<p>" not in body(oneliner) and "<strong>b</strong>" in body(oneliner)
    PermissionSystem(env).revoke("anonymous", "WIKI_VIEW")
    assert site.post("/wiki_render", fields).status_code == 403


# ---------------------------------------------------------------------------
# Attachments


def upload(site, page, name, content: bytes, **fields):
    data = {"action": "new", "attachment": (io.BytesIO(content), name), **fields}
    return site.post(f"/attachment/wiki/{page}/", data, content_type="multipart/form-data")


def test_attachment_upload_list_preview_and_delete(alice):
    env, site = alice
    site.save("Files", "page with files", 0)
    listing = site.get("/attachment/wiki/Files/")
    assert listing.status_code == 200 and 'name="attachment"' in body(listing)
    done = upload(site, "Files", "hello.py", b"def greet():\n    return 'hi'\n", description="code")
    assert done.status_code == 303, body(done)
    assert "hello.py" in body(site.get("/attachment/wiki/Files/"))
    assert 'href="/attachment/wiki/Files/hello.py"' in body(site.get("/wiki/Files"))
    preview = body(site.get("/attachment/wiki/Files/hello.py"))
    assert '<span class="k">def</span>' in preview and 'id="L2"' in preview
    raw = site.get("/attachment/wiki/Files/hello.py?format=raw")
    assert raw.data == b"def greet():\n    return 'hi'\n"
    # Replace, then delete (WIKI_DELETE needed, or being the one who attached it).
    again = upload(site, "Files", "hello.py", b"print(1)\n", replace="1")
    assert again.status_code == 303
    rows = [a.filename for a in __import__("codeyard.attachment.model", fromlist=["x"]).select(env, "wiki", "Files")]
    assert rows == ["hello.py"]
    assert site.get("/raw-attachment/wiki/Files/hello.py").data == b"print(1)\n"
    confirm = site.get("/attachment/wiki/Files/hello.py?action=delete")
    assert confirm.status_code == 200 and "Delete attachment" in body(confirm)
    gone = site.post("/attachment/wiki/Files/hello.py", {"action": "delete"})
    assert gone.status_code == 303
    assert site.get("/attachment/wiki/Files/hello.py").status_code == 404


def test_raw_attachment_headers_are_safe(alice):
    env, site = alice
    site.save("Unsafe", "x", 0)
    upload(site, "Unsafe", "evil.html", b"<script>alert(1)</script>")
    upload(site, "Unsafe", "pic.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    upload(site, "Unsafe", "notes.txt", "caf\u00e9\n".encode())
    html = site.get("/raw-attachment/wiki/Unsafe/evil.html")
    assert html.status_code == 200
    assert html.headers["Content-Type"].startswith("text/plain")
    assert html.headers["Content-Disposition"].startswith("attachment")
    assert html.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in html.headers["Content-Security-Policy"]
    png = site.get("/raw-attachment/wiki/Unsafe/pic.png")
    assert png.headers["Content-Type"] == "image/png"
    assert png.headers["Content-Disposition"].startswith("inline")
    txt = site.get("/raw-attachment/wiki/Unsafe/notes.txt")
    assert txt.headers["Content-Type"] == "text/plain; charset=utf-8"
    upload(site, "Unsafe", "draw.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>')
    svg = site.get("/raw-attachment/wiki/Unsafe/draw.svg")
    assert svg.headers["Content-Type"] == "image/svg+xml"
    assert svg.headers["Content-Disposition"].startswith("attachment")
    assert "sandbox" in svg.headers["Content-Security-Policy"]
    preview = body(site.get("/attachment/wiki/Unsafe/pic.png"))
    assert '<img src="/raw-attachment/wiki/Unsafe/pic.png"' in preview
    env.config.set("attachment", "render_unsafe_content", "true")
    env.config.save()
    forget_environment(env.path)
    trusted = site.get("/raw-attachment/wiki/Unsafe/evil.html")
    assert trusted.headers["Content-Type"].startswith("text/html")
    assert "sandbox" not in trusted.headers.get("Content-Security-Policy", "")


def test_attachment_permissions_follow_the_page(project):
    env, site = project
    page = WikiPage(env, "Guarded")
    page.text = "x"
    page.save("admin")
    assert upload(site, "Guarded", "a.txt", b"a").status_code == 403  # anonymous: no WIKI_MODIFY
    site.login("alice")
    assert upload(site, "Guarded", "a.txt", b"a").status_code == 303
    site2 = Site(env.path)
    site2.login("carol")
    assert site2.post("/attachment/wiki/Guarded/a.txt", {"action": "delete"}).status_code == 403
    PermissionSystem(env).revoke("anonymous", "WIKI_VIEW")
    anonymous = Site(env.path)
    assert anonymous.get("/raw-attachment/wiki/Guarded/a.txt").status_code == 403
    assert anonymous.get("/attachment/wiki/Guarded/").status_code == 403


def test_oversized_upload_is_refused_and_nothing_is_written(alice):
    env, site = alice
    env.config.set("attachment", "max_size", "10")
    env.config.save()
    forget_environment(env.path)
    env = open_environment(env.path)
    site.save("Big", "x", 0)
    refused = upload(site, "Big", "big.bin", b"x" * 100)
    assert refused.status_code == 413 and "Maximum attachment size" in body(refused)
    with env.db_query as db:
        assert db("SELECT COUNT(*) FROM attachment")[0][0] == 0
    import os

    leftovers = [f for _, _, files in os.walk(env.attachments_dir) for f in files]
    assert leftovers == []


@pytest.mark.parametrize("path", [
    "/raw-attachment/wiki/../../conf/trac.ini",
    "/raw-attachment/wiki/Files/..%2F..%2Fconf%2Ftrac.ini",
    "/raw-attachment/wiki/Files%2F..%2F..%2Fconf/trac.ini",
    "/attachment/wiki/Files/../",
    "/raw-attachment/wiki/Files/%2e%2e",
    "/raw-attachment/..%2Fconf/x/trac.ini",
])
def test_attachment_paths_cannot_escape(alice, path):
    env, site = alice
    site.save("Files", "x", 0)
    upload(site, "Files", "f.txt", b"data")
    response = site.get(path)
    assert response.status_code in (400, 403, 404), (path, response.status_code)
    assert b"[trac]" not in response.data and b"database" not in response.data


def test_cached_view_follows_ticket_changes(alice):
    env, site = alice
    with env.db_transaction as db:
        db("INSERT INTO ticket (id, type, time, changetime, status, summary, reporter) "
           "VALUES (1, 'defect', 1, 1, 'new', 'Broken thing', 'alice')")
    site.save("Tracker", "Follow #1 please.", 0)
    first = article(site.get("/wiki/Tracker"))
    assert 'class="new ticket"' in first
    assert article(site.get("/wiki/Tracker")) == first
    with env.db_transaction as db:  # as Trac writes a change: with its ticket_change rows
        db("UPDATE ticket SET status='closed', resolution='fixed', changetime=2 WHERE id=1")
        db("INSERT INTO ticket_change (ticket, time, author, field, oldvalue, newvalue) "
           "VALUES (1, 2, 'bob', 'status', 'new', 'closed')")
    assert 'class="closed ticket"' in article(site.get("/wiki/Tracker"))


def test_attachments_of_other_realms_use_their_permissions(alice):
    env, site = alice
    with env.db_transaction as db:
        db("INSERT INTO milestone (name, due, completed, description) VALUES ('m1', 0, 0, '')")
    data = {"action": "new", "attachment": (io.BytesIO(b"plan"), "plan.txt")}
    refused = site.post("/attachment/milestone/m1/", data, content_type="multipart/form-data")
    assert refused.status_code == 403  # MILESTONE_MODIFY is needed
    PermissionSystem(env).grant("alice", "MILESTONE_MODIFY")
    data = {"action": "new", "attachment": (io.BytesIO(b"plan"), "plan.txt")}
    done = site.post("/attachment/milestone/m1/", data, content_type="multipart/form-data")
    assert done.status_code == 303 and done.headers["Location"].endswith("/milestone/m1")
    assert site.get("/raw-attachment/milestone/m1/plan.txt").data == b"plan"
    data = {"action": "new", "attachment": (io.BytesIO(b"plan"), "plan.txt")}
    missing = site.post("/attachment/milestone/nope/", data, content_type="multipart/form-data")
    assert missing.status_code == 404
