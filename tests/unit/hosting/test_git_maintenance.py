"""Keeping hosted Git repositories packed: ``repository maintain`` and the trigger after
pushes."""

from __future__ import annotations

import logging
import os
import time

import pytest

from codeyard.admin.console import main
from codeyard.hosting import git_http, git_maintenance
from codeyard.vcs.manager import RepositoryManager
from tests.unit.vcs.vcs_fixtures import GitRepo, git

pytestmark = pytest.mark.db


def bare_with_loose_history(tmp_path, name: str = "main.git", commits: int = 3) -> str:
    work = GitRepo(tmp_path / f"{name}-work")
    for n in range(commits):
        work.commit(f"commit {n}", {f"f{n}.txt": f"{n}\n"})
    bare = str(tmp_path / name)
    git(tmp_path, "init", "-q", "--bare", bare)
    git(work.path, "push", "-q", bare, "master")  # a small push stays loose objects
    return bare


def bitmaps(bare: str) -> list[str]:
    return [n for n in os.listdir(os.path.join(bare, "objects", "pack")) if n.endswith(".bitmap")]


def test_maintain_packs_everything_with_a_bitmap_and_a_commit_graph(tmp_path):
    bare = bare_with_loose_history(tmp_path)
    assert bitmaps(bare) == []
    counts = git_maintenance.maintain("git", bare)
    assert counts["packs_after"] == 1
    assert len(bitmaps(bare)) == 1
    assert os.path.isfile(os.path.join(bare, "objects", "info", "commit-graph"))
    git(bare, "fsck", "--no-progress")


def test_a_second_run_at_the_same_time_is_refused(tmp_path):
    bare = bare_with_loose_history(tmp_path)
    with git_maintenance._exclusive(bare), pytest.raises(git_maintenance.MaintenanceBusy):
        git_maintenance.maintain("git", bare)


def test_note_push_says_when_maintenance_is_due(tmp_path):
    bare = bare_with_loose_history(tmp_path)
    every_third = git_maintenance.Thresholds(pushes=3, loose_objects=0, packs=0)
    assert [git_maintenance.note_push(bare, every_third) for _ in range(4)] == [
        False, False, True, False]
    many_packs = git_maintenance.Thresholds(pushes=0, loose_objects=0, packs=1)
    assert git_maintenance.note_push(bare, many_packs) is False  # only loose objects yet
    git_maintenance.maintain("git", bare)
    assert git_maintenance.note_push(bare, many_packs) is True


def test_a_push_past_the_threshold_maintains_in_the_background(make_env, tmp_path):
    env = make_env(options=[("git", "maintain_after_pushes", "1")])
    bare = bare_with_loose_history(tmp_path)
    git_http._maybe_maintain(env, "git", bare)
    deadline = time.monotonic() + 60
    while not bitmaps(bare) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(bitmaps(bare)) == 1


def test_background_failures_are_logged(tmp_path, caplog):
    thread = git_maintenance.start_in_background("git", str(tmp_path), logging.getLogger("t"))
    thread.join(60)
    assert "maintenance of" in caplog.text


def test_repository_maintain_command(make_env, tmp_path, capsys):
    env = make_env()
    bare = bare_with_loose_history(tmp_path)
    other = bare_with_loose_history(tmp_path, "other.git")
    manager = RepositoryManager(env)
    manager.add_repository("main", bare, "git")
    manager.add_repository("other", other, "git")
    assert main([env.path, "repository", "maintain", "main"]) == 0
    assert "main: " in capsys.readouterr().out
    assert len(bitmaps(bare)) == 1 and bitmaps(other) == []
    assert main([env.path, "repository", "maintain", "*"]) == 0
    assert len(bitmaps(other)) == 1
    assert main([env.path, "repository", "maintain", "nothing"]) == 2
    assert "Repository 'nothing' not found" in capsys.readouterr().err
