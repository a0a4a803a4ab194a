"""The changeset cache is shared with Trac 1.6: a Git repository cached by codeyard is
listed and notified by ``trac-admin`` (its git connector, ``[git] cached_repository``)
without errors or duplicate rows, and the rows equal those Trac's own ``repository resync``
writes; Trac's rows are in turn taken by codeyard as they are."""

from __future__ import annotations

import pytest

from codeyard.vcs import cache
from codeyard.vcs.manager import RepositoryManager
from tests.support.dbcompare import cache_rows
from tests.unit.vcs import vcs_fixtures
from tests.unit.vcs.vcs_fixtures import GitRepo, git

pytestmark = pytest.mark.db
plugins = vcs_fixtures.plugins

TRAC_GIT = [("components", "tracopt.versioncontrol.git.*", "enabled"),
            ("git", "cached_repository", "true")]


def _history(tmp_path) -> GitRepo:
    """A main line, a merged branch, a rename, a deletion, a directory and a tag."""
    repo = GitRepo(tmp_path / "repos" / "project")
    repo.commit("Initial import, see #1", {"README": "hello\n", "src/main.py": "print(1)\n",
                                           "docs/guide.txt": "How.\n"})
    repo.commit("Second: more code", {"src/main.py": "print(1)\nprint(2)\n"})
    repo.mv("docs/guide.txt", "docs/manual.txt", "Rename the guide")
    git(repo.path, "checkout", "-q", "-b", "feature")
    repo.commit("A feature", {"feature.txt": "new\n"})
    git(repo.path, "checkout", "-q", "master")
    repo.commit("Drop the README", {"README": None})
    git(repo.path, "merge", "-q", "--no-ff", "-m", "Merge the feature", "feature",
        date=f"@{1_700_000_000 + 10 * 60} +0000")
    git(repo.path, "tag", "v1.0")
    return repo


def test_trac_reads_and_rewrites_codeyard_cache(plugins, make_env, tmp_path, trac):
    env = make_env(options=TRAC_GIT)
    repo = _history(tmp_path)
    rm = RepositoryManager(env)
    rm.add_repository("project", str(repo.path), "git")
    repos = rm.get_repository("project")
    assert len(cache.sync(env, repos)) == 6
    ours = cache_rows(env, repos.id)

    listed = trac.out(env.path, "repository", "list")
    assert "project" in listed and "git" in listed and str(repo.path) in listed
    head = git(repo.path, "rev-parse", "HEAD")
    trac.admin(env.path, "changeset", "added", "project", head)
    trac.admin(env.path, "repository", "sync", "project")
    assert cache_rows(env, repos.id) == ours  # nothing duplicated, nothing rewritten

    trac.admin(env.path, "repository", "resync", "project")
    theirs = cache_rows(env, repos.id)
    assert theirs == ours

    # and the other way: a revision Trac cached is not cached again by codeyard
    later = repo.commit("Later work, refs #1", {"src/main.py": "print(3)\n"})
    trac.admin(env.path, "changeset", "added", "project", later)
    assert cache.cached_youngest_rev(env, repos.id) == later  # Trac bumped the generation
    assert cache.sync(env, repos) == []
    assert len(cache_rows(env, repos.id)["revision"]) == 7


def test_codeyard_takes_a_cache_trac_made(plugins, make_env, tmp_path, trac):
    env = make_env(options=[*TRAC_GIT, ("codeyard", "config_check_interval", "0")])
    repo = _history(tmp_path)
    rm = RepositoryManager(env)
    assert rm.get_all_repositories() == {}  # kept by this process from now on
    trac.admin(env.path, "repository", "add", "(default)", str(repo.path), "git")
    trac.admin(env.path, "repository", "resync", "(default)")
    env.refresh_config()  # what every request does: Trac touched trac.ini
    info = rm.get_info("")
    assert info is not None and info.dir == str(repo.path) and info.type == "git"
    repos = rm.get_repository("")
    theirs = cache_rows(env, repos.id)
    assert len(theirs["revision"]) == 6
    assert cache.sync(env, repos) == []
    assert cache_rows(env, repos.id) == theirs
    cache.resync(env, repos)
    assert cache_rows(env, repos.id) == theirs
