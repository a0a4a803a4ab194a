from __future__ import annotations

import io
import os
import re

import pytest

from codeyard.wiki.model import WikiPage, page_names
from codeyard.wiki.setup import DEFAULT_AUTHOR, default_pages
from tests.support.admin_cli import admin_ok, run_admin

pytestmark = pytest.mark.db


def save(env, name, text, author="alice"):
    page = WikiPage(env, name)
    page.text = text
    page.save(author, "")


def history(env, name):
    with env.db_query as db:
        return db("SELECT version, text, author FROM wiki WHERE name=%s ORDER BY version", (name,))


def write(path, text):
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)


def read(path):
    with open(path, encoding="utf-8", newline="") as fh:
        return fh.read()


def test_list_shape(env):
    save(env, "Zeta", "1")
    save(env, "Zeta", "2")
    lines = admin_ok(env.path, "wiki", "list").splitlines()
    assert lines[0] == ""
    assert re.fullmatch(r"Title +Edits +Modified", lines[1])
    assert set(lines[2]) == {"-"} and len(lines[2]) >= len(lines[1])
    rows = {line.split()[0]: line.split()[1:] for line in lines[3:] if line}
    assert rows["Zeta"][0] == "2"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", rows["Zeta"][1])
    assert re.fullmatch(r"\d\d:\d\d:\d\d", rows["Zeta"][2])
    assert sorted(rows) == page_names(env)
    assert lines[-1] == ""


def test_import_export_round_trip(env, tmp_path):
    source = tmp_path / "in.txt"
    write(source, "= Title =\r\nünïcode line\n")
    out = admin_ok(env.path, "wiki", "import", "Guide/Intro", str(source))
    assert out == f" '{source}' => 'Guide/Intro'\n"
    assert WikiPage(env, "Guide/Intro").text == "= Title =\r\nünïcode line\n"
    assert WikiPage(env, "Guide/Intro").author == "trac"
    # Importing the same text again adds no version.
    out = admin_ok(env.path, "wiki", "import", "Guide/Intro", str(source))
    assert out == " 'Guide/Intro' is already up to date\n"
    assert len(history(env, "Guide/Intro")) == 1
    # A quoted name is unquoted, as trac-admin does.
    admin_ok(env.path, "wiki", "import", "Guide%2FOther", str(source))
    assert WikiPage(env, "Guide/Other").exists
    target = tmp_path / "out.txt"
    out = admin_ok(env.path, "wiki", "export", "Guide/Intro", str(target))
    assert out == f" 'Guide/Intro' => '{target}'\n"
    assert read(target) == "= Title =\r\nünïcode line\n"
    assert admin_ok(env.path, "wiki", "export", "Guide/Intro") == "= Title =\r\nünïcode line\n\n"


def test_import_from_stdin(env, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("from stdin"))
    admin_ok(env.path, "wiki", "import", "Piped")
    assert WikiPage(env, "Piped").text == "from stdin"


def test_import_and_export_errors(env, tmp_path):
    result = run_admin(env.path, "wiki", "import", "X", str(tmp_path / "missing"))
    assert result.rc == 2 and result.err == f"Error: '{tmp_path / 'missing'}' is not a file\n"
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("caf\u00e9".encode("latin-1"))
    result = run_admin(env.path, "wiki", "import", "X", str(latin))
    assert result.rc == 2 and "not UTF-8" in result.err
    assert not WikiPage(env, "X").exists
    source = tmp_path / "ok.txt"
    write(source, "x")
    result = run_admin(env.path, "wiki", "import", "../bad", str(source))
    assert result.rc == 2 and result.err == "Error: Invalid Wiki page name '../bad'\n"
    result = run_admin(env.path, "wiki", "export", "Nope")
    assert result.rc == 2 and result.err == "Error: Page 'Nope' not found\n"
    existing = tmp_path / "existing.txt"
    write(existing, "keep me")
    result = run_admin(env.path, "wiki", "export", "WikiStart", str(existing))
    assert result.rc == 2 and result.err == f"Error: File '{existing}' exists\n"
    assert read(existing) == "keep me"
    result = run_admin(env.path, "wiki", "export")
    assert result.rc == 2 and "Invalid arguments" in result.err


def test_dump_names_files_by_quoted_title(env, tmp_path):
    save(env, "Foo/Bar", "bar text")
    save(env, "Foo Baz", "baz text")
    save(env, "Other", "other")
    target = tmp_path / "dump"
    out = admin_ok(env.path, "wiki", "dump", str(target), "Foo*", "Other")
    assert sorted(os.listdir(target)) == ["Foo%20Baz", "Foo%2FBar", "Other"]
    assert read(target / "Foo%2FBar") == "bar text"
    assert f" 'Foo/Bar' => '{target / 'Foo%2FBar'}'" in out.splitlines()
    everything = tmp_path / "all"
    admin_ok(env.path, "wiki", "dump", str(everything))
    assert len(os.listdir(everything)) == len(page_names(env))


