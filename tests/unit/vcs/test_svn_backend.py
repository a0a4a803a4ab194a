"""What only the Subversion backend has: scoped repositories, replaced paths, edits inside a
copied directory, content streams that never hold a big file whole, line-end translation,
and the refusals (no repository, a newer format, a revision beyond HEAD)."""

from __future__ import annotations

import io
import shutil

import pytest

from codeyard.vcs import api
from codeyard.vcs.svn import open_repository
from codeyard.vcs.svn.node import EolStream, RaContent
from tests.unit.vcs.svn_fixtures import Svn

BIG = b"".join(b"%08d some text on the line\n" % i for i in range(200_000))  # 6.6 MB


@pytest.fixture(scope="module")
def svn(tmp_path_factory):
    svn = Svn(tmp_path_factory.mktemp("svnb"))
    for directory in ("project/trunk", "other"):
        (svn.wc / directory).mkdir(parents=True)
    svn.wc_run("add", "-q", "project", "other")
    svn.write("project/trunk/a.txt", b"a\n")
    svn.write("other/b.txt", b"b\n")
    svn.commit("r1")                                       # 1
    svn.write("other/b.txt", b"b2\n")
    svn.commit("only other")                               # 2
    svn.wc_run("delete", "-q", "project/trunk/a.txt")
    svn.write("project/trunk/a.txt", b"replaced\n")
    svn.commit("replace a.txt")                            # 3
    svn.wc_run("copy", "-q", "project/trunk", "project/copy")
    svn.write("project/copy/a.txt", b"edited in the copy\n")
    svn.commit("copy and edit inside")                     # 4
    svn.write("project/trunk/big.txt", BIG)
    svn.commit("big")                                      # 5
    return svn


def test_scope_is_a_path_inside_the_repository(svn):
    repos = open_repository(None, "p", str(svn.path / "project"), {})
    assert repos.scope == "project"
    assert repos.youngest_rev == "5"
    assert list(repos.all_revs()) == ["1", "3", "4", "5"]  # 2 touched only /other
    assert sorted(n.name for n in repos.get_node("").get_entries()) == ["copy", "trunk"]
    assert repos.get_changes("4")[0].path == "copy"
    with pytest.raises(api.NoSuchNode):
        repos.get_node("other")
    assert repos.cache_name().endswith(str(svn.path / "project"))


def test_replaced_path_and_edit_in_a_copied_directory(svn):
    repos = open_repository(None, "", str(svn.path), {})
    replaced = repos.get_changes("3")
    assert [(c.path, c.change, c.base_path) for c in replaced] == \
        [("project/trunk/a.txt", api.ADD, None)]
    copied = {c.path: c for c in repos.get_changes("4")}
    assert copied["project/copy"].change == api.COPY
    assert copied["project/copy"].base_path == "project/trunk"
    inside = copied["project/copy/a.txt"]
    assert (inside.change, inside.base_path, inside.base_rev) == \
        (api.EDIT, "project/trunk/a.txt", "3")  # where it last changed before the copy
    node = repos.get_node("project/copy/a.txt", "4")
    assert node.get_content().read() == b"edited in the copy\n"
    untouched = repos.get_node("project/copy", "5")
    assert untouched.created_rev == "4"


def test_big_files_are_streamed_not_loaded(svn):
    repos = open_repository(None, "", str(svn.path), {})
    node = repos.get_node("project/trunk/big.txt")
    assert node.get_content_length() == len(BIG)
    raw = RaContent(repos, node.full, node.number, len(BIG))
    head = raw.read(512)
    assert head == BIG[:512]
    assert raw._spool is None and len(raw._prefix) < len(BIG) // 4  # only a prefix so far
    rest = io.BufferedReader(raw).read()
    assert head + rest == BIG
    raw.close()


def test_eol_translation_across_chunk_ends():
    data = b"one\r\ntwo\rthree\nfour\r"
    for size in (1, 2, 3, 7, 100):
        chunks = [data[i:i + size] for i in range(0, len(data), size)]

        class Chunks(io.RawIOBase):
            def readable(self):
                return True

            def readinto(self, buffer, _it=iter(chunks)):
                piece = next(_it, b"")
                buffer[:len(piece)] = piece
                return len(piece)

        out = io.BufferedReader(EolStream(io.BufferedReader(Chunks()), b"\r\n")).read()
        assert out == b"one\r\ntwo\r\nthree\r\nfour\r\n", size


def test_refusals(svn, tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(api.RepositoryError, match="does not appear to be a Subversion"):
        open_repository(None, "", str(plain), {})
    with pytest.raises(api.RepositoryError, match="does not exist"):
        open_repository(None, "", str(tmp_path / "missing" / "deeper"), {})
    newer = tmp_path / "newer"
    shutil.copytree(svn.path, newer)
    (newer / "db" / "format").write_text("99\n")
    with pytest.raises(api.RepositoryError, match="newer Subversion"):
        assert open_repository(None, "", str(newer), {}).youngest_rev is None
    repos = open_repository(None, "", str(svn.path), {})
    for bad in ("6", "-1", "1e3", "HEAD~1"):
        with pytest.raises(api.NoSuchChangeset):
            repos.normalize_rev(bad)
    assert repos.normalize_rev("r3") == repos.normalize_rev("@3") == "3"
    assert repos.db_rev("42") == "0000000042" and repos.rev_db("0000000042") == "42"
