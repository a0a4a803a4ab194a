"""session add / list / set / delete / purge, and the session model behind them."""

from __future__ import annotations

import time

import pytest

from codeyard import sessions as model
from tests.unit.admin.helpers import snapshot, table_lines

pytestmark = pytest.mark.db

def _sessions(env):
    with env.db_query as db:
        return sorted(db("SELECT sid, authenticated FROM session"))


def test_add_list_set(env, admin):
    assert admin("session", "add", "alice:1", "Alice A", "a@example.org").rc == 0
    assert admin("session", "add", "visitor:0").rc == 0
    assert admin("session", "add", "bob", "Bob").rc == 0
    assert admin("session", "set", "default_handler", "alice", "WikiModule").rc == 0
    today = time.strftime("%Y-%m-%d")
    lines = table_lines(admin("session", "list").out)
    header = "SID      Auth  Last Visit  Name     Email          Default Handler"
    assert lines == [
        header, "-" * len(header),
        f"alice    1     {today}  Alice A  a@example.org  WikiModule",
        f"bob      1     {today}  Bob",
        f"visitor  0     {today}"]
    assert [line.split()[0] for line in table_lines(admin("session", "list", "anonymous").out)[2:]] == ["visitor"]
    assert [line.split()[0] for line in table_lines(
        admin("session", "list", "authenticated").out)[2:]] == ["alice", "bob"]
    # a bare sid means the authenticated session: visitor:1 does not exist
    assert table_lines(admin("session", "list", "visitor", "bob:1").out)[2:] == [
        f"bob  1     {today}  Bob"]
    assert admin("session", "set", "name", "visitor:0", "Guest").rc == 0
    assert admin("session", "set", "email", "alice", "").rc == 0
    assert model.get_session(env, "visitor", False).attributes == {"name": "Guest"}
    assert model.get_session(env, "alice", True).attributes == {
        "name": "Alice A", "default_handler": "WikiModule"}
    assert model.known_users(env) == [("alice", "Alice A", None), ("bob", "Bob", None)]


def test_list_columns_line_up(env, admin):
    admin("session", "add", "alice", "Alice A", "a@example.org")
    header, dashes, row = table_lines(admin("session", "list").out)
    assert header == "SID    Auth  Last Visit  Name     Email          Default Handler"
    assert dashes == "-" * len(header)
    assert row.index("Alice A") == header.index("Name")
    assert row.index("a@example.org") == header.index("Email")


@pytest.mark.parametrize("args, message", [
    (("add", "alice"), "Session 'alice' already exists"),
    (("set", "colour", "alice", "x"), "Invalid attribute 'colour'"),
    (("set", "default_handler", "alice", "NoSuchModule"), "Invalid default_handler 'NoSuchModule'"),
    (("set", "name", "nobody", "x"), "Session 'nobody' not found"),
    (("set", "name", "alice:0", "x"), "Session 'alice' not found"),
    (("purge", "sometime"), '"sometime" is an invalid date'),
])
def test_bad_input_writes_nothing(env, admin, args, message):
    admin("session", "add", "alice", "Alice")
    before = snapshot(env)
    result = admin("session", *args)
    assert result.rc == 2
    assert result.err.startswith(f"Error: {message}")
    assert snapshot(env) == before


def test_wrong_argument_counts(admin):
    assert admin("session", "set", "name", "alice").rc == 2
    assert admin("session", "add").rc == 2
    assert admin("session", "purge").rc == 2
    assert admin("session", "delete").rc == 2


def test_delete(env, admin):
    for sid in ("alice", "bob", "v1:0", "v2:0", "alice:0"):
        assert admin("session", "add", sid, "Name").rc == 0
    assert admin("session", "delete", "alice", "nobody").rc == 0
    assert _sessions(env) == [("alice", 0), ("bob", 1), ("v1", 0), ("v2", 0)]
    assert admin("session", "delete", "anonymous").rc == 0
    assert _sessions(env) == [("bob", 1)]
    with env.db_query as db:
        assert db("SELECT sid, authenticated FROM session_attribute") == [("bob", 1)]


def test_purge_removes_old_anonymous_sessions_only(env, admin):
    now = int(time.time())
    model.create_session(env, "old-anon", False, {"name": "x"}, last_visit=now - 100 * 86400)
    model.create_session(env, "new-anon", False, {"name": "y"}, last_visit=now - 86400)
    model.create_session(env, "old-user", True, {"name": "z"}, last_visit=now - 400 * 86400)
    assert admin("session", "purge", "90 days ago").rc == 0
    assert _sessions(env) == [("new-anon", 0), ("old-user", 1)]
    with env.db_query as db:
        assert sorted(db("SELECT sid FROM session_attribute")) == [("new-anon",), ("old-user",)]
    stamp = time.strftime("%Y-%m-%d", time.localtime(now + 2 * 86400))
    assert admin("session", "purge", stamp).rc == 0
    assert _sessions(env) == [("old-user", 1)]


def test_session_model(env):
    assert model.split_sid("a:0") == ("a", False)
    assert model.split_sid("a:1") == ("a", True)
    assert model.split_sid("a:b") == ("a:b", True)
    assert model.get_session(env, "x", False) is None
    model.save_session(env, "x", False, {"tz": "Europe/Paris", "empty": ""})
    assert model.get_attribute(env, "x", False, "tz") == "Europe/Paris"
    assert model.get_attribute(env, "x", False, "empty", "dflt") == "dflt"
    model.save_session(env, "x", False, {})  # an anonymous session without data is dropped
    assert not model.session_exists(env, "x", False)
    model.save_session(env, "u", True, {})
    assert model.session_exists(env, "u", True)
    model.touch_session(env, "u", True, when=1234)
    assert model.get_session(env, "u", True).last_visit == 1234
    with pytest.raises(model.SessionExists):
        model.create_session(env, "u", True)
    with pytest.raises(model.SessionNotFound):
        model.set_attribute(env, "nobody", True, "name", "x")
    assert model.delete_session(env, "u", True) is True
    assert model.delete_session(env, "u", True) is False


def test_known_users_cache_follows_changes_of_another_process(env):
    from codeyard.env import Environment

    assert model.known_users(env) == []
    other = Environment(env.path)
    try:
        model.create_session(other, "zoe", True, {"name": "Zoe", "email": "z@example.org"})
        assert model.known_users(env) == [("zoe", "Zoe", "z@example.org")]
        model.set_attribute(other, "zoe", True, "name", "Zoé")
        assert model.known_users(env) == [("zoe", "Zoé", "z@example.org")]
    finally:
        other.shutdown()
