"""Sample data in every kind of table, and whole-database comparison."""

from __future__ import annotations

import re
from typing import Any

T0 = 1_600_000_000_000_000

PLUGIN_TABLE = "tracplugin_votes"


def fill_sample_data(env, changes: int = 1200) -> None:
    """Rows in the Trac tables (more than one copy batch), plus a table no schema knows."""
    with env.db_transaction as db:
        db.executemany(
            "INSERT INTO ticket (id, type, time, changetime, component, priority, owner, reporter, "
            "status, summary, description, keywords) VALUES (%s, 'defect', %s, %s, 'core', "
            "'major', 'alice', 'bob', 'new', %s, %s, '')",
            [(i, T0 + i, T0 + 2 * i, f"Ticket {i} ✓", f"Body of {i}\n{{{{{{\ncode\n}}}}}}")
             for i in range(1, 41)])
        db.update_sequence("ticket")
        db.executemany(
            "INSERT INTO ticket_change (ticket, time, author, field, oldvalue, newvalue) "
            "VALUES (%s, %s, %s, 'comment', %s, %s)",
            [(1 + i % 40, T0 + 1000 + i, "carol", str(i), f"comment {i} — ünïcode")
             for i in range(changes)])
        db.executemany("INSERT INTO ticket_custom (ticket, name, value) VALUES (%s, %s, %s)",
                       [(i, "estimate", str(i * 1.5)) for i in range(1, 41)])
        db.executemany(
            "INSERT INTO wiki (name, version, time, author, text, comment, readonly) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s)",
            [("Notes/Page%d" % i, v, T0 + i * 10 + v, "dave", f"= Page {i} v{v} =\n日本語", "", 0)
             for i in range(5) for v in (1, 2)])
        db("INSERT INTO milestone (name, due, completed, description) VALUES "
           "('1.0', %s, 0, 'first'), ('2.0', NULL, NULL, NULL)", (T0 + 10**12,))
        db("INSERT INTO component (name, owner, description) VALUES ('core', 'alice', 'the core')")
        db("INSERT INTO version (name, time, description) VALUES ('0.9', %s, '')", (T0,))
        db("INSERT INTO attachment (type, id, filename, size, time, description, author) "
           "VALUES ('ticket', '1', 'log.txt', 10, %s, 'a log', 'bob')", (T0,))
        db("INSERT INTO session (sid, authenticated, last_visit) VALUES ('alice', 1, %s)", (T0 // 1_000_000,))
        db("INSERT INTO session_attribute (sid, authenticated, name, value) "
           "VALUES ('alice', 1, 'email', 'alice@example.org')")
        db("INSERT INTO report (author, title, query, description) VALUES ('alice', 'By prio', "
           "'SELECT id AS ticket FROM ticket t LEFT JOIN enum p ON p.name = t.priority "
           "ORDER BY CAST(p.value AS integer)', 'sorted')")
        key = "INTEGER PRIMARY KEY" if db.dialect == "sqlite" else "SERIAL PRIMARY KEY"
        db(f"CREATE TABLE {PLUGIN_TABLE} (id {key}, resource TEXT, votes INTEGER)")
        db(f"CREATE INDEX {PLUGIN_TABLE}_resource_idx ON {PLUGIN_TABLE} (resource)")
        db.executemany(f"INSERT INTO {PLUGIN_TABLE} (resource, votes) VALUES (%s, %s)",
                       [(f"ticket:{i}", i) for i in range(1, 11)])


_CAST = re.compile(r"\bCAST\((\S+) AS (?:integer|int|bigint)\)", re.IGNORECASE)


def _key(row: tuple) -> list:
    return [(v is None, type(v).__name__, v if v is not None else 0) for v in row]


def table_contents(env) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
    """Every table: its column names (sorted) and all its rows in a stable order. Derived
    tables (the search index) are left out: copies rebuild them rather than copy them."""
    out = {}
    derived = env.derived_tables()
    with env.db_query as db:
        for table in db.table_names():
            if table in derived:
                continue
            columns = sorted(db.column_names(table))
            cols = ", ".join(db.quote(c) for c in columns)
            rows = [tuple(r) for r in db(f"SELECT {cols} FROM {db.quote(table)}")]
            if table == "report" and "query" in columns:
                # Report SQL spells integer casts per engine; compare it engine-neutrally.
                q = columns.index("query")
                rows = [r[:q] + (_CAST.sub(r"CAST(\1 AS int)", r[q] or ""),) + r[q + 1:]
                        for r in rows]
            out[table] = (columns, sorted(rows, key=_key))
    return out


def cache_rows(env, repos_id: int) -> dict[str, list]:
    """A repository's changeset cache, sorted: its ``revision`` and ``node_change`` rows and
    its ``repository_dir`` and ``youngest_rev`` metadata (to compare two programs' syncs)."""
    with env.db_query as db:
        return {
            "revision": sorted(db("SELECT rev, time, author, message FROM revision "
                                  "WHERE repos=%s", (repos_id,))),
            "node_change": sorted(db("SELECT rev, path, node_type, change_type, base_path, "
                                     "base_rev FROM node_change WHERE repos=%s", (repos_id,)),
                                  key=repr),
            "metadata": sorted(db("SELECT name, value FROM repository WHERE id=%s "
                                  "AND name IN ('repository_dir', 'youngest_rev')",
                                  (repos_id,))),
        }
