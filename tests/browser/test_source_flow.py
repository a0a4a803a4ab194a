"""Chromium through a real `codeyard serve`: browse a Git repository to a file, open its
annotations and follow a changeset link — plain links and forms, no JavaScript needed."""

from __future__ import annotations

import pytest

from codeyard.env import Environment
from tests.support.codeyard_server import CodeyardServer
from tests.unit.vcs.test_git_contract import GitWorkTree, build_history

pytestmark = pytest.mark.slow


@pytest.fixture
def source_server(tmp_path):
    tree = GitWorkTree(tmp_path / "work")
    revs = build_history(tree)
    env = Environment.create(str(tmp_path / "proj"), [
        ("project", "name", "Sources"), ("logging", "log_type", "none"),
        ("repositories", ".dir", str(tree.path)), ("repositories", ".type", "git")])
    env.shutdown()
    with CodeyardServer("-s", env.path) as server:
        yield server, revs


def test_browse_annotate_and_follow_a_changeset(source_server, browser_context):
    server, revs = source_server
    page = browser_context.new_page()
    page.set_default_timeout(20_000)
    page.goto(server.url)
    with page.expect_navigation():
        page.get_by_role("link", name="Browse Source").click()
    assert page.locator("#dirlist").count() == 1
    with page.expect_navigation():
        page.locator("#dirlist a.dir", has_text="src").click()
    with page.expect_navigation():
        page.locator("#dirlist a.file", has_text="main.py").click()
    assert page.url.endswith("/browser/src/main.py")
    assert page.locator("table.code th#L4 a[href='#L4']").count() == 1
    assert page.locator("table.code .kn", has_text="import").count() == 1

    with page.expect_navigation():
        page.get_by_role("link", name="Annotate").click()
    assert "annotate=blame" in page.url
    first = page.locator("table.code.blame tr:has(th#L1) td.blame a")
    assert first.inner_text() == revs["r1"][:7]
    assert page.locator("table.code.blame tr:has(th#L4) td.author", has_text="Alice").count() == 1

    with page.expect_navigation():
        page.locator("table.code.blame tr:has(th#L4) td.blame a").click()
    assert page.url.endswith(f"/changeset/{revs['r2']}")
    assert page.locator("h1", has_text=f"Changeset {revs['r2']}").count() == 1
    assert page.locator("#overview .message", has_text="Print two, add the logo").count() == 1
    assert page.locator("table.diff.inline tr.add", has_text="print('two')").count() == 1
