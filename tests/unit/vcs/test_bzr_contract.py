"""The Bazaar backend on the contract history, made with the real ``brz`` client, plus what
only Bazaar has: branches in directories, dotted revnos, ``--fixes``, and the refusals."""

from __future__ import annotations

import gc
import os
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

from codeyard.vcs import api
from tests.unit.vcs.contract import *  # noqa: F403
from tests.unit.vcs.contract import GUIDE, LOGO, MAIN_PY, TAG, Scenario

BRZ = str(Path(sys.executable).with_name("brz"))
AUTHOR = "Alice <alice@example.org>"


class Brz:
    """The ``brz`` client with a home of its own (no user configuration leaks in)."""

    def __init__(self, home: Path) -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, "HOME": str(home), "BRZ_HOME": str(home),
                    "BRZ_EMAIL": AUTHOR, "BRZ_LOG": os.devnull, "BRZ_PLUGIN_PATH": "-site",
                    "LC_ALL": "C.UTF-8"}

    def __call__(self, cwd: Path, *args: str) -> str:
        done = subprocess.run([BRZ, *args], cwd=cwd, env=self.env, capture_output=True,
                              text=True, timeout=120)
        if done.returncode != 0:
            raise AssertionError(f"brz {' '.join(args)} failed: {done.stderr}")
        return done.stdout

    def revid(self, branch: Path, revno: str = "-1") -> str:
        return self(branch, "version-info", "--custom", "-r", revno,
                    "--template={revision_id}").strip()


def open_repos(directory: Path, name: str = "") -> api.Repository:
    from codeyard.vcs.bzr import repository_connectors

    return repository_connectors()["bzr"](None, name, str(directory), {"dir": str(directory)})


@pytest.fixture(scope="module")
def brz(tmp_path_factory):
    return Brz(tmp_path_factory.mktemp("brz-home"))


@pytest.fixture(scope="module")
def scenario(tmp_path_factory, brz):
    root = tmp_path_factory.mktemp("bzr") / "repo"
    brz(root.parent, "init-shared-repo", "-q", "repo")
    brz(root, "init", "-q", "trunk")
    trunk = root / "trunk"
    (trunk / "README").write_bytes(b"hello\n")
    (trunk / "src").mkdir()
    (trunk / "src" / "main.py").write_bytes(MAIN_PY)
    (trunk / "docs").mkdir()
    (trunk / "docs" / "guide.txt").write_bytes(GUIDE)
    brz(trunk, "add", "-q")
    brz(trunk, "commit", "-q", "-m", "Initial import, see #1")
    with open(trunk / "src" / "main.py", "ab") as stream:
        stream.write(b"print('two')\n")
    (trunk / "logo.png").write_bytes(LOGO)
    brz(trunk, "add", "-q")
    brz(trunk, "commit", "-q", "-m", "Second")
    brz(trunk, "mv", "-q", "docs/guide.txt", "docs/manual.txt")
    brz(trunk, "commit", "-q", "-m", "Rename the guide")
    brz(trunk, "rm", "-q", "README")
    with open(trunk / "docs" / "manual.txt", "ab") as stream:
        stream.write(b"More.\n")
    brz(trunk, "commit", "-q", "-m", "Drop README, more manual")
    brz(trunk, "tag", "-q", TAG)
    brz(root, "branch", "-q", "trunk", "feature")
    feature = root / "feature"
    (feature / "feature.txt").write_bytes(b"feature\n")
    brz(feature, "add", "-q")
    brz(feature, "commit", "-q", "--fixes", "lp:1234", "-m", "A feature")
    brz(trunk, "merge", "-q", "../feature")
    brz(trunk, "commit", "-q", "-m", "Merge the feature")
    revs = {f"r{n}": brz.revid(trunk, str(n)) for n in range(1, 6)}
    revs["f1"] = brz.revid(feature)
    repos = open_repos(root)
    yield Scenario(repos=repos, revs=revs, prefix="trunk/", tag_rev=TAG)
    repos.close()


# -- what only Bazaar has

@pytest.mark.db
def test_plugin_serves_the_bzr_type(env, scenario):
    assert env.is_enabled("codeyard.vcs.bzr")
    connectors = {}
    for result in env.hook.repository_connectors():
        connectors.update(result)
    repos = connectors["bzr"](env, "main", scenario.repos.directory, {"id": "3"})
    assert repos.type == "bzr" and repos.name == "main" and repos.id == 3
    assert repos.youngest_rev == scenario.revs["r5"]


