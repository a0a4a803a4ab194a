"""A queue table worked off by background threads: claim with a lease, send, back off.

Several features send things to the outside world that must never hold up a request:
a request only adds a row to a queue table (in its own transaction, so a change that is
rolled back queues nothing) and wakes this process's worker; the worker claims due rows
with a lease, sends them, and marks each done, due again later (the wait doubling with
each failure) or given up.

A claim is a conditional UPDATE of one row (still pending, lease run out): only one claim
of a row can succeed while its lease holds, whichever thread or process makes it. A
worker that dies leaves its leases to run out, and the rows are claimed again.

The table has at least the columns named by ``Outbox``: an integer ``id``, a state
(pending, a done state, failed), ``attempts``, the time the row is due, the lease's
owner and end, the time it was done and the last error. Times are microseconds.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

LONGEST_RETRY = 6 * 3600.0
POLL_SECONDS = 15.0  # how often a worker looks for rows other processes added

_log = logging.getLogger("codeyard.outbox")


def now_us() -> int:
    return int(time.time() * 1_000_000)


def retry_delay(first: float, attempts: int, longest: float = LONGEST_RETRY) -> float:
    """Seconds before the next try after ``attempts`` failed ones: first, twice that, …"""
    return min(first * (2 ** max(attempts - 1, 0)), longest)


def worker_name() -> str:
    """A name no other worker (thread or process, on any machine) has."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Outbox:
    """The names of one queue table and of its bookkeeping columns."""

    table: str
    done_state: str = "sent"
    state: str = "state"
    due: str = "next_try"
    done_time: str = "sent"
    error: str = "last_error"

    def claim(self, env, owner: str, lease_seconds: float, columns: str, limit: int = 20,
              due_only: bool = True) -> list[tuple]:
        """Rows (``columns`` of each) this ``owner`` may send now: pending, due (unless
        ``due_only`` is off), not leased by anyone else; each leased to ``owner``."""
        now = now_us()
        until = now + int(lease_seconds * 1_000_000)
        due = f" AND {self.due}<=%s" if due_only else ""
        params: tuple = (now, now) if due_only else (now,)
        with env.db_query as db:
            ids = [int(r[0]) for r in db(
                f"SELECT id FROM {self.table} WHERE {self.state}='pending' AND lease_until<%s"
                f"{due} ORDER BY id LIMIT {int(limit)}", params)]
        claimed = []
        for row_id in ids:
            with env.db_transaction as db:
                if db.execute_rowcount(
                        f"UPDATE {self.table} SET lease_owner=%s, lease_until=%s "
                        f"WHERE id=%s AND {self.state}='pending' AND lease_until<%s",
                        (owner, until, row_id, now)) == 1:
                    claimed.extend(db(f"SELECT {columns} FROM {self.table} WHERE id=%s",
                                      (row_id,)))
        return claimed

    def _extra(self, extra: dict[str, Any] | None) -> tuple[str, tuple]:
        names = sorted(extra or {})
        return "".join(f", {name}=%s" for name in names), tuple((extra or {})[n] for n in names)

    def mark_done(self, env, row_id: int, owner: str, extra: dict[str, Any] | None = None
                  ) -> None:
        """A row sent by its lease's ``owner`` (anyone else's word changes nothing)."""
        sets, values = self._extra(extra)
        with env.db_transaction as db:
            db(f"UPDATE {self.table} SET {self.state}=%s, {self.done_time}=%s, lease_until=0, "
               f"attempts=attempts+1, {self.error}=''{sets} WHERE id=%s AND lease_owner=%s",
               (self.done_state, now_us(), *values, row_id, owner))

    def mark_failed(self, env, row_id: int, owner: str, error: str, retry_in: float | None,
                    extra: dict[str, Any] | None = None) -> None:
        """A failed try: due again in ``retry_in`` seconds, or given up (None)."""
        sets, values = self._extra(extra)
        with env.db_transaction as db:
            if retry_in is None:
                db(f"UPDATE {self.table} SET {self.state}='failed', lease_until=0, "
                   f"attempts=attempts+1, {self.error}=%s{sets} "
                   "WHERE id=%s AND lease_owner=%s", (error, *values, row_id, owner))
            else:
                db(f"UPDATE {self.table} SET lease_until=0, attempts=attempts+1, "
                   f"{self.due}=%s, {self.error}=%s{sets} WHERE id=%s AND lease_owner=%s",
                   (now_us() + int(retry_in * 1_000_000), error, *values, row_id, owner))

    def next_due(self, env) -> int | None:
        """When the earliest pending row is due (microseconds), or None."""
        with env.db_query as db:
            value = db(f"SELECT MIN({self.due}) FROM {self.table} "
                       f"WHERE {self.state}='pending'")[0][0]
        return None if value is None else int(value)


