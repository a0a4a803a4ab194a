"""component / milestone / version / enum / ticket commands through the real console."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime

import pytest

from codeyard.ticket import values
from tests.unit.admin.helpers import add_change, insert_ticket, snapshot, table_lines

pytestmark = pytest.mark.db


def _micro(*args) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp()) * 1_000_000


def _ticket_value(env, ticket_id, column):
    with env.db_query as db:
        return db(f"SELECT {column} FROM ticket WHERE id=%s", (ticket_id,))[0][0]


# ---------------------------------------------------------------------------
# Default data


def test_new_environment_has_trac_default_data(admin):
    assert table_lines(admin("component", "list").out) == [
        "Name        Owner", "--------------------",
        "component1  somebody", "component2  somebody"]
    assert table_lines(admin("milestone", "list").out) == [
        "Name        Due  Completed", "--------------------------",
        "milestone1", "milestone2", "milestone3", "milestone4"]
    assert table_lines(admin("version", "list").out) == [
        "Name  Time", "----------", "2.0", "1.0"]
    assert table_lines(admin("priority", "list").out)[2:] == [
        "blocker", "critical", "major", "minor", "trivial"]
    assert table_lines(admin("resolution", "list").out)[2:] == [
        "fixed", "invalid", "wontfix", "duplicate", "worksforme"]
    assert table_lines(admin("ticket_type", "list").out) == [
        "Possible Values", "---------------", "defect", "enhancement", "task"]
    result = admin("severity", "list")
    assert result.rc == 0 and table_lines(result.out) == ["Possible Values", "---------------"]


def test_default_rows_are_stored_as_trac_stores_them(env):
    with env.db_query as db:
        assert sorted(db("SELECT type, name, value FROM enum WHERE type='priority'")) == [
            ("priority", "blocker", "1"), ("priority", "critical", "2"),
            ("priority", "major", "3"), ("priority", "minor", "4"), ("priority", "trivial", "5")]
        assert sorted(db("SELECT name, due, completed FROM milestone")) == [
            (f"milestone{n}", 0, 0) for n in range(1, 5)]
        assert sorted(db("SELECT name, time FROM version")) == [("1.0", 0), ("2.0", 0)]


# ---------------------------------------------------------------------------
# Components


def test_component_add_chown_rename_remove(env, admin):
    ticket = insert_ticket(env, component="component1")
    other = insert_ticket(env, component="component2")
    assert admin("component", "add", "backend", "alice").rc == 0
    assert admin("component", "chown", "component1", "bob").rc == 0
    assert admin("component", "rename", "component1", "ui").rc == 0
    assert table_lines(admin("component", "list").out)[2:] == [
        "backend     alice", "component2  somebody", "ui          bob"]
    assert _ticket_value(env, ticket, "component") == "ui"
    assert _ticket_value(env, other, "component") == "component2"
    assert admin("component", "remove", "backend").rc == 0
    assert [c.name for c in values.list_components(env)] == ["component2", "ui"]


@pytest.mark.parametrize("args, message", [
    (("component", "add", "component1"), 'Component "component1" already exists.'),
    (("component", "add", "  "), "Invalid component name."),
    (("component", "rename", "nope", "x"), "Component nope does not exist."),
    (("component", "rename", "component1", "component2"), 'Component "component2" already exists.'),
    (("component", "rename", "component1", ""), "Invalid component name."),
    (("component", "remove", "nope"), "Component nope does not exist."),
    (("component", "chown", "nope", "bob"), "Component nope does not exist."),
])
def test_component_bad_input_writes_nothing(env, admin, args, message):
    insert_ticket(env, component="component1")
    before = snapshot(env)
    result = admin(*args)
    assert result.rc == 2
    assert result.err.strip() == f"Error: {message}"
    assert snapshot(env) == before


@pytest.mark.parametrize("args", [("component", "add"), ("component", "add", "a", "b", "c"),
                                  ("component", "rename", "component1"),
                                  ("priority", "order", "major")])
def test_wrong_argument_count_shows_usage(env, admin, args):
    before = snapshot(env)
    result = admin(*args)
    assert result.rc == 2
    assert "Error: Invalid arguments" in result.err
    assert result.out.strip().splitlines()[0].startswith(" ".join(args[:2]) + " <")
    assert snapshot(env) == before


# ---------------------------------------------------------------------------
# Milestones


def test_milestone_dates_list_and_order(env, admin):
    assert admin("milestone", "add", "m5", "2030-01-05").rc == 0
    assert admin("milestone", "completed", "milestone2", "2020-01-02T10:00:00+00:00").rc == 0
    assert admin("milestone", "due", "milestone1", "2029-12-01").rc == 0
    milestone2 = values.get_milestone(env, "milestone2")
    assert milestone2.completed == _micro(2020, 1, 2, 10)
    lines = table_lines(admin("milestone", "list").out)
    assert lines[0] == "Name        Due         Completed"
    names = [line.split()[0] for line in lines[2:]]
    # completed first, then by due date, then the rest in natural order
    assert names == ["milestone2", "milestone1", "m5", "milestone3", "milestone4"]
    assert lines[3].split() == ["milestone1", "2029-12-01"]
    assert admin("milestone", "due", "milestone1", "").rc == 0
    with env.db_query as db:
        assert db("SELECT due FROM milestone WHERE name='milestone1'") == [(0,)]


@pytest.mark.parametrize("args, message", [
    (("milestone", "add", "m9", "not a date"), '"not a date" is an invalid date'),
    (("milestone", "add", "milestone1"), 'Milestone "milestone1" already exists.'),
    (("milestone", "add", " "), "Invalid milestone name."),
    (("milestone", "due", "nope", "2020-01-01"), "Milestone nope does not exist."),
    (("milestone", "due", "milestone1", "13/45/2020x"), "is an invalid date"),
    (("milestone", "completed", "milestone1", "yesterdayish"), "is an invalid date"),
    (("milestone", "rename", "milestone1", "milestone2"), 'Milestone "milestone2" already exists.'),
    (("milestone", "remove", "nope"), "Milestone nope does not exist."),
])
def test_milestone_bad_input_writes_nothing(env, admin, args, message):
    insert_ticket(env, milestone="milestone1")
    before = snapshot(env)
    result = admin(*args)
    assert result.rc == 2
    assert result.err.startswith("Error: ") and message in result.err
    assert snapshot(env) == before


def test_milestone_rename_moves_tickets_with_history_and_attachments(env, admin):
    first = insert_ticket(env, milestone="milestone1")
    second = insert_ticket(env, milestone="milestone1")
    untouched = insert_ticket(env, milestone="milestone2")
    add_change(env, first, 2_000_000, "bob", "comment", "1", "earlier comment")
    folder = os.path.join(env.attachments_dir, "milestone",
                          hashlib.sha1(b"milestone1").hexdigest()[:3],
                          hashlib.sha1(b"milestone1").hexdigest())
    stored_name = hashlib.sha1(b"a.txt").hexdigest() + ".txt"
    os.makedirs(folder)
    with open(os.path.join(folder, stored_name), "w") as fh:
        fh.write("x")
    with env.db_transaction as db:
        db("INSERT INTO attachment (type, id, filename, size, time, description, author) "
           "VALUES ('milestone', 'milestone1', 'a.txt', 1, 1, '', 'bob')")

    assert admin("milestone", "rename", "milestone1", "1.0 beta").rc == 0

    assert _ticket_value(env, first, "milestone") == "1.0 beta"
    assert _ticket_value(env, second, "milestone") == "1.0 beta"
    assert _ticket_value(env, untouched, "milestone") == "milestone2"
    with env.db_query as db:
        rows = db("SELECT ticket, field, oldvalue, newvalue FROM ticket_change "
                  "WHERE time > 2000000 ORDER BY ticket, field")
        assert rows == [
            (first, "comment", "2", "Milestone renamed"),
            (first, "milestone", "milestone1", "1.0 beta"),
            (second, "comment", "1", "Milestone renamed"),
            (second, "milestone", "milestone1", "1.0 beta")]
        assert db("SELECT id FROM attachment WHERE type='milestone'") == [("1.0 beta",)]
    digest = hashlib.sha1(b"1.0 beta").hexdigest()
    moved = os.path.join(env.attachments_dir, "milestone", digest[:3], digest, stored_name)
    assert os.path.isfile(moved) and not os.path.exists(folder)
    assert [m.name for m in values.list_milestones(env)][:1] == ["1.0 beta"]


def test_milestone_remove(env, admin):
    ticket = insert_ticket(env, milestone="milestone3")
    assert admin("milestone", "remove", "milestone3").rc == 0
    assert "milestone3" not in [m.name for m in values.list_milestones(env)]
    assert _ticket_value(env, ticket, "milestone") == "milestone3"  # as Trac: tickets keep it


# ---------------------------------------------------------------------------
# Versions


def test_version_add_time_rename_remove(env, admin):
    ticket = insert_ticket(env, version="1.0")
    assert admin("version", "add", "3.0", "2020-01-01").rc == 0
    assert admin("version", "add", "1.10").rc == 0
    assert table_lines(admin("version", "list").out) == [
        "Name  Time", "----------------", "2.0", "1.10", "1.0", "3.0   2020-01-01"]
    assert admin("version", "time", "1.0", "2019-05-01").rc == 0
    assert admin("version", "time", "3.0", "").rc == 0
    assert values.get_version(env, "3.0").time is None
    assert admin("version", "rename", "1.0", "1.0.1").rc == 0
    assert _ticket_value(env, ticket, "version") == "1.0.1"
    assert admin("version", "remove", "2.0").rc == 0
    assert [v.name for v in values.list_versions(env)] == ["3.0", "1.10", "1.0.1"]


@pytest.mark.parametrize("args, message", [
    (("version", "add", "1.0"), 'Version "1.0" already exists.'),
    (("version", "add", "4.0", "someday"), "is an invalid date"),
    (("version", "time", "9.9", "2020-01-01"), "Version 9.9 does not exist."),
    (("version", "time", "1.0", "someday"), "is an invalid date"),
    (("version", "rename", "1.0", "2.0"), 'Version "2.0" already exists.'),
    (("version", "rename", "9.9", "x"), "Version 9.9 does not exist."),
    (("version", "remove", "9.9"), "Version 9.9 does not exist."),
])
def test_version_bad_input_writes_nothing(env, admin, args, message):
    insert_ticket(env, version="1.0")
    before = snapshot(env)
    result = admin(*args)
    assert result.rc == 2 and message in result.err
    assert snapshot(env) == before


# ---------------------------------------------------------------------------
# Enums


def test_enum_add_change_order_remove(env, admin):
    ticket = insert_ticket(env, priority="major", type="defect")
    assert admin("priority", "add", "someday").rc == 0
    assert values.get_enum(env, "priority", "someday").value == "6"
    assert admin("priority", "change", "major", "normal").rc == 0
    assert _ticket_value(env, ticket, "priority") == "normal"
    assert admin("priority", "order", "normal", "up").rc == 0
    assert admin("priority", "order", "blocker", "up").rc == 0  # already first: no change
    assert admin("priority", "order", "trivial", "down").rc == 0
    assert table_lines(admin("priority", "list").out)[2:] == [
        "blocker", "normal", "critical", "minor", "someday", "trivial"]
    assert admin("priority", "remove", "critical").rc == 0
    assert [(e.name, e.value) for e in values.list_enum(env, "priority")] == [
        ("blocker", "1"), ("normal", "2"), ("minor", "3"), ("someday", "4"), ("trivial", "5")]
    assert admin("ticket_type", "change", "defect", "bug").rc == 0
    assert _ticket_value(env, ticket, "type") == "bug"
    assert admin("severity", "add", "serious").rc == 0
    assert admin("severity", "add", "light").rc == 0
    assert [e.name for e in values.list_enum(env, "severity")] == ["serious", "light"]


def test_enum_rename_leaves_other_fields_alone(env, admin):
    ticket = insert_ticket(env, resolution="fixed", priority="fixed")
    assert admin("resolution", "change", "fixed", "done").rc == 0
    assert _ticket_value(env, ticket, "resolution") == "done"
    assert _ticket_value(env, ticket, "priority") == "fixed"


@pytest.mark.parametrize("args, message", [
    (("priority", "add", "major"), 'Priority value "major" already exists.'),
    (("priority", "add", ""), "Invalid priority name."),
    (("priority", "change", "nope", "x"), "Priority nope does not exist."),
    (("priority", "change", "major", "minor"), 'Priority value "minor" already exists.'),
    (("priority", "order", "major", "sideways"), "Invalid up/down value: sideways"),
    (("priority", "order", "nope", "up"), "Priority nope does not exist."),
    (("severity", "remove", "nope"), "Severity nope does not exist."),
    (("ticket_type", "change", "nope", "x"), "Ticket Type nope does not exist."),
])
def test_enum_bad_input_writes_nothing(env, admin, args, message):
    insert_ticket(env, priority="major")
    before = snapshot(env)
    result = admin(*args)
    assert result.rc == 2
    assert result.err.strip() == f"Error: {message}"
    assert snapshot(env) == before


# ---------------------------------------------------------------------------
# Tickets


def _attach(env, ticket_id: int) -> str:
    digest = hashlib.sha1(str(ticket_id).encode()).hexdigest()
    folder = os.path.join(env.attachments_dir, "ticket", digest[:3], digest)
    os.makedirs(folder)
    with open(os.path.join(folder, hashlib.sha1(b"a.txt").hexdigest() + ".txt"), "w") as fh:
        fh.write("data")
    with env.db_transaction as db:
        db("INSERT INTO attachment (type, id, filename, size, time, description, author) "
           "VALUES ('ticket', %s, 'a.txt', 4, 1, '', 'bob')", (str(ticket_id),))
    return folder


def test_ticket_remove_takes_everything_of_that_ticket_only(env, admin):
    doomed = insert_ticket(env)
    kept = insert_ticket(env)
    for ticket in (doomed, kept):
        add_change(env, ticket, 5_000_000, "bob", "comment", "1", "hello")
        with env.db_transaction as db:
            db("INSERT INTO ticket_custom (ticket, name, value) VALUES (%s, 'x', 'y')", (ticket,))
    folder = _attach(env, doomed)
    kept_folder = _attach(env, kept)
    result = admin("ticket", "remove", str(doomed))
    assert result.rc == 0
    assert result.out.strip() == f"Ticket #{doomed} and all associated data removed."
    with env.db_query as db:
        assert db("SELECT id FROM ticket") == [(kept,)]
        assert db("SELECT DISTINCT ticket FROM ticket_change") == [(kept,)]
        assert db("SELECT ticket FROM ticket_custom") == [(kept,)]
        assert db("SELECT id FROM attachment") == [(str(kept),)]
    assert not os.path.exists(folder)
    assert os.path.isdir(kept_folder)


@pytest.mark.parametrize("args, message", [
    (("ticket", "remove", "x"), "<ticket#> must be a number"),
    (("ticket", "remove", "999"), "Ticket 999 does not exist."),
    (("ticket", "remove_comment", "x", "1"), "<ticket#> must be a number"),
    (("ticket", "remove_comment", "1", "x"), "<comment#> must be a number"),
    (("ticket", "remove_comment", "999", "1"), "Ticket 999 does not exist."),
    (("ticket", "remove_comment", "1", "9"), "Comment 9 not found"),
])
def test_ticket_bad_input_writes_nothing(env, admin, args, message):
    ticket = insert_ticket(env)
    assert ticket == 1
    add_change(env, ticket, 5_000_000, "bob", "comment", "1", "hello")
    before = snapshot(env)
    result = admin(*args)
    assert result.rc == 2
    assert result.err.strip() == f"Error: {message}"
    assert snapshot(env) == before


def test_remove_comment_undoes_that_change_only(env, admin):
    ticket = insert_ticket(env, priority="trivial", changetime=4_000_000)
    other = insert_ticket(env)
    t1, t2, t3 = 1_000_000_000, 2_000_000_000, 3_000_000_000
    add_change(env, ticket, t1, "bob", "priority", "major", "minor")
    add_change(env, ticket, t1, "bob", "comment", "1", "c1")
    add_change(env, ticket, t2, "bob", "priority", "minor", "trivial")
    add_change(env, ticket, t2, "bob", "comment", "2", "edited c2")
    add_change(env, ticket, t2, "alice", "_comment0", "c2", "2500000000")
    add_change(env, ticket, t3, "bob", "comment", "3", "c3")
    add_change(env, other, t2, "bob", "comment", "2", "other ticket")
    result = admin("ticket", "remove_comment", str(ticket), "2")
    assert result.rc == 0
    assert result.out.strip() == f"The ticket comment 2 on ticket #{ticket} has been deleted."
    with env.db_query as db:
        assert sorted(db("SELECT time, field, oldvalue, newvalue FROM ticket_change "
                         "WHERE ticket=%s", (ticket,))) == [
            (t1, "comment", "1", "c1"), (t1, "priority", "major", "minor"),
            (t3, "comment", "3", "c3")]
        assert db("SELECT newvalue FROM ticket_change WHERE ticket=%s", (other,)) == [
            ("other ticket",)]
    assert _ticket_value(env, ticket, "priority") == "minor"
    assert _ticket_value(env, ticket, "changetime") > 4_000_000


def test_remove_comment_fixes_the_next_change_of_a_field(env, admin):
    ticket = insert_ticket(env, owner="carol")
    add_change(env, ticket, 10, "bob", "owner", "alice", "bob")
    add_change(env, ticket, 10, "bob", "comment", "1", "")
    add_change(env, ticket, 20, "bob", "owner", "bob", "carol")
    add_change(env, ticket, 20, "bob", "comment", "2", "")
    assert admin("ticket", "remove_comment", str(ticket), "1").rc == 0
    with env.db_query as db:
        assert db("SELECT oldvalue, newvalue FROM ticket_change WHERE field='owner'") == [
            ("alice", "carol")]
    assert _ticket_value(env, ticket, "owner") == "carol"


def test_reply_comment_numbers_are_found(env, admin):
    ticket = insert_ticket(env)
    add_change(env, ticket, 10, "bob", "comment", "1", "first")
    add_change(env, ticket, 20, "ann", "comment", "1.2", "a reply")
    assert admin("ticket", "remove_comment", str(ticket), "2").rc == 0
    with env.db_query as db:
        assert db("SELECT newvalue FROM ticket_change") == [("first",)]


def test_help_lists_the_ticket_commands(admin):
    out = admin("help").out
    for name in ("component add", "milestone completed", "version time", "priority order",
                 "severity change", "resolution remove", "ticket_type list", "ticket remove_comment"):
        assert name in out
    assert "ticket_type order <value> up|down" in admin("help", "ticket_type", "order").out


def test_interactive_completion_of_names_and_directions(env):
    from codeyard.admin.api import AdminContext
    from codeyard.admin.console import Shell

    shell = Shell(AdminContext(env.path, interactive=True))
    try:
        def complete(line: str) -> list[str]:
            text = line.rsplit(" ", 1)[-1]
            return shell.completedefault(text, line, len(line) - len(text), len(line))

        assert complete("component rename comp") == ["component1", "component2"]
        assert complete("component rename component1 ") == []
        assert complete("priority order ma") == ["major"]
        assert complete("priority order major ") == ["down", "up"]
        assert complete("milestone due mile") == [f"milestone{n}" for n in range(1, 5)]
    finally:
        shell.ctx.opened_env().shutdown()
