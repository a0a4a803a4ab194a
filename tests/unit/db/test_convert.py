"""convert_db, dump_to_sqlite and hotcopy on one engine (the leg's)."""

from __future__ import annotations

import os
import sqlite3

import pytest

from codeyard.db import convert
from codeyard.env import Environment
from tests.support.admin_cli import run_admin
from tests.support.dbcompare import fill_sample_data, table_contents

pytestmark = pytest.mark.db


@pytest.fixture
def filled(env):
    fill_sample_data(env)
    return env


def _read_config(path: str) -> str:
    with open(os.path.join(path, "conf", "trac.ini"), encoding="utf-8") as fh:
        return fh.read()


def test_convert_in_place_to_sqlite(filled):
    before = table_contents(filled)
    old_ini = _read_config(filled.path)
    result = run_admin(filled.path, "convert_db", "sqlite:db/converted.db")
    assert result.rc == 0, result.err
    assert "Copying tables:" in result.out and "  wiki table... " in result.out
    env = Environment(filled.path)
    try:
        assert env.config.get("trac", "database") == "sqlite:db/converted.db"
        assert env.database.url.path == os.path.join(filled.path, "db", "converted.db")
        assert table_contents(env) == before
        env.check_ready()
    finally:
        env.shutdown()
    kept = [f for f in os.listdir(os.path.join(filled.path, "conf")) if ".convert_db-" in f]
    assert len(kept) == 1
    with open(os.path.join(filled.path, "conf", kept[0]), encoding="utf-8") as fh:
        assert fh.read() == old_ini


def test_convert_to_a_new_environment_copies_the_directory(filled, tmp_path):
    os.makedirs(os.path.join(filled.path, "files", "attachments", "wiki", "abc"))
    with open(os.path.join(filled.path, "files", "attachments", "wiki", "abc", "f.txt"), "w") as fh:
        fh.write("attached")
    with open(os.path.join(filled.path, "htdocs", "site.css"), "w") as fh:
        fh.write("body {}")
    before = table_contents(filled)
    source_ini = _read_config(filled.path)
    target = str(tmp_path / "copy")
    result = run_admin(filled.path, "convert_db", "sqlite:db/trac.db", target)
    assert result.rc == 0, result.err
    assert _read_config(filled.path) == source_ini  # the source is untouched
    with open(os.path.join(target, "files", "attachments", "wiki", "abc", "f.txt")) as fh:
        assert fh.read() == "attached"
    assert os.path.isfile(os.path.join(target, "htdocs", "site.css"))
    for sub in ("log", "plugins", "templates", "db"):
        assert os.path.isdir(os.path.join(target, sub))
    copy = Environment(target)
    try:
        assert copy.config.get("trac", "database") == "sqlite:db/trac.db"
        assert copy.config.get("project", "name") == filled.config.get("project", "name")
        assert table_contents(copy) == before
    finally:
        copy.shutdown()


def test_a_target_holding_tables_is_refused(filled):
    target = os.path.join(filled.path, "db", "busy.db")
    conn = sqlite3.connect(target)
    conn.execute("CREATE TABLE something (x integer)")
    conn.commit()
    conn.close()
    ini = _read_config(filled.path)
    result = run_admin(filled.path, "convert_db", "sqlite:db/busy.db")
    assert result.rc == 2
    assert "already holds tables" in result.err
    assert _read_config(filled.path) == ini
    conn = sqlite3.connect(target)
    assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master")] == ["something"]
    conn.close()


def test_the_same_database_is_refused(filled):
    if filled.database.url.scheme != "sqlite":
        url = filled.config.get("trac", "database")
    else:
        url = "sqlite:db/trac.db"
    result = run_admin(filled.path, "convert_db", url)
    assert result.rc == 2
    assert "are the same" in result.err


def test_a_failed_copy_leaves_nothing_behind(filled, tmp_path, monkeypatch):
    real = convert._copy_table

    def failing(src, dst, name, table, batch):
        if name == "wiki":
            raise RuntimeError("disk full")
        return real(src, dst, name, table, batch)

    monkeypatch.setattr(convert, "_copy_table", failing)
    ini = _read_config(filled.path)
    with pytest.raises(RuntimeError, match="disk full"):
        run_admin(filled.path, "convert_db", "sqlite:newdir/converted.db")
    assert not os.path.exists(os.path.join(filled.path, "newdir"))
    assert _read_config(filled.path) == ini
    with pytest.raises(RuntimeError, match="disk full"):
        run_admin(filled.path, "convert_db", "sqlite:db/trac.db", str(tmp_path / "copy"))
    assert not os.path.exists(tmp_path / "copy")


