"""Each event kind queued by its listener and delivered to a real receiver: the payload,
the headers and the signature; the events a hook subscribes to; a rolled-back change."""

from __future__ import annotations

import re

import pytest

from codeyard.ticket.model import Ticket
from codeyard.ticket.values import add_milestone, update_milestone
from codeyard.webhooks import model, sender
from codeyard.wiki.model import WikiPage
from tests.unit.webhooks.conftest import BASE, SECRET, deliver, hook_options, make_ticket, verify

pytestmark = pytest.mark.db

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")



def test_a_new_ticket_is_queued_then_delivered_signed(hook_env, receiver):
    ticket = make_ticket(hook_env, owner="bob")
    [row] = model.deliveries(hook_env)
    assert (row.status, row.event, row.hook, row.attempts) == ("pending", "ticket.created",
                                                               "main", 0)
    assert receiver.received() == []  # the change itself sent nothing
    assert sender.send_due(hook_env) == (1, 0)
    [got] = receiver.wait_for(1)
    assert got.path == "/hook"
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["User-Agent"].startswith("codeyard-webhooks/")
    assert got.headers["X-Codeyard-Event"] == "ticket.created"
    assert UUID.match(got.headers["X-Codeyard-Delivery"])
    assert verify(SECRET, got)
    assert not verify("another secret", got)
    data = got.json
    assert data["event"] == "ticket.created"
    assert data["delivery"] == got.headers["X-Codeyard-Delivery"] == row.delivery
    assert data["project"] == {"name": "proj", "url": BASE}
    assert data["sender"] == "alice" and ISO.match(data["timestamp"])
    t = data["ticket"]
    assert t["id"] == ticket.id and t["url"] == f"{BASE}/ticket/{ticket.id}"
    assert t["summary"] == "The kettle leaks" and t["owner"] == "bob"
    assert t["reporter"] == "alice" and "status" in t and "milestone" in t
    assert ISO.match(t["time"]) and ISO.match(t["changetime"])
    assert data["changes"] == {} and data["comment"] == ""
    [row] = model.deliveries(hook_env)
    assert (row.status, row.attempts, row.response_code) == ("delivered", 1, 200)
    assert row.delivered >= row.created > 0
    assert sender.send_due(hook_env) == (0, 0)
    checks = [c for r in hook_env.hook.environment_checks(env=hook_env) for c in r
              if c[1] == "webhooks"]
    assert checks == [("ok", "webhooks", "1 webhooks, 1 active")]


def test_a_change_with_a_comment(hook_env, receiver):
    ticket = make_ticket(hook_env)
    ticket = Ticket(hook_env, ticket.id)
    ticket["priority"] = "critical"
    ticket["summary"] = "The kettle floods"
    ticket.save_changes("dave", "Now it floods the kitchen.")
    deliver(hook_env)
    got = receiver.wait_for(2)
    data = next(g.json for g in got if g.json["event"] == "ticket.changed")
    assert data["sender"] == "dave"
    assert data["changes"] == {"priority": {"old": "major", "new": "critical"},
                               "summary": {"old": "The kettle leaks",
                                           "new": "The kettle floods"}}
    assert data["comment"] == "Now it floods the kitchen."
    assert data["url"] == f"{BASE}/ticket/{ticket.id}#comment:1"
    assert data["ticket"]["summary"] == "The kettle floods"


def test_a_deleted_ticket(hook_env, receiver):
    ticket = make_ticket(hook_env)
    number = ticket.id
    ticket.delete()
    deliver(hook_env)
    events = [g.json for g in receiver.wait_for(2)]
    assert [e["event"] for e in events] == ["ticket.created", "ticket.deleted"]
    assert events[1]["ticket"]["id"] == number


def test_wiki_created_edited_renamed_deleted(hook_env, receiver):
    page = WikiPage(hook_env, "KettleGuide")
    page.text = "Boil water."
    page.save("alice", "first words")
    page = WikiPage(hook_env, "KettleGuide")
    page.text = "Boil water carefully."
    page.save("bob", "more care")
    page.rename("KettleManual", author="carol")
    WikiPage(hook_env, "KettleManual").delete()
    deliver(hook_env)
    got = [g.json for g in receiver.wait_for(4)]
    assert {g["event"] for g in got} == {"wiki.changed"}
    assert [g["action"] for g in got] == ["created", "changed", "renamed", "deleted"]
    first, second, renamed, deleted = got
    assert first["page"] == {"name": "KettleGuide", "old_name": None, "version": 1,
                             "author": "alice", "comment": "first words",
                             "time": first["page"]["time"],
                             "url": f"{BASE}/wiki/KettleGuide"}
    assert first["sender"] == "alice" and ISO.match(first["page"]["time"])
    assert second["page"]["version"] == 2 and second["page"]["author"] == "bob"
    assert second["page"]["comment"] == "more care"
    assert renamed["page"]["name"] == "KettleManual"
    assert renamed["page"]["old_name"] == "KettleGuide"
    assert deleted["page"]["name"] == "KettleManual"


