"""The Subversion benchmark's repository generator (bench.vcs_data.svn_repository), on a small
history: its shape, and that two builds are the same repository."""

from __future__ import annotations

import subprocess

import pytest
from bench import vcs_data

REVISIONS = 60
FILES = 20


def svnlook(*args: str) -> str:
    return subprocess.run(["svnlook", *args], check=True, capture_output=True,
                          text=True).stdout


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> str:
    return vcs_data.svn_repository(REVISIONS, FILES, data=str(tmp_path_factory.mktemp("svn")))


def changed(repo: str, rev: int) -> list[tuple[str, str, str]]:
    """(status letters, path, copied from "path:rN" or "") of each path revision ``rev``
    touches."""
    rows: list[tuple[str, str, str]] = []
    for line in svnlook("changed", "--copy-info", "-r", str(rev), repo).splitlines():
        if line.startswith("    (from "):
            status, path, _ = rows[-1]
            rows[-1] = (status, path, line.strip()[len("(from "):-1])
        else:
            rows.append((line[:2].strip(), line[4:].strip(), ""))
    return rows


def all_changes(repo: str) -> dict[int, list[tuple[str, str, str]]]:
    return {rev: changed(repo, rev) for rev in range(1, REVISIONS + 1)}


def test_youngest_revision_and_layout(repo):
    assert svnlook("youngest", repo).strip() == str(REVISIONS)
    top = svnlook("tree", "--full-paths", "-N", repo, "/").split()
    assert top == ["/", "/branches/", "/tags/", "/trunk/"]
    assert svnlook("date", "-r", "1", repo).startswith("2020-09-13 13:26:40 +0000")


def test_history_has_moves_copies_deletes_and_properties(repo):
    changes = all_changes(repo)
    moves = [rev for rev, rows in changes.items()
             if any(s == "A" and p.startswith("trunk/") and src.startswith("trunk/")
                    and src.endswith(f":r{rev - 1}") and ("D", src.split(":")[0], "") in rows
                    for s, p, src in rows)]
    assert moves, "no revision moves a file (copy + delete)"
    tags = [rev for rev, rows in changes.items()
            if any(s == "A" and p.startswith("tags/1.") and src == f"trunk/:r{rev - 1}"
                   for s, p, src in rows)]
    assert len(tags) == REVISIONS // 20
    branches = [p for rows in changes.values() for s, p, src in rows
                if s == "A" and p.startswith("branches/") and src.startswith("trunk/:r")]
    assert len(branches) >= 2
    assert any(s == "U" and p.startswith("branches/")
               for rows in changes.values() for s, p, _ in rows)
    deleted = [p for rev, rows in changes.items() for s, p, _ in rows
               if s == "D" and rev not in moves]
    assert deleted, "no revision only deletes a file"
    for path in deleted:
        assert path not in svnlook("tree", "--full-paths", repo, "/trunk")
    prop_sets = [(rev, p) for rev, rows in changes.items() for s, p, _ in rows
                 if s[1:] == "U" and p.startswith("trunk/")]
    assert prop_sets, "no revision changes a file's properties"
    rev, path = prop_sets[0]
    assert svnlook("propget", "-r", str(rev), repo, "svn:mime-type", path) == "text/x-python"
    assert svnlook("propget", "-r", str(rev), repo, "svn:eol-style", path) == "native"


def test_large_diff_pair(repo):
    changes = all_changes(repo)
    large = "trunk/" + vcs_data.LARGE_FILE
    added = [rev for rev, rows in changes.items() if ("A", large, "") in rows]
    assert len(added) == 1
    assert changes[added[0] + 1] == [("U", large, "")]
    assert len(svnlook("cat", "-r", str(added[0]), repo, large).splitlines()) == 4000
    diff = svnlook("diff", "-r", str(added[0] + 1), repo)
    assert sum(1 for line in diff.splitlines() if line.startswith("+ENTRY_")) == 2000


def test_two_builds_are_the_same_repository(repo, tmp_path):
    again = vcs_data.svn_repository(REVISIONS, FILES, data=str(tmp_path))
    assert again != repo
    assert svnlook("tree", repo) == svnlook("tree", again)
    assert svnlook("uuid", repo) == svnlook("uuid", again)
    for rev in ("1", "30", str(REVISIONS)):
        assert svnlook("log", "-r", rev, repo) == svnlook("log", "-r", rev, again)
    path = "trunk/" + sorted(p for p in svnlook("tree", "--full-paths", repo, "/trunk").split()
                             if p.endswith(".py"))[0][len("/trunk/"):]
    assert svnlook("cat", repo, path) == svnlook("cat", again, path)


def test_a_complete_repository_is_not_rebuilt(repo, tmp_path):
    before = svnlook("uuid", repo)
    assert vcs_data.svn_repository(REVISIONS, FILES, data=repo.rsplit("/", 1)[0]) == repo
    assert svnlook("uuid", repo) == before