def test_an_existing_new_env_is_refused(filled, tmp_path):
    (tmp_path / "there").mkdir()
    (tmp_path / "there" / "file").write_text("x")
    result = run_admin(filled.path, "convert_db", "sqlite:db/trac.db", str(tmp_path / "there"))
    assert result.rc == 2
    assert "already exists" in result.err
    assert os.listdir(tmp_path / "there") == ["file"]


def test_dump_to_sqlite_copies_every_table(filled, tmp_path):
    before = table_contents(filled)
    target = str(tmp_path / "dump.db")
    convert.dump_to_sqlite(filled, target)
    assert sorted(os.listdir(tmp_path)) == sorted(["dump.db", filled.name])  # one file, no WAL
    copy = _sqlite_env(tmp_path / "dumped", target)
    try:
        assert table_contents(copy) == before
    finally:
        copy.shutdown()


def _sqlite_env(path, db_file) -> Environment:
    env = Environment.create(str(path), [("trac", "database", "sqlite:db/trac.db")])
    env.shutdown()
    os.replace(db_file, os.path.join(str(path), "db", "trac.db"))
    for suffix in ("-wal", "-shm"):
        if os.path.exists(os.path.join(str(path), "db", "trac.db" + suffix)):
            os.unlink(os.path.join(str(path), "db", "trac.db" + suffix))
    return Environment(str(path))


def test_hotcopy_copies_files_and_database(filled, tmp_path):
    with open(os.path.join(filled.path, "htdocs", "logo.svg"), "w") as fh:
        fh.write("<svg/>")
    dest = str(tmp_path / "backup")
    result = run_admin(filled.path, "hotcopy", dest)
    assert result.rc == 0, result.err
    lines = result.out.splitlines()
    assert lines[0] == f"Hotcopying {filled.path} to {dest} ..."
    assert lines[-1] == "Hotcopy done."
    assert os.path.isfile(os.path.join(dest, "htdocs", "logo.svg"))
    assert os.path.isfile(os.path.join(dest, "conf", "trac.ini"))
    if filled.database.url.scheme == "sqlite":
        assert sorted(os.listdir(os.path.join(dest, "db"))) == ["trac.db"]
        copy = Environment(dest)
        try:
            assert table_contents(copy) == table_contents(filled)
        finally:
            copy.shutdown()
    else:
        assert "Backing up database ..." in lines
        assert os.path.isfile(os.path.join(dest, "db", "postgres-db-backup.sql"))
        assert "pg_dump wrote db/postgres-db-backup.sql" in result.out


def test_hotcopy_without_database(filled, tmp_path):
    dest = str(tmp_path / "backup")
    result = run_admin(filled.path, "hotcopy", dest, "--no-database")
    assert result.rc == 0, result.err
    assert os.listdir(os.path.join(dest, "db")) == []
    assert os.path.isfile(os.path.join(dest, "VERSION"))


def test_hotcopy_refuses_an_existing_destination_and_bad_options(filled, tmp_path):
    (tmp_path / "there").mkdir()
    result = run_admin(filled.path, "hotcopy", str(tmp_path / "there"))
    assert result.rc == 2 and "can't overwrite existing" in result.err
    result = run_admin(filled.path, "hotcopy", str(tmp_path / "new"), "--fast")
    assert result.rc == 2 and "Invalid argument '--fast'" in result.err
    assert not (tmp_path / "new").exists()
    result = run_admin(filled.path, "hotcopy", os.path.join(filled.path, "inside"))
    assert result.rc == 2 and "into itself" in result.err


def test_hotcopy_of_postgres_without_pg_dump_writes_sqlite(make_env, postgres, tmp_path,
                                                           monkeypatch):
    import uuid

    from codeyard.admin import db_commands

    pg_env = make_env("pg", url=postgres.url(schema="t_" + uuid.uuid4().hex[:12]))
    fill_sample_data(pg_env, changes=10)
    monkeypatch.setattr(db_commands, "find_pg_dump", lambda: None)
    dest = str(tmp_path / "backup")
    result = run_admin(pg_env.path, "hotcopy", dest)
    assert result.rc == 0, result.err
    assert "pg_dump is not installed; wrote a SQLite copy" in result.out
    copy = _sqlite_env(tmp_path / "restored", os.path.join(dest, "db", "postgres-db-backup.db"))
    try:
        assert table_contents(copy) == table_contents(pg_env)
    finally:
        copy.shutdown()
