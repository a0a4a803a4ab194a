"""Delivering the queue: a worker thread per served project and process POSTs due
deliveries to their hooks (``codeyard.util.outbox`` claims them with a lease and backs off
after failures). A 2xx answer is a delivery; anything else, or no answer within
``[webhooks] timeout`` seconds, is tried again later, up to ``[webhooks] max_attempts``.

Nothing here runs inside a request: a receiver that hangs or is down never slows a page.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import http.client
import urllib.parse

from codeyard import __version__
from codeyard.util import outbox
from codeyard.webhooks import api, model

USER_AGENT = f"codeyard-webhooks/{__version__}"
MAX_ERROR = 200  # characters of an error kept with a delivery
LEASE_MARGIN = 30.0  # seconds a lease outlives the longest try


def signature(secret: str, body: bytes) -> str:
    """The ``X-Codeyard-Signature-256`` value of ``body``: sha256= and the hex HMAC."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def headers(hook: api.Webhook, event: str, delivery: str, body: bytes) -> dict[str, str]:
    found = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
             "X-Codeyard-Event": event, "X-Codeyard-Delivery": delivery}
    if hook.secret:
        found["X-Codeyard-Signature-256"] = signature(hook.secret, body)
    return found


def post(url: str, body: bytes, head: dict[str, str], timeout: float) -> tuple[int, str]:
    """POST ``body``; (status, the first bytes of the answer). Raises OSError (and
    http.client's errors) when there is no answer. Redirects are not followed."""
    parts = urllib.parse.urlsplit(url)
    conn_class = (http.client.HTTPSConnection if parts.scheme == "https"
                  else http.client.HTTPConnection)
    conn = conn_class(parts.hostname or "", parts.port, timeout=timeout)
    try:
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn.request("POST", path, body=body, headers={**head, "Content-Length": str(len(body))})
        response = conn.getresponse()
        text = response.read(MAX_ERROR).decode("utf-8", "replace")
        return response.status, text
    finally:
        conn.close()


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_ERROR else text[:MAX_ERROR - 1] + "…"


def _send(env, item: model.Delivery) -> dict | outbox.Failure | None:
    hook = model.find_hook(env, item.hook)
    if hook is None:
        return outbox.Failure("the webhook no longer exists", final=True)
    if not hook.active:
        return outbox.Failure("the webhook is disabled", final=True)
    body = item.payload.encode("utf-8")
    try:
        status, text = post(hook.url, body, headers(hook, item.event, item.delivery, body),
                            api.TIMEOUT(env.config))
    except (OSError, http.client.HTTPException) as exc:
        return outbox.Failure(_short(f"{type(exc).__name__}: {exc}"), {"response_code": None})
    if 200 <= status < 300:
        return {"response_code": status}
    return outbox.Failure(_short(f"HTTP {status}: {text}"), {"response_code": status})


def _label(item: model.Delivery) -> str:
    return f"webhook delivery {item.id} ({item.event} to {item.hook})"


WORK = outbox.Work(model.OUTBOX, model.DELIVERY_COLUMNS, model.delivery, _send,
                   lambda env: max(api.MAX_ATTEMPTS(env.config) - 1, 0),
                   lambda env: api.RETRY_DELAY(env.config), _label,
                   logger_name="codeyard.webhooks")


def _lease(env) -> float:
    return api.TIMEOUT(env.config) * 2 + LEASE_MARGIN  # connect, then answer


def send_due(env, owner: str | None = None, due_only: bool = True) -> tuple[int, int]:
    """Deliver what is due now (everything pending with ``due_only`` off): (sent, failed)."""
    work = dataclasses.replace(WORK, lease_seconds=_lease(env))
    return outbox.send_due(env, work, owner, due_only)


def _run_once(env, owner: str) -> bool:
    send_due(env, owner)
    return True


# This process's senders, one per project: start, wake (a row waits) and stop one.
_senders = outbox.Workers("webhook-sender", _run_once, model.OUTBOX.next_due)
start_sender, wake_sender, stop_sender = _senders.start, _senders.wake, _senders.stop
