"""The changeset cache: Trac's rows, incremental sync and resync, the sync-in-progress
protocol, changeset added/modified with their hooks, the read API, sync per request."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from codeyard import cachekeys
from codeyard.env import Environment
from codeyard.vcs import cache
from codeyard.vcs.api import RepositoryError
from codeyard.vcs.manager import RepositoryManager
from tests.unit.vcs import vcs_fixtures
from tests.unit.vcs.vcs_fixtures import git

pytestmark = pytest.mark.db
plugins, git_repo = vcs_fixtures.plugins, vcs_fixtures.git_repo


def _add(env, repo, name="main"):
    rm = RepositoryManager(env)
    rm.add_repository(name, str(repo.path), "git")
    return rm.get_repository(name)


def _revision_rows(env, rid):
    with env.db_query as db:
        return db("SELECT rev, time, author, message FROM revision WHERE repos=%s ORDER BY time",
                  (rid,))


def _change_rows(env, rid):
    with env.db_query as db:
        return sorted(db("SELECT rev, path, node_type, change_type, base_path, base_rev "
                         "FROM node_change WHERE repos=%s", (rid,)), key=repr)


def _metadata(env, rid):
    with env.db_query as db:
        return dict(db("SELECT name, value FROM repository WHERE id=%s "
                       "AND name IN ('repository_dir', 'youngest_rev')", (rid,)))


def test_sync_writes_trac_rows(plugins, env, git_repo):
    repos = _add(env, git_repo)
    r1, r2, r3 = git_repo.revs
    assert cache.sync(env, repos) == [r1, r2, r3]
    assert _revision_rows(env, repos.id) == [
        (r1, 1_700_000_060_000_000, "Alice <alice@example.org>", "first, see #1"),
        (r2, 1_700_000_120_000_000, "Alice <alice@example.org>", "second"),
        (r3, 1_700_000_180_000_000, "Alice <alice@example.org>", "rename a to c")]
    assert _change_rows(env, repos.id) == sorted([
        (r1, "a.txt", "F", "A", None, None),
        (r2, "a.txt", "F", "E", "a.txt", r1),
        (r2, "dir/b.txt", "F", "A", None, None),
        (r3, "c.txt", "F", "M", "a.txt", r2)], key=repr)
    assert _metadata(env, repos.id) == {"repository_dir": f"git:{git_repo.path}",
                                        "youngest_rev": r3}
    assert cache.cached_youngest_rev(env, repos.id) == r3
    # nothing new: nothing read, nothing written, no hook
    assert cache.sync(env, repos) == []
    assert not [e for e in plugins.events if e[0] == "added"]


def test_incremental_sync_and_notify(plugins, env, git_repo):
    repos = _add(env, git_repo)
    cache.sync(env, repos)
    r4 = git_repo.commit("fourth, fixes #2", {"d.txt": "d\n"})
    git(git_repo.path, "checkout", "-q", "-b", "side", git_repo.revs[0])
    s1 = git_repo.commit("on a side branch", {"s.txt": "s\n"})
    git(git_repo.path, "checkout", "-q", "master")
    git(git_repo.path, "merge", "-q", "--no-ff", "-m", "merge side", "side")
    merge = git(git_repo.path, "rev-parse", "HEAD")
    added = cache.sync(env, repos, notify=True)
    assert set(added[:2]) == {r4, s1} and added[2] == merge  # parents before children
    assert [e[2] for e in plugins.events if e[0] == "added"] == added
    assert len(_revision_rows(env, repos.id)) == 6
    assert _metadata(env, repos.id)["youngest_rev"] == merge
    assert ("repository", "synced", "main") in plugins.events


def test_a_failing_listener_does_not_silence_the_others(plugins, env, git_repo, caplog):
    repos = _add(env, git_repo)
    cache.sync(env, repos)
    first = git_repo.commit("one", {"one.txt": "1\n"})
    second = git_repo.commit("two", {"two.txt": "2\n"})
    from codeyard.core import hookimpl

    class Flaky:
        @hookimpl
        def changeset_added(self, env, repos, changeset, pusher):
            if changeset.rev == first:
                raise RuntimeError("listener broke")

    env.plugins.register(Flaky())  # called before the recorder: its failure stops that call
    assert cache.sync(env, repos, notify=True) == [first, second]
    assert [e[2] for e in plugins.events if e[0] == "added"] == [second]
    assert "listener broke" in caplog.text


def test_resync_and_a_moved_directory(plugins, env, git_repo, tmp_path):
    repos = _add(env, git_repo)
    cache.sync(env, repos)
    with env.db_transaction as db:
        db("UPDATE revision SET message='stale' WHERE repos=%s", (repos.id,))
    rows = cache.resync(env, repos)
    assert len(rows) == 3 and "stale" not in {m for *_, m in _revision_rows(env, repos.id)}
    # the cache belongs to another directory: refuse, naming the fix
    with env.db_transaction as db:
        db("UPDATE repository SET value='git:/somewhere/else' WHERE id=%s "
           "AND name='repository_dir'", (repos.id,))
    with pytest.raises(RepositoryError, match="repository resync 'main'"):
        cache.sync(env, repos)
    cache.resync(env, repos)
    assert _metadata(env, repos.id)["repository_dir"] == f"git:{git_repo.path}"


def test_a_sync_in_progress_elsewhere_stops_this_one(plugins, env, git_repo, monkeypatch):
    repos = _add(env, git_repo)
    monkeypatch.setattr(cache, "BATCH", 1)
    other = Environment(env.path)  # another process
    other_repos = RepositoryManager(other).get_repository("main")

    def meanwhile(done, total, rev):
        if done == 1:  # the other process syncs everything after our first revision
            assert cache.sync(other, other_repos) == git_repo.revs[1:]

    with pytest.raises(cache.SyncInProgress, match="being synchronized by another process"):
        cache.sync(env, repos, meanwhile)
    assert [r for r, *_ in _revision_rows(env, repos.id)] == git_repo.revs
    assert cache.sync(env, repos) == []
    other.shutdown()


def test_metadata_generation_is_shared(plugins, env, git_repo):
    repos = _add(env, git_repo)
    other = Environment(env.path)
    assert cache.cached_youngest_rev(other, repos.id) is None
    cache.sync(env, repos)
    # Trac's key: a Trac process sees the change, and so does another codeyard process
    with env.db_query as db:
        assert env.database.generation(db, cachekeys.repository_metadata(repos.id)) >= 1
    assert cache.cached_youngest_rev(other, repos.id) == git_repo.revs[-1]
    other.shutdown()


def test_changeset_added_and_modified(plugins, env, git_repo):
    repos = _add(env, git_repo)
    r1, r2, r3 = git_repo.revs
    assert cache.changeset_added(env, repos, [r3[:7], "deadbeef"]) == [
        "No changeset deadbeef in repository 'main'"]
    assert [e for e in plugins.events if e[0] == "added"] == [("added", "main", r3)]
    assert len(_revision_rows(env, repos.id)) == 3  # it synced first
    with env.db_transaction as db:
        db("UPDATE revision SET message='old words' WHERE repos=%s AND rev=%s", (repos.id, r2))
    assert cache.changeset_modified(env, repos, [r2]) == []
    assert [e for e in plugins.events if e[0] == "modified"] == [
        ("modified", "main", r2, "old words", "second\n")]
    assert cache.get_cached_changeset(env, repos, r2).message == "second"
    # a revision missing from the cache is added by sync_changeset
    with env.db_transaction as db:
        db("DELETE FROM revision WHERE repos=%s AND rev=%s", (repos.id, r1))
        db("DELETE FROM node_change WHERE repos=%s AND rev=%s", (repos.id, r1))
    assert cache.sync_changeset(env, repos, r1) is None
    assert cache.get_cached_changes(env, repos, r1)[0].path == "a.txt"


def test_read_api(plugins, env, git_repo):
    repos = _add(env, git_repo)
    cache.sync(env, repos)
    r1, r2, r3 = git_repo.revs
    start = datetime.fromtimestamp(1_700_000_100, UTC)
    stop = datetime.fromtimestamp(1_700_000_180, UTC)
    assert [(rid, c.rev) for rid, c in cache.get_changesets(env, start, stop)] == [(repos.id, r2)]
    wide = cache.get_changesets(env, start, datetime.now(UTC), [repos.id])
    assert [c.rev for _, c in wide] == [r3, r2]  # newest first
    assert cache.get_changesets(env, start, stop, [repos.id + 1]) == []
    cset = cache.get_cached_changeset(env, repos, r3)
    assert cset.date == datetime.fromtimestamp(1_700_000_180, UTC) and cset.author.startswith("Alice")
    assert cache.get_cached_changeset(env, repos, "nosuch") is None
    changes = cache.get_cached_changes(env, repos, r3)
    assert [(c.path, c.kind, c.change, c.base_path, c.base_rev) for c in changes] == [
        ("c.txt", "file", "move", "a.txt", r2)]


def test_sync_per_request(plugins, env, git_repo):
    rm = RepositoryManager(env)
    rm.add_repository("live", str(git_repo.path), "git")
    rm.add_repository("manual", str(git_repo.path), "git")
    rm.modify_repository("live", {"sync_per_request": "1"})

    class Req:
        def __init__(self):
            self.warnings = []

        def add_warning(self, message):
            self.warnings.append(message)

    req = Req()
    live = rm.repository_for_request(req, "live")
    manual = rm.repository_for_request(req, "manual")
    assert len(_revision_rows(env, live.id)) == 3 and _revision_rows(env, manual.id) == []
    new = git_repo.commit("later", {"later.txt": "x\n"})
    rm.repository_for_request(req, "live")  # once per request
    assert len(_revision_rows(env, live.id)) == 3
    rm.repository_for_request(Req(), "live")
    assert _revision_rows(env, live.id)[-1][0] == new
    with env.db_transaction as db:  # a broken cache becomes a warning on the page
        db("UPDATE repository SET value='git:/x' WHERE id=%s AND name='repository_dir'", (live.id,))
    git_repo.commit("even later", {"later.txt": "y\n"})
    broken = Req()
    assert rm.repository_for_request(broken, "live") is live
    assert "Can't synchronize with repository \"live\"" in broken.warnings[0]


def _fast_import(path, count: int) -> None:
    """A repository of ``count`` commits, each changing two files, made by git fast-import."""
    lines = []
    for n in range(1, count + 1):
        body = f"commit number {n}\n"
        lines += ["commit refs/heads/master", f"mark :{n}",
                  f"author Bob <bob@example.org> {1_600_000_000 + n} +0000",
                  f"committer Bob <bob@example.org> {1_600_000_000 + n} +0000",
                  f"data {len(body)}", body.rstrip("\n")]
        if n > 1:
            lines.append(f"from :{n - 1}")
        for name in (f"src/file{n % 50}.txt", f"docs/note{n % 7}.txt"):
            content = f"{name} at {n}\n"
            lines += [f"M 100644 inline {name}", f"data {len(content)}", content.rstrip("\n")]
        lines.append("")
    git(path, "init", "-q", "-b", "master")
    git(path, "fast-import", "--quiet", input="\n".join(lines) + "\n")


def test_five_thousand_commits_sync_in_seconds(plugins, env, tmp_path, capsys):
    path = tmp_path / "big"
    path.mkdir()
    _fast_import(path, 5000)
    rm = RepositoryManager(env)
    rm.add_repository("big", str(path), "git")
    repos = rm.get_repository("big")
    begin = time.perf_counter()
    added = cache.sync(env, repos)
    seconds = time.perf_counter() - begin
    with capsys.disabled():
        print(f"\nsync of 5000 commits: {seconds:.2f}s")
    assert len(added) == 5000 and len(_revision_rows(env, repos.id)) == 5000
    with env.db_query as db:
        assert db("SELECT COUNT(*) FROM node_change WHERE repos=%s", (repos.id,))[0][0] == 10000
    assert seconds < 30  # a few seconds on an idle machine; the bound leaves room for load


def test_a_bazaar_branch_is_cached_too(plugins, env, tmp_path):
    from tests.unit.vcs.test_bzr_contract import Brz

    brz = Brz(tmp_path / "home")
    branch = tmp_path / "trunk"
    brz(tmp_path, "init", "-q", "trunk")
    (branch / "a.txt").write_text("one\n")
    brz(branch, "add", "-q", "a.txt")
    brz(branch, "commit", "-q", "-m", "first, see #1")
    brz(branch, "mv", "-q", "a.txt", "b.txt")
    brz(branch, "commit", "-q", "-m", "rename")
    first, second = brz.revid(branch, "1"), brz.revid(branch, "2")
    rm = RepositoryManager(env)
    rm.add_repository("bzr", str(branch), "bzr")
    repos = rm.get_repository("bzr")
    assert cache.sync(env, repos) == [first, second]
    assert [(rev, author, message) for rev, _, author, message in _revision_rows(env, repos.id)] \
        == [(first, "Alice <alice@example.org>", "first, see #1"),
            (second, "Alice <alice@example.org>", "rename")]
    changes = {(rev, path, kind, change) for rev, path, kind, change, *_ in
               _change_rows(env, repos.id)}
    assert (first, "a.txt", "F", "A") in changes and (second, "b.txt", "F", "M") in changes
    assert _metadata(env, repos.id) == {"repository_dir": f"bzr:{branch}", "youngest_rev": second}
    (branch / "b.txt").write_text("two\n")
    brz(branch, "commit", "-q", "-m", "third")
    assert cache.sync(env, repos) == [brz.revid(branch, "3")]
