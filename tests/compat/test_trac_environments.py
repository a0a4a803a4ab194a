"""Both directions with the real Trac 1.6: a project made by codeyard works in Trac, and one
made by Trac works in codeyard — on the leg's database engine (SQLite, or PostgreSQL)."""

from __future__ import annotations

import os
import textwrap

import pytest

from codeyard.env import Environment
from tests.support.admin_cli import admin_ok, run_admin

pytestmark = pytest.mark.db

# Commands whose output both programs must print identically for the same project.
LIST_COMMANDS = [
    ("component", "list"), ("milestone", "list"), ("version", "list"), ("priority", "list"),
    ("severity", "list"), ("resolution", "list"), ("ticket_type", "list"),
    ("session", "list"), ("wiki", "list"),
]

WIKI_TEXT = "= Imported =\n\nSome ''text'' with ünïcode, a link to #1 and WikiStart.\n"
ATTACHMENT = b"line one\nline two \xe2\x9c\x93\n"


def _split_permissions(text: str) -> tuple[str, set[str]]:
    """The grants table, and the set of available actions listed after it."""
    table, _, actions = text.partition("Available actions:")
    return table.strip(), {a.strip() for a in actions.replace("\n", " ").split(",") if a.strip()}


def _assert_same_output(trac, path: str) -> None:
    for command in LIST_COMMANDS:
        ours = admin_ok(path, *command)
        theirs = trac.out(path, *command)
        assert ours == theirs, f"{' '.join(command)}:\n--- codeyard\n{ours}\n--- trac\n{theirs}"
    ours_table, ours_actions = _split_permissions(admin_ok(path, "permission", "list"))
    trac_table, trac_actions = _split_permissions(trac.out(path, "permission", "list"))
    assert ours_table == trac_table
    # codeyard's additions: pushing, and XML_RPC as Trac's XmlRpcPlugin names it.
    assert ours_actions - trac_actions == {"REPOSITORY_PUSH", "XML_RPC"}
    assert trac_actions <= ours_actions


def _rows(output: str) -> list[list[str]]:
    """The data rows of a trac-admin table, cells split on runs of two spaces."""
    lines = [line for line in output.splitlines() if line.strip()]
    dash = next(i for i, line in enumerate(lines) if set(line) == {"-"})
    return [[cell.strip() for cell in line.split("  ") if cell.strip()] for line in lines[dash + 1:]]


