"""convert_db across engines and hotcopy of a live site (both legs need PostgreSQL)."""

from __future__ import annotations

import os
import subprocess
import threading
import time
import uuid

import pytest

from codeyard.env import Environment
from tests.support.admin_cli import admin_ok, run_admin
from tests.support.dbcompare import PLUGIN_TABLE, fill_sample_data, table_contents

pytestmark = pytest.mark.db


def _schema_url(postgres) -> str:
    return postgres.url(schema="t_" + uuid.uuid4().hex[:12])


def test_convert_round_trip_sqlite_postgres_sqlite(make_env, postgres, tmp_path):
    env = make_env("source", url="sqlite:db/trac.db")
    fill_sample_data(env)
    original = table_contents(env)
    assert len(original["ticket_change"][1]) == 1200 and PLUGIN_TABLE in original
    env.shutdown()

    pg_url = _schema_url(postgres)
    out = admin_ok(env.path, "convert_db", pg_url)
    assert "ticket_change table... 1200 records." in out
    on_pg = Environment(env.path)
    try:
        assert on_pg.database.dialect == "postgresql"
        assert table_contents(on_pg) == original
        with on_pg.db_query as db:
            query = db("SELECT query FROM report WHERE title='By prio'")[0][0]
            assert "CAST(p.value AS bigint)" in query  # spelled for PostgreSQL
        with on_pg.db_transaction as db:
            # Sequences were moved past the copied ids, for plugin tables too.
            db("INSERT INTO ticket (summary) VALUES ('after')")
            assert db.last_id("ticket") == 41
            db(f"INSERT INTO {PLUGIN_TABLE} (resource, votes) VALUES ('x', 0)")
            assert db.last_id(PLUGIN_TABLE) == 11
            db("DELETE FROM ticket WHERE id=41")
            db(f"DELETE FROM {PLUGIN_TABLE} WHERE id=11")
        with on_pg.db_query as db:
            assert "idx" in " ".join(i for (i,) in db(
                "SELECT indexname FROM pg_indexes WHERE tablename=%s", (PLUGIN_TABLE,)))
        on_pg.check_ready()
    finally:
        on_pg.shutdown()

    admin_ok(env.path, "convert_db", "sqlite:db/back.db")
    back = Environment(env.path)
    try:
        assert back.config.get("trac", "database") == "sqlite:db/back.db"
        assert table_contents(back) == original
        with back.db_query as db:
            query = db("SELECT query FROM report WHERE title='By prio'")[0][0]
            assert "CAST(p.value AS integer)" in query
    finally:
        back.shutdown()


def test_convert_into_postgres_cleans_up_after_a_failure(env, postgres, monkeypatch):
    from codeyard.db import convert

    fill_sample_data(env, changes=10)

    def failing(src, dst, name, table, batch):
        raise RuntimeError("connection lost")

    monkeypatch.setattr(convert, "_copy_table", failing)
    schema = "t_" + uuid.uuid4().hex[:12]
    with pytest.raises(RuntimeError, match="connection lost"):
        run_admin(env.path, "convert_db", postgres.url(schema=schema))
    assert postgres.psql(f"SELECT count(*) FROM pg_namespace WHERE nspname='{schema}'",
                         db="codeyard_test").strip() == "0"
    monkeypatch.undo()
    # An existing schema with tables is refused and left alone.
    postgres.psql(f"CREATE SCHEMA {schema}; CREATE TABLE {schema}.keep (x int)", db="codeyard_test")
    result = run_admin(env.path, "convert_db", postgres.url(schema=schema))
    assert result.rc == 2 and "already holds tables" in result.err
    assert postgres.psql(f"SELECT count(*) FROM information_schema.tables WHERE table_schema='{schema}'",
                         db="codeyard_test").strip() == "1"