def test_dump_refuses_before_writing_anything(env, tmp_path):
    save(env, "Aaa", "a")
    save(env, "Bbb", "b")
    target = tmp_path / "dump"
    target.mkdir()
    write(target / "Bbb", "old")
    result = run_admin(env.path, "wiki", "dump", str(target), "Aaa", "Bbb")
    assert result.rc == 2 and result.err == f"Error: File '{target / 'Bbb'}' exists\n"
    assert os.listdir(target) == ["Bbb"] and read(target / "Bbb") == "old"
    a_file = tmp_path / "file"
    write(a_file, "")
    result = run_admin(env.path, "wiki", "dump", str(a_file))
    assert result.rc == 2 and result.err == f"Error: '{a_file}' is not a directory\n"


def test_dump_then_load_round_trip(env, make_env, tmp_path):
    save(env, "Foo/Bar", "bar text")
    save(env, "Ünï", "unicode")
    target = tmp_path / "dump"
    admin_ok(env.path, "wiki", "dump", str(target), "Foo/Bar", "Ünï")
    other = make_env("other")
    out = admin_ok(other.path, "wiki", "load", str(target))
    assert f" '{target / 'Foo%2FBar'}' => 'Foo%2FBar'" in out.splitlines()
    assert WikiPage(other, "Foo/Bar").text == "bar text"
    assert WikiPage(other, "Ünï").text == "unicode"
    out = admin_ok(other.path, "wiki", "load", str(target))
    assert out.splitlines() == [" '%C3%9Cn%C3%AF' is already up to date",
                                " 'Foo%2FBar' is already up to date"]
    assert len(history(other, "Foo/Bar")) == 1


def test_load_is_all_or_nothing(env, tmp_path):
    good = tmp_path / "GoodPage"
    write(good, "good")
    result = run_admin(env.path, "wiki", "load", str(good), str(tmp_path / "Missing"))
    assert result.rc == 2 and "is not a file" in result.err
    assert result.out == ""
    assert not WikiPage(env, "GoodPage").exists
    result = run_admin(env.path, "wiki", "load", str(good), str(tmp_path / "sub" / ".."))
    assert result.rc == 2
    assert not WikiPage(env, "GoodPage").exists
    admin_ok(env.path, "wiki", "load", str(good))
    assert WikiPage(env, "GoodPage").text == "good"


def test_replace_overwrites_without_a_new_version(env, tmp_path):
    save(env, "Rep", "one")
    save(env, "Rep", "two", author="bob")
    new = tmp_path / "Rep"
    write(new, "replaced")
    out = admin_ok(env.path, "wiki", "replace", str(new))
    assert out == f" '{new}' => 'Rep'\n"
    assert history(env, "Rep") == [(1, "one", "alice"), (2, "replaced", "bob")]


def test_remove_single_and_glob(env):
    for name in ("Gone/A", "Gone/B", "Gonex", "gone/lower", "Stay"):
        save(env, name, name)
    assert admin_ok(env.path, "wiki", "remove", "Stay") == " 'Stay' deleted\n"
    out = admin_ok(env.path, "wiki", "remove", "Gone/*")
    assert out == "\nDeleted pages\n-------------\nGone/A\nGone/B\n\n"
    assert WikiPage(env, "Gonex").exists and WikiPage(env, "gone/lower").exists
    assert not WikiPage(env, "Stay").exists
    result = run_admin(env.path, "wiki", "remove", "Stay")
    assert result.rc == 2 and result.err == "Error: Cannot delete non-existent page\n"


def test_rename(env):
    save(env, "Old", "text")
    assert admin_ok(env.path, "wiki", "rename", "Old", "New/Name") == " 'Old' renamed to 'New/Name'\n"
    assert WikiPage(env, "New/Name").text == "text" and not WikiPage(env, "Old").exists
    result = run_admin(env.path, "wiki", "rename", "New/Name", "WikiStart")
    assert result.rc == 2 and result.err == "Error: The page 'WikiStart' already exists.\n"
    result = run_admin(env.path, "wiki", "rename", "New/Name", "../x")
    assert result.rc == 2 and result.err == "Error: Invalid Wiki page name '../x'\n"
    result = run_admin(env.path, "wiki", "rename", "Nope", "X")
    assert result.rc == 2 and result.err == "Error: Cannot rename non-existent page\n"
    assert WikiPage(env, "New/Name").exists


def test_upgrade_refreshes_only_untouched_default_pages(env):
    shipped = default_pages()
    candidates = sorted(n for n in shipped if n not in ("WikiStart", "SandBox", "InterMapTxt"))
    assert len(candidates) >= 3, "the default pages are missing"
    stale, edited, deleted = candidates[:3]
    with env.db_transaction as db:
        db("UPDATE wiki SET text='old shipped text' WHERE name=%s", (stale,))
    save(env, edited, "my own notes", author="joe")
    WikiPage(env, deleted).delete()
    save(env, "WikiStart", "our project", author="joe")
    out = admin_ok(env.path, "wiki", "upgrade")
    assert out == "Upgrade done: 2 pages upgraded.\n"
    assert WikiPage(env, stale).text == shipped[stale]
    assert WikiPage(env, stale).author == DEFAULT_AUTHOR
    assert WikiPage(env, stale).version == 2
    assert WikiPage(env, edited).text == "my own notes"
    assert WikiPage(env, deleted).text == shipped[deleted]
    assert WikiPage(env, "WikiStart").text == "our project"
    assert admin_ok(env.path, "wiki", "upgrade") == "Upgrade done: 0 pages upgraded.\n"