def test_a_project_made_by_codeyard_reads_back_in_trac(trac, tmp_path, db_url):
    path = str(tmp_path / "made-by-codeyard")
    admin_ok(path, "initenv", "Made by codeyard", db_url)
    for command in [
        ("component", "add", "core", "alice"),
        ("component", "chown", "component1", "carol"),
        ("component", "rename", "component2", "web"),
        ("milestone", "add", "v1.0", "2030-01-15"),
        ("milestone", "due", "milestone1", "2031-06-01"),
        ("milestone", "completed", "milestone2", "2024-01-01"),
        ("version", "add", "3.0", "2029-03-01"),
        ("version", "rename", "1.0", "1.0.1"),
        ("priority", "add", "urgent"),
        ("priority", "order", "urgent", "up"),
        ("priority", "change", "trivial", "cosmetic"),
        ("severity", "add", "critical"),
        ("ticket_type", "add", "question"),
        ("resolution", "remove", "worksforme"),
        ("permission", "add", "alice", "TRAC_ADMIN"),
        ("permission", "add", "developers", "TICKET_MODIFY", "WIKI_ADMIN"),
        ("permission", "add", "bob", "developers"),
        ("permission", "remove", "anonymous", "TIMELINE_VIEW"),
        ("session", "add", "alice:1", "Alice Liddell", "alice@example.org"),
        ("session", "add", "bob:1", "Bob", "bob@example.org"),
        ("session", "set", "email", "bob:1", "b@example.org"),
        ("session", "add", "anon123:0"),
        ("config", "set", "project", "descr", "Compatibility test"),
    ]:
        admin_ok(path, *command)
    page = tmp_path / "page.txt"
    page.write_text(WIKI_TEXT, encoding="utf-8")
    admin_ok(path, "wiki", "import", "Extra/Page", str(page))
    attachment = tmp_path / "notes.txt"
    attachment.write_bytes(ATTACHMENT)
    admin_ok(path, "attachment", "add", "wiki:WikiStart", str(attachment), "alice", "some notes")

    _assert_same_output(trac, path)

    # The data itself, as Trac reads it.
    components = {row[0]: row[1:] for row in _rows(trac.out(path, "component", "list"))}
    assert components["core"] == ["alice"] and components["component1"] == ["carol"]
    assert "web" in components and "component2" not in components
    milestones = {row[0]: row[1:] for row in _rows(trac.out(path, "milestone", "list"))}
    assert milestones["v1.0"] == ["2030-01-15"]
    assert milestones["milestone1"] == ["2031-06-01"]
    assert milestones["milestone2"] == ["2024-01-01 00:00:00"]  # no due date; completed
    versions = {row[0]: row[1:] for row in _rows(trac.out(path, "version", "list"))}
    assert versions["3.0"] == ["2029-03-01"] and "1.0.1" in versions
    priorities = [row[0] for row in _rows(trac.out(path, "priority", "list"))]
    assert priorities == ["blocker", "critical", "major", "minor", "urgent", "cosmetic"]
    assert "critical" in [r[0] for r in _rows(trac.out(path, "severity", "list"))]
    assert "question" in [r[0] for r in _rows(trac.out(path, "ticket_type", "list"))]
    assert "worksforme" not in trac.out(path, "resolution", "list")
    grants = {tuple(row) for row in _rows(_split_permissions(trac.out(path, "permission", "list"))[0])}
    assert {("alice", "TRAC_ADMIN"), ("bob", "developers"), ("developers", "TICKET_MODIFY"),
            ("developers", "WIKI_ADMIN")} <= grants
    assert ("anonymous", "TIMELINE_VIEW") not in grants and ("anonymous", "WIKI_VIEW") in grants
    sessions = {row[0]: row[1:] for row in _rows(trac.out(path, "session", "list"))}
    # SID, Auth, Last Visit, Name, Email
    assert sessions["alice"][0] == "1" and sessions["alice"][2:] == ["Alice Liddell", "alice@example.org"]
    assert sessions["bob"][2:] == ["Bob", "b@example.org"]
    assert sessions["anon123"][0] == "0"
    pages = [row[0] for row in _rows(trac.out(path, "wiki", "list"))]
    for name in ("WikiStart", "WikiFormatting", "TracGuide", "TracLinks", "TracTickets",
                 "TracAdmin", "TracIni", "WikiMacros", "TracQuery", "TracWorkflow",
                 "TracInstall", "SandBox", "Extra/Page"):
        assert name in pages
    assert trac.out(path, "wiki", "export", "Extra/Page") == WIKI_TEXT + "\n"
    assert trac.out(path, "config", "get", "project", "descr") == "Compatibility test\n"
    assert trac.out(path, "config", "get", "trac", "database") == db_url + "\n"
    exported = trac.admin(path, "attachment", "export", "wiki:WikiStart", "notes.txt")
    assert exported.stdout.encode("utf-8") == ATTACHMENT

    assert "Database is up to date, no upgrade necessary." in trac.out(path, "upgrade")
    # And Trac's own write path works on it: a change made by Trac reads back in codeyard.
    trac.admin(path, "component", "add", "from-trac", "dave")
    assert ["from-trac", "dave"] in _rows(admin_ok(path, "component", "list"))


_TRAC_TICKET_SCRIPT = textwrap.dedent("""
    import sys
    from trac.env import Environment
    from trac.ticket.model import Ticket

    env = Environment(sys.argv[1])
    ticket = Ticket(env)
    ticket.populate({"summary": "Made in Trac", "reporter": "alice", "owner": "bob",
                     "component": "core", "milestone": "v1.0", "priority": "major",
                     "description": "The description ✓", "keywords": "compat"})
    ticket.insert()
    ticket["status"] = "accepted"
    ticket.save_changes("bob", "I will look at it.")
    ticket.save_changes("alice", "Thanks!")
    print(ticket.id)
""")


