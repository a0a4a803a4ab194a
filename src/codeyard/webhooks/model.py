"""Data of webhooks: the hooks kept in the database (``codeyard_webhook``) and the queue
of deliveries (``codeyard_webhook_delivery``), worked off by ``codeyard.util.outbox``."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Index, Integer, MetaData, Table, Text, UniqueConstraint

from codeyard.db.schema import INT64
from codeyard.util.outbox import Outbox, now_us
from codeyard.webhooks import api
from codeyard.webhooks.api import Webhook, WebhookError

_metadata = MetaData()

HOOKS = Table(
    "codeyard_webhook", _metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False),
    Column("url", Text),
    Column("secret", Text),
    Column("events", Text),  # comma list
    Column("active", Integer),
    Column("created", INT64),
    Column("changed", INT64),
    UniqueConstraint("name", name="codeyard_webhook_name_key"),
)

# One row per delivery (a hook and one event); its payload is the body as sent.
DELIVERIES = Table(
    "codeyard_webhook_delivery", _metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("delivery", Text),  # the uuid of the payload
    Column("hook", Text),  # the hook's name
    Column("event", Text),
    Column("payload", Text),
    Column("status", Text),  # pending, delivered, failed
    Column("attempts", Integer),
    Column("next_attempt", INT64),
    Column("lease_owner", Text),
    Column("lease_until", INT64),
    Column("response_code", Integer),
    Column("last_error", Text),
    Column("created", INT64),
    Column("delivered", INT64),
    Index("codeyard_webhook_delivery_status_idx", "status", "next_attempt"),
)

OUTBOX = Outbox("codeyard_webhook_delivery", done_state="delivered", state="status",
                due="next_attempt", done_time="delivered")


def tables() -> list[Table]:
    return [HOOKS, DELIVERIES]


# -- hooks

_HOOK_COLUMNS = "id, name, url, secret, events, active"


def _hook(row) -> Webhook:
    return Webhook(row[1], row[2] or "", row[3] or "",
                   [e for e in (row[4] or "").split(",") if e] or ["*"], bool(row[5]), "db",
                   int(row[0]))


def db_hooks(env) -> list[Webhook]:
    with env.db_query as db:
        rows = db(f"SELECT {_HOOK_COLUMNS} FROM codeyard_webhook ORDER BY name")
    return [_hook(r) for r in rows]


def all_hooks(env) -> list[Webhook]:
    """The hooks of trac.ini, then those of the database (an ini hook wins a name)."""
    ini, _problems = api.ini_hooks(env.config)
    names = {h.name for h in ini}
    return ini + [h for h in db_hooks(env) if h.name not in names]


def find_hook(env, name: str) -> Webhook | None:
    return next((h for h in all_hooks(env) if h.name == name), None)


def get_db_hook(env, hook_id: int) -> Webhook:
    with env.db_query as db:
        rows = db(f"SELECT {_HOOK_COLUMNS} FROM codeyard_webhook WHERE id=%s", (int(hook_id),))
    if not rows:
        raise WebhookError(f"There is no webhook {hook_id}.")
    return _hook(rows[0])


def _checked(env, name: str, url: str, events: str | list[str]) -> tuple[str, str, list[str]]:
    name = api.check_name(name)
    ini, _problems = api.ini_hooks(env.config)
    if any(h.name == name for h in ini):
        raise WebhookError(f"The name {name} is taken by a hook of trac.ini.")
    return name, api.check_url(url), api.parse_events(events)


def add_hook(env, name: str, url: str, secret: str = "", events: str | list[str] = "*",
             active: bool = True) -> Webhook:
    name, url, event_list = _checked(env, name, url, events)
    now = now_us()
    with env.db_transaction as db:
        with db.unique(WebhookError(f"A webhook named {name} exists already.")):
            db("INSERT INTO codeyard_webhook (name, url, secret, events, active, created, "
               "changed) VALUES (%s, %s, %s, %s, %s, %s, %s)",
               (name, url, secret or "", ",".join(event_list), int(bool(active)), now, now))
        hook_id = int(db.last_id("codeyard_webhook"))
    return Webhook(name, url, secret or "", event_list, bool(active), "db", hook_id)


def update_hook(env, hook_id: int, name: str, url: str, secret: str | None,
                events: str | list[str], active: bool) -> None:
    """Change a hook; ``secret`` None keeps the one it has."""
    name, url, event_list = _checked(env, name, url, events)
    with env.db_transaction as db:
        old = get_db_hook(env, hook_id)
        with db.unique(WebhookError(f"A webhook named {name} exists already.")):
            db("UPDATE codeyard_webhook SET name=%s, url=%s, secret=%s, events=%s, active=%s, "
               "changed=%s WHERE id=%s",
               (name, url, old.secret if secret is None else secret, ",".join(event_list),
                int(bool(active)), now_us(), int(hook_id)))
        if name != old.name:  # its deliveries (waiting ones too) follow the new name
            db("UPDATE codeyard_webhook_delivery SET hook=%s WHERE hook=%s", (name, old.name))


def delete_hook(env, hook_id: int) -> None:
    with env.db_transaction as db:
        get_db_hook(env, hook_id)
        db("DELETE FROM codeyard_webhook WHERE id=%s", (int(hook_id),))


# -- deliveries

@dataclass
class Delivery:
    id: int
    attempts: int
    delivery: str
    hook: str
    event: str
    payload: str
    status: str
    next_attempt: int
    response_code: int | None
    last_error: str
    created: int
    delivered: int


DELIVERY_COLUMNS = ("id, attempts, delivery, hook, event, payload, status, next_attempt, "
                    "response_code, last_error, created, delivered")


def delivery(row) -> Delivery:
    return Delivery(int(row[0]), int(row[1] or 0), row[2] or "", row[3] or "", row[4] or "",
                    row[5] or "", row[6] or "", int(row[7] or 0),
                    None if row[8] is None else int(row[8]), row[9] or "", int(row[10] or 0),
                    int(row[11] or 0))


def enqueue(env, hook: Webhook, event: str, payload: dict[str, Any]) -> int:
    """Queue one delivery in the caller's transaction when there is one (a change that is
    rolled back takes its deliveries with it); returns the row's id."""
    body = json.dumps(payload, ensure_ascii=False, sort_keys=True, default=str)
    now = now_us()
    with env.db_transaction as db:
        db("INSERT INTO codeyard_webhook_delivery (delivery, hook, event, payload, status, "
           "attempts, next_attempt, lease_owner, lease_until, response_code, last_error, "
           "created, delivered) VALUES (%s, %s, %s, %s, 'pending', 0, %s, NULL, 0, NULL, '', "
           "%s, 0)", (payload["delivery"], hook.name, event, body, now, now))
        return int(db.last_id("codeyard_webhook_delivery"))


