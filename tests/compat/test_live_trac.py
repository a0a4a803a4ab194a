"""A live Trac 1.6 (``tracd``, ``trac-admin``) and a live ``codeyard serve`` on one environment
see each other's writes on their next request: both keep the same data cached under the same
rows of the ``cache`` table, and each bumps them when it writes."""

from __future__ import annotations

import re
import time

import pytest

from codeyard.env import Environment
from codeyard.wiki.model import WikiPage
from tests.support.admin_cli import admin_ok
from tests.support.codeyard_server import CodeyardServer
from tests.support.http import Client
from tests.support.tracd import TracdServer

pytestmark = [pytest.mark.db, pytest.mark.slow]

INTERMAP = "= InterWiki =\n----\n{{{\nCyx  http://example.org/cyx/  # The Cyx site\n}}}\n----\n"
LINKS = "See NewPage, FromCodeyard, FromTheWeb, milestone:v9, Cyx:foo and attachment:notes.txt.\n"


@pytest.fixture
def live(trac, make_env):
    """One environment, with ``tracd`` and ``codeyard serve`` both running on it."""
    env: Environment = make_env(options=[("logging", "log_type", "none")])
    page = WikiPage(env, "LinkPage")
    page.text = LINKS
    page.save("alice", "")
    env.shutdown()
    tracd = TracdServer(trac, env.path).start()
    try:
        codeyard = CodeyardServer("-s", env.path).start()
    except BaseException:
        tracd.stop()
        raise
    try:
        yield env, tracd, codeyard
    finally:
        codeyard.stop()
        tracd.stop()


def view(server, path: str) -> str:
    response = Client(server.url).get(path)
    assert response.status == 200, (path, response.status, response.text[:2000])
    return response.text


def page_link(html: str, name: str) -> str:
    """'existing' or 'missing', for the link to wiki page ``name`` in ``html``."""
    existing = re.search(rf'<a class="wiki" href="[^"]*/wiki/{name}"', html)
    missing = re.search(rf'<a class="missing wiki"[^>]*>{name}\??</a>', html)
    assert bool(existing) != bool(missing), (name, html)
    return "existing" if existing else "missing"


def milestone_link(html: str, name: str) -> str:
    match = re.search(rf'<a class="([^"]*)"[^>]*>milestone:{name}</a>', html)
    assert match, html
    return "missing" if "missing" in match.group(1).split() else "existing"


def attachment_link(html: str, filename: str) -> str:
    match = re.search(rf'<a class="([^"]*)"[^>]*>attachment:{re.escape(filename)}</a>', html)
    assert match, html
    return "missing" if "missing" in match.group(1).split() else "existing"


def has_interwiki_link(html: str) -> bool:
    return 'href="http://example.org/cyx/foo"' in html


def test_trac_admin_wiki_writes_reach_the_running_codeyard(trac, live, tmp_path):
    env, _tracd, codeyard = live
    before = view(codeyard, "wiki/LinkPage")  # fills codeyard's caches
    assert page_link(before, "NewPage") == "missing"
    assert not has_interwiki_link(before)

    source = tmp_path / "NewPage.txt"
    source.write_text("= New =\nImported by trac-admin.\n", encoding="utf-8")
    trac.admin(env.path, "wiki", "import", "NewPage", str(source))
    after = view(codeyard, "wiki/LinkPage")
    assert page_link(after, "NewPage") == "existing"

    # An edit of the existing InterMapTxt page (no page comes or goes).
    intermap = tmp_path / "InterMapTxt.txt"
    intermap.write_text(INTERMAP, encoding="utf-8")
    trac.admin(env.path, "wiki", "import", "InterMapTxt", str(intermap))
    assert has_interwiki_link(view(codeyard, "wiki/LinkPage"))

    # Trac keeps no generation for attachments: the rendered page must still follow.
    assert attachment_link(view(codeyard, "wiki/LinkPage"), "notes.txt") == "missing"
    notes = tmp_path / "notes.txt"
    notes.write_text("notes\n", encoding="utf-8")
    trac.admin(env.path, "attachment", "add", "wiki:LinkPage", str(notes))
    assert attachment_link(view(codeyard, "wiki/LinkPage"), "notes.txt") == "existing"


def test_trac_admin_permission_add_reaches_the_running_codeyard(trac, live):
    env, _tracd, codeyard = live
    client = Client(codeyard.url)
    assert client.get("wiki/BrandNew?action=edit").status == 403
    trac.admin(env.path, "permission", "add", "anonymous", "WIKI_CREATE")
    assert client.get("wiki/BrandNew?action=edit").status == 200
    trac.admin(env.path, "permission", "remove", "anonymous", "WIKI_CREATE")
    assert client.get("wiki/BrandNew?action=edit").status == 403


def test_codeyard_writes_reach_the_running_tracd(live, tmp_path):
    env, tracd, codeyard = live
    before = view(tracd, "wiki/LinkPage")  # fills Trac's caches
    assert page_link(before, "FromCodeyard") == "missing"
    assert page_link(before, "FromTheWeb") == "missing"
    assert milestone_link(before, "v9") == "missing"
    assert not has_interwiki_link(before)

    # A page imported with codeyard's admin command.
    source = tmp_path / "FromCodeyard.txt"
    source.write_text("Imported by codeyard.\n", encoding="utf-8")
    admin_ok(env.path, "wiki", "import", "FromCodeyard", str(source))
    assert page_link(view(tracd, "wiki/LinkPage"), "FromCodeyard") == "existing"

    # A page created with codeyard's editor.
    admin_ok(env.path, "permission", "add", "anonymous", "WIKI_CREATE")
    client = Client(codeyard.url)
    editor = client.get("wiki/FromTheWeb?action=edit")
    assert editor.status == 200, editor.text[:2000]
    saved = client.post("wiki/FromTheWeb", {
        "action": "edit", "text": "Written in codeyard's editor.\n", "comment": "", "version": "0",
        "save": "Save", "__FORM_TOKEN": editor.form_token() or ""})
    assert saved.status in (302, 303), saved.text[:2000]
    assert page_link(view(tracd, "wiki/LinkPage"), "FromTheWeb") == "existing"

    # A milestone, a component (Trac's ticket fields), and an edit of InterMapTxt.
    admin_ok(env.path, "milestone", "add", "v9")
    assert milestone_link(view(tracd, "wiki/LinkPage"), "v9") == "existing"
    assert '"Widgets"' not in view(tracd, "query")
    admin_ok(env.path, "component", "add", "Widgets", "alice")
    assert '"Widgets"' in view(tracd, "query")  # the component filter's options
    intermap = tmp_path / "InterMapTxt.txt"
    intermap.write_text(INTERMAP, encoding="utf-8")
    admin_ok(env.path, "wiki", "import", "InterMapTxt", str(intermap))
    assert has_interwiki_link(view(tracd, "wiki/LinkPage"))


def test_codeyard_permission_changes_reach_the_running_tracd(live):
    env, tracd, _codeyard = live
    client = Client(tracd.url)
    assert client.get("wiki/BrandNew?action=edit").status == 403
    admin_ok(env.path, "permission", "add", "anonymous", "WIKI_CREATE")
    # Trac's default policy keeps a user's actions for up to 5 s besides the shared cache.
    deadline = time.monotonic() + 15
    while client.get("wiki/BrandNew?action=edit").status != 200:
        assert time.monotonic() < deadline, "tracd never saw the new grant"
        time.sleep(0.5)