def test_milestone_completed_only_when_it_gains_a_completion_date(hook_env, receiver):
    add_milestone(hook_env, "1.0", due=1_700_000_000_000_000)
    update_milestone(hook_env, "1.0", due=1_800_000_000_000_000)
    assert model.deliveries(hook_env) == []
    update_milestone(hook_env, "1.0", completed=1_750_000_000_000_000)
    update_milestone(hook_env, "1.0", description="Done and dusted.")  # still completed
    add_milestone(hook_env, "0.9", completed=1_600_000_000_000_000)  # created completed
    deliver(hook_env)
    got = [g.json for g in receiver.wait_for(2)]
    assert [g["event"] for g in got] == ["milestone.completed"] * 2
    assert got[0]["milestone"] == {"name": "1.0", "due": "2027-01-15T08:00:00Z",
                                   "completed": "2025-06-15T15:06:40Z", "description": "",
                                   "url": f"{BASE}/milestone/1.0"}
    assert got[0]["timestamp"] == "2025-06-15T15:06:40Z"
    assert got[1]["milestone"]["name"] == "0.9"
    update_milestone(hook_env, "1.0", completed=None)
    update_milestone(hook_env, "1.0", completed=1_760_000_000_000_000)  # completed again
    deliver(hook_env)
    assert len(receiver.wait_for(3)) == 3


def test_events_filter_and_inactive_hooks(make_env, receiver):
    env = make_env("proj", options=hook_options())
    model.add_hook(env, "wiki-only", receiver.url, "", "wiki.changed")
    model.add_hook(env, "off", receiver.url, "", "*", active=False)
    model.add_hook(env, "tickets", receiver.url + "?t=1", "", "ticket.created,ticket.changed")
    make_ticket(env)
    page = WikiPage(env, "Notes")
    page.text = "x"
    page.save("alice")
    deliver(env)
    got = receiver.wait_for(2)
    assert sorted((g.path, g.json["event"]) for g in got) == [
        ("/hook", "wiki.changed"), ("/hook?t=1", "ticket.created")]
    assert all("X-Codeyard-Signature-256" not in g.headers for g in got)  # no secret


def test_a_rolled_back_change_sends_nothing(hook_env, receiver):
    with pytest.raises(RuntimeError), hook_env.db_transaction:
        make_ticket(hook_env)
        assert len(model.deliveries(hook_env)) == 1  # queued in the change's transaction
        raise RuntimeError("the change fails after the ticket was written")
    assert model.deliveries(hook_env) == []
    with hook_env.db_query as db:
        assert db("SELECT COUNT(*) FROM ticket")[0][0] == 0
    assert sender.send_due(hook_env, due_only=False) == (0, 0)
    assert receiver.received() == []


def test_ini_hooks_are_used_and_bad_ones_left_out(make_env, receiver):
    env = make_env("proj", options=hook_options(
        ("webhooks", "ci.url", receiver.url + "?from=ini"),
        ("webhooks", "ci.secret", "ini-secret"),
        ("webhooks", "ci.events", "ticket.created"),
        ("webhooks", "ftp.url", "ftp://example.org/x"),
        ("webhooks", "quiet.url", receiver.url),
        ("webhooks", "quiet.active", "false")))
    hooks = {h.name: h for h in model.all_hooks(env)}
    assert set(hooks) == {"ci", "quiet"}
    assert hooks["ci"].source == "ini" and hooks["ci"].events == ["ticket.created"]
    assert not hooks["quiet"].active
    checks = [c for r in env.hook.environment_checks(env=env) for c in r
              if c[1] == "webhooks"]
    assert any("ftp" in c[2] and "not an http" in c[2] for c in checks)
    make_ticket(env)
    deliver(env)
    [got] = receiver.wait_for(1)
    assert got.path == "/hook?from=ini" and verify("ini-secret", got)
