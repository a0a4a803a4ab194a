"""The ``push_received`` hook after a push through the hosting gate (git and Bazaar both
end there), and the ``push`` payload it queues."""

from __future__ import annotations

import pytest

from codeyard.core import hookimpl
from codeyard.hosting import gate
from codeyard.vcs.manager import RepositoryManager
from tests.unit.vcs.vcs_fixtures import GitRepo
from tests.unit.webhooks.conftest import BASE, deliver

pytestmark = pytest.mark.db


def test_a_push_queues_its_new_revisions(hook_env, receiver, tmp_path):
    work = GitRepo(tmp_path / "work")
    first = work.commit("Add the lid", {"lid.txt": "lid\n"})
    manager = RepositoryManager(hook_env)
    manager.add_repository("", str(work.path), "git")  # the default repository
    repos = manager.require_repository("")
    assert gate.after_push(hook_env, repos, "dev") == [first]
    second = work.commit("Fix the spout\n\nIt dripped.", {"spout.txt": "spout\n"})
    third = work.commit("Polish", {"lid.txt": "shiny lid\n"})
    assert gate.after_push(hook_env, repos, "dev") == [second, third]
    assert gate.after_push(hook_env, repos, "dev") == []  # nothing new: no delivery
    deliver(hook_env)
    pushes = [g.json for g in receiver.wait_for(2)]
    assert [p["event"] for p in pushes] == ["push", "push"]
    assert [r["id"] for r in pushes[0]["revisions"]] == [first]
    data = pushes[1]
    assert data["pusher"] == data["sender"] == "dev"
    assert data["repository"] == {"name": "", "url": f"{BASE}/browser"}
    assert [r["id"] for r in data["revisions"]] == [second, third]
    rev = data["revisions"][0]
    assert rev["message"].rstrip("\n") == "Fix the spout\n\nIt dripped."
    assert rev["url"] == f"{BASE}/changeset/{second}"
    assert rev["time"] == "2023-11-14T22:15:20Z"


def test_a_failing_push_listener_never_fails_the_push(hook_env, tmp_path, caplog):
    class Broken:
        @hookimpl
        def push_received(self, env, repos, revisions, pusher):
            raise RuntimeError("listener down")

    hook_env.plugins.register(Broken())
    work = GitRepo(tmp_path / "work")
    rev = work.commit("One", {"a.txt": "a\n"})
    manager = RepositoryManager(hook_env)
    manager.add_repository("main", str(work.path), "git")
    assert gate.after_push(hook_env, manager.require_repository("main"), "dev") == [rev]
    assert "a push listener failed" in caplog.text