def test_revision_display(scenario):
    repos, revs = scenario.repos, scenario.revs
    assert revs["r5"].startswith("alice@example.org-")
    assert repos.display_rev(revs["r5"]) == "trunk:5"
    assert repos.display_rev(revs["f1"]) == "trunk:4.1.1"
    assert repos.short_rev(revs["f1"]) == "4.1.1"
    assert repos.normalize_rev("trunk:4.1.1") == revs["f1"]
    assert repos.normalize_rev("feature:5") == revs["f1"]
    assert repos.normalize_rev("4.1.1") == revs["f1"]
    assert repos.normalize_rev("feature") == revs["f1"]
    assert repos.normalize_rev("tag:" + TAG) == revs["r4"]
    assert repos.normalize_rev("revid:" + revs["r2"]) == revs["r2"]
    assert repos.normalize_rev("HEAD") == revs["r5"]
    for bad in ("feature:9", "nobranch:1", "tag:nope", "1.2.3.4", "trunk:", ":", "tag:",
                "\ud800", "x" * 5000, "trunk:1:2"):
        with pytest.raises(api.NoSuchChangeset):
            repos.normalize_rev(bad)


def test_changeset_properties(scenario):
    repos, revs = scenario.repos, scenario.revs
    feature = repos.get_changeset(revs["f1"])
    assert feature.properties["bugs"] == "https://launchpad.net/bugs/1234 fixed"
    assert feature.properties["branch-nick"] == "feature"
    assert feature.branches == ["feature"]
    assert repos.get_changeset(revs["r5"]).branches == ["trunk"]
    assert repos.get_changeset(revs["r2"]).branches == ["feature", "trunk"]
    assert repos.get_changeset(revs["r4"]).tags == [TAG]
    assert "bugs" not in repos.get_changeset(revs["r5"]).properties


def test_root_lists_branches(scenario):
    repos, revs = scenario.repos, scenario.revs
    root = repos.get_node("")
    assert root.isdir and root.rev == revs["r5"]
    entries = {n.path: n for n in root.get_entries()}
    assert sorted(entries) == ["feature", "trunk"]
    assert entries["feature"].rev == revs["f1"] and entries["trunk"].rev == revs["r5"]
    assert repos.get_node("", revs["r1"]).isdir
    assert sorted(n.name for n in repos.get_node("feature", revs["r4"]).get_entries()) == \
        ["docs", "logo.png", "src"]
    assert repos.get_node("feature/feature.txt").get_content().read() == b"feature\n"
    # a revision outside the branch's ancestry
    with pytest.raises(api.NoSuchNode):
        repos.get_node("feature/feature.txt", revs["r5"])
    with pytest.raises(api.NoSuchNode):
        repos.get_node(".bzr")
    with pytest.raises(api.NoSuchNode):
        repos.get_node("trunk/\ud800")
    with pytest.raises(api.NoSuchNode):
        repos.get_node("trunk/.bzr/branch/last-revision")


def test_merged_and_feature_navigation(scenario):
    repos, revs = scenario.repos, scenario.revs
    assert repos.next_rev(revs["f1"]) == revs["r5"]
    assert repos.next_rev(revs["r1"], "trunk/src/main.py") == revs["r2"]
    assert repos.next_rev(revs["r2"], "trunk/src/main.py") is None
    assert repos.next_rev(revs["r1"], "trunk/docs/guide.txt") == revs["r3"]  # renamed
    assert repos.next_rev(revs["r3"], "trunk/docs/manual.txt") == revs["r4"]
    assert repos.next_rev(revs["r1"], "trunk/feature.txt") == revs["r5"]  # by name
    assert repos.previous_rev(revs["r5"], "trunk/feature.txt") is None
    assert repos.previous_rev(revs["f1"]) == revs["r4"]
    assert repos.rev_older_than(revs["f1"], revs["r5"])
    assert not repos.rev_older_than(revs["r5"], revs["f1"])
    history = list(repos.get_path_history("trunk/feature.txt"))
    assert history == [("trunk/feature.txt", revs["r5"], api.ADD)]
    assert [r for _, r, _ in repos.get_path_history("feature")][:2] == [revs["f1"], revs["r4"]]
    assert [r for _, r, _ in repos.get_path_history("", limit=2)] == [revs["r5"], revs["f1"]]
    changes = repos.get_changes(revs["f1"])
    assert [(c.path, c.change) for c in changes] == [("trunk/feature.txt", api.ADD)]