class _Writer(threading.Thread):
    """Another 'process' writing while the copy runs: a ticket and its comment per transaction."""

    def __init__(self, path: str) -> None:
        super().__init__(daemon=True)
        self.env = Environment(path)
        self.stop = threading.Event()
        self.written = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                with self.env.db_transaction as db:
                    db("INSERT INTO ticket (summary, status) VALUES (%s, 'new')",
                       (f"written {self.written}",))
                    ticket = db.last_id("ticket")
                    db("INSERT INTO ticket_change (ticket, time, author, field, oldvalue, newvalue) "
                       "VALUES (%s, %s, 'writer', 'comment', '1', %s)",
                       (ticket, 1_000 + self.written, f"comment on {ticket}"))
                self.written += 1
                time.sleep(0.002)
        except BaseException as exc:  # reported by the test
            self.error = exc
        finally:
            self.env.shutdown()


def _check_consistent(copy: Environment, writer_count: int) -> int:
    with copy.db_query as db:
        tickets = db("SELECT id, summary FROM ticket ORDER BY id")
        changes = dict(db("SELECT ticket, newvalue FROM ticket_change"))
    # Whole transactions only: every ticket has its comment, and no comment lacks its ticket.
    assert set(changes) == {t for t, _ in tickets}
    assert [s for _, s in tickets] == [f"written {i}" for i in range(len(tickets))]
    assert 0 < len(tickets) <= writer_count
    return len(tickets)


def test_hotcopy_while_a_writer_is_busy(make_env, request, tmp_path):
    env = make_env("live")
    with open(os.path.join(env.attachments_dir + "-marker"), "w") as fh:
        fh.write("x")
    writer = _Writer(env.path)
    writer.start()
    try:
        while writer.written < 20 and writer.error is None:
            time.sleep(0.01)
        dest = str(tmp_path / "hot")
        out = admin_ok(env.path, "hotcopy", dest)
        time.sleep(0.1)
    finally:
        writer.stop.set()
        writer.join(30)
    assert writer.error is None, writer.error
    assert out.splitlines()[-1] == "Hotcopy done."
    assert os.path.isfile(os.path.join(dest, "files", "attachments-marker"))

    if env.database.url.scheme == "sqlite":
        assert not [f for f in os.listdir(os.path.join(dest, "db")) if f.endswith(("-wal", "-shm"))]
        copy = Environment(dest)
    else:
        # Restore the pg_dump into a database of its own and point the copy at it.
        postgres = request.getfixturevalue("postgres")
        dump = os.path.join(dest, "db", "postgres-db-backup.sql")
        assert os.path.isfile(dump)
        target_db = "restored_" + uuid.uuid4().hex[:8]
        postgres.psql(f"CREATE DATABASE {target_db}")
        from tests.support.postgres import _bin

        restored = subprocess.run([_bin("psql"), "-h", "127.0.0.1", "-p", str(postgres.port), "-U",
                                   "postgres", "-v", "ON_ERROR_STOP=1", "-q", "-f", dump, target_db],
                                  capture_output=True, text=True)
        assert restored.returncode == 0, restored.stderr
        schema = env.database.url.schema
        admin_ok(dest, "config", "set", "trac", "database",
                 postgres.url(schema=schema, db=target_db))
        copy = Environment(dest)
    try:
        copy.check_ready()
        copied = _check_consistent(copy, writer.written)
        assert copied < writer.written  # the writer went on after the snapshot
    finally:
        copy.shutdown()


def test_convert_to_a_new_environment_on_postgres(make_env, postgres, tmp_path):
    env = make_env("source", url="sqlite:db/trac.db")
    fill_sample_data(env, changes=50)
    original = table_contents(env)
    env.shutdown()
    pg_url = _schema_url(postgres)
    target = str(tmp_path / "on-postgres")
    out = admin_ok(env.path, "convert_db", pg_url, target)
    assert "Copying directories:" in out and "Copying tables:" in out
    copy = Environment(target)
    try:
        assert copy.config.get("trac", "database") == pg_url
        assert copy.database.dialect == "postgresql"
        assert table_contents(copy) == original
        copy.check_ready()
    finally:
        copy.shutdown()
    source = Environment(env.path)
    try:
        assert source.config.get("trac", "database") == "sqlite:db/trac.db"
        assert table_contents(source) == original
    finally:
        source.shutdown()
