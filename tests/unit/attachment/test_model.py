from __future__ import annotations

import hashlib
import io
import os

import pytest

from codeyard.attachment import model
from codeyard.attachment.model import (
    Attachment,
    AttachmentError,
    AttachmentExists,
    AttachmentNotFound,
    AttachmentTooBig,
    InvalidAttachment,
    ParentNotFound,
)
from codeyard.core import hookimpl
from codeyard.wiki.model import WikiPage

pytestmark = pytest.mark.db


def make_page(env, name):
    page = WikiPage(env, name)
    page.text = "page " + name
    page.save("alice", "")
    return page


def trac_path(env, realm, parent_id, filename, ext):
    """Where Trac 1.6 keeps the file (computed here from first principles)."""
    parent = hashlib.sha1(parent_id.encode("utf-8")).hexdigest()
    name = hashlib.sha1(filename.encode("utf-8")).hexdigest()
    return os.path.join(env.path, "files", "attachments", realm, parent[:3], parent, name + ext)


def all_files(env):
    found = []
    for root, dirs, files in os.walk(env.attachments_dir):
        found += [os.path.join(root, f) for f in files]
        found += [os.path.join(root, d) for d in dirs]
    return sorted(found)


def rows(env):
    with env.db_query as db:
        return db("SELECT type, id, filename, size, description, author FROM attachment "
                  "ORDER BY type, id, filename")


@pytest.fixture
def page(env):
    return make_page(env, "Docs/Manual")


@pytest.mark.parametrize("filename,ext", [
    ("notes.txt", ".txt"),
    ("archive.tar.gz", ".gz"),
    ("README", ""),
    ("odd.ex-t", ""),
    ("résumé.PDF", ".PDF"),
    ("photo.jpé", ""),
    ("trailing.", ""),
    ("Makefile.am2", ".am2"),
])
def test_layout_is_trac_s(env, page, filename, ext):
    data = b"content of " + filename.encode("utf-8")
    attachment = model.insert(env, "wiki", "Docs/Manual", filename, io.BytesIO(data),
                              author="alice", description="a file")
    expected = trac_path(env, "wiki", "Docs/Manual", filename, ext)
    assert attachment.path == expected
    with open(expected, "rb") as fh:
        assert fh.read() == data
    assert rows(env) == [("wiki", "Docs/Manual", filename, len(data), "a file", "alice")]
    assert attachment.time > 0
    assert [f for f in all_files(env) if os.path.isfile(f)] == [expected]


def test_a_second_file_of_the_same_name_gets_a_number(env, page):
    first = model.insert(env, "wiki", "Docs/Manual", "a.txt", io.BytesIO(b"1"))
    second = model.insert(env, "wiki", "Docs/Manual", "a.txt", io.BytesIO(b"2"))
    third = model.insert(env, "wiki", "Docs/Manual", "a.txt", io.BytesIO(b"3"))
    assert (first.filename, second.filename, third.filename) == ("a.txt", "a.2.txt", "a.3.txt")
    with second.open() as fh:
        assert fh.read() == b"2"
    assert [a.filename for a in model.select(env, "wiki", "Docs/Manual")] == [
        "a.txt", "a.2.txt", "a.3.txt"]


def test_size_limit_refuses_and_leaves_nothing(make_env):
    env = make_env(options=[("attachment", "max_size", "10")])
    make_page(env, "P")
    with pytest.raises(AttachmentTooBig, match="Maximum attachment size: 10 bytes"):
        model.insert(env, "wiki", "P", "big.bin", io.BytesIO(b"x" * 11))
    assert rows(env) == []
    assert all_files(env) == []
    model.insert(env, "wiki", "P", "ok.bin", io.BytesIO(b"x" * 10))
    model.insert(env, "wiki", "P", "large.bin", io.BytesIO(b"x" * 100_000), max_size=-1)
    assert [r[2] for r in rows(env)] == ["large.bin", "ok.bin"]


def test_large_file_streams_in_chunks(env, page):
    data = os.urandom(200_000)
    attachment = model.insert(env, "wiki", "Docs/Manual", "blob.bin", io.BytesIO(data))
    assert attachment.size == len(data)
    with attachment.open() as fh:
        assert fh.read() == data


