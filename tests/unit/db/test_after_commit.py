"""``db.on_commit``: callbacks run once the outermost write scope has committed, never
after a rollback, and a failing callback leaves the commit standing."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.db


def _count(env) -> int:
    with env.db_query as db:
        return db("SELECT COUNT(*) FROM system WHERE name LIKE 'oc_%%'")[0][0]


def test_callbacks_run_after_the_outermost_commit(env):
    seen: list[tuple[str, int]] = []
    with env.db_transaction as db:
        db("INSERT INTO system (name, value) VALUES ('oc_a', '1')")
        with env.db_transaction as inner:
            inner.on_commit(lambda: seen.append(("inner", _count(env))))
        assert seen == []  # the inner scope joined the outer one: not committed yet
        db.on_commit(lambda: seen.append(("outer", _count(env))))
    # Both ran after the commit: another scope sees the row.
    assert seen == [("inner", 1), ("outer", 1)]


def test_no_callbacks_after_a_rollback(env):
    seen: list[str] = []
    with pytest.raises(RuntimeError), env.db_transaction as db:
        db("INSERT INTO system (name, value) VALUES ('oc_b', '1')")
        db.on_commit(lambda: seen.append("ran"))
        raise RuntimeError("undo")
    assert seen == [] and _count(env) == 0
    with env.db_transaction as db:
        pass  # a later scope does not inherit the dropped callback
    assert seen == []


def test_a_failing_callback_leaves_the_commit(env, caplog):
    seen: list[str] = []

    def broken():
        raise ValueError("boom")

    with env.db_transaction as db:
        db("INSERT INTO system (name, value) VALUES ('oc_c', '1')")
        db.on_commit(broken)
        db.on_commit(lambda: seen.append("next"))
    assert _count(env) == 1 and seen == ["next"]
    assert "an after-commit callback failed" in caplog.text
