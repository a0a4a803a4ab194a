"""What only the Git backend has to get right: the shapes a Git repository comes in (bare,
empty, two roots, not a repository at all), its revision names, threads, and speed on a
long history."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
from collections import defaultdict

import pytest

from codeyard.vcs import api
from codeyard.vcs.git import GitRepository, open_repository, repository_connectors
from codeyard.vcs.git.node import BlobReader, PipeReader
from codeyard.vcs.git.repository import AmbiguousRevision
from tests.unit.vcs.contract import MAIN_PY_2
from tests.unit.vcs.test_git_contract import GitWorkTree, build_history


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    tree = GitWorkTree(tmp_path_factory.mktemp("git") / "work")
    revs = build_history(tree)
    return tree, revs


def test_the_plugin_connects_the_git_type(work):
    opener = repository_connectors()["git"]
    tree, revs = work
    repos = opener(None, "", str(tree.path), {"id": "3"})
    assert isinstance(repos, GitRepository) and repos.id == 3 and repos.type == "git"
    assert repos.youngest_rev == revs["r5"]


@pytest.mark.db
def test_an_environment_finds_the_git_connector(env, work):
    tree, revs = work
    connectors = {kind: opener for found in env.hook.repository_connectors() for kind, opener
                  in found.items()}
    repos = connectors["git"](env, "main", str(tree.path), {})
    assert repos.name == "main" and repos.youngest_rev == revs["r5"]


def test_a_relative_directory_is_taken_from_the_environment(work):
    tree, revs = work

    class Env:
        path = str(tree.path.parent)

    repos = open_repository(Env(), "", tree.path.name, {})
    assert repos.youngest_rev == revs["r5"]


def test_bare_repository_and_git_dir(work, tmp_path):
    tree, revs = work
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(tree.path), str(bare)], check=True,
                   env=tree.env, capture_output=True)
    for directory in (bare, tree.path / ".git"):
        repos = open_repository(None, "bare", str(directory), {})
        assert repos.youngest_rev == revs["r5"]
        assert repos.get_node("src/main.py").get_content().read() == MAIN_PY_2
        assert repos.normalize_rev("v1.0") == revs["r4"]
        assert set(repos.all_revs()) == set(revs.values())
        repos.close()


def test_revision_names(work):
    tree, revs = work
    tree.git("tag", "light", revs["r2"])
    repos = open_repository(None, "", str(tree.path), {})
    try:
        assert repos.normalize_rev("HEAD") == repos.normalize_rev(" ") == revs["r5"]
        assert repos.normalize_rev("feature") == revs["f1"]
        assert repos.normalize_rev("refs/heads/feature") == revs["f1"]
        assert repos.normalize_rev("heads/master") == revs["r5"]
        assert repos.normalize_rev("light") == revs["r2"]  # a lightweight tag
        assert repos.normalize_rev("refs/tags/v1.0") == revs["r4"]  # an annotated tag
        tag_object = tree.git("rev-parse", "v1.0")
        assert tag_object != revs["r4"] and repos.normalize_rev(tag_object) == revs["r4"]
        assert repos.normalize_rev(revs["r3"].upper()) == revs["r3"]
        assert repos.normalize_rev(revs["r3"][:5]) == revs["r3"]
        assert repos.short_rev(revs["r3"]) == revs["r3"][:7]
        assert repos.display_rev(revs["r3"]) == revs["r3"]
        # a blob's sha is no changeset; too short a prefix is no sha
        blob = tree.git("rev-parse", f"{revs['r1']}:README")
        for bad in (blob, blob[:10], revs["r3"][:3], "HEAD~1", "master..feature", "\x00",
                    "refs/heads/../x", "-" * 300):
            with pytest.raises(api.NoSuchChangeset):
                repos.normalize_rev(bad)
        assert repos.get_changeset(revs["r4"]).tags == ["v1.0"]
        assert repos.get_changeset(revs["r2"]).tags == ["light"]
        assert repos.get_changeset(revs["r5"]).branches == ["master"]
        assert repos.get_changeset(revs["f1"]).branches == ["feature"]
        assert repos.get_changeset(revs["r3"]).branches == []
    finally:
        tree.git("tag", "-d", "light")
        repos.close()


def test_refs_are_read_again_after_a_commit(tmp_path):
    tree = GitWorkTree(tmp_path / "w")
    tree.write("a", b"1\n")
    first = tree.commit("one")
    repos = open_repository(None, "", str(tree.path), {})
    assert repos.youngest_rev == first and repos.next_rev(first) is None
    tree.write("a", b"2\n")
    second = tree.commit("two")
    assert repos.youngest_rev == second and repos.next_rev(first) == second
    assert list(repos.all_revs(since=[first])) == [second]
    assert repos.get_changeset(second).branches == ["master"]
    assert repos.get_changeset(first).branches == []


def test_committer_and_dates(tmp_path):
    tree = GitWorkTree(tmp_path / "w")
    tree.write("a", b"1\n")
    rev = tree.commit("one", author="Ann <ann@example.org>",
                      committer="Carl <carl@example.org>")
    tree.write("a", b"2\n")
    same = tree.commit("two", author="Ann <ann@example.org>")
    repos = open_repository(None, "", str(tree.path), {})
    changeset = repos.get_changeset(rev)
    assert changeset.author == "Ann <ann@example.org>"
    assert changeset.properties == {"committer": "Carl <carl@example.org>"}
    assert changeset.date.utcoffset().total_seconds() == 0
    assert changeset.date.isoformat() == "2024-01-02T12:00:00+00:00"
    assert repos.get_changeset(same).properties == {}


def test_detached_and_unborn_head(tmp_path):
    tree = GitWorkTree(tmp_path / "w")
    tree.write("a", b"1\n")
    first = tree.commit("one")
    tree.write("a", b"2\n")
    second = tree.commit("two")
    tree.git("checkout", "-q", "--detach", first)
    repos = open_repository(None, "", str(tree.path), {})
    assert repos.youngest_rev == second  # master, not the detached HEAD
    tree.git("checkout", "-q", "master")
    tree.git("branch", "-m", "master", "trunk")
    tree.git("symbolic-ref", "HEAD", "refs/heads/nothing-yet")
    assert repos.youngest_rev == second  # HEAD unborn: the only branch


def test_empty_repository(tmp_path):
    GitWorkTree(tmp_path / "w")
    repos = open_repository(None, "", str(tmp_path / "w"), {})
    assert repos.youngest_rev is None and repos.oldest_rev is None
    assert list(repos.all_revs()) == []
    with pytest.raises(api.NoSuchChangeset, match="no changesets yet"):
        repos.normalize_rev(None)
    with pytest.raises(api.NoSuchChangeset):
        repos.get_node("")
    with pytest.raises(api.NoSuchChangeset):
        repos.normalize_rev("abcd1234")


def test_two_roots(tmp_path):
    tree = GitWorkTree(tmp_path / "w")
    tree.write("a.txt", b"a\n")
    root1 = tree.commit("first root")
    tree.git("checkout", "-q", "--orphan", "other")
    tree.git("rm", "-q", "-r", "--cached", ".")
    (tree.path / "a.txt").unlink()
    tree.write("b/b.txt", b"b\n")
    root2 = tree.commit("second root")
    tree.git("checkout", "-q", "master")
    tree.env.update(GIT_AUTHOR_DATE="2024-06-01T12:00:00+0000",
                    GIT_COMMITTER_DATE="2024-06-01T12:00:00+0000")
    tree.git("merge", "-q", "--allow-unrelated-histories", "-m", "join", "other")
    merge = tree.git("rev-parse", "HEAD")
    repos = open_repository(None, "", str(tree.path), {})
    order = list(repos.all_revs())
    assert set(order) == {root1, root2, merge} and order[-1] == merge
    assert repos.oldest_rev == root1
    assert repos.previous_rev(root2) is None and repos.previous_rev(merge) == root1
    assert repos.next_rev(root2) == merge  # off the main line: where it joins
    assert {(c.path, c.change) for c in repos.get_changes(root2)} == {("b/b.txt", api.ADD)}
    assert {(c.path, c.change) for c in repos.get_changes(merge)} == {("b/b.txt", api.ADD)}
    node = repos.get_node("b/b.txt")
    assert node.created_rev == root2
    assert [n.created_rev for n in repos.get_node("").get_entries()] == [root1, root2]
    assert list(repos.get_path_history("b")) == [("b", root2, api.ADD)]
    assert repos.rev_older_than(root1, merge) and not repos.rev_older_than(merge, root2)


def test_not_a_repository(tmp_path, work):
    plain = tmp_path / "plain"
    plain.mkdir()
    for directory in (plain, tmp_path / "missing", work[0].path / "src"):
        with pytest.raises(api.RepositoryError, match=str(directory)):
            open_repository(None, "", str(directory), {})
    (tmp_path / "file").write_text("x")
    with pytest.raises(api.RepositoryError, match="file"):
        open_repository(None, "", str(tmp_path / "file"), {})


def test_a_vanished_repository(tmp_path):
    tree = GitWorkTree(tmp_path / "w")
    tree.write("a", b"1\n")
    rev = tree.commit("one")
    repos = open_repository(None, "", str(tree.path), {})
    assert repos.youngest_rev == rev
    shutil.rmtree(tree.path)
    for call in (lambda: repos.youngest_rev, lambda: repos.get_node("a", rev),
                 lambda: list(repos.all_revs()), lambda: repos.get_changeset(rev)):
        with pytest.raises(api.RepositoryError, match=str(tree.path)):
            call()


def test_file_modes_and_a_big_file(tmp_path):
    tree = GitWorkTree(tmp_path / "w")
    big = bytes(range(256)) * (24 * 4096)  # 24 MiB
    tree.write("big.bin", big)
    tree.write("run.sh", b"#!/bin/sh\n")
    (tree.path / "run.sh").chmod(0o755)
    (tree.path / "link").symlink_to("run.sh")
    rev = tree.commit("files")
    repos = open_repository(None, "", str(tree.path), {})
    node = repos.get_node("big.bin", rev)
    assert node.get_content_length() == len(big)
    stream = node.get_content()
    assert isinstance(stream.raw, PipeReader)  # streamed, not loaded whole
    assert stream.read(5) == big[:5] and stream.read(3) == big[5:8]
    assert stream.read() == big[8:]
    stream.close()
    partial = node.get_content()
    assert partial.read(70000) == big[:70000]
    process = partial.raw._process
    partial.close()
    assert process.poll() is not None  # the reader is gone with the stream
    dropped = node.get_content()
    assert dropped.read(10) == big[:10]
    del dropped  # garbage: no stray process, no warning
    small = repos.get_node("run.sh").get_content()
    assert isinstance(small, BlobReader) and small.read() == b"#!/bin/sh\n"
    assert repos.get_node("run.sh").get_properties() == {"mode": "100755"}
    link = repos.get_node("link")
    assert link.get_properties() == {"mode": "120000"}
    assert link.get_content().read() == b"run.sh"
    assert node.get_properties() == {}


def test_directory_and_file_diffs(work):
    tree, revs = work
    repos = open_repository(None, "", str(tree.path), {})
    moved = {(old.path if old else None, new.path if new else None, change)
             for old, new, _, change in repos.get_changes_between("docs", revs["r2"],
                                                                  "docs", revs["r3"])}
    assert moved == {("docs/guide.txt", "docs/manual.txt", api.MOVE)}
    assert list(repos.get_changes_between("src", revs["r2"], "src", revs["r3"])) == []
    with pytest.raises(api.RepositoryError, match="Cannot compare"):
        list(repos.get_changes_between("src", revs["r2"], "src/main.py", revs["r3"]))


def test_one_repository_many_threads(work):
    tree, revs = work
    repos = open_repository(None, "", str(tree.path), {})

    def read_everything():
        out = []
        for rev in revs.values():
            out.append(repos.get_changeset(rev))
            out.append(repos.get_changes(rev))
            out.append(sorted((n.path, n.created_rev) for n in repos.get_node("", rev)
                              .get_entries()))
        out.append([(a.line, a.rev) for a in repos.get_node("docs/manual.txt").get_annotations()])
        out.append(list(repos.get_path_history("docs/manual.txt")))
        out.append(list(repos.all_revs()))
        out.append(repos.get_node("logo.png").get_content().read())
        return out

    expected = read_everything()
    repos.close()
    results: list = []
    errors: list = []

    def worker():
        try:
            for _ in range(5):
                results.append(read_everything())
        except Exception as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(results) == 40 and all(result == expected for result in results)


# -- a long history

COMMITS = 5000
SIDE = 100


def _fast_import_stream() -> bytes:
    """COMMITS commits on master touching one of 50 files each, a lightweight tag every
    thousand, and an unmerged branch of SIDE commits from the middle."""
    out = []

    def commit(ref: str, mark: int, parent: int | None, path: str, text: str) -> None:
        content = text.encode()
        message = f"Change {mark}\n".encode()
        stamp = 1_700_000_000 + mark * 60
        out.append(f"commit {ref}\nmark :{mark}\n"
                   f"author Dev <dev@example.org> {stamp} +0000\n"
                   f"committer Dev <dev@example.org> {stamp} +0000\n".encode())
        out.append(b"data %d\n%s" % (len(message), message))
        if parent is not None:
            out.append(f"from :{parent}\n".encode())
        out.append(f"M 100644 inline {path}\n".encode())
        out.append(b"data %d\n%s\n" % (len(content), content))

    for mark in range(1, COMMITS + 1):
        commit("refs/heads/master", mark, mark - 1 if mark > 1 else None,
               f"dir{mark % 5}/file{mark % 50}.txt", f"version {mark}\n")
        if mark % 1000 == 0:
            out.append(f"reset refs/tags/t{mark}\nfrom :{mark}\n\n".encode())
    for i in range(SIDE):
        mark = COMMITS + 1 + i
        commit("refs/heads/side", mark, COMMITS // 2 if i == 0 else mark - 1, "side.txt",
               f"side {i}\n")
    return b"".join(out)


@pytest.fixture(scope="module")
def long_history(tmp_path_factory):
    path = tmp_path_factory.mktemp("long") / "repo.git"
    subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=master", str(path)],
                   check=True)
    started = time.perf_counter()
    subprocess.run(["git", "fast-import", "--quiet"], cwd=path, input=_fast_import_stream(),
                   check=True)
    return path, time.perf_counter() - started


def _timed(call):
    started = time.perf_counter()
    value = call()
    return value, time.perf_counter() - started


def test_a_long_history_is_fast(long_history):
    path, import_time = long_history
    repos, open_time = _timed(lambda: open_repository(None, "", str(path), {}))
    youngest, youngest_time = _timed(lambda: repos.youngest_rev)
    order, all_time = _timed(lambda: list(repos.all_revs()))
    new, since_time = _timed(lambda: list(repos.all_revs(since=[youngest])))
    oldest, oldest_time = _timed(lambda: repos.oldest_rev)
    following, next_time = _timed(lambda: repos.next_rev(oldest))
    _, next_again_time = _timed(lambda: repos.next_rev(following))
    log, log_time = _timed(lambda: list(repos.get_path_history("dir1", youngest, limit=20)))
    entries, listing_time = _timed(
        lambda: [(n.name, n.created_rev) for n in repos.get_node("dir1").get_entries()])
    print(f"\n{COMMITS + SIDE} commits: fast-import {import_time:.3f}s, open {open_time:.4f}s, "
          f"youngest {youngest_time:.4f}s, all_revs {all_time:.3f}s, "
          f"all_revs(since) {since_time:.3f}s, oldest (main line) {oldest_time:.3f}s, "
          f"next_rev {next_time:.4f}s then {next_again_time:.5f}s, "
          f"20-entry log {log_time:.4f}s, listing with ages {listing_time:.4f}s")
    assert len(order) == len(set(order)) == COMMITS + SIDE
    position = {rev: i for i, rev in enumerate(order)}
    for rev in order[::97]:
        for parent in repos.get_changeset(rev).parents:
            assert position[parent] < position[rev]
    assert len(new) == SIDE and repos.get_changeset(new[-1]).branches == ["side"]
    assert repos.get_changeset(youngest).message == f"Change {COMMITS}\n"
    assert repos.get_changeset(oldest).parents == [] and following == order[1]
    assert [repos.get_changeset(rev).message for _, rev, _ in log] == [
        f"Change {mark}\n" for mark in range(COMMITS - 4, COMMITS - 100, -5)]
    assert all(path == "dir1" and kind == api.EDIT for path, _, kind in log)
    assert sorted(name for name, _ in entries) == sorted(f"file{i}.txt" for i in range(1, 50, 5))
    assert repos.normalize_rev("t3000") == order[2999]
    # generous bounds: a busy machine, but nothing may walk the history per commit
    assert youngest_time < 0.1 and since_time < 0.5
    assert all_time < 2.0 and oldest_time < 2.0 and log_time < 1.0 and listing_time < 1.0


def test_ambiguous_short_revisions(long_history):
    path, _ = long_history
    repos = open_repository(None, "", str(path), {})
    commits = list(repos.all_revs())
    by_prefix = defaultdict(list)
    for rev in commits:
        by_prefix[rev[:4]].append(rev)
    prefix, shared = next((p, revs) for p, revs in sorted(by_prefix.items()) if len(revs) > 1)
    with pytest.raises(AmbiguousRevision, match=f"Ambiguous revision {prefix}.*more"):
        repos.normalize_rev(prefix)
    with pytest.raises(api.NoSuchChangeset):
        repos.get_changeset(prefix)
    for rev in shared:
        assert repos.normalize_rev(repos.short_rev(rev)) == rev


def _age_ref_files(git_dir, seconds=600):
    """Date the ref files back, as after a quiet while."""
    old = time.time() - seconds
    paths = [git_dir / "HEAD", git_dir / "packed-refs", git_dir / "refs"]
    paths += [p for p in (git_dir / "refs").rglob("*")]
    for path in paths:
        if path.exists():
            os.utime(path, (old, old))


def test_quiet_refs_are_not_read_again_until_they_change(tmp_path):
    tree = GitWorkTree(tmp_path / "w")
    tree.write("a", b"1\n")
    first = tree.commit("one")
    tree.git("branch", "topic/x")
    repos = open_repository(None, "", str(tree.path), {})
    git_dir = tree.path / ".git"
    _age_ref_files(git_dir)
    refs = repos._read_refs()
    assert refs.settled and repos._read_refs() is refs
    tree.write("a", b"2\n")
    second = tree.commit("two")
    assert repos.youngest_rev == second
    _age_ref_files(git_dir)
    assert repos.normalize_rev("topic/x") == first and repos._read_refs().settled
    tree.git("update-ref", "refs/heads/topic/x", second)  # a loose ref one level down
    assert repos.normalize_rev("topic/x") == second
    tree.git("pack-refs", "--all")
    _age_ref_files(git_dir)
    assert repos.normalize_rev("topic/x") == second and repos._read_refs().settled
    tree.git("update-ref", "-d", "refs/heads/topic/x")  # only in packed-refs now
    with pytest.raises(api.NoSuchChangeset):
        repos.normalize_rev("topic/x")


def test_a_commit_asked_for_before_it_arrives(tmp_path):
    tree = GitWorkTree(tmp_path / "w")
    tree.write("a", b"1\n")
    first = tree.commit("one")
    repos = open_repository(None, "", str(tree.path), {})
    body = (f"tree {tree.git('rev-parse', first + '^{tree}')}\nparent {first}\n"
            "author A <a@example.org> 1700000000 +0000\n"
            "committer A <a@example.org> 1700000000 +0000\n\nlater\n").encode()
    coming = tree.git("hash-object", "-t", "commit", "--stdin", input=body)
    with pytest.raises(api.NoSuchChangeset):
        repos.normalize_rev(coming)
    assert tree.git("hash-object", "-t", "commit", "-w", "--stdin", input=body) == coming
    assert repos.normalize_rev(coming) == coming


def test_a_damaged_repository(tmp_path):
    tree = GitWorkTree(tmp_path / "w")
    tree.write("a", b"1\n2\n")
    tree.write("b", b"kept\n")
    tree.write("d/c", b"lost with its directory\n")
    rev = tree.commit("one")
    for lost in (f"{rev}:a", f"{rev}:d"):
        sha = tree.git("rev-parse", lost)
        (tree.path / ".git" / "objects" / sha[:2] / sha[2:]).unlink()
    repos = open_repository(None, "", str(tree.path), {})
    node = repos.get_node("a", rev)
    directory = repos.get_node("d", rev)
    for call in (node.get_content, node.get_content_length, node.get_annotations,
                 lambda: list(directory.get_entries()), lambda: repos.get_node("d/c", rev)):
        with pytest.raises(api.RepositoryError, match=re.escape(str(tree.path))):
            call()
    assert repos.get_node("b", rev).get_content().read() == b"kept\n"
