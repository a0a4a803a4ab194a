"""Page names: what cannot be reached is refused at creation and rename; what is accepted
stays reachable by every action."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest

from codeyard.attachment import model as attachments
from codeyard.perm import PermissionSystem
from codeyard.wiki import model
from codeyard.wiki.model import WikiPage
from tests.support.admin_cli import run_admin
from tests.unit.wiki.test_web import Site, body, upload

pytestmark = pytest.mark.db

BAD_NAMES = {
    "nul": ("A\x00B", "control character U+0000"),
    "tab": ("Tab\tName", "control character U+0009"),
    "c1": ("C1\x85Name", "control character U+0085"),
    "backslash": ("Back\\Slash", "a backslash"),
    "override": ("Bidi\u202eName", "bidirectional control character U+202E"),
    "isolate": ("Bidi\u2066Name", "bidirectional control character U+2066"),
    "long": ("x" * 5000, "at most 255 characters (this one has 5000)"),
    "long-sub": ("Parent/" + "y" * 300, "at most 255 characters"),
}
ODD_NAMES = ["With space", "Ünïcødé/Ünter Seite", "Q?x", "H#x", "P%x", "P%25x", "S;x",
             "Mixed ?#%;&+=/Sub page", "Tilde~'quote\"", "y" * 255]


def url(name: str, encode_slashes: bool = False) -> str:
    return "/wiki/" + quote(name, safe="" if encode_slashes else "/")


@pytest.fixture
def admin_site(make_env):
    from codeyard.env import forget_environment, open_environment

    env = make_env("names")
    with env.db_transaction as db:
        db("DELETE FROM wiki")
    env.invalidate(model.PAGES_CACHE_KEY)
    PermissionSystem(env).grant("alice", "TRAC_ADMIN")
    site = Site(env.path)
    site.login("alice")
    yield open_environment(env.path), site
    forget_environment(env.path)


def names(env) -> set[str]:
    with env.db_query as db:
        return {row[0] for row in db("SELECT DISTINCT name FROM wiki")}


@pytest.mark.parametrize("case", sorted(BAD_NAMES))
def test_unreachable_names_are_refused_by_the_model_and_the_admin(env, case):
    name, why = BAD_NAMES[case]
    with pytest.raises(model.InvalidPageName, match=re.escape(why)):
        model.check_new_page_name(name)
    if "\x00" not in name:  # PostgreSQL cannot even look such a name up
        page = WikiPage(env, name)
        page.text = "text"
        with pytest.raises(model.InvalidPageName, match=re.escape(why)):
            page.save("alice")
    good = WikiPage(env, "GoodName")
    good.text = "text"
    good.save("alice")
    with pytest.raises(model.InvalidPageName, match=re.escape(why)):
        good.rename(name)
    assert WikiPage(env, "GoodName").exists and name not in names(env)
    result = run_admin(env.path, "wiki", "rename", "GoodName", name)
    assert result.rc != 0 and why in result.err + result.out
    assert name not in names(env)


@pytest.mark.parametrize("case", sorted(BAD_NAMES))
def test_unreachable_names_are_refused_on_the_web(admin_site, case):
    env, site = admin_site
    name, why = BAD_NAMES[case]
    site.save("Start", "hello", 0)
    renamed = site.post("/wiki/Start", {"action": "rename", "new_name": name})
    assert renamed.status_code == 400
    message = body(renamed)
    assert "Invalid Wiki page name" in message and why in message
    assert len(message) < 20000  # the 5,000 characters are not echoed back in the message
    assert names(env) == {"Start"} and site.get("/wiki/Start").status_code == 200
    if "\x00" in name or "\\" in name:
        return  # not even a URL for them
    created = site.save(quote(name, safe="/"), "new text", 0)
    assert created.status_code == 400 and why in body(created)
    assert "new text" in body(created)  # the writer's text is kept in the editor
    assert name not in names(env)
    assert site.get(url(name) + "?action=edit").status_code == 400


def test_wiki_import_refuses_an_unreachable_name(env, tmp_path):
    source = tmp_path / "page.txt"
    source.write_text("imported", encoding="utf-8")
    result = run_admin(env.path, "wiki", "import", "Bad\\Name", str(source))
    assert result.rc != 0 and "a backslash" in result.err + result.out
    assert "Bad\\Name" not in names(env)


def test_every_accepted_name_stays_reachable(admin_site):
    env, site = admin_site
    for name in ODD_NAMES:
        check_reachable(env, site, name)


def check_reachable(env, site, name: str) -> None:
    quoted = quote(name, safe="/")
    assert site.save(quoted, "first", 0).status_code == 303, name
    for encode_slashes in (False, True):
        view = site.get(url(name, encode_slashes))
        assert view.status_code == 200 and "first" in body(view), (name, encode_slashes)
    assert site.get(url(name) + "?action=edit").status_code == 200
    assert site.save(quoted, "second", 1).status_code == 303
    assert site.get(url(name) + "?action=history").status_code == 200
    assert site.get(url(name) + "?action=diff&version=2").status_code == 200
    assert upload(site, quoted, "f.txt", b"data").status_code == 303
    assert [a.filename for a in attachments.select(env, "wiki", name)] == ["f.txt"]
    assert site.get(f"/attachment/wiki/{quoted}/").status_code == 200
    assert site.get(f"/raw-attachment/wiki/{quoted}/f.txt").data == b"data"
    moved = site.post(url(name), {"action": "rename", "new_name": "Moved"})
    assert moved.status_code == 303 and names(env) == {"Moved"}
    back = site.post("/wiki/Moved", {"action": "rename", "new_name": name})
    assert back.status_code == 303 and names(env) == {name}
    assert site.get(f"/raw-attachment/wiki/{quoted}/f.txt").data == b"data"
    gone = site.post(url(name), {"action": "delete"})
    assert gone.status_code == 303 and names(env) == set()
    assert attachments.select(env, "wiki", name) == []


def test_long_names_are_refused_for_new_pages_only(env):
    # Pages made elsewhere (Trac) keep working: only new names are checked.
    name = "z" * 300
    with env.db_transaction as db:
        db("INSERT INTO wiki (name, version, time, author, text, comment, readonly) "
           "VALUES (%s, 1, 1, 'me', 'old', '', 0)", (name,))
    page = WikiPage(env, name)
    page.text = "changed"
    page.save("alice")
    assert WikiPage(env, name).version == 2
    page.rename("Short")
    assert WikiPage(env, "Short").exists
    with pytest.raises(model.InvalidPageName, match="at most 255"):
        WikiPage(env, "Short").rename(name)


def test_an_encoded_slash_is_a_slash(admin_site):
    env, site = admin_site
    page = WikiPage(env, "Foo/Bar")
    page.text = "the sub page"
    page.save("alice")
    anonymous = Site(env.path)
    found = anonymous.get("/wiki/Foo%2FBar")
    assert found.status_code == 200 and "the sub page" in body(found)
    assert anonymous.get("/wiki/Foo%2fNothing").status_code == 404
    missing = site.get("/wiki/Foo%2FNothing")  # a writer is offered to create it
    assert missing.status_code == 200 and "Foo/Nothing" in body(missing)
    assert anonymous.get("/wiki/Foo%2F..%2F..%2Fconf").status_code in (400, 404)
