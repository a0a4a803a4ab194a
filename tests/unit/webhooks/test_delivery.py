"""Delivering the queue to a real receiver: retries with backoff, giving up, a receiver
that hangs, racing senders, redelivery and pings, hooks that changed after queuing, the
URL and name checks, and the sender thread of a served project."""

from __future__ import annotations

import json
import threading
import time

import pytest

from codeyard.util.outbox import now_us
from codeyard.webhooks import events, model, sender
from codeyard.webhooks.api import WebhookError
from tests.unit.webhooks.conftest import SECRET, hook_options, make_ticket, verify

pytestmark = pytest.mark.db



def test_a_500_is_retried_later_with_the_same_delivery(hook_env, receiver):
    receiver.statuses = [500]
    make_ticket(hook_env)
    assert sender.send_due(hook_env) == (0, 1)
    [row] = model.deliveries(hook_env)
    assert (row.status, row.attempts, row.response_code) == ("pending", 1, 500)
    assert row.last_error == "HTTP 500: status 500"
    assert row.next_attempt > now_us() + 500_000  # [webhooks] retry_delay = 1 s
    assert sender.send_due(hook_env) == (0, 0)  # not due yet
    time.sleep(1.1)
    assert sender.send_due(hook_env) == (1, 0)
    first, second = receiver.wait_for(2)
    assert first.body == second.body and verify(SECRET, second)
    assert first.headers["X-Codeyard-Delivery"] == second.headers["X-Codeyard-Delivery"]
    [row] = model.deliveries(hook_env)
    assert (row.status, row.attempts, row.response_code, row.last_error) == (
        "delivered", 2, 200, "")


def test_the_wait_doubles_and_the_delivery_is_given_up(make_env, receiver):
    env = make_env("proj", options=hook_options(("webhooks", "max_attempts", "3"),
                                                ("webhooks", "retry_delay", "100")))
    model.add_hook(env, "main", receiver.url)
    receiver.statuses = [503, 404, 500, 200]
    make_ticket(env)
    started = now_us()
    assert sender.send_due(env) == (0, 1)
    assert 99_000_000 < model.deliveries(env)[0].next_attempt - started < 110_000_000
    assert sender.send_due(env, due_only=False) == (0, 1)
    assert 199_000_000 < model.deliveries(env)[0].next_attempt - started < 210_000_000
    assert sender.send_due(env, due_only=False) == (0, 1)
    [row] = model.deliveries(env)
    assert (row.status, row.attempts, row.response_code) == ("failed", 3, 500)
    assert sender.send_due(env, due_only=False) == (0, 0)
    assert len(receiver.received()) == 3
    checks = [c for r in env.hook.environment_checks(env=env) for c in r if c[1] == "webhooks"]
    assert any("given up" in c[2] and "HTTP 500" in c[2] for c in checks)


def test_a_receiver_that_is_down(make_env):
    env = make_env("proj", options=hook_options())
    model.add_hook(env, "nowhere", "http://127.0.0.1:9/hook")
    make_ticket(env)
    assert sender.send_due(env) == (0, 1)
    [row] = model.deliveries(env)
    assert row.status == "pending" and row.response_code is None
    assert "Connection" in row.last_error or "refused" in row.last_error


def test_a_hanging_receiver_times_out(make_env, receiver):
    env = make_env("proj", options=hook_options(("webhooks", "timeout", "1")))
    model.add_hook(env, "slow", receiver.url)
    receiver.hang.set()
    began = time.monotonic()
    make_ticket(env)
    assert time.monotonic() - began < 1  # the change does not wait for the receiver
    assert sender.send_due(env) == (0, 1)
    assert time.monotonic() - began < 5
    [row] = model.deliveries(env)
    assert row.status == "pending" and "timed out" in row.last_error


def test_racing_senders_deliver_each_row_once(hook_env, receiver):
    for n in range(12):
        make_ticket(hook_env, f"Ticket {n}")
    results = []
    barrier = threading.Barrier(4)

    def run():
        barrier.wait()
        results.append(sender.send_due(hook_env))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r[0] for r in results) == 12 and sum(r[1] for r in results) == 0
    receiver.wait_for(12)
    time.sleep(0.2)
    ids = [g.headers["X-Codeyard-Delivery"] for g in receiver.received()]
    assert len(ids) == len(set(ids)) == 12


def test_the_lease_keeps_a_claimed_row_from_others(hook_env, receiver):
    make_ticket(hook_env)
    first = model.OUTBOX.claim(hook_env, "one", 60, model.DELIVERY_COLUMNS)
    assert len(first) == 1
    assert model.OUTBOX.claim(hook_env, "two", 60, model.DELIVERY_COLUMNS) == []
    model.OUTBOX.mark_done(hook_env, first[0][0], "two")  # not the owner: no effect
    assert model.deliveries(hook_env)[0].status == "pending"


