"""Projects whose webhooks go to a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from codeyard.ticket.model import Ticket
from codeyard.webhooks import model, sender
from tests.support.webhook_receiver import WebhookReceiver

SECRET = "s3cret-key"
BASE = "http://example.org/proj"


@pytest.fixture
def receiver():
    with WebhookReceiver() as server:
        yield server


def hook_options(*extra):
    return [("trac", "base_url", BASE), ("webhooks", "retry_delay", "1"), *extra]


@pytest.fixture
def hook_env(make_env, receiver):
    """A project with one database hook (all events, signed) to the receiver."""
    env = make_env("proj", options=hook_options())
    model.add_hook(env, "main", receiver.url, SECRET, "*")
    return env


def make_ticket(env, summary: str = "The kettle leaks", **values) -> Ticket:
    ticket = Ticket(env)
    ticket.populate({"summary": summary, "reporter": "alice", **values})
    ticket.insert()
    return ticket


def verify(secret: str, got) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), got.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, got.headers.get("X-Codeyard-Signature-256", ""))


def deliver(env) -> list:
    """Send everything pending now; the deliveries, newest first."""
    sender.send_due(env, due_only=False)
    return model.deliveries(env)
