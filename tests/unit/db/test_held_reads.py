"""A GET request's read scopes share one transaction (``hold_reads``); writes, failures and
the end of the request close it, so that what a page reads and writes stays as without it."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from codeyard.db.api import ScopeError, hold_reads

pytestmark = pytest.mark.db


@pytest.fixture
def begins(env):
    """How many transactions the project's database has begun."""
    count = [0]
    engine = env.database.engine

    def on_begin(conn):
        count[0] += 1

    event.listen(engine, "begin", on_begin)
    yield count
    event.remove(engine, "begin", on_begin)


def checked_out(env) -> int:
    return env.database.engine.pool.checkedout()


def test_read_scopes_inside_share_one_transaction_closed_at_the_end(env, begins):
    env.set_system_value("held", "1")
    base = checked_out(env)
    begins[0] = 0
    with hold_reads():
        for _ in range(5):
            with env.db_query as db:
                assert db("SELECT value FROM system WHERE name='held'") == [("1",)]
        assert begins[0] == 1
        assert checked_out(env) == base + 1  # kept between the scopes
    assert checked_out(env) == base
    with env.db_query as db:  # outside, each scope is its own transaction again
        db("SELECT 1")
    with env.db_query as db:
        db("SELECT 1")
    assert begins[0] == 3


def test_a_write_closes_the_kept_read_and_later_reads_see_it(env, begins):
    with hold_reads():
        with env.db_query as db:
            assert db("SELECT value FROM system WHERE name='w'") == []
        with env.db_transaction as db:  # would fail if it ran inside the kept read scope
            db("INSERT INTO system (name, value) VALUES ('w', '2')")
        with env.db_query as db:
            assert db("SELECT value FROM system WHERE name='w'") == [("2",)]
    assert env.get_system_value("w") == "2"


def test_a_write_inside_a_read_scope_is_still_refused(env):
    with hold_reads():
        with env.db_query:
            pass
        with pytest.raises(ScopeError, match="inside a read scope"):
            with env.db_query:  # joins the kept scope
                with env.db_transaction as db:
                    db("INSERT INTO system (name, value) VALUES ('v', '1')")
        with env.db_query as db:
            assert db("SELECT 1") == [(1,)]
    assert env.get_system_value("v") is None


def test_a_failed_statement_is_not_kept(env, begins):
    """On PostgreSQL a failed statement aborts the transaction: the next scope gets another."""
    base = checked_out(env)
    with hold_reads():
        with env.db_query as db:
            with pytest.raises(Exception, match="(?i)no_such_table|does not exist|no such table"):
                db("SELECT * FROM no_such_table")
        with env.db_query as db:
            assert db("SELECT 1") == [(1,)]
        with env.db_query as db:
            with pytest.raises(Exception, match="(?i)no_such_column|does not exist|no such column"):
                db("SELECT no_such_column FROM system")
        with env.db_query as db:
            assert db("SELECT 1") == [(1,)]
    assert checked_out(env) == base
    assert begins[0] == 3


def test_an_error_inside_a_joined_scope_closes_it(env):
    base = checked_out(env)
    with hold_reads():
        with env.db_query:
            pass
        with pytest.raises(RuntimeError):
            with env.db_query:
                raise RuntimeError("stop")
        assert checked_out(env) == base
        with env.db_query as db:
            assert db("SELECT 1") == [(1,)]
    assert checked_out(env) == base


def test_after_commit_callbacks_of_read_scopes_run_at_each_scope_end(env):
    ran: list[int] = []
    with hold_reads():
        with env.db_query as db:
            db.on_commit(lambda: ran.append(1))
        assert ran == [1]
        with env.db_query as db:
            db.on_commit(lambda: ran.append(2))
        assert ran == [1, 2]


def test_pages_answered_over_http_keep_one_transaction(env):
    """A GET of a page begins one transaction and gives its connection back."""
    from werkzeug.test import Client

    from codeyard.env import open_environment
    from codeyard.web.wsgi import application

    client = Client(application)
    environ = {"codeyard.env_path": env.path}
    assert client.get("/wiki/WikiStart", environ_base=environ).status_code == 200
    served = open_environment(env.path)  # the one the application keeps open
    count = [0]

    def on_begin(conn):
        count[0] += 1

    event.listen(served.database.engine, "begin", on_begin)
    try:
        assert client.get("/wiki/WikiStart", environ_base=environ).status_code == 200
        assert count[0] == 1
        assert client.get("/timeline", environ_base=environ).status_code == 200
        assert count[0] == 2
    finally:
        event.remove(served.database.engine, "begin", on_begin)
    assert served.database.engine.pool.checkedout() == 0
