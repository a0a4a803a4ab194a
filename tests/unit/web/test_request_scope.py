"""Within one request a cache entry is checked against its generation once; a change made
meanwhile by this process (an invalidation) is seen at once, and the next request checks
again (what another process wrote)."""

from __future__ import annotations

import pytest

from codeyard.env import request_scope

pytestmark = pytest.mark.db


def _queries(env, action):
    from sqlalchemy import event

    seen = []

    def listen(conn, cursor, statement, parameters, context, executemany):
        if "FROM cache" in statement:
            seen.append(statement)

    engine = env.database.engine
    event.listen(engine, "before_cursor_execute", listen)
    try:
        action()
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    return seen


def test_a_request_checks_each_entry_once(env):
    computed = []

    def compute():
        computed.append(1)
        return len(computed)

    assert env.cached("test.key", compute) == 1
    with request_scope():
        assert len(_queries(env, lambda: [env.cached("test.key", compute)
                                          for _ in range(5)])) == 1
        env.invalidate("test.key")  # this process wrote: seen at once
        assert env.cached("test.key", compute) == 2
    with request_scope():  # a new request asks the database again
        assert len(_queries(env, lambda: env.cached("test.key", compute))) == 1
    # outside any request every call checks
    assert len(_queries(env, lambda: [env.cached("test.key", compute) for _ in range(3)])) == 3


def test_a_request_reads_every_generation_in_one_query(env):
    keys = [f"test.key{n}" for n in range(4)]
    for key in keys:
        env.cached(key, lambda: "first")
    with env.db_transaction as db:  # another process bumps one (as Trac would)
        env.database.invalidate(db, keys[2])
    with request_scope():
        read = _queries(env, lambda: [env.cached(key, lambda: "again") for key in keys[:3]])
        assert len(read) == 1  # one look at the cache table for all of them
        assert [env.cached(key, lambda: "x") for key in keys[:3]] == ["first", "first", "again"]
        with env.db_transaction as db:  # this request bumps one it did not look at yet ...
            env.database.invalidate(db, keys[3])
            # ... and sees the bump at once, inside its transaction
            assert env.cached(keys[3], lambda: "inside") == "inside"
        assert env.cached(keys[1], lambda: "x") == "first"
