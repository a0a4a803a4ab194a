"""Read scopes never write; "create unless it exists" relies on the database's constraint,
so concurrent writers get one success and readable refusals, never an internal error."""

from __future__ import annotations

import threading

import pytest

from codeyard.db.api import ScopeError
from codeyard.sessions import SessionExists, create_session
from codeyard.ticket.values import (
    ResourceExists,
    add_component,
    add_enum,
    add_milestone,
    add_version,
    rename_component,
)
from codeyard.wiki.model import PageExists, WikiPage

pytestmark = pytest.mark.db


def test_a_read_scope_refuses_to_write(env):
    with pytest.raises(Exception) as raised:
        with env.db_query as db:
            db("INSERT INTO system (name, value) VALUES ('x', '1')")
    assert "readonly" in str(raised.value).lower() or "read-only" in str(raised.value).lower()
    assert env.get_system_value("x") is None


def test_a_write_scope_cannot_open_inside_a_read_scope(env):
    with pytest.raises(ScopeError, match="inside a read scope"):
        with env.db_query:
            with env.db_transaction as db:
                db("INSERT INTO system (name, value) VALUES ('y', '1')")
    assert env.get_system_value("y") is None
    # Reads inside a transaction are fine and see its writes.
    with env.db_transaction as db:
        db("INSERT INTO system (name, value) VALUES ('z', '1')")
        with env.db_query as inner:
            assert inner("SELECT value FROM system WHERE name='z'") == [("1",)]
    assert env.get_system_value("z") == "1"


def test_an_existing_name_is_refused_and_the_transaction_goes_on(env):
    add_component(env, "core")
    with env.db_transaction:
        with pytest.raises(ResourceExists, match='Component "core" already exists'):
            add_component(env, "core")
        add_component(env, "after")  # the enclosing transaction is still usable
    with env.db_query as db:
        assert db("SELECT name FROM component WHERE name IN ('core', 'after') ORDER BY name") == \
            [("after",), ("core",)]
    add_component(env, "other")
    with pytest.raises(ResourceExists, match='"core" already exists'):
        rename_component(env, "other", "core")


def _race(count: int, action) -> list:
    barrier = threading.Barrier(count)
    results: list = []

    def run(i):
        barrier.wait()
        try:
            action(i)
            results.append("ok")
        except Exception as exc:
            results.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


@pytest.mark.parametrize("make, refusal", [
    (lambda env, i: add_component(env, "same"), ResourceExists),
    (lambda env, i: add_milestone(env, "same"), ResourceExists),
    (lambda env, i: add_version(env, "same"), ResourceExists),
    (lambda env, i: add_enum(env, "priority", "same"), ResourceExists),
    (lambda env, i: create_session(env, "same", True), SessionExists),
])
def test_concurrent_creates_give_one_success_and_clear_refusals(env, make, refusal):
    for _round in range(3):
        results = _race(8, lambda i: make(env, i))
        assert results.count("ok") == 1, results
        assert all(isinstance(r, refusal) for r in results if r != "ok"), results
        # Start the next round from scratch.
        with env.db_transaction as db:
            for table in ("component", "milestone", "version"):
                db(f"DELETE FROM {table} WHERE name='same'")
            db("DELETE FROM enum WHERE name='same'")
            db("DELETE FROM session WHERE sid='same'")


def test_concurrent_renames_onto_one_name_give_one_success(env):
    for i in range(6):
        page = WikiPage(env, f"Source{i}")
        page.text = f"page {i}"
        page.save("me", "")

    def rename(i):
        WikiPage(env, f"Source{i}").rename("Target", author="me")

    results = _race(6, rename)
    assert results.count("ok") == 1, results
    assert all(isinstance(r, PageExists) for r in results if r != "ok"), results
    with env.db_query as db:
        assert db("SELECT COUNT(*) FROM wiki WHERE name='Target'") == [(1,)]
