"""How codeyard opens a SQLite database: WAL, and reads through a memory map."""

from __future__ import annotations

from codeyard.db.api import SQLITE_MMAP_SIZE


def test_connections_read_through_a_memory_map(make_env):
    env = make_env(url="sqlite:db/trac.db")
    with env.database.engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw.execute("PRAGMA mmap_size").fetchone()[0] == SQLITE_MMAP_SIZE
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with env.db_transaction as db:
        db("INSERT INTO system (name, value) VALUES ('mapped', '1')")
    with env.db_query as db:  # what was written is read back through the map
        assert db("SELECT value FROM system WHERE name='mapped'") == [("1",)]
