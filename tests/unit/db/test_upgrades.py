"""Upgrading a Trac 1.2 environment (database_version 41) to the Trac 1.6 schema (45)."""

from __future__ import annotations

import os

import pytest

from codeyard.db.schema import DB_VERSION
from codeyard.env import Environment, EnvironmentError_
from tests.support.admin_cli import run_admin
from tests.support.legacy import (
    LEGACY_REPORTS,
    NEW_SUBJECT,
    T0,
    another_db_url,
    make_trac12_environment,
    schema_shape,
)

pytestmark = pytest.mark.db


@pytest.fixture
def legacy(tmp_path, db_url):
    env = make_trac12_environment(str(tmp_path / "legacy"), another_db_url(db_url))
    yield env
    env.shutdown()


def _backups(env) -> list[str]:
    return sorted(f for f in os.listdir(os.path.join(env.path, "db")) if ".41.bak" in f)


def test_a_version_41_environment_is_refused_until_upgraded(legacy):
    assert legacy.database_version() == 41
    assert legacy.needs_upgrade()
    with pytest.raises(EnvironmentError_, match=r"needs an upgrade.*codeyard admin .* upgrade"):
        legacy.check_ready()
    result = run_admin(legacy.path, "config", "get", "project", "name")
    assert result.rc == 0  # commands that do not touch the schema still work


def test_upgrade_brings_the_schema_data_and_config_to_trac_16(legacy, make_env):
    result = run_admin(legacy.path, "upgrade")
    assert result.rc == 0, result.err
    assert "Upgrade done." in result.out
    backups = _backups(legacy)
    assert len(backups) == 1
    assert "Database backed up to" in result.out

    env = Environment(legacy.path)
    try:
        env.check_ready()
        assert env.database_version() == DB_VERSION == 45
        fresh = make_env("fresh")
        expected = schema_shape(fresh)
        actual = schema_shape(env)
        # codeyard's own tables come with plugins; compare Trac's tables exactly.
        assert {k: v for k, v in actual.items() if not k.startswith("codeyard_")} == \
            {k: v for k, v in expected.items() if not k.startswith("codeyard_")}
        assert set(actual) == set(expected)
        assert env.get_system_value("codeyard_version") == "1"

        with env.db_query as db:
            wiki = db("SELECT name, version, time, author, text, comment, readonly FROM wiki "
                      "ORDER BY name, version")
            assert wiki == [
                ("Notes/Meeting", 1, T0 + 2, "bob", "* one\n* two", "minutes", 1),
                ("WikiStart", 1, T0, "trac", "= Welcome =\nFirst words.", "", 0),
                ("WikiStart", 2, T0 + 1, "alice", "= Welcome =\nSecond words: é ü ✓.", "typo", 0),
            ]
            assert db("SELECT type, id, filename, size, time, description, author FROM attachment "
                      "ORDER BY type") == [
                ("ticket", "1", "trace.txt", 42, T0 + 4, "", "bob"),
                ("wiki", "WikiStart", "logo.png", 1234, T0 + 3, "the logo", "alice"),
            ]
            enums = db("SELECT type, name, value, description FROM enum ORDER BY type, value")
            assert ("priority", "blocker", "1", None) in enums and len(enums) == 11
            assert db("SELECT id, summary FROM ticket ORDER BY id") == [(1, "It crashes"),
                                                                         (2, "Write docs")]
            assert db("SELECT newvalue FROM ticket_change") == [("Confirmed.",)]
            reports = dict(db("SELECT id, query FROM report"))
            for report_id, _title, old in LEGACY_REPORTS:
                if report_id == 6:
                    assert reports[6] == old
                    continue
                assert reports[report_id] == old.replace("description AS _desc", "t.description AS _desc")
                # The fix is what makes the query run now that enum has a description too.
                db(reports[report_id].replace("$USER", "'alice'"))
        with env.db_transaction as db:
            # Ticket ids continue after the copied rows on PostgreSQL too.
            db("INSERT INTO ticket (summary) VALUES ('new')")
            assert db.last_id("ticket") == 3

        assert env.config.getlist("trac", "permission_policies") == [
            "DefaultWikiPolicy", "DefaultTicketPolicy", "DefaultPermissionPolicy",
            "LegacyAttachmentPolicy"]
        assert env.config.get("notification", "ticket_subject_template") == NEW_SUBJECT
        with open(env.config.filename, encoding="utf-8") as fh:
            text = fh.read()
        assert NEW_SUBJECT in text and "ReadonlyWikiPolicy" not in text
        with open(env.config.filename + ".db41.bak", encoding="utf-8") as fh:
            assert "ReadonlyWikiPolicy" in fh.read()
    finally:
        env.shutdown()

    again = run_admin(legacy.path, "upgrade")
    assert again.rc == 0
    assert again.out.strip() == "Database is up to date, no upgrade necessary."


