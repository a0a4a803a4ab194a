"""Environments in the shape Trac 1.2 left them (database_version 41), to test upgrades.

Version 41 differs from 45 by: an ``ipnr`` column in ``attachment`` and ``wiki``, no
``description`` in ``enum``, default reports selecting ``description AS _description``
unqualified, and two trac.ini values written in the old style.
"""

from __future__ import annotations

import sqlalchemy as sa

from codeyard.db.schema import INT64, _table
from codeyard.env import Environment

OLD_POLICIES = "ReadonlyWikiPolicy, DefaultPermissionPolicy, LegacyAttachmentPolicy"
OLD_SUBJECT = "$prefix #$ticket.id: $summary"
NEW_SUBJECT = "${prefix} #${ticket.id}: ${summary}"

T0 = 1_500_000_000_000_000  # microseconds, mid-2017


def legacy_metadata() -> sa.MetaData:
    md = sa.MetaData()
    _table(md, "attachment", ("type", "id", "filename"), "type", "id", "filename",
           sa.Column("size", sa.Integer), sa.Column("time", INT64), "description", "author", "ipnr")
    _table(md, "wiki", ("name", "version"), "name", sa.Column("version", sa.Integer),
           sa.Column("time", INT64), "author", "ipnr", "text", "comment",
           sa.Column("readonly", sa.Integer), indexes=[("time",)])
    _table(md, "enum", ("type", "name"), "type", "name", "value")
    return md


# Report SQL as the Trac 1.2 defaults wrote it: `description` unqualified, though the
# enum table joined in later gets a description column of its own.
def _report(order: str, alias: str = "_description") -> str:
    return (
        "SELECT p.value AS __color__,\n"
        "   id AS ticket, summary, component, milestone, t.type AS type, owner, status,\n"
        f"   time AS created, changetime AS _changetime, description AS {alias},\n"
        "   reporter AS _reporter\n"
        "  FROM ticket t\n"
        "  LEFT JOIN enum p ON p.name = t.priority AND p.type = 'priority'\n"
        f"  WHERE status <> 'closed'\n  ORDER BY {order}"
    )


LEGACY_REPORTS = [
    (1, "Active Tickets", _report("CAST(p.value AS integer), milestone")),
    (2, "Active Tickets by Version", _report("version, CAST(p.value AS integer)")),
    (3, "Active Tickets by Milestone", _report("milestone, time")),
    (4, "Assigned, Active Tickets by Owner", _report("owner, time")),
    (5, "Assigned, Active Tickets by Owner (Full Description)",
     _report("owner, time", alias="_description_")),
    (6, "All Tickets By Milestone (Including closed)",
     "SELECT milestone AS __group__, id AS ticket, summary FROM ticket ORDER BY milestone"),
    (7, "My Tickets", _report("owner = $USER DESC, time")),
    (8, "Active Tickets, Mine first", _report("owner = $USER DESC, time")),
]


def make_trac12_environment(path: str, db_url: str) -> Environment:
    """A version-41 environment with some data in every table the upgrade touches."""
    env = Environment.create(path, [("project", "name", "Legacy"), ("trac", "database", db_url)])
    md = legacy_metadata()
    with env.db_transaction as db:
        for name in ("attachment", "wiki", "enum"):
            db(f"DROP TABLE {name}")
        md.create_all(db.conn)
        for name in db.table_names():
            if name.startswith("codeyard_"):
                db(f"DROP TABLE {db.quote(name)}")
        db("DELETE FROM system WHERE name='codeyard_version'")
        db("UPDATE system SET value='41' WHERE name IN ('database_version', "
           "'initial_database_version')")
        db.executemany("INSERT INTO enum (type, name, value) VALUES (%s, %s, %s)", [
            ("priority", "blocker", "1"), ("priority", "critical", "2"), ("priority", "major", "3"),
            ("priority", "minor", "4"), ("priority", "trivial", "5"),
            ("resolution", "fixed", "1"), ("resolution", "invalid", "2"),
            ("severity", "serious", "1"), ("ticket_type", "defect", "1"),
            ("ticket_type", "enhancement", "2"), ("ticket_type", "task", "3"),
        ])
        db.executemany(
            "INSERT INTO wiki (name, version, time, author, ipnr, text, comment, readonly) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", [
                ("WikiStart", 1, T0, "trac", "127.0.0.1", "= Welcome =\nFirst words.", "", 0),
                ("WikiStart", 2, T0 + 1, "alice", "10.0.0.2", "= Welcome =\nSecond words: é ü ✓.",
                 "typo", 0),
                ("Notes/Meeting", 1, T0 + 2, "bob", "10.0.0.3", "* one\n* two", "minutes", 1),
            ])
        db.executemany(
            "INSERT INTO attachment (type, id, filename, size, time, description, author, ipnr) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", [
                ("wiki", "WikiStart", "logo.png", 1234, T0 + 3, "the logo", "alice", "10.0.0.2"),
                ("ticket", "1", "trace.txt", 42, T0 + 4, "", "bob", "10.0.0.3"),
            ])
        db.executemany(
            "INSERT INTO ticket (id, type, time, changetime, component, priority, owner, reporter, "
            "milestone, status, summary, description) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", [
                (1, "defect", T0, T0 + 10, "core", "major", "alice", "bob", "m1", "new",
                 "It crashes", "Steps:\n 1. start\n 2. crash"),
                (2, "task", T0 + 5, T0 + 6, "docs", "minor", "", "carol", "", "closed",
                 "Write docs", ""),
            ])
        db.update_sequence("ticket")
        db("INSERT INTO ticket_change (ticket, time, author, field, oldvalue, newvalue) "
           "VALUES (1, %s, 'alice', 'comment', '1', 'Confirmed.')", (T0 + 10,))
        db("INSERT INTO milestone (name, due, completed, description) VALUES ('m1', %s, 0, 'first')",
           (T0 + 100,))
        db("INSERT INTO component (name, owner, description) VALUES ('core', 'alice', '')")
        db("DELETE FROM report")
        db.executemany("INSERT INTO report (id, author, title, query, description) "
                       "VALUES (%s, NULL, %s, %s, %s)",
                       [(i, title, query, f" * {title}.\n") for i, title, query in LEGACY_REPORTS])
        db.update_sequence("report")
    env.config.set("trac", "permission_policies", OLD_POLICIES)
    env.config.set("notification", "ticket_subject_template", OLD_SUBJECT)
    env.config.save()
    env.shutdown()
    return Environment(path)


def schema_shape(env: Environment) -> dict[str, tuple[list[str], list[str]]]:
    """Per table: its columns in order and the names of its indexes."""
    shape = {}
    with env.db_query as db:
        inspector = sa.inspect(db.conn)
        for name in db.table_names():
            columns = [c["name"] for c in inspector.get_columns(name)]
            indexes = sorted(i["name"] for i in inspector.get_indexes(name))
            shape[name] = (columns, indexes)
    return shape


def another_db_url(db_url: str) -> str:
    """A second database string next to ``db_url`` (a new schema on PostgreSQL)."""
    if db_url.startswith("postgres"):
        import uuid

        return db_url.rsplit("?", 1)[0] + "?schema=t_" + uuid.uuid4().hex[:12]
    return db_url