def test_standalone_branch_at_root(tmp_path, brz):
    brz(tmp_path, "init", "-q", "solo")
    solo = tmp_path / "solo"
    (solo / "a.txt").write_bytes(b"a\n")
    brz(solo, "add", "-q")
    brz(solo, "commit", "-q", "-m", "one")
    (solo / "a.txt").write_bytes(b"a\nb\n")
    brz(solo, "commit", "-q", "-m", "two")
    repos = open_repos(solo, "solo")
    first, second = brz.revid(solo, "1"), brz.revid(solo, "2")
    assert repos.youngest_rev == second and repos.oldest_rev == first
    assert repos.display_rev(second) == "2" and repos.normalize_rev("1") == first
    assert [n.path for n in repos.get_node("").get_entries()] == ["a.txt"]
    assert repos.get_node("a.txt", first).get_content().read() == b"a\n"
    assert [(c.path, c.change) for c in repos.get_changes(second)] == [("a.txt", api.EDIT)]
    assert list(repos.all_revs()) == [first, second]
    # a commit after the repository was opened: the cached branch data follows the tip
    (solo / "b.txt").write_bytes(b"b\n")
    brz(solo, "add", "-q")
    brz(solo, "commit", "-q", "-m", "three")
    third = brz.revid(solo, "3")
    assert repos.youngest_rev == third and repos.display_rev(third) == "3"
    assert repos.next_rev(second) == third and list(repos.all_revs(since=[second])) == [third]
    assert sorted(n.name for n in repos.get_node("").get_entries()) == ["a.txt", "b.txt"]


def test_a_consistent_block_looks_at_the_disk_once(tmp_path, brz, monkeypatch):
    from codeyard.vcs.bzr import repository as bzr_repository

    brz(tmp_path, "init-shared-repo", "-q", "repo")
    root = tmp_path / "repo"
    brz(root, "init", "-q", "trunk")
    trunk = root / "trunk"
    (trunk / "a.txt").write_bytes(b"a\n")
    brz(trunk, "add", "-q")
    brz(trunk, "commit", "-q", "-m", "one")
    repos = open_repos(root)
    first = brz.revid(trunk, "1")
    looks = []
    real_stamp = bzr_repository.BranchState._stamp
    monkeypatch.setattr(bzr_repository.BranchState, "_stamp",
                        lambda self: looks.append(1) or real_stamp(self))
    for _ in range(5):
        repos.display_rev(first)
    assert len(looks) == 5  # each call alone looks whether the tip moved
    looks.clear()
    with repos.consistent():
        assert [repos.display_rev(first) for _ in range(20)] == ["trunk:1"] * 20
        assert repos.youngest_rev == first
    assert len(looks) == 1
    # What changed after the block is seen by the next call.
    (trunk / "a.txt").write_bytes(b"a\nb\n")
    brz(trunk, "commit", "-q", "-m", "two")
    assert repos.youngest_rev == brz.revid(trunk, "2")
    repos.close()


def test_a_consistent_block_read_locks_each_repository_once(tmp_path, brz, monkeypatch):
    from breezy.bzr.pack_repo import PackRepository

    brz(tmp_path, "init-shared-repo", "-q", "repo")
    root = tmp_path / "repo"
    brz(root, "init", "-q", "trunk")
    trunk = root / "trunk"
    for n in range(3):
        (trunk / f"f{n}.txt").write_bytes(b"x\n" * (n + 1))
        brz(trunk, "add", "-q")
        brz(trunk, "commit", "-q", "-m", f"change {n}")
    repos = open_repos(root)
    youngest = repos.youngest_rev
    locks = []
    real = PackRepository.lock_read

    def counted(self):
        if not self.is_locked():  # a lock taken anew (a nested one only counts up)
            locks.append(1)
        return real(self)

    monkeypatch.setattr(PackRepository, "lock_read", counted)

    def read_everything() -> list[bytes]:
        node = repos.get_node("trunk", youngest)
        return [b"".join(entry.get_content() or []) for entry in node.get_entries()
                for _ in range(3)]

    alone = read_everything()
    assert len(locks) >= 9  # each read locks and unlocks
    locks.clear()
    with repos.consistent():
        assert read_everything() == alone
        assert repos.get_node("trunk/f1.txt", youngest).get_content().read() == b"x\nx\n"
    assert len(locks) == 1
    # the lock was given back: a write to the shared repository goes through
    (trunk / "f0.txt").write_bytes(b"changed\n")
    brz(trunk, "commit", "-q", "-m", "after")
    assert repos.youngest_rev != youngest
    repos.close()