@dataclass
class Failure:
    """What a send function returns for a try that did not work (``final``: no use trying
    again, give the row up now)."""

    error: str
    extra: dict[str, Any] = field(default_factory=dict)
    final: bool = False


@dataclass
class Work:
    """How a feature works off its queue: which rows, how one is sent, how often tried.

    ``load(row)`` turns the ``columns`` of a claimed row into an item with ``id`` and
    ``attempts``; ``send(env, item)`` returns None (or a dict of columns to store) when it
    was sent, a ``Failure`` when not; ``label(item)`` names it in the log.
    ``retries(env)`` is how often a failed item is tried again, ``first_delay(env)`` the
    first wait in seconds."""

    outbox: Outbox
    columns: str
    load: Callable[[tuple], Any]
    send: Callable[[Any, Any], dict[str, Any] | Failure | None]
    retries: Callable[[Any], int]
    first_delay: Callable[[Any], float]
    label: Callable[[Any], str] = lambda item: str(item.id)
    lease_seconds: float = 120.0
    logger_name: str = "codeyard.outbox"


def send_due(env, work: Work, owner: str | None = None, due_only: bool = True
             ) -> tuple[int, int]:
    """Send what is due now (everything pending with ``due_only`` off): (sent, failed)."""
    owner = owner or worker_name()
    log = getattr(env, "log", None) or logging.getLogger(work.logger_name)
    sent = failed = 0
    while True:
        batch = work.outbox.claim(env, owner, work.lease_seconds, work.columns,
                                  due_only=due_only)
        if not batch:
            return sent, failed
        for item in map(work.load, batch):
            result = work.send(env, item)
            if isinstance(result, Failure):
                failed += 1
                attempts = item.attempts + 1
                give_up = result.final or attempts > work.retries(env)
                delay = None if give_up else retry_delay(work.first_delay(env), attempts)
                work.outbox.mark_failed(env, item.id, owner, result.error, delay,
                                        result.extra)
                if delay is None:
                    log.error("%s given up after %d tries: %s", work.label(item), attempts,
                              result.error)
                else:
                    log.warning("%s not sent (try %d), again in %.0f s: %s", work.label(item),
                                attempts, delay, result.error)
            else:
                sent += 1
                work.outbox.mark_done(env, item.id, owner, result)
                log.info("%s sent", work.label(item))
        if not due_only:
            # A flush sends each row once at most, even those that failed just now.
            due_only = True


class Worker:
    """The thread of one queue of one project in this process.

    ``run_once(env, owner)`` works off what is due and returns whether the queue is in use
    (False: sending is switched off, so the next look is a poll later, with no query of
    when the next row is due)."""

    def __init__(self, env, kind: str, run_once: Callable[[Any, str], bool],
                 next_due: Callable[[Any], int | None]) -> None:
        self._env = weakref.ref(env)
        self.name = worker_name()
        self._run_once, self._next_due = run_once, next_due
        self.wake = threading.Event()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"{kind} {env.path}",
                                       daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        self.wake.set()

    def _wait_seconds(self, env) -> float:
        due = self._next_due(env)
        if due is None:
            return POLL_SECONDS
        return max(0.0, min(POLL_SECONDS, (due - now_us()) / 1_000_000))

    def _run(self) -> None:
        while not self.stopped.is_set():
            env = self._env()
            if env is None:
                return
            wait = POLL_SECONDS
            try:
                # Cleared before looking: a row queued while we send wakes the next round.
                self.wake.clear()
                if self._run_once(env, self.name):
                    wait = self._wait_seconds(env)
            except Exception:  # the thread must live on: log, wait, try again
                try:
                    env.log.exception("the %s worker failed", self.thread.name.split()[0])
                except Exception:
                    pass
            del env
            self.wake.wait(wait)


class Workers:
    """The workers of one kind (one per project and process)."""

    def __init__(self, kind: str, run_once: Callable[[Any, str], bool],
                 next_due: Callable[[Any], int | None]) -> None:
        self.kind = kind
        self._run_once, self._next_due = run_once, next_due
        self._workers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def start(self, env) -> Worker:
        """This process's worker of ``env`` (started once)."""
        with self._lock:
            worker = self._workers.get(env)
            if worker is None or not worker.thread.is_alive():
                worker = self._workers[env] = Worker(env, self.kind, self._run_once,
                                                     self._next_due)
                worker.start()
            return worker

    def wake(self, env) -> None:
        """Tell this process's worker of ``env``, if it runs, that a row waits."""
        worker = self._workers.get(env)
        if worker is not None:
            worker.wake.set()

    def stop(self, env) -> None:
        with self._lock:
            worker = self._workers.pop(env, None)
        if worker is not None:
            worker.stop()
            worker.thread.join(timeout=10)
