"""Data of notifications: users' subscription rules (Trac's ``notify_subscription``) and
the queue of messages waiting to be sent (``codeyard_notify_queue``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Column, Index, Integer, MetaData, Table, Text

from codeyard.db.schema import INT64
from codeyard.util.outbox import Outbox, now_us

_metadata = MetaData()

# One row per message. A sender claims a row by writing its name and a lease end into it
# with a conditional UPDATE: only one claim of a row can succeed while the lease holds,
# whichever process or thread makes it. A sender that dies leaves the lease to run out.
QUEUE = Table(
    "codeyard_notify_queue", _metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created", INT64),
    Column("realm", Text),
    Column("target", Text),
    Column("category", Text),
    Column("from_addr", Text),
    Column("recipients", Text),  # one address a line
    Column("message", Text),
    Column("state", Text),  # pending, sent, failed
    Column("attempts", Integer),
    Column("next_try", INT64),  # microseconds
    Column("lease_owner", Text),
    Column("lease_until", INT64),
    Column("sent", INT64),
    Column("last_error", Text),
    Index("codeyard_notify_queue_state_next_idx", "state", "next_try"),
)

OUTBOX = Outbox("codeyard_notify_queue")

RULE_COLUMNS = "class, distributor, sid, authenticated, format, priority, adverb"


# -- subscription rules

def _rule(row) -> tuple:
    klass, distributor, sid, auth, fmt, priority, adverb = row
    return (klass, distributor, sid, int(auth or 0), None, fmt or None, int(priority or 0),
            adverb)


def rules_of_class(env, klass: str) -> list[tuple]:
    with env.db_query as db:
        rows = db(f"SELECT {RULE_COLUMNS} FROM notify_subscription WHERE class=%s", (klass,))
    return [_rule(r) for r in rows]


def rules_of_sessions(env, klass: str, sids: Iterable[tuple[str, int]]) -> list[tuple]:
    wanted = set(sids)
    found = []
    with env.db_query as db:
        for sid, auth in sorted(wanted):
            found.extend(db(f"SELECT {RULE_COLUMNS} FROM notify_subscription "
                            "WHERE class=%s AND sid=%s AND authenticated=%s",
                            (klass, sid, int(auth))))
    return [_rule(r) for r in found]


@dataclass
class SessionRule:
    id: int
    klass: str
    distributor: str
    format: str
    priority: int
    adverb: str


def session_rules(env, sid: str, authenticated: bool, distributor: str) -> list[SessionRule]:
    with env.db_query as db:
        rows = db("SELECT id, class, distributor, format, priority, adverb "
                  "FROM notify_subscription WHERE sid=%s AND authenticated=%s "
                  "AND distributor=%s ORDER BY priority, id",
                  (sid, int(authenticated), distributor))
    return [SessionRule(int(r[0]), r[1], r[2], r[3] or "", int(r[4] or 0), r[5]) for r in rows]


def add_rule(env, sid: str, authenticated: bool, distributor: str, klass: str, adverb: str,
             fmt: str = "") -> None:
    """A new rule after the user's others (Trac numbers priorities 1, 2, …)."""
    now = now_us()
    with env.db_transaction as db:
        top = db("SELECT MAX(priority) FROM notify_subscription WHERE sid=%s "
                 "AND authenticated=%s AND distributor=%s",
                 (sid, int(authenticated), distributor))[0][0]
        db("INSERT INTO notify_subscription (time, changetime, class, sid, authenticated, "
           "distributor, format, priority, adverb) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
           (now, now, klass, sid, int(authenticated), distributor, fmt or None,
            int(top or 0) + 1, adverb))


def replace_rules(env, sid: str, authenticated: bool, distributor: str,
                  rules: list[tuple[str, str]], fmt: str = "") -> None:
    """The user's rules of ``distributor`` become (class, adverb) pairs, in this order."""
    now = now_us()
    with env.db_transaction as db:
        db("DELETE FROM notify_subscription WHERE sid=%s AND authenticated=%s "
           "AND distributor=%s", (sid, int(authenticated), distributor))
        db.executemany(
            "INSERT INTO notify_subscription (time, changetime, class, sid, authenticated, "
            "distributor, format, priority, adverb) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [(now, now, klass, sid, int(authenticated), distributor, fmt or None, i + 1, adverb)
             for i, (klass, adverb) in enumerate(rules)])


def delete_rule(env, rule_id: int, sid: str, authenticated: bool) -> None:
    with env.db_transaction as db:
        db("DELETE FROM notify_subscription WHERE id=%s AND sid=%s AND authenticated=%s",
           (int(rule_id), sid, int(authenticated)))


# -- the queue

@dataclass
class QueuedMessage:
    id: int
    created: int
    realm: str
    target: str
    category: str
    from_addr: str
    recipients: list[str]
    message: str
    state: str
    attempts: int
    next_try: int
    last_error: str


QUEUE_COLUMNS = ("id, created, realm, target, category, from_addr, recipients, message, "
                  "state, attempts, next_try, last_error")


def queued_message(row) -> QueuedMessage:
    return QueuedMessage(int(row[0]), int(row[1] or 0), row[2] or "", row[3] or "",
                         row[4] or "", row[5] or "", [r for r in (row[6] or "").split("\n") if r],
                         row[7] or "", row[8] or "", int(row[9] or 0), int(row[10] or 0),
                         row[11] or "")


def enqueue(env, realm: str, target: str, category: str, from_addr: str,
            recipients: list[str], message: str) -> None:
    """Add a message to send (in the caller's transaction when there is one)."""
    now = now_us()
    with env.db_transaction as db:
        db("INSERT INTO codeyard_notify_queue (created, realm, target, category, from_addr, "
           "recipients, message, state, attempts, next_try, lease_owner, lease_until, sent, "
           "last_error) VALUES (%s, %s, %s, %s, %s, %s, %s, 'pending', 0, %s, NULL, 0, 0, '')",
           (now, realm, target, category, from_addr, "\n".join(recipients), message, now))


def claim(env, owner: str, lease_seconds: float, limit: int = 20,
          due_only: bool = True) -> list[QueuedMessage]:
    """Rows this ``owner`` may send now, each leased to it for ``lease_seconds``."""
    return [queued_message(r) for r in OUTBOX.claim(env, owner, lease_seconds, QUEUE_COLUMNS,
                                             limit, due_only)]


def mark_sent(env, row_id: int, owner: str) -> None:
    OUTBOX.mark_done(env, row_id, owner)


def mark_failed(env, row_id: int, owner: str, error: str, retry_in: float | None) -> None:
    """A failed try: due again in ``retry_in`` seconds, or given up (None)."""
    OUTBOX.mark_failed(env, row_id, owner, error, retry_in)


def queued(env, states: tuple[str, ...] = ("pending", "failed", "sent"),
           limit: int = 200) -> list[QueuedMessage]:
    marks = ", ".join(["%s"] * len(states))
    with env.db_query as db:
        rows = db(f"SELECT {QUEUE_COLUMNS} FROM codeyard_notify_queue WHERE state IN ({marks}) "
                  f"ORDER BY id DESC LIMIT {int(limit)}", states)
    return [queued_message(r) for r in rows]


def next_due(env) -> int | None:
    """When the earliest pending message is due (microseconds), or None."""
    return OUTBOX.next_due(env)


def tables() -> list[Table]:
    return [QUEUE]
