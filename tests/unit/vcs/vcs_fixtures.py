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


# ---------------------------------------------------------------------------
# A small pygit2 reader with what the cache reads, until the Git backend is merged.

class MiniGitRepository:
    type = "git"

    def __init__(self, name, directory, params):
        import pygit2

        from codeyard.vcs.api import RepositoryError

        try:
            self._repo = pygit2.Repository(directory)
        except pygit2.GitError as exc:
            raise RepositoryError(f"{directory}: not a Git repository ({exc})") from None
        self.name, self.directory, self.params = name, directory, dict(params)
        self.id = params.get("id", 0)

    @property
    def youngest_rev(self):
        return None if self._repo.head_is_unborn else str(self._repo.head.target)

    def normalize_rev(self, rev):
        import pygit2

        from codeyard.vcs.api import NoSuchChangeset

        if not rev:
            return self.youngest_rev
        try:
            return str(self._repo.revparse_single(rev).peel(pygit2.Commit).id)
        except (KeyError, ValueError, pygit2.GitError) as exc:
            raise NoSuchChangeset(rev, self.name) from exc

    def short_rev(self, rev):
        return rev[:7]

    def all_revs(self, since=()):
        import pygit2

        if self._repo.head_is_unborn:
            return
        walker = self._repo.walk(self._repo.head.target,
                                 pygit2.enums.SortMode.TOPOLOGICAL | pygit2.enums.SortMode.REVERSE)
        for rev in since:
            walker.hide(rev)
        for commit in walker:
            yield str(commit.id)

    def get_changeset(self, rev):
        from datetime import UTC, datetime

        from codeyard.vcs.api import Changeset

        commit = self._repo[self.normalize_rev(rev)]
        author = f"{commit.author.name} <{commit.author.email}>"
        return Changeset(rev=str(commit.id), message=commit.message, author=author,
                         date=datetime.fromtimestamp(commit.author.time, UTC),
                         parents=[str(p) for p in commit.parent_ids])

    def get_changes(self, rev):
        from codeyard.vcs.api import ADD, DELETE, EDIT, FILE, MOVE, Change

        commit = self._repo[rev]
        parent = commit.parents[0] if commit.parents else None
        if parent is None:
            diff = commit.tree.diff_to_tree(swap=True)
        else:
            diff = parent.tree.diff_to_tree(commit.tree)
        diff.find_similar()
        kinds = {"A": ADD, "D": DELETE, "M": EDIT, "R": MOVE}
        out = []
        for delta in diff.deltas:
            change = kinds[delta.status_char()]
            if change == ADD:
                out.append(Change(delta.new_file.path, FILE, ADD))
            else:
                path = delta.old_file.path if change == DELETE else delta.new_file.path
                out.append(Change(path, FILE, change, delta.old_file.path, str(parent.id)))
        return out

    def close(self):
        self._repo = None


class MiniGitPlugin:
    @hookimpl
    def repository_connectors(self):
        return {"git": lambda env, name, directory, params:
                MiniGitRepository(name, directory, params)}


def real_git_backend() -> bool:
    try:
        import codeyard.vcs.git  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture
def plugins(monkeypatch):
    """The Recorder, and the Git reader when no Git backend is installed, registered in
    every plugin manager the test's environments build."""
    rec = Recorder()
    extra_plugins: list = [rec] if real_git_backend() else [rec, MiniGitPlugin()]
    original = codeyard.env.make_plugin_manager

    def with_extra(rules, extra=()):
        return original(rules, [*extra, *extra_plugins])

    monkeypatch.setattr(codeyard.env, "make_plugin_manager", with_extra)
    return rec
