"""The REST API's repositories, changesets, timeline and search, over the site app, on a
Git repository made with the ``git`` command."""

from __future__ import annotations

import json

import pytest

from codeyard.perm import PermissionSystem
from codeyard.rest.tokens import create_token
from codeyard.vcs import cache
from codeyard.vcs.manager import RepositoryManager
from tests.unit.vcs.test_git_contract import GitWorkTree
from tests.unit.web.conftest import text

pytestmark = pytest.mark.db


@pytest.fixture
def project(served, tmp_path):
    tree = GitWorkTree(tmp_path / "repo")
    revs = []
    for n in range(4):
        tree.write(f"file{n}.txt", f"content {n}\n".encode())
        revs.append(tree.commit(f"Change {n}, refs #1", author="Dana <dana@example.org>"))
    env, site = served(options=[("repositories", ".dir", str(tree.path)),
                                ("repositories", ".type", "git"),
                                ("repositories", ".description", "Main"),
                                ("repositories", "secret.dir", str(tree.path)),
                                ("repositories", "secret.type", "git")])
    PermissionSystem(env).grant("dev", "TICKET_CREATE")
    cache.sync(env, RepositoryManager(env).get_repository(""))  # the timeline reads the cache
    env.ensure_own_tables()
    token = create_token(env, "dev", "tests")

    def call(path, status=200):
        response = site.get("/api/v1" + path, headers={"Authorization": f"Bearer {token}",
                                                       "Accept": "application/json"})
        assert response.status_code == status, text(response)
        assert response.headers["Content-Type"] == "application/json; charset=utf-8"
        return json.loads(text(response))

    return env, site, call, revs


def test_repositories_and_changesets(project):
    env, _site, call, revs = project
    listed = call("/repositories")
    assert [r["name"] for r in listed["items"]] == ["(default)", "secret"]
    main = call("/repositories/(default)")
    assert main["description"] == "Main" and main["youngest_rev"] == revs[-1]
    page = call("/repositories/(default)/changesets?per_page=3")
    assert page["total"] == 4 and [c["rev"] for c in page["items"]] == revs[::-1][:3]
    assert page["items"][0]["message"].strip() == "Change 3, refs #1"
    assert page["items"][0]["author"].startswith("Dana")
    assert [c["rev"] for c in call("/repositories/(default)/changesets?per_page=3&page=2")["items"]] \
        == [revs[0]]
    one = call(f"/repositories/(default)/changesets/{revs[1]}")
    assert one["parents"] == [revs[0]]
    assert one["changes"] == [{"path": "file1.txt", "kind": "file", "change": "add",
                               "base_path": None, "base_rev": None}]
    # The default repository's list comes from the changeset cache; "secret" is not synced
    # and is walked: the same list.
    assert [c["rev"] for c in call("/repositories/secret/changesets")["items"]] == revs[::-1]
    call("/repositories/nothing", 404)
    call("/repositories/(default)/changesets/0123456789abcdef", 404)
    # Without BROWSER_VIEW on a repository it is neither listed nor readable.
    perms = PermissionSystem(env)
    perms.revoke("anonymous", "BROWSER_VIEW")
    perms.grant("dev", "CHANGESET_VIEW")
    assert call("/repositories")["items"] == []
    call("/repositories/(default)", 403)


def test_timeline_and_search(project):
    _env, site, call, revs = project
    events = call("/timeline?filters=changeset&from=2024-01-10&daysback=30")  # 2 to 5 January
    assert events["total"] == 4
    first = events["items"][0]
    assert first["kind"] == "changeset" and first["author"].startswith("Dana")
    assert first["url"].startswith("http://localhost/changeset/")
    assert "Change 3" in first["description"]
    assert [f["name"] for f in call("/timeline/filters")][:1] == ["wiki"]
    assert "unknown filter" in call("/timeline?filters=nope", 400)["error"]["message"]
    assert "from" in call("/timeline?from=yesterday-ish", 400)["error"]["message"]
    hits = call("/search?q=Welcome&filters=wiki&per_page=1")
    assert hits["total"] >= 1 and len(hits["items"]) == 1
    assert hits["items"][0]["url"].startswith("http://localhost/wiki/")
    assert "missing" in call("/search", 400)["error"]["message"]
    assert "unknown source" in call("/search?q=Welcome&filters=nope", 400)["error"]["message"]
    assert {"name": "wiki", "label": "Wiki"} in call("/search/filters")
