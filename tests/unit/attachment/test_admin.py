from __future__ import annotations

import hashlib
import os
import re

import pytest

from codeyard.attachment import model
from tests.support.admin_cli import admin_ok, run_admin

pytestmark = pytest.mark.db


@pytest.fixture
def upload(tmp_path):
    path = tmp_path / "report.txt"
    path.write_bytes(b"quarterly numbers\n")
    return path


def table(out):
    lines = out.splitlines()
    assert lines[0] == "" and lines[-1] == ""
    assert re.fullmatch(r"Name +Size +Author +Date +Description", lines[1])
    assert set(lines[2]) == {"-"}
    return [re.split(r"  +", line.strip()) for line in lines[3:-1]]


def test_add_list_export_move_remove(env, upload, tmp_path):
    assert admin_ok(env.path, "attachment", "add", "wiki:WikiStart", str(upload)) == ""
    admin_ok(env.path, "attachment", "add", "wiki:WikiStart", str(upload), "joe", "second copy")
    rows = table(admin_ok(env.path, "attachment", "list", "wiki:WikiStart"))
    assert [r[:3] for r in rows] == [["report.txt", "18 bytes", "trac"],
                                     ["report.2.txt", "18 bytes", "joe"]]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", rows[0][3])
    assert rows[1][4] == "second copy"
    digest = hashlib.sha1(b"WikiStart").hexdigest()
    stored = os.path.join(env.path, "files", "attachments", "wiki", digest[:3], digest,
                          hashlib.sha1(b"report.2.txt").hexdigest() + ".txt")
    with open(stored, "rb") as fh:
        assert fh.read() == b"quarterly numbers\n"

    out_file = tmp_path / "copy.txt"
    assert admin_ok(env.path, "attachment", "export", "wiki:WikiStart", "report.txt",
                    str(out_file)) == ""
    assert out_file.read_bytes() == b"quarterly numbers\n"
    export_dir = tmp_path / "exports"
    export_dir.mkdir()
    admin_ok(env.path, "attachment", "export", "wiki:WikiStart", "report.2.txt", str(export_dir))
    assert (export_dir / "report.2.txt").read_bytes() == b"quarterly numbers\n"
    assert admin_ok(env.path, "attachment", "export", "wiki:WikiStart",
                    "report.txt") == "quarterly numbers\n"

    assert admin_ok(env.path, "attachment", "move", "wiki:WikiStart", "report.2.txt",
                    "wiki:SandBox", "moved.md") == ""
    assert [r[0] for r in table(admin_ok(env.path, "attachment", "list", "wiki:SandBox"))] == [
        "moved.md"]
    assert not os.path.exists(stored)

    assert admin_ok(env.path, "attachment", "remove", "wiki:SandBox", "moved.md") == ""
    assert table(admin_ok(env.path, "attachment", "list", "wiki:SandBox")) == []
    assert [a.filename for a in model.select(env, "wiki", "WikiStart")] == ["report.txt"]


def test_errors_are_one_line_and_change_nothing(env, upload, tmp_path):
    def error(*args):
        result = run_admin(env.path, "attachment", *args)
        assert result.rc == 2, result
        assert result.err.count("\n") == 1 and result.err.startswith("Error: ")
        return result.err[len("Error: "):].strip()

    assert error("add", "WikiStart", str(upload)) == "Invalid resource identifier 'WikiStart'"
    assert error("add", "wiki:NoSuchPage", str(upload)) == (
        "wiki:NoSuchPage doesn't exist, can't create attachment")
    assert error("add", "wiki:WikiStart", str(tmp_path / "absent")) == (
        f"'{tmp_path / 'absent'}' is not a file")
    assert error("remove", "wiki:WikiStart", "zz.txt") == (
        "Attachment 'wiki:WikiStart: zz.txt' does not exist.")
    assert error("export", "wiki:WikiStart", "zz.txt") == (
        "Attachment 'wiki:WikiStart: zz.txt' does not exist.")
    assert not os.path.exists(env.attachments_dir) or not any(
        files for _, _, files in os.walk(env.attachments_dir))

    admin_ok(env.path, "attachment", "add", "wiki:WikiStart", str(upload))
    existing = tmp_path / "existing"
    existing.write_bytes(b"keep")
    assert error("export", "wiki:WikiStart", "report.txt", str(existing)) == (
        f"File '{existing}' exists")
    assert existing.read_bytes() == b"keep"
    assert error("move", "wiki:WikiStart", "report.txt", "wiki:WikiStart", "report.txt") == (
        "Attachment not modified")
    assert error("move", "wiki:WikiStart", "report.txt", "wiki:Nowhere", "x.txt") == (
        "wiki:Nowhere doesn't exist, can't move attachment")
    assert error("move", "wiki:WikiStart", "report.txt", "wiki:SandBox", "../../x").startswith(
        "Invalid attachment file name")
    assert [a.filename for a in model.select(env, "wiki", "WikiStart")] == ["report.txt"]
    result = run_admin(env.path, "attachment", "list")
    assert result.rc == 2 and "Invalid arguments" in result.err


def test_add_ignores_the_web_size_limit_as_trac_admin_does(make_env, tmp_path):
    env = make_env(options=[("attachment", "max_size", "4")])
    big = tmp_path / "big.bin"
    big.write_bytes(b"0123456789")
    admin_ok(env.path, "attachment", "add", "wiki:WikiStart", str(big))
    assert model.Attachment.load(env, "wiki", "WikiStart", "big.bin").size == 10