def test_redeliver_and_ping(hook_env, receiver):
    make_ticket(hook_env)
    sender.send_due(hook_env)
    [old] = model.deliveries(hook_env)
    new_id = model.redeliver(hook_env, old.id)
    hook = model.find_hook(hook_env, "main")
    ping_id = events.ping(hook_env, hook, "admin")
    sender.send_due(hook_env)
    first, again, ping = receiver.wait_for(3)
    assert again.headers["X-Codeyard-Event"] == "ticket.created"
    assert again.headers["X-Codeyard-Delivery"] != first.headers["X-Codeyard-Delivery"]
    assert {k: v for k, v in again.json.items() if k != "delivery"} == \
        {k: v for k, v in first.json.items() if k != "delivery"}
    assert ping.headers["X-Codeyard-Event"] == "ping" and verify(SECRET, ping)
    assert ping.json["hook"] == {"name": "main", "events": ["*"]}
    assert ping.json["sender"] == "admin"
    states = {d.id: d.status for d in model.deliveries(hook_env)}
    assert states == {old.id: "delivered", new_id: "delivered", ping_id: "delivered"}
    with pytest.raises(WebhookError):
        model.redeliver(hook_env, 999)


def test_a_hook_changed_after_queuing(hook_env, receiver):
    make_ticket(hook_env)
    hook = model.find_hook(hook_env, "main")
    model.update_hook(hook_env, hook.id, "main", receiver.url + "?v=2", None, "*", True)
    sender.send_due(hook_env)
    [got] = receiver.wait_for(1)
    assert got.path == "/hook?v=2" and verify(SECRET, got)  # the secret was kept
    make_ticket(hook_env)
    model.update_hook(hook_env, hook.id, "renamed", receiver.url, None, "*", False)
    assert {d.hook for d in model.deliveries(hook_env)} == {"renamed"}
    make_ticket(hook_env)  # a disabled hook queues nothing …
    assert len(model.deliveries(hook_env)) == 2
    sender.send_due(hook_env)  # … and what was queued before is not sent
    assert model.deliveries(hook_env)[0].status == "failed"
    assert model.deliveries(hook_env)[0].last_error == "the webhook is disabled"
    model.delete_hook(hook_env, hook.id)
    assert model.all_hooks(hook_env) == []
    assert len(receiver.received()) == 1


def test_urls_names_and_events_are_checked(hook_env, receiver):
    for url in ("ftp://example.org/", "javascript:alert(1)", "http://", "example.org/x",
                "http://exa mple.org/"):
        with pytest.raises(WebhookError, match="not an http|white space"):
            model.add_hook(hook_env, "bad", url)
    with pytest.raises(WebhookError, match="exists already"):
        model.add_hook(hook_env, "main", receiver.url)
    with pytest.raises(WebhookError, match="name"):
        model.add_hook(hook_env, "no spaces", receiver.url)
    with pytest.raises(WebhookError, match="Unknown events: ticket.exploded"):
        model.add_hook(hook_env, "other", receiver.url, events="ticket.exploded")
    hook_env.config.set("webhooks", "ci.url", receiver.url)
    with pytest.raises(WebhookError, match="trac.ini"):
        model.add_hook(hook_env, "ci", receiver.url)
    assert [h.name for h in model.all_hooks(hook_env)] == ["ci", "main"]


def test_the_body_is_the_stored_payload(hook_env, receiver):
    make_ticket(hook_env, "Ünïcode ☕")
    [row] = model.deliveries(hook_env)
    sender.send_due(hook_env)
    [got] = receiver.wait_for(1)
    assert got.body == row.payload.encode("utf-8")
    assert json.loads(got.body)["ticket"]["summary"] == "Ünïcode ☕"


def _senders(env) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == f"webhook-sender {env.path}"]


def test_serving_starts_a_sender_that_delivers_on_its_own(served, receiver):
    env, site = served("proj", options=hook_options())
    model.add_hook(env, "main", receiver.url, SECRET)
    assert site.get("/about").status_code == 200
    assert site.get("/about").status_code == 200
    running = _senders(env)
    assert len(running) == 1
    began = time.monotonic()
    make_ticket(env)
    [got] = receiver.wait_for(1, timeout=5)
    assert time.monotonic() - began < 3  # woken after the commit, not at the next poll
    assert verify(SECRET, got)
    sender.stop_sender(env)
    assert not running[0].is_alive()


def test_a_project_without_hooks_runs_no_sender_until_it_queues(served, receiver):
    env, site = served("proj", options=hook_options())
    assert site.get("/about").status_code == 200
    assert _senders(env) == []  # nothing to send: no thread polling the database
    make_ticket(env)  # no hook yet: nothing queued, still no thread
    assert _senders(env) == [] and model.deliveries(env) == []
    model.add_hook(env, "late", receiver.url)
    make_ticket(env)  # queued, committed: the sender starts and sends
    [got] = receiver.wait_for(1, timeout=5)
    assert got.json["event"] == "ticket.created" and len(_senders(env)) == 1
    sender.stop_sender(env)


def test_a_command_queues_but_leaves_the_sending_to_the_servers(hook_env, receiver):
    make_ticket(hook_env)  # this process never served the project
    assert _senders(hook_env) == [] and receiver.received() == []
    assert model.deliveries(hook_env)[0].status == "pending"
