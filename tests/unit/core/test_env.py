from __future__ import annotations

import os

import pytest

from codeyard.db.schema import DB_VERSION, TRAC_TABLES
from codeyard.env import Environment, EnvironmentError_, is_environment, open_environment

pytestmark = pytest.mark.db


def test_create_lays_out_a_trac_environment(env):
    for sub in ("conf", "db", "htdocs", "log", "plugins", "templates"):
        assert os.path.isdir(os.path.join(env.path, sub))
    assert is_environment(env.path)
    with open(os.path.join(env.path, "VERSION")) as fh:
        assert fh.read().startswith("Trac Environment Version 1")
    assert env.database_version() == DB_VERSION
    assert env.get_system_value("initial_database_version") == str(DB_VERSION)
    assert env.get_system_value("codeyard_version") == "1"
    with env.db_query as db:
        assert set(TRAC_TABLES) <= set(db.table_names())
    assert env.config.get("ticket-workflow", "leave") == "* -> *"
    assert not env.needs_upgrade()


def test_transaction_scopes_nest_and_roll_back(env):
    with env.db_transaction as db:
        db("INSERT INTO system (name, value) VALUES ('a', '1')")
        with env.db_transaction as inner:
            assert inner is db
            inner("INSERT INTO system (name, value) VALUES ('b', '2')")
    assert env.get_system_value("b") == "2"
    with pytest.raises(RuntimeError):
        with env.db_transaction as db:
            db("INSERT INTO system (name, value) VALUES ('c', '3')")
            raise RuntimeError("boom")
    assert env.get_system_value("c") is None


def test_generation_counter_invalidates_other_processes_cache(env):
    calls = []
    value = env.cached("k", lambda: calls.append(1) or len(calls))
    assert value == 1
    assert env.cached("k", lambda: calls.append(1) or len(calls)) == 1
    other = Environment(env.path)  # a second process's view of the same project
    other.invalidate("k")
    assert env.cached("k", lambda: calls.append(1) or len(calls)) == 2
    other.shutdown()


def test_create_refuses_non_empty_directory(tmp_path):
    target = tmp_path / "p"
    target.mkdir()
    (target / "something").write_text("x")
    with pytest.raises(EnvironmentError_, match="not an empty directory"):
        Environment.create(str(target))
    assert os.listdir(target) == ["something"]


def test_create_with_unreachable_database_leaves_nothing(tmp_path):
    target = tmp_path / "p"
    with pytest.raises(EnvironmentError_, match="cannot connect"):
        Environment.create(str(target), [("trac", "database", "postgres://nobody@127.0.0.1:1/x")])
    assert not target.exists()


def test_open_rejects_a_plain_directory(tmp_path):
    with pytest.raises(EnvironmentError_, match="not a project environment"):
        Environment(str(tmp_path))


def test_newer_schema_is_refused(env):
    env.set_system_value("database_version", str(DB_VERSION + 1))
    with pytest.raises(EnvironmentError_, match="newer than this codeyard"):
        env.check_ready()


def test_config_change_is_picked_up_without_restart(env):
    opened = open_environment(env.path)
    assert opened.project_name == "project"
    # Another process edits the file.
    with open(env.config.filename) as fh:
        text = fh.read().replace("name = project", "name = Renamed")
    with open(env.config.filename, "w") as fh:
        fh.write(text)
    os.utime(env.config.filename, ns=(1, 10**18))
    opened._next_config_check = 0
    opened.refresh_config()
    assert opened.project_name == "Renamed"


def test_is_environment_sees_a_replaced_version_file(env):
    """The VERSION file is read again whenever its stat changes (it is asked at every
    request, so it is not read at each)."""
    import os

    from codeyard.env import is_environment

    version = os.path.join(env.path, "VERSION")
    assert is_environment(env.path)
    with open(version, encoding="utf-8") as fh:
        kept = fh.read()
    with open(version, "w", encoding="utf-8") as fh:
        fh.write("something else entirely\n")
    assert not is_environment(env.path)
    os.remove(version)
    assert not is_environment(env.path)
    with open(version, "w", encoding="utf-8") as fh:
        fh.write(kept)
    assert is_environment(env.path)


def test_per_request_values_are_computed_once_inside_a_request(env):
    from codeyard.env import request_scope

    calls = []

    def compute():
        calls.append(1)
        return len(calls)

    assert env.per_request("k", compute) == 1 and env.per_request("k", compute) == 2
    with request_scope():
        assert [env.per_request("k", compute) for _ in range(3)] == [3, 3, 3]
    with request_scope():
        assert env.per_request("k", compute) == 4