@pytest.mark.parametrize("given,stored", [
    ("../../etc/passwd", "passwd"),
    ("/etc/shadow", "shadow"),
    ("dir/sub/file.txt", "file.txt"),
    ("C:\\Users\\me\\evil.txt", "evil.txt"),
    ("\\\\server\\share\\x.doc", "x.doc"),
    ("nul\x00byte.txt", "nul byte.txt"),
    ("line\nbreak.txt", "line break.txt"),
    ("  padded.txt \u200b", "padded.txt"),
    ("cafe\u0301.txt", "caf\u00e9.txt"),
])
def test_file_names_are_normalised_as_trac(env, page, given, stored):
    attachment = model.insert(env, "wiki", "Docs/Manual", given, io.BytesIO(b"x"))
    assert attachment.filename == stored
    real = os.path.realpath(attachment.path)
    assert real.startswith(os.path.realpath(env.attachments_dir) + os.sep)
    assert not os.path.exists(os.path.join(env.path, "etc"))


@pytest.mark.parametrize("name", ["", ".", "..", "a/..", "   ", "dir/"])
def test_unusable_file_names_are_refused(env, page, name):
    with pytest.raises(InvalidAttachment):
        model.insert(env, "wiki", "Docs/Manual", name, io.BytesIO(b"x"))
    assert rows(env) == [] and all_files(env) == []


@pytest.mark.parametrize("realm", ["..", "../wiki", "a/b", "", "x\x00y"])
def test_bad_realms_are_refused(env, realm):
    with pytest.raises(InvalidAttachment):
        model.insert(env, realm, "x", "f.txt", io.BytesIO(b"x"), check_parent=False)
    assert rows(env) == []


def test_parent_ids_cannot_escape(env):
    attachment = model.insert(env, "wiki", "../../../etc", "f.txt", io.BytesIO(b"x"),
                              check_parent=False)
    assert attachment.path == trac_path(env, "wiki", "../../../etc", "f.txt", ".txt")


