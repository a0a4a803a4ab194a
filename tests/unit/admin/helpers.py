"""Shared helpers of the admin command tests."""

from __future__ import annotations

SNAPSHOT_TABLES = ("enum", "component", "milestone", "version", "ticket", "ticket_change",
                   "ticket_custom", "attachment", "permission", "session", "session_attribute",
                   "report")


def snapshot(env) -> dict[str, list[tuple]]:
    """Every row of the tables the admin commands write, in a stable order."""
    with env.db_query as db:
        return {table: sorted(db(f"SELECT * FROM {table}"), key=repr) for table in SNAPSHOT_TABLES}


def insert_ticket(env, **fields) -> int:
    values = {"summary": "a ticket", "status": "new", "reporter": "someone", "time": 1_000_000,
              "changetime": 1_000_000, **fields}
    names = list(values)
    with env.db_transaction as db:
        db(f"INSERT INTO ticket ({', '.join(names)}) VALUES ({', '.join(['%s'] * len(names))})",
           [values[n] for n in names])
        return db.last_id("ticket")


def add_change(env, ticket: int, time: int, author: str, field: str, old, new) -> None:
    with env.db_transaction as db:
        db("INSERT INTO ticket_change (ticket, time, author, field, oldvalue, newvalue) "
           "VALUES (%s, %s, %s, %s, %s, %s)", (ticket, time, author, field, old, new))


def table_lines(out: str) -> list[str]:
    """The lines of a printed table, without the blank lines around it."""
    return [line.rstrip() for line in out.strip("\n").splitlines()]
