"""permission list / add / remove / export / import through the real console."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from codeyard.perm import PermissionSystem
from tests.unit.admin.helpers import snapshot

pytestmark = pytest.mark.db

DEFAULT_EXPORT = (
    "anonymous,BROWSER_VIEW,CHANGESET_VIEW,FILE_VIEW,LOG_VIEW,MILESTONE_VIEW,REPORT_SQL_VIEW,"
    "REPORT_VIEW,ROADMAP_VIEW,SEARCH_VIEW,TICKET_VIEW,TIMELINE_VIEW,WIKI_VIEW\n"
    "authenticated,TICKET_CREATE,TICKET_MODIFY,WIKI_CREATE,WIKI_MODIFY\n"
)


def test_list_shows_rules_then_wrapped_available_actions(admin):
    out = admin("permission", "list").out
    table, actions = out.split("Available actions:\n")
    lines = table.strip("\n").splitlines()
    assert lines[0] == "User           Action"
    assert lines[1] == "-" * 30
    assert lines[2] == "anonymous      BROWSER_VIEW"
    assert lines[-1] == "authenticated  WIKI_MODIFY"
    assert table.endswith("WIKI_MODIFY\n\n\n")
    wrapped = actions.rstrip("\n").splitlines()
    assert wrapped[0] == " BROWSER_VIEW, CHANGESET_VIEW, CONFIG_VIEW, EMAIL_VIEW, FILE_VIEW,"
    assert all(line.startswith(" ") and len(line) <= 75 for line in wrapped)
    names = " ".join(wrapped).replace(",", " ").split()
    assert names == sorted(names) and "TRAC_ADMIN" in names and "REPOSITORY_PUSH" in names
    assert len(names) == 44 and "XML_RPC" in names
    assert out.endswith("WIKI_VIEW, XML_RPC\n\n")


def test_list_for_a_user_expands_groups_and_meta_permissions(admin):
    assert admin("permission", "add", "devs", "REPORT_ADMIN").rc == 0
    assert admin("permission", "add", "bob", "devs").rc == 0
    rows = admin("permission", "list", "bob").out.split("Available actions:")[0]
    actions = [line.split()[1] for line in rows.strip().splitlines()[2:]]
    assert all(line.startswith("bob ") for line in rows.strip().splitlines()[2:])
    assert "REPORT_DELETE" in actions  # from REPORT_ADMIN through the group
    assert "TICKET_APPEND" in actions  # TICKET_MODIFY of authenticated, expanded
    assert "WIKI_VIEW" in actions  # anonymous
    assert "devs" not in actions and "WIKI_DELETE" not in actions
    assert actions == sorted(actions)


def test_add_grants_and_reports_existing_grants(env, admin):
    result = admin("permission", "add", "bob", "WIKI_ADMIN", "devs")
    assert result.rc == 0 and result.out == ""
    result = admin("permission", "add", "bob", "WIKI_ADMIN", "TICKET_ADMIN")
    assert result.rc == 0
    assert result.out.strip() == "The user bob already has permission WIKI_ADMIN."
    result = admin("permission", "add", "bob", "devs")
    assert result.out.strip() == "The user bob is already in the group devs."
    assert PermissionSystem(env).user_grants("bob") == ["TICKET_ADMIN", "WIKI_ADMIN", "devs"]


@pytest.mark.parametrize("args, message", [
    (("bob", "WIKI_VIEW", "NOPE"), "NOPE is not a valid action."),
    (("bob", "NOPE", "WIKI_ADMIN"), "NOPE is not a valid action."),
    (("BOB", "WIKI_VIEW"), "All upper-cased tokens are reserved for permission names."),
    (("bob", "wiki_view"), "Permission wiki_view differs from a defined action by casing only"),
    (("bob", "bob"), "bob cannot be a member of itself."),
])
def test_add_with_an_invalid_action_grants_nothing(env, admin, args, message):
    before = snapshot(env)
    result = admin("permission", "add", *args)
    assert result.rc == 2
    assert result.err.startswith(f"Error: {message}")
    assert snapshot(env) == before


def test_remove(env, admin):
    admin("permission", "add", "bob", "WIKI_ADMIN", "TICKET_ADMIN", "devs")
    admin("permission", "add", "ann", "WIKI_ADMIN")
    assert admin("permission", "remove", "bob", "WIKI_ADMIN", "devs").rc == 0
    assert PermissionSystem(env).user_grants("bob") == ["TICKET_ADMIN"]
    assert admin("permission", "remove", "*", "WIKI_ADMIN").rc == 0
    assert PermissionSystem(env).user_grants("ann") == []
    admin("permission", "add", "bob", "WIKI_ADMIN")
    assert admin("permission", "remove", "bob", "*").rc == 0
    assert PermissionSystem(env).user_grants("bob") == []
    assert "bob" not in admin("permission", "export").out


@pytest.mark.parametrize("args, message", [
    (("bob", "WIKI_VIEW"), "Cannot remove permission WIKI_VIEW for user bob. The permission is "
                           "granted through a meta-permission or group."),
    (("bob", "TICKET_ADMIN", "NOPE"), "NOPE is not a valid action."),
    (("bob", "WIKI_DELETE"), "Cannot remove permission WIKI_DELETE for user bob. The user has "
                             "not been granted the permission."),
    (("nobody", "*"), "* is not a valid action."),
])
def test_remove_bad_input_removes_nothing(env, admin, args, message):
    admin("permission", "add", "bob", "TICKET_ADMIN", "WIKI_CREATE")
    before = snapshot(env)
    result = admin("permission", "remove", *args)
    assert result.rc == 2
    assert result.err.strip() == f"Error: {message}"
    assert snapshot(env) == before


def test_export_import_round_trip(env, admin, tmp_path, make_env):
    assert admin("permission", "export").out == DEFAULT_EXPORT
    admin("permission", "add", "bob", "WIKI_ADMIN", "devs")
    admin("permission", "add", "devs", "REPORT_ADMIN")
    target = tmp_path / "perms.csv"
    assert admin("permission", "export", str(target)).rc == 0
    text = target.read_text()
    assert text == DEFAULT_EXPORT + "bob,WIKI_ADMIN,devs\ndevs,REPORT_ADMIN\n"

    other = make_env("other")
    assert PermissionSystem(other).user_grants("bob") == []
    from codeyard.admin.console import main

    assert main([other.path, "permission", "import", str(target)]) == 0
    assert sorted(PermissionSystem(other).all_grants()) == sorted(PermissionSystem(env).all_grants())
    # Importing again adds nothing and complains about nothing.
    assert main([other.path, "permission", "import", str(target)]) == 0
    assert len(PermissionSystem(other).all_grants()) == len(PermissionSystem(env).all_grants())


def test_import_from_stdin(env, admin):
    result = admin("permission", "import", stdin="carol,WIKI_ADMIN,editors\n\neditors,WIKI_DELETE\n")
    assert result.rc == 0, result.err
    system = PermissionSystem(env)
    assert system.user_grants("carol") == ["WIKI_ADMIN", "editors"]
    assert "WIKI_DELETE" in system.user_actions("carol")


@pytest.mark.parametrize("text, message", [
    ("carol,WIKI_ADMIN\ndan\n", "Invalid row 2. Expected <user>, <action>, [action], [...]"),
    ("carol,WIKI_ADMIN\nDAN,WIKI_VIEW\n", "Invalid user DAN on line 2"),
    ("carol,WIKI_ADMIN\ndan,NOT_AN_ACTION\n", "Line 2: NOT_AN_ACTION is not a valid action."),
    ('carol,"WIKI\n', "Cannot import from"),
])
def test_import_of_a_bad_file_imports_nothing(env, admin, tmp_path, text, message):
    source = tmp_path / "bad.csv"
    source.write_text(text)
    before = snapshot(env)
    result = admin("permission", "import", str(source))
    assert result.rc == 2
    assert result.err.startswith(f"Error: {message}")
    assert snapshot(env) == before


def test_import_of_a_missing_file(admin, tmp_path):
    result = admin("permission", "import", str(tmp_path / "missing.csv"))
    assert result.rc == 2
    assert "Cannot import from" in result.err and "No such file" in result.err


def test_permission_commands_as_a_separate_process(env, tmp_path):
    command = [sys.executable, "-m", "codeyard", "admin", env.path]
    envvars = {**os.environ, "PYTHONWARNINGS": "error"}
    ok = subprocess.run(command + ["permission", "add", "zed", "TRAC_ADMIN"],
                        capture_output=True, text=True, env=envvars, timeout=120)
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run(command + ["permission", "add", "zed", "NOPE"],
                         capture_output=True, text=True, env=envvars, timeout=120)
    assert bad.returncode == 2
    assert bad.stderr.strip() == "Error: NOPE is not a valid action."
    listed = subprocess.run(command + ["permission", "list", "zed"],
                            capture_output=True, text=True, env=envvars, timeout=120)
    assert listed.returncode == 0
    assert "\nzed   WIKI_DELETE\n" in listed.stdout
    assert PermissionSystem(env).user_grants("zed") == ["TRAC_ADMIN"]


def test_interactive_completion(env, admin):
    from codeyard.admin.api import AdminContext
    from codeyard.admin.console import Shell

    admin("permission", "add", "bob", "WIKI_ADMIN")
    shell = Shell(AdminContext(env.path, interactive=True))
    try:
        def complete(line: str) -> list[str]:
            text = line.rsplit(" ", 1)[-1]
            return shell.completedefault(text, line, len(line) - len(text), len(line))

        assert complete("permission list b") == ["bob"]
        assert complete("permission add bob WIKI_") == [
            "WIKI_CREATE", "WIKI_DELETE", "WIKI_MODIFY", "WIKI_RENAME", "WIKI_VIEW"]
        assert complete("permission remove bob ") == ["WIKI_ADMIN"]
        assert complete("session set ") == ["default_handler", "email", "name"]
        assert "WikiModule" in complete("session set default_handler bob:1 W")
    finally:
        shell.ctx.opened_env().shutdown()