def new_delivery_id() -> str:
    return str(uuid.uuid4())


def get_delivery(env, row_id: int) -> Delivery:
    with env.db_query as db:
        rows = db(f"SELECT {DELIVERY_COLUMNS} FROM codeyard_webhook_delivery WHERE id=%s",
                  (int(row_id),))
    if not rows:
        raise WebhookError(f"There is no delivery {row_id}.")
    return delivery(rows[0])


def redeliver(env, row_id: int) -> int:
    """Queue the payload of an earlier delivery again, as a new delivery (its own id)."""
    old = get_delivery(env, row_id)
    hook = find_hook(env, old.hook)
    if hook is None:
        raise WebhookError(f"The webhook {old.hook} of delivery {row_id} no longer exists.")
    payload = json.loads(old.payload)
    payload["delivery"] = new_delivery_id()
    return enqueue(env, hook, old.event, payload)


def deliveries(env, limit: int = 50, status: str | None = None) -> list[Delivery]:
    """The newest deliveries first."""
    where, params = ("WHERE status=%s", (status,)) if status else ("", ())
    with env.db_query as db:
        rows = db(f"SELECT {DELIVERY_COLUMNS} FROM codeyard_webhook_delivery {where} "
                  f"ORDER BY id DESC LIMIT {int(limit)}", params)
    return [delivery(r) for r in rows]