def test_empty_repository_and_empty_branch(tmp_path, brz):
    brz(tmp_path, "init-shared-repo", "-q", "shared")
    repos = open_repos(tmp_path / "shared", "shared")
    assert repos.youngest_rev is None and repos.oldest_rev is None
    assert list(repos.all_revs()) == []
    root = repos.get_node("")
    assert root.isdir and list(root.get_entries()) == []
    assert root.get_last_modified().tzinfo is not None
    with pytest.raises(api.NoSuchChangeset):
        repos.normalize_rev("1")
    brz(tmp_path / "shared", "init", "-q", "fresh")
    fresh = repos.get_node("fresh")
    assert fresh.isdir and list(fresh.get_entries()) == []
    assert [n.name for n in repos.get_node("").get_entries()] == ["fresh"]
    with pytest.raises(api.NoSuchNode):
        repos.get_node("fresh/anything")


def test_nested_directories_of_branches(tmp_path, brz):
    root = tmp_path / "tree"
    (root / "plain" / "empty").mkdir(parents=True)
    (root / "plain" / "notes.txt").write_text("not versioned\n")
    brz(root, "init-shared-repo", "-q", "projects")
    brz(root / "projects", "init", "-q", "alpha")
    (root / "projects" / "group").mkdir()
    brz(root / "projects" / "group", "init", "-q", "beta")
    brz(root, "init", "-q", "standalone")
    for branch in ("projects/alpha", "projects/group/beta", "standalone"):
        where = root / branch
        (where / "file.txt").write_text(branch + "\n")
        brz(where, "add", "-q")
        brz(where, "commit", "-q", "-m", "in " + branch)
    repos = open_repos(root, "tree")
    assert [n.name for n in repos.get_node("").get_entries()] == ["projects", "standalone"]
    group = repos.get_node("projects/group")
    assert group.isdir and [n.path for n in group.get_entries()] == ["projects/group/beta"]
    beta = repos.get_node("projects/group/beta/file.txt")
    assert beta.get_content().read() == b"projects/group/beta\n"
    assert repos.display_rev(beta.rev) == "projects/group/beta:1"
    assert repos.normalize_rev("projects/group/beta:1") == beta.rev
    assert len(list(repos.all_revs())) == 3
    for missing in ("plain", "projects/nothing", "projects/.bzr"):
        with pytest.raises(api.NoSuchNode):
            repos.get_node(missing)
    # a branch created later is seen by the same instance
    brz(root / "projects", "init", "-q", "gamma")
    assert "gamma" in [n.name for n in repos.get_node("projects").get_entries()]


def test_vanished_directory(tmp_path, brz):
    brz(tmp_path, "init", "-q", "gone")
    (tmp_path / "gone" / "x").write_text("x\n")
    brz(tmp_path / "gone", "add", "-q")
    brz(tmp_path / "gone", "commit", "-q", "-m", "x")
    repos = open_repos(tmp_path / "gone", "gone")
    rev = repos.youngest_rev
    shutil.rmtree(tmp_path / "gone")
    with pytest.raises(api.RepositoryError, match="gone"):
        repos.get_node("x", rev)
    with pytest.raises(api.RepositoryError, match="gone"):
        _ = repos.youngest_rev
    with pytest.raises(api.RepositoryError, match="does not exist"):
        open_repos(tmp_path / "gone", "gone")
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "file").write_text("not bazaar\n")
    with pytest.raises(api.RepositoryError, match="no Bazaar branch"):
        open_repos(tmp_path / "plain", "plain")


def test_nothing_outside_the_root_is_opened(tmp_path, brz):
    outside = tmp_path / "outside"
    brz(tmp_path, "init", "-q", "outside")
    (outside / "secret.txt").write_text("secret\n")
    brz(outside, "add", "-q")
    brz(outside, "commit", "-q", "-m", "secret")
    root = tmp_path / "root"
    brz(tmp_path, "init-shared-repo", "-q", "root")
    brz(root, "init", "-q", "inside")
    (root / "inside" / "ok.txt").write_text("ok\n")
    brz(root / "inside", "add", "-q")
    brz(root / "inside", "commit", "-q", "-m", "ok")
    (root / "link").symlink_to(outside)
    brz(root, "checkout", "-q", "--lightweight", str(outside), "reference")
    brz(root, "branch", "-q", "--stacked", str(outside), "stacked")
    repos = open_repos(root, "jail")
    assert [n.name for n in repos.get_node("").get_entries()] == ["inside"]
    for refused in ("link", "link/secret.txt", "reference/secret.txt", "stacked/secret.txt"):
        with pytest.raises(api.NoSuchNode):
            repos.get_node(refused)
    secret = brz.revid(outside)
    with pytest.raises(api.NoSuchChangeset):
        repos.get_changeset(secret)
    # a branch below the root whose shared repository is above it
    brz(tmp_path, "init-shared-repo", "-q", "outer")
    (tmp_path / "outer" / "sub").mkdir()
    brz(tmp_path / "outer" / "sub", "init", "-q", "uses-outer")
    brz(tmp_path / "outer" / "sub", "init-shared-repo", "-q", "inner")
    brz(tmp_path / "outer" / "sub" / "inner", "init", "-q", "own")
    sub = open_repos(tmp_path / "outer" / "sub", "sub")
    assert [n.path for n in sub.get_node("").get_entries()] == ["inner"]
    assert [n.path for n in sub.get_node("inner").get_entries()] == ["inner/own"]
    with pytest.raises(api.NoSuchNode):
        sub.get_node("uses-outer")


