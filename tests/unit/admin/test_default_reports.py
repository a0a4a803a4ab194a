"""The eight default reports: titles as in Trac, and SQL that runs on the project's database."""

from __future__ import annotations

import pytest

from tests.unit.admin.helpers import add_change, insert_ticket

pytestmark = pytest.mark.db

TRAC_TITLES = [
    "Active Tickets",
    "Active Tickets by Version",
    "Active Tickets by Milestone",
    "Accepted, Active Tickets by Owner",
    "Accepted, Active Tickets by Owner (Full Description)",
    "All Tickets By Milestone  (Including closed)",
    "My Tickets",
    "Active Tickets, Mine first",
]


def _run(env, sql: str, user: str) -> tuple[list[str], list[tuple]]:
    # The report engine binds $USER as a parameter; do the same here.
    count = sql.count("$USER")
    with env.db_query as db:
        return db.cursor_description(sql.replace("$USER", "%s"), (user,) * count or None)


@pytest.fixture
def tickets(env):
    ids = {
        "mine_accepted": insert_ticket(env, owner="alice", status="accepted", priority="major",
                                       milestone="milestone1", version="1.0", time=10),
        "mine_new": insert_ticket(env, owner="alice", status="new", priority="blocker",
                                  milestone="milestone2", time=20),
        "reported": insert_ticket(env, owner="bob", reporter="alice", status="new",
                                  priority="minor", time=30),
        "commented": insert_ticket(env, owner="bob", status="assigned", priority="trivial",
                                   milestone="milestone1", version="2.0", time=40),
        "closed": insert_ticket(env, owner="alice", status="closed", resolution="fixed",
                                priority="critical", milestone="milestone1", time=50),
        "others": insert_ticket(env, owner="carol", status="accepted", priority="critical",
                                time=60),
    }
    add_change(env, ids["commented"], 100, "alice", "comment", "1", "me too")
    return ids


def test_reports_have_trac_titles_and_descriptions(env):
    with env.db_query as db:
        rows = db("SELECT id, title, description, query FROM report ORDER BY id")
    assert [r[0] for r in rows] == list(range(1, 9))
    assert [r[1] for r in rows] == TRAC_TITLES
    assert all(r[2].strip() and r[3].strip().upper().startswith("SELECT") for r in rows)
    per_user = {r[0] for r in rows if "$USER" in r[3]}
    assert per_user == {6, 7, 8}


def test_every_report_runs(env, tickets):
    with env.db_query as db:
        reports = db("SELECT id, query FROM report ORDER BY id")
    expected_counts = {1: 5, 2: 5, 3: 5, 4: 2, 5: 2, 6: 6, 7: 4, 8: 5}
    for report_id, sql in reports:
        columns, rows = _run(env, sql, "alice")
        assert columns[0] == "__color__", report_id
        assert "ticket" in columns, report_id
        assert len(rows) == expected_counts[report_id], report_id


def test_active_tickets_are_ordered_by_priority(env, tickets):
    with env.db_query as db:
        sql = db("SELECT query FROM report WHERE id=1")[0][0]
    columns, rows = _run(env, sql, "alice")
    ids = [row[columns.index("ticket")] for row in rows]
    assert ids == [tickets[k] for k in ("mine_new", "others", "mine_accepted", "reported",
                                        "commented")]
    assert [row[0] for row in rows] == ["1", "2", "3", "4", "5"]


def test_my_tickets_groups_by_relation(env, tickets):
    with env.db_query as db:
        sql = db("SELECT query FROM report WHERE id=7")[0][0]
    columns, rows = _run(env, sql, "alice")
    got = [(row[columns.index("__group__")], row[columns.index("ticket")]) for row in rows]
    assert got == [("Accepted", tickets["mine_accepted"]), ("Owned", tickets["mine_new"]),
                   ("Reported", tickets["reported"]), ("Commented", tickets["commented"])]
    _, rows = _run(env, sql, "nobody")
    assert rows == []

def test_mine_first_and_milestone_report(env, tickets):
    with env.db_query as db:
        mine_first = db("SELECT query FROM report WHERE id=8")[0][0]
        by_milestone = db("SELECT query FROM report WHERE id=6")[0][0]
    columns, rows = _run(env, mine_first, "alice")
    groups = [row[columns.index("__group__")] for row in rows]
    assert groups == ["My Tickets", "My Tickets", "Active Tickets", "Active Tickets",
                      "Active Tickets"]
    columns, rows = _run(env, by_milestone, "alice")
    styled = {row[columns.index("ticket")]: row[columns.index("__style__")] for row in rows}
    assert "bold" in styled[tickets["mine_new"]]
    assert "color" in styled[tickets["closed"]]
    assert styled[tickets["others"]] is None
    in_milestone1 = [row[columns.index("ticket")] for row in rows
                     if row[columns.index("__group__")] == "milestone1"]
    assert in_milestone1[-1] == tickets["closed"]  # closed tickets last in their group
