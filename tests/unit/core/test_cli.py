"""The admin console end to end, as a person types it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from codeyard.db.schema import DB_VERSION

pytestmark = pytest.mark.db


def run(*args, input=None):
    return subprocess.run([sys.executable, "-m", "codeyard", "admin", *args], input=input,
                          capture_output=True, text=True, timeout=120)


def test_initenv_then_config_round_trip(tmp_path, db_url):
    target = tmp_path / "proj"
    r = run(str(target), "initenv", "My Proj", db_url)
    assert r.returncode == 0, r.stderr
    assert "created" in r.stdout
    r = run(str(target), "config", "get", "project", "name")
    assert r.stdout.strip() == "My Proj"
    assert run(str(target), "config", "set", "myplugin", "opt", "v 1").returncode == 0
    assert run(str(target), "config", "get", "myplugin", "opt").stdout.strip() == "v 1"
    assert run(str(target), "config", "remove", "myplugin", "opt").returncode == 0
    r = run(str(target), "config", "get", "myplugin", "opt")
    assert r.returncode == 2 and "doesn't exist" in r.stderr
    r = run(str(target), "upgrade")
    assert r.returncode == 0 and "no upgrade necessary" in r.stdout


def test_initenv_with_config_and_inherit(tmp_path):
    shared = tmp_path / "shared.ini"
    shared.write_text("[project]\nfooter = Shared footer\n")
    given = tmp_path / "given.ini"
    given.write_text("[project]\nname = From file\n\n[extra]\nkey = value\n")
    target = tmp_path / "proj"
    r = run(str(target), "initenv", f"--inherit={shared}", f"--config={given}")
    assert r.returncode == 0, r.stderr
    assert run(str(target), "config", "get", "project", "name").stdout.strip() == "From file"
    assert run(str(target), "config", "get", "extra", "key").stdout.strip() == "value"
    assert run(str(target), "config", "get", "project", "footer").stdout.strip() == "Shared footer"


def test_not_an_environment(tmp_path):
    r = run(str(tmp_path / "nothing"), "config", "get", "project", "name")
    assert r.returncode == 2
    assert "No project environment found" in r.stderr
    assert "Traceback" not in r.stderr


def test_unwritable_parent_leaves_nothing(tmp_path):
    if os.getuid() == 0:
        # root writes anywhere; a path under a regular file is unwritable for everyone.
        parent = tmp_path / "file"
        parent.write_text("x")
        target = parent / "proj"
    else:
        parent = tmp_path / "ro"
        parent.mkdir(mode=0o500)
        target = parent / "proj"
    r = run(str(target), "initenv", "P", "sqlite:db/trac.db")
    assert r.returncode == 2
    assert r.stderr.startswith("Error: ") and "Traceback" not in r.stderr
    assert not target.exists()


def test_bad_database_strings(tmp_path):
    target = tmp_path / "proj"
    r = run(str(target), "initenv", "P", "mysql://x/y")
    assert r.returncode == 2 and "unsupported database type" in r.stderr
    r = run(str(target), "initenv", "P", "postgres://nobody@127.0.0.1:1/nodb")
    assert r.returncode == 2 and "cannot connect" in r.stderr
    assert not target.exists()


def test_malformed_trac_ini(tmp_path, db_url):
    target = tmp_path / "proj"
    assert run(str(target), "initenv", "P", db_url).returncode == 0
    ini = target / "conf" / "trac.ini"
    ini.write_text(ini.read_text() + "\nthis is not an option line\n")
    r = run(str(target), "config", "get", "project", "name")
    assert r.returncode == 2
    assert "trac.ini, line" in r.stderr and "Traceback" not in r.stderr


def test_newer_schema_refused(env):
    env.set_system_value("database_version", str(DB_VERSION + 5))
    r = run(env.path, "upgrade")
    assert r.returncode == 2
    assert "newer than this codeyard" in r.stderr


def test_wrong_argument_counts_and_unknown_commands(env):
    r = run(env.path, "config", "get", "project")
    assert r.returncode == 2 and "Invalid arguments" in r.stderr
    assert "config get <section> <option>" in r.stdout
    r = run(env.path, "frobnicate")
    assert r.returncode == 2 and "Command not found" in r.stderr


def test_help_lists_and_documents_commands(env):
    r = run(env.path, "help")
    assert r.returncode == 0
    assert "initenv" in r.stdout and "config set" in r.stdout
    r = run(env.path, "help", "config", "set")
    assert "config set <section> <option> <value>" in r.stdout


def test_interactive_console(env):
    r = run(env.path, input="config set project name Typed\nconfig get project name\nnosuch\nquit\n")
    assert r.returncode == 0 or r.returncode == 2
    assert "Typed" in r.stdout
    assert "Command not found" in r.stderr


def test_interactive_completion(env):
    from codeyard.admin.api import AdminContext
    from codeyard.admin.console import Shell

    shell = Shell(AdminContext(env.path, interactive=True))
    assert "config" in shell.completenames("con")
    assert shell.completedefault("s", "config s", 7, 8) == ["set"]
    assert "project" in shell.completedefault("pro", "config get pro", 11, 14)