def _build_long_branch(path: Path, count: int) -> list[bytes]:
    # breezy leaves the temporary files its index builders spill to for the garbage
    # collector to close: the warning is breezy's and harmless here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        revids = _write_long_branch(path, count)
        gc.collect()
    return revids


def _write_long_branch(path: Path, count: int) -> list[bytes]:
    """A standalone branch of ``count`` revisions editing one file, written in one write
    group through breezy's repository API (a thousand commits through the client would
    take minutes)."""
    import hashlib

    from breezy import controldir
    from breezy.bzr.inventory import InventoryDirectory, InventoryFile
    from breezy.controldir import ControlDir
    from breezy.revision import NULL_REVISION, Revision

    branch = ControlDir.create_branch_convenience(
        str(path), format=controldir.format_registry.make_controldir("2a"),
        force_new_tree=False)
    repo = branch.repository
    revids: list[bytes] = []
    with branch.lock_write():
        repo.start_write_group()
        previous = NULL_REVISION
        for number in range(count):
            revid = b"bob@example.org-%06d" % number
            text = b"line %d\n" % number
            delta = []
            if number == 0:
                root = InventoryDirectory(b"root-id", "", None)
                root.revision = revid
                repo.texts.add_lines((b"root-id", revid), [], [])
                delta.append((None, "", b"root-id", root))
            entry = InventoryFile(b"file-id", "counter.txt", b"root-id")
            entry.revision = revid
            entry.text_sha1 = hashlib.sha1(text).hexdigest().encode()
            entry.text_size = len(text)
            entry.executable = False
            repo.texts.add_lines((b"file-id", revid),
                                 [(b"file-id", previous)] if number else [], [text])
            delta.append(("counter.txt" if number else None, "counter.txt", b"file-id", entry))
            parents = [previous] if number else []
            validator, _ = repo.add_inventory_by_delta(previous, delta, revid, parents)
            repo.add_revision(revid, Revision(
                revid, properties={"branch-nick": "long"}, committer="Bob <bob@example.org>",
                message=f"change {number}", timestamp=1_700_000_000.0 + number, timezone=0,
                parent_ids=parents, inventory_sha1=validator))
            revids.append(revid)
            previous = revid
        repo.commit_write_group()
        branch.set_last_revision_info(count, previous)
    return revids


def test_thousand_revisions_speed(tmp_path, capsys):
    count = 1000
    revids = _build_long_branch(tmp_path / "long", count)
    started = time.perf_counter()
    repos = open_repos(tmp_path / "long", "long")
    youngest = repos.youngest_rev
    first_youngest = time.perf_counter() - started
    assert youngest == revids[-1].decode()
    started = time.perf_counter()
    order = list(repos.all_revs())
    all_revs_time = time.perf_counter() - started
    assert order == [r.decode() for r in revids]
    started = time.perf_counter()
    for _ in range(100):
        assert repos.youngest_rev == youngest
    repeat = (time.perf_counter() - started) / 100
    started = time.perf_counter()
    assert list(repos.all_revs(since=[revids[-3].decode()])) == \
        [r.decode() for r in revids[-2:]]
    since_time = time.perf_counter() - started
    assert repos.display_rev(youngest) == "1000"
    assert repos.previous_rev(youngest, "counter.txt") == revids[-2].decode()
    with capsys.disabled():
        print(f"\nbzr {count} revisions: open+youngest {first_youngest * 1000:.1f} ms, "
              f"youngest again {repeat * 1000:.2f} ms, all_revs {all_revs_time * 1000:.1f} ms, "
              f"all_revs(since) {since_time * 1000:.1f} ms")
    assert all_revs_time < 5 and repeat < 0.5