def test_backup_holds_the_version_41_data(legacy):
    result = run_admin(legacy.path, "upgrade")
    assert result.rc == 0, result.err
    import sqlite3

    path = os.path.join(legacy.path, "db", _backups(legacy)[0])
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT value FROM system WHERE name='database_version'").fetchone() == ("41",)
        assert "ipnr" in [r[1] for r in conn.execute("PRAGMA table_info(wiki)")]
        assert conn.execute("SELECT count(*) FROM wiki").fetchone() == (3,)
    finally:
        conn.close()


def test_upgrade_without_backup_writes_none(legacy):
    result = run_admin(legacy.path, "upgrade", "--no-backup")
    assert result.rc == 0, result.err
    assert _backups(legacy) == []
    assert "backed up" not in result.out
    env = Environment(legacy.path)
    assert env.database_version() == 45
    env.shutdown()


def test_customised_policies_are_left_alone_with_a_notice(legacy):
    legacy.config.set("trac", "permission_policies", "AuthzPolicy, DefaultPermissionPolicy")
    legacy.config.save()
    result = run_admin(legacy.path, "upgrade", "--no-backup")
    assert result.rc == 0, result.err
    assert "DefaultWikiPolicy" in result.out and "DefaultTicketPolicy" in result.out
    env = Environment(legacy.path)
    assert env.config.get("trac", "permission_policies") == "AuthzPolicy, DefaultPermissionPolicy"
    env.shutdown()


def test_a_failing_step_changes_nothing(legacy, monkeypatch):
    from codeyard.db import upgrades

    def broken(env, db, out):
        raise RuntimeError("step 45 broke")

    monkeypatch.setitem(upgrades.STEPS, 45, broken)
    with pytest.raises(RuntimeError, match="step 45 broke"):
        legacy.upgrade(backup=False, out=lambda line: None)
    # Step 43 had changed the settings in memory: they are forgotten with the rollback.
    assert legacy.config.get("trac", "permission_policies").startswith("ReadonlyWikiPolicy")
    with pytest.raises(RuntimeError, match="step 45 broke"):
        run_admin(legacy.path, "upgrade", "--no-backup")
    env = Environment(legacy.path)
    assert env.database_version() == 41
    with env.db_query as db:
        assert "ipnr" in db.column_names("wiki")
        assert "description" not in db.column_names("enum")
    assert env.config.get("trac", "permission_policies").startswith("ReadonlyWikiPolicy")
    env.shutdown()


def test_a_newer_schema_is_refused(env):
    env.set_system_value("database_version", "46")
    result = run_admin(env.path, "upgrade")
    assert result.rc != 0
    assert "newer than this codeyard" in result.err and "46" in result.err
    with pytest.raises(EnvironmentError_, match="version 46"):
        env.check_ready()


def test_a_schema_older_than_trac_12_is_refused(env):
    env.set_system_value("database_version", "40")
    result = run_admin(env.path, "upgrade")
    assert result.rc != 0
    assert "Trac 1.2" in result.err


def test_a_trac_14_environment_needs_nothing(env):
    assert env.database_version() == 45
    result = run_admin(env.path, "upgrade")
    assert result.rc == 0
    assert result.out.strip() == "Database is up to date, no upgrade necessary."
    assert not [f for f in os.listdir(os.path.join(env.path, "db")) if ".bak" in f]


def test_the_command_line_exits_non_zero_on_a_newer_schema(env):
    import subprocess
    import sys

    env.set_system_value("database_version", "46")
    env.shutdown()
    done = subprocess.run([sys.executable, "-m", "codeyard.cli", "admin", env.path, "upgrade"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.startswith("Error: ") and "version 46, newer than this codeyard" in done.stderr
