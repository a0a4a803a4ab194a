"""The shared outbox on a queue table of its own: the wait between tries, a final failure,
extra columns stored with the outcome, and the lease."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, Text

from codeyard.db.schema import INT64
from codeyard.util import outbox

pytestmark = pytest.mark.db

_md = MetaData()
JOBS = Table("codeyard_test_jobs", _md,
             Column("id", Integer, primary_key=True, autoincrement=True),
             Column("what", Text), Column("state", Text), Column("attempts", Integer),
             Column("next_try", INT64), Column("lease_owner", Text), Column("lease_until", INT64),
             Column("sent", INT64), Column("last_error", Text), Column("note", Text))
BOX = outbox.Outbox("codeyard_test_jobs")


@dataclass
class Job:
    id: int
    attempts: int
    what: str


def _env(env, *jobs: str):
    with env.db_transaction as db:
        _md.create_all(db.conn)
        for what in jobs:
            db("INSERT INTO codeyard_test_jobs (what, state, attempts, next_try, lease_until, "
               "sent, last_error) VALUES (%s, 'pending', 0, 0, 0, 0, '')", (what,))
    return env


def _rows(env):
    with env.db_query as db:
        return db("SELECT what, state, attempts, last_error, note FROM codeyard_test_jobs "
                  "ORDER BY id")


def _work(send, retries: int = 3) -> outbox.Work:
    return outbox.Work(BOX, "id, attempts, what", lambda r: Job(int(r[0]), int(r[1]), r[2]),
                       send, lambda env: retries, lambda env: 10.0)


def test_the_wait_doubles_up_to_a_cap():
    assert [outbox.retry_delay(30, n) for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert outbox.retry_delay(30, 40) == outbox.LONGEST_RETRY
    assert outbox.retry_delay(5, 3, longest=12) == 12


def test_outcomes_and_extra_columns(env):
    _env(env, "ok", "again", "never")

    def send(env, job):
        if job.what == "ok":
            return {"note": "fine"}
        if job.what == "again":
            return outbox.Failure("busy", {"note": "try later"})
        return outbox.Failure("gone", final=True)

    assert outbox.send_due(env, _work(send)) == (1, 2)
    assert _rows(env) == [("ok", "sent", 1, "", "fine"),
                          ("again", "pending", 1, "busy", "try later"),
                          ("never", "failed", 1, "gone", None)]
    assert BOX.next_due(env) > outbox.now_us() + 9_000_000
    assert outbox.send_due(env, _work(send)) == (0, 0)  # not due yet
    assert outbox.send_due(env, _work(send), due_only=False) == (0, 1)
    assert _rows(env)[1][1:3] == ("pending", 2)


def test_a_lease_is_the_owners_alone(env):
    _env(env, "one")
    [row] = BOX.claim(env, "me", 60, "id, what")
    assert BOX.claim(env, "you", 60, "id, what") == []
    BOX.mark_failed(env, row[0], "you", "not yours", None)
    assert _rows(env)[0][1] == "pending"
    BOX.mark_failed(env, row[0], "me", "mine", 0)
    assert BOX.claim(env, "you", 60, "id, what") == [(row[0], "one")]
