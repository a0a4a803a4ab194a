"""Helpers of the repository manager, cache and admin tests: real Git repositories made with
the ``git`` command line, and plugins registered into a test environment."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

import codeyard.env
from codeyard.core import hookimpl

GIT_ENV = {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_SYSTEM": os.devnull,
           "GIT_AUTHOR_NAME": "Alice", "GIT_AUTHOR_EMAIL": "alice@example.org",
           "GIT_COMMITTER_NAME": "Alice", "GIT_COMMITTER_EMAIL": "alice@example.org"}


def git(cwd, *args: str, date: str | None = None, input: str | None = None) -> str:
    env = {**os.environ, **GIT_ENV}
    if date:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = date
    result = subprocess.run(["git", *args], cwd=str(cwd), env=env, capture_output=True,
                            text=True, input=input, check=True)
    return result.stdout.strip()


class GitRepo:
    """A non-bare repository made with the git CLI; ``commit`` returns the new sha."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True)
        git(path, "init", "-q", "-b", "master")
        self.count = 0

    def commit(self, message: str, files: dict[str, str | None], date: int | None = None) -> str:
        for name, content in files.items():
            target = self.path / name
            if content is None:
                git(self.path, "rm", "-q", name)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)
            git(self.path, "add", name)
        self.count += 1
        when = date if date is not None else 1_700_000_000 + self.count * 60
        git(self.path, "commit", "-q", "-m", message, date=f"@{when} +0000")
        return git(self.path, "rev-parse", "HEAD")

    def mv(self, old: str, new: str, message: str) -> str:
        git(self.path, "mv", old, new)
        self.count += 1
        git(self.path, "commit", "-q", "-m", message,
            date=f"@{1_700_000_000 + self.count * 60} +0000")
        return git(self.path, "rev-parse", "HEAD")


class Recorder:
    """Listens to the repository hooks."""

    def __init__(self) -> None:
        self.events: list[tuple] = []

    @hookimpl
    def changeset_added(self, env, repos, changeset):
        self.events.append(("added", repos.name, changeset.rev))

    @hookimpl
    def changeset_modified(self, env, repos, changeset, old_changeset):
        self.events.append(("modified", repos.name, changeset.rev,
                            old_changeset.message if old_changeset else None, changeset.message))

    @hookimpl
    def repository_changed(self, env, event, repos):
        self.events.append(("repository", event, repos.name))


@pytest.fixture
def git_repo(tmp_path):
    """A repository: ``a`` added, edited, ``b`` added, ``a`` renamed to ``c``."""
    repo = GitRepo(tmp_path / "repos" / "main")
    repo.revs = [  # type: ignore[attr-defined]
        repo.commit("first, see #1", {"a.txt": "one\n"}),
        repo.commit("second", {"a.txt": "one\ntwo\n", "dir/b.txt": "b\n"}),
        repo.mv("a.txt", "c.txt", "rename a to c"),
    ]
    return repo


@pytest.fixture
def plugins(monkeypatch):
    """The Recorder, registered in every plugin manager the test's environments build, and
    the Git backend where the installed entry points do not announce it yet."""
    import codeyard.vcs.git as git_backend

    rec = Recorder()
    original = codeyard.env.make_plugin_manager

    def with_extra(rules, extra=()):
        pm = original(rules, [*extra, rec])
        if not pm.is_registered(git_backend):
            pm.register(git_backend, name="codeyard.vcs.git")
        return pm

    monkeypatch.setattr(codeyard.env, "make_plugin_manager", with_extra)
    return rec