def test_symlinked_realm_pointing_outside_is_refused(env, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    os.makedirs(env.attachments_dir, exist_ok=True)
    os.symlink(outside, os.path.join(env.attachments_dir, "ticket"))
    with pytest.raises(InvalidAttachment, match="outside"):
        model.insert(env, "ticket", "1", "f.txt", io.BytesIO(b"x"), check_parent=False)
    assert list(outside.iterdir()) == []


def test_parent_must_exist(env):
    with pytest.raises(ParentNotFound, match="wiki:Nowhere"):
        model.insert(env, "wiki", "Nowhere", "f.txt", io.BytesIO(b"x"))
    with pytest.raises(ParentNotFound):
        model.insert(env, "unknownrealm", "1", "f.txt", io.BytesIO(b"x"))
    assert rows(env) == [] and all_files(env) == []


def test_tickets_and_milestones_take_attachments(env):
    with env.db_transaction as db:
        db("INSERT INTO ticket (id, summary, status) VALUES (7, 'bug', 'new')")
        db("INSERT INTO milestone (name) VALUES ('m1')")
    model.insert(env, "ticket", "7", "trace.log", io.BytesIO(b"x"))
    model.insert(env, "milestone", "m1", "plan.odt", io.BytesIO(b"x"))
    assert os.path.isfile(trac_path(env, "ticket", "7", "trace.log", ".log"))
    assert os.path.isfile(trac_path(env, "milestone", "m1", "plan.odt", ".odt"))
    for realm, parent_id in (("ticket", "8"), ("ticket", "7x"), ("ticket", "99999999999999999999"),
                             ("milestone", "m2")):
        with pytest.raises(ParentNotFound):
            model.insert(env, realm, parent_id, "f.txt", io.BytesIO(b"x"))


class Failing:
    @hookimpl
    def attachment_changed(self, env, event, attachment, old_realm, old_id, old_filename):
        raise RuntimeError(f"listener failed on {event}")


def test_database_failure_leaves_no_file(env, page):
    env.plugins.register(Failing())
    with pytest.raises(RuntimeError):
        model.insert(env, "wiki", "Docs/Manual", "f.txt", io.BytesIO(b"x"))
    assert rows(env) == []
    assert all_files(env) == []


def test_failed_move_restores_the_file(env, page):
    make_page(env, "Other")
    attachment = model.insert(env, "wiki", "Docs/Manual", "f.txt", io.BytesIO(b"x"))
    old_path = attachment.path
    env.plugins.register(Failing())
    with pytest.raises(RuntimeError):
        attachment.move("wiki", "Other", "g.txt")
    assert (attachment.parent_id, attachment.filename) == ("Docs/Manual", "f.txt")
    assert os.path.isfile(old_path)
    assert rows(env)[0][:3] == ("wiki", "Docs/Manual", "f.txt")
    assert not os.path.exists(trac_path(env, "wiki", "Other", "g.txt", ".txt"))


def test_load_and_delete(env, page):
    model.insert(env, "wiki", "Docs/Manual", "a.txt", io.BytesIO(b"abc"), author="bob",
                 description="desc")
    attachment = Attachment.load(env, "wiki", "Docs/Manual", "a.txt")
    assert (attachment.size, attachment.author, attachment.description) == (3, "bob", "desc")
    assert attachment.title == "wiki:Docs/Manual: a.txt"
    path = attachment.path
    attachment.delete()
    assert rows(env) == []
    assert not os.path.exists(path)
    assert not os.path.exists(os.path.dirname(path))
    assert os.path.isdir(os.path.join(env.attachments_dir, "wiki"))
    with pytest.raises(AttachmentNotFound):
        Attachment.load(env, "wiki", "Docs/Manual", "a.txt")
    with pytest.raises(AttachmentNotFound):
        attachment.delete()


def test_move_to_another_parent_and_name(env, page):
    make_page(env, "Target")
    attachment = model.insert(env, "wiki", "Docs/Manual", "a.txt", io.BytesIO(b"abc"))
    old_path = attachment.path
    attachment.move("wiki", "Target", "b.md")
    assert attachment.path == trac_path(env, "wiki", "Target", "b.md", ".md")
    with open(attachment.path, "rb") as fh:
        assert fh.read() == b"abc"
    assert not os.path.exists(old_path)
    assert [r[:3] for r in rows(env)] == [("wiki", "Target", "b.md")]
    attachment.move(new_filename="c.md")
    assert Attachment.load(env, "wiki", "Target", "c.md").size == 3


def test_move_refusals(env, page):
    make_page(env, "Target")
    a = model.insert(env, "wiki", "Docs/Manual", "a.txt", io.BytesIO(b"a"))
    model.insert(env, "wiki", "Target", "taken.txt", io.BytesIO(b"t"))
    with pytest.raises(AttachmentError, match="not modified"):
        a.move("wiki", "Docs/Manual", "a.txt")
    with pytest.raises(AttachmentExists):
        a.move("wiki", "Target", "taken.txt")
    with pytest.raises(ParentNotFound):
        a.move("wiki", "Nowhere", "a.txt")
    for bad in ("../x", "x/y", "..", "", "a\x00b"):
        with pytest.raises(InvalidAttachment):
            a.move("wiki", "Target", bad)
    with pytest.raises(InvalidAttachment):
        a.move("../..", "Target", "a.txt", check_parent=False)
    assert os.path.isfile(a.path)
    assert ("wiki", "Docs/Manual", "a.txt") in [r[:3] for r in rows(env)]


def test_delete_all_and_reparent_all(env, page):
    make_page(env, "New")
    for name in ("a.txt", "b.txt"):
        model.insert(env, "wiki", "Docs/Manual", name, io.BytesIO(b"x"))
    model.reparent_all(env, "wiki", "Docs/Manual", "wiki", "New")
    assert [a.filename for a in model.select(env, "wiki", "New")] == ["a.txt", "b.txt"]
    assert os.path.isfile(trac_path(env, "wiki", "New", "b.txt", ".txt"))
    model.delete_all(env, "wiki", "New")
    assert rows(env) == []
    assert [f for f in all_files(env) if os.path.isfile(f)] == []


def test_pretty_size():
    assert model.pretty_size(1) == "1 byte"
    assert model.pretty_size(1023) == "1023 bytes"
    assert model.pretty_size(1536) == "1.5 KB"
    assert model.pretty_size(262144) == "256.0 KB"
    assert model.pretty_size(3 * 1024 ** 3) == "3.0 GB"


def test_odd_names_stored_by_older_software_still_move_with_their_parent(env, page):
    make_page(env, "New")
    with env.db_transaction as db:
        db("INSERT INTO attachment (type, id, filename, size, time, description, author) "
           "VALUES ('wiki', 'Docs/Manual', '../odd', 1, 1, '', 'x')")
    path = trac_path(env, "wiki", "Docs/Manual", "../odd", "")
    os.makedirs(os.path.dirname(path))
    with open(path, "wb") as fh:
        fh.write(b"o")
    model.reparent_all(env, "wiki", "Docs/Manual", "wiki", "New")
    moved = Attachment.load(env, "wiki", "New", "../odd")
    with moved.open() as fh:
        assert fh.read() == b"o"
