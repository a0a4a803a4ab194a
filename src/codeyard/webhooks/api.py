"""Outgoing webhooks: the ``[webhooks]`` options, the events a hook can subscribe to, what a
hook is, and the JSON payloads.

A hook is a URL that gets an HTTP POST of a JSON document when one of its events happens
in the project, signed with the hook's secret (HMAC-SHA256 of the body). Hooks come from
``[webhooks]`` in trac.ini (``NAME.url``, ``NAME.secret``, ``NAME.events``,
``NAME.active``) or from the admin panel (the ``codeyard_webhook`` table).
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from codeyard.config import ConfigSection, IntOption

SECTION = "webhooks"

TIMEOUT = IntOption(SECTION, "timeout", 10,
                    "Seconds a webhook receiver has to answer a delivery before the try counts "
                    "as failed.")
MAX_ATTEMPTS = IntOption(SECTION, "max_attempts", 8,
                         "How often a delivery is tried before it is given up.")
RETRY_DELAY = IntOption(SECTION, "retry_delay", 30,
                        "Seconds before a failed delivery is tried again; the wait doubles "
                        "with every further failure (up to six hours).")
HOOKS_SECTION = ConfigSection(
    SECTION,
    "Webhooks: besides the options, `NAME.url` (http or https), `NAME.secret` (signs the "
    "body; empty: unsigned), `NAME.events` (comma-separated, `*` for all: ticket.created, "
    "ticket.changed, ticket.deleted, wiki.changed, milestone.completed, push) and "
    "`NAME.active` (default true) define the hook NAME. More hooks are kept in the "
    "database through the admin panel.")

EVENTS = ("ticket.created", "ticket.changed", "ticket.deleted", "wiki.changed",
          "milestone.completed", "push")
PING = "ping"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_OWN_OPTIONS = {TIMEOUT.name, MAX_ATTEMPTS.name, RETRY_DELAY.name}


class WebhookError(ValueError):
    """A hook definition that cannot be used; the message says what to fix."""


@dataclass
class Webhook:
    name: str
    url: str
    secret: str = ""
    events: list[str] = field(default_factory=lambda: ["*"])
    active: bool = True
    source: str = "db"  # or "ini"
    id: int | None = None

    def wants(self, event: str) -> bool:
        return self.active and ("*" in self.events or event in self.events)


def check_url(url: str) -> str:
    """The URL, stripped, or WebhookError when it is not an absolute http(s) URL."""
    url = (url or "").strip()
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise WebhookError(f"The URL {url!r} is not an http:// or https:// URL with a host.")
    if any(c.isspace() for c in url):
        raise WebhookError(f"The URL {url!r} contains white space.")
    return url


def check_name(name: str) -> str:
    name = (name or "").strip()
    if not NAME_RE.match(name):
        raise WebhookError("A webhook's name is 1 to 64 letters, digits, '-' or '_' (starting "
                           "with a letter or digit).")
    return name


def parse_events(text: str | list[str]) -> list[str]:
    """A comma list of events (``*`` for all) checked against the known ones."""
    items = text if isinstance(text, list) else str(text or "").split(",")
    events = [e.strip() for e in items if e.strip()]
    if not events:
        raise WebhookError("Choose at least one event (or * for all).")
    unknown = [e for e in events if e != "*" and e not in EVENTS]
    if unknown:
        raise WebhookError(f"Unknown events: {', '.join(unknown)} (known: *, "
                           f"{', '.join(EVENTS)}).")
    return ["*"] if "*" in events else list(dict.fromkeys(events))


def ini_hooks(config) -> tuple[list[Webhook], list[str]]:
    """The hooks of ``[webhooks]`` and the problems found (a hook with a bad URL is left
    out, so one typo never sends elsewhere)."""
    fields: dict[str, dict[str, str]] = {}
    for key, value in config.options(SECTION):
        if key in _OWN_OPTIONS or "." not in key:
            continue
        name, _, attr = key.rpartition(".")
        fields.setdefault(name, {})[attr] = value
    hooks, problems = [], []
    for name in sorted(fields):
        values = fields[name]
        try:
            check_name(name)
            hooks.append(Webhook(
                name, check_url(values.get("url", "")), values.get("secret", ""),
                parse_events(values.get("events", "*")),
                values.get("active", "true").strip().lower() in ("1", "true", "yes", "on",
                                                                  "enabled"),
                "ini"))
        except WebhookError as exc:
            problems.append(f"[webhooks] {name}: {exc}")
    return hooks, problems


def iso(us: int | datetime | None) -> str | None:
    """ISO 8601 UTC text of a time in microseconds (or a datetime), None for none."""
    if us is None or us == 0:
        return None
    when = us if isinstance(us, datetime) else datetime.fromtimestamp(int(us) / 1_000_000, UTC)
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def project_url(env) -> str:
    from codeyard.env import BASE_URL

    return (BASE_URL(env.config) or "").rstrip("/")


def envelope(env, event: str, delivery: str, sender: str | None, when_us: int,
             body: dict[str, Any]) -> dict[str, Any]:
    """The common part of every payload, then the event's own fields."""
    return {"event": event, "delivery": delivery,
            "project": {"name": env.project_name, "url": project_url(env)},
            "sender": sender or None, "timestamp": iso(when_us), **body}

