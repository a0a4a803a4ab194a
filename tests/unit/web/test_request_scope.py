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
