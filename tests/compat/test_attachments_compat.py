"""Attachments written by codeyard are found by the real Trac 1.6, and the other way round."""

from __future__ import annotations

import io
import re

from codeyard.attachment import model
from codeyard.wiki.model import WikiPage
from tests.support.admin_cli import admin_ok

PAYLOAD = "résumé ✓\n".encode() + bytes(range(256))


def trac_listing(trac, env, resource):
    lines = trac.out(env.path, "attachment", "list", resource).splitlines()
    return [re.split(r"  +", line.strip()) for line in lines[3:] if line.strip()]


def test_trac_lists_and_exports_what_codeyard_stored(trac, env, tmp_path):
    model.insert(env, "wiki", "WikiStart", "Bericht über Q3.tar.gz", io.BytesIO(PAYLOAD),
                 author="jürgen", description="numbers")
    page = WikiPage(env, "Docs/Ünïcode")
    page.text = "text"
    page.save("alice", "")
    model.insert(env, "wiki", "Docs/Ünïcode", "notes", io.BytesIO(b"plain"), author="alice")
    env.shutdown()

    rows = trac_listing(trac, env, "wiki:WikiStart")
    assert [(r[0], r[1], r[2]) for r in rows] == [("Bericht über Q3.tar.gz", f"{len(PAYLOAD)} bytes",
                                                "jürgen")]
    assert rows[0][-1] == "numbers"
    target = tmp_path / "from-trac.bin"
    trac.admin(env.path, "attachment", "export", "wiki:WikiStart", "Bericht über Q3.tar.gz",
               str(target))
    assert target.read_bytes() == PAYLOAD
    other = tmp_path / "notes-from-trac"
    trac.admin(env.path, "attachment", "export", "wiki:Docs/Ünïcode", "notes", str(other))
    assert other.read_bytes() == b"plain"


def test_codeyard_reads_what_trac_stored_and_renames_keep_them(trac, env, tmp_path):
    upload = tmp_path / "diagram.svg"
    upload.write_bytes(PAYLOAD)
    trac.admin(env.path, "attachment", "add", "wiki:SandBox", str(upload), "tracuser", "from trac")
    attachment = model.Attachment.load(env, "wiki", "SandBox", "diagram.svg")
    assert (attachment.size, attachment.author, attachment.description) == (
        len(PAYLOAD), "tracuser", "from trac")
    with attachment.open() as fh:
        assert fh.read() == PAYLOAD

    # A rename done by codeyard moves the files where Trac looks for them.
    admin_ok(env.path, "wiki", "rename", "SandBox", "Play/Ground")
    env.shutdown()
    assert [r[0] for r in trac_listing(trac, env, "wiki:Play/Ground")] == ["diagram.svg"]
    target = tmp_path / "after-rename.svg"
    trac.admin(env.path, "attachment", "export", "wiki:Play/Ground", "diagram.svg", str(target))
    assert target.read_bytes() == PAYLOAD

    # And a move done by Trac is followed by codeyard.
    trac.admin(env.path, "attachment", "move", "wiki:Play/Ground", "diagram.svg",
               "wiki:WikiStart", "moved.svg")
    moved = model.Attachment.load(env, "wiki", "WikiStart", "moved.svg")
    with moved.open() as fh:
        assert fh.read() == PAYLOAD