def test_a_project_made_by_trac_opens_in_codeyard(trac, tmp_path, db_url):
    path = str(tmp_path / "made-by-trac")
    trac.admin(path, "initenv", "Made by Trac", db_url)
    for command in [
        ("component", "add", "core", "alice"),
        ("component", "remove", "component2"),
        ("milestone", "add", "v1.0", "2030-01-15"),
        ("milestone", "completed", "milestone2", "2024-01-01"),
        ("version", "add", "3.0", "2029-03-01"),
        ("priority", "add", "urgent"),
        ("severity", "add", "critical"),
        ("permission", "add", "alice", "TRAC_ADMIN"),
        ("permission", "add", "developers", "TICKET_MODIFY", "WIKI_ADMIN"),
        ("permission", "add", "bob", "developers"),
        ("session", "add", "alice:1", "Alice Liddell", "alice@example.org"),
        ("session", "add", "anon123:0"),
    ]:
        trac.admin(path, *command)
    page = tmp_path / "page.txt"
    page.write_text(WIKI_TEXT, encoding="utf-8")
    trac.admin(path, "wiki", "import", "Imported/Page", str(page))
    attachment = tmp_path / "notes.txt"
    attachment.write_bytes(ATTACHMENT)
    trac.admin(path, "attachment", "add", "wiki:Imported/Page", str(attachment), "alice", "notes")
    script = tmp_path / "ticket.py"
    script.write_text(_TRAC_TICKET_SCRIPT, encoding="utf-8")
    import subprocess

    made = subprocess.run([trac.python, str(script), path], capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip() == "1"

    env = Environment(path)
    try:
        env.check_ready()
        assert env.database_version() == 45
        assert env.get_system_value("initial_database_version") == "45"

        from codeyard.perm import PermissionSystem
        from codeyard.ticket import values
        from codeyard.wiki.model import WikiPage

        components = {c.name: c.owner for c in values.list_components(env)}
        assert components == {"component1": "somebody", "core": "alice"}
        milestones = {m.name: m for m in values.list_milestones(env)}
        assert milestones["v1.0"].due and milestones["milestone2"].completed
        assert milestones["milestone1"].due is None
        assert "3.0" in [v.name for v in values.list_versions(env)]
        assert [e.name for e in values.list_enum(env, "priority")][-1] == "urgent"
        assert "critical" in [e.name for e in values.list_enum(env, "severity")]
        perms = PermissionSystem(env)
        assert "TICKET_MODIFY" in perms.user_actions("bob")
        assert "WIKI_DELETE" in perms.user_actions("bob")  # WIKI_ADMIN implies it
        assert "MILESTONE_ADMIN" in perms.user_actions("alice")  # TRAC_ADMIN implies all
        wiki = WikiPage(env, "Imported/Page")
        assert wiki.exists and wiki.text == WIKI_TEXT and wiki.version == 1
        assert WikiPage(env, "WikiStart").exists  # Trac's own default pages
        with env.db_query as db:
            assert db("SELECT summary, owner, status, component, milestone, description "
                      "FROM ticket WHERE id=1") == [
                ("Made in Trac", "bob", "accepted", "core", "v1.0", "The description ✓")]
            comments = db("SELECT author, oldvalue, newvalue FROM ticket_change "
                          "WHERE ticket=1 AND field='comment' ORDER BY time")
            assert comments == [("bob", "1", "I will look at it."), ("alice", "2", "Thanks!")]
            reports = db("SELECT id FROM report ORDER BY id")
            assert [r[0] for r in reports] == list(range(1, 9))
    finally:
        env.shutdown()

    _assert_same_output(trac, path)
    assert "Database is up to date, no upgrade necessary." in admin_ok(path, "upgrade")
    listed = admin_ok(path, "attachment", "list", "wiki:Imported/Page")
    assert "notes.txt" in listed and "alice" in listed
    out_file = tmp_path / "exported.txt"
    admin_ok(path, "attachment", "export", "wiki:Imported/Page", "notes.txt", str(out_file))
    assert out_file.read_bytes() == ATTACHMENT

    # codeyard's changes to Trac's project read back in Trac.
    admin_ok(path, "milestone", "add", "v2.0", "2032-02-02")
    admin_ok(path, "wiki", "import", "Second/Page", str(page))
    assert ["v2.0", "2032-02-02"] in _rows(trac.out(path, "milestone", "list"))
    assert trac.out(path, "wiki", "export", "Second/Page") == WIKI_TEXT + "\n"
    assert "Database is up to date, no upgrade necessary." in trac.out(path, "upgrade")


def test_upgrades_by_trac_and_by_codeyard_agree(trac, tmp_path, db_url):
    """The same Trac 1.2 project upgraded by each program ends with the same schema and data."""
    from tests.support.dbcompare import table_contents
    from tests.support.legacy import another_db_url, make_trac12_environment, schema_shape

    by_trac = make_trac12_environment(str(tmp_path / "by-trac"), another_db_url(db_url))
    by_us = make_trac12_environment(str(tmp_path / "by-codeyard"), another_db_url(db_url))
    by_trac.shutdown()
    by_us.shutdown()
    upgraded = trac.out(by_trac.path, "upgrade", "--no-backup")
    assert "Upgrade done." in upgraded
    result = run_admin(by_us.path, "upgrade", "--no-backup")
    assert result.rc == 0, result.err

    def own(d: dict) -> dict:
        return {k: v for k, v in d.items() if not k.startswith("codeyard_")}

    one, two = Environment(by_trac.path), Environment(by_us.path)
    try:
        assert own(schema_shape(one)) == own(schema_shape(two))
        data_one, data_two = own(table_contents(one)), own(table_contents(two))
        for contents in (data_one, data_two):
            columns, rows = contents["system"]
            contents["system"] = (columns, [r for r in rows if r[0] != "codeyard_version"])
        assert data_one == data_two
        for option in (("trac", "permission_policies"),
                       ("notification", "ticket_subject_template")):
            assert one.config.get(*option) == two.config.get(*option)
    finally:
        one.shutdown()
        two.shutdown()
    assert os.path.isfile(os.path.join(by_trac.path, "conf", "trac.ini"))
