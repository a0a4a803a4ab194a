"""Webhooks from a real `codeyard serve` (two workers) to real HTTP receivers on 127.0.0.1:
a ticket made over HTTP arrives signed, a receiver answering 500 gets it again, a hanging
receiver does not slow the page, a git push arrives as a push event, and the two workers'
senders never deliver one row twice."""

from __future__ import annotations

import os
import time

import pytest

from codeyard.env import Environment
from codeyard.perm import PermissionSystem
from codeyard.vcs.manager import RepositoryManager
from codeyard.webhooks import model
from tests.functional.conftest import login as login_as
from tests.functional.conftest import serve_with_accounts
from tests.functional.test_git_hosting import Git, with_user
from tests.support.http import Client
from tests.support.webhook_receiver import WebhookReceiver
from tests.unit.webhooks.conftest import verify

pytestmark = [pytest.mark.slow, pytest.mark.db]

USERS = ("alice", "root")
PASSWORD = "secret-pass"
BASE = "http://example.org/kettles"


@pytest.fixture
def receivers():
    with WebhookReceiver() as fast, WebhookReceiver() as slow:
        yield fast, slow


@pytest.fixture
def project(tmp_path, db_url, receivers):
    fast, slow = receivers
    bare = str(tmp_path / "main.git")
    git = Git(str(tmp_path))
    git.run("init", "-q", "--bare", "-b", "master", bare)
    env = Environment.create(str(tmp_path / "proj"), [
        ("logging", "log_type", "none"),
        ("trac", "database", db_url),
        ("trac", "base_url", BASE),
        ("project", "name", "Kettles"),
        ("webhooks", "retry_delay", "1"),
        ("webhooks", "timeout", "3"),
        ("webhooks", "ci.url", fast.url),
        ("webhooks", "ci.secret", "ci-secret"),
        ("webhooks", "ci.events", "ticket.created, ticket.changed, push"),
    ])
    PermissionSystem(env).grant("authenticated", "TICKET_ADMIN")
    PermissionSystem(env).grant("alice", "REPOSITORY_PUSH")
    PermissionSystem(env).grant("root", "TRAC_ADMIN")
    RepositoryManager(env).add_repository("main", bare, "git")
    model.add_hook(env, "slow", slow.url, "", "ticket.created")
    env.shutdown()
    return {"path": env.path, "git": git, "tmp": str(tmp_path)}


@pytest.fixture
def server(tmp_path, project):
    with serve_with_accounts(tmp_path, project["path"], USERS, PASSWORD) as srv:
        yield srv


def login(server, user: str) -> tuple[Client, str]:
    return login_as(server, user, PASSWORD)


def _rows(project) -> list[model.Delivery]:
    env = Environment(project["path"])
    try:
        return model.deliveries(env)
    finally:
        env.shutdown()


def test_tickets_and_pushes_over_http(server, project, receivers):
    fast, slow = receivers
    fast.statuses = [500]  # the first try fails, the second (1 s later) succeeds
    slow.hang.set()  # this one never answers in time
    alice, token = login(server, "alice")
    started = time.monotonic()
    made = alice.post("newticket", {"__FORM_TOKEN": token, "field_summary": "Kettle leaks",
                                    "field_description": "Water on the table.",
                                    "action": "create", "submit": "Create ticket"})
    assert made.status == 303, made.text[:500]
    assert time.monotonic() - started < 2  # neither receiver holds up the page
    number = int(made.location.rsplit("/", 1)[1])

    first, second = fast.wait_for(2, timeout=30)
    assert first.headers["X-Codeyard-Delivery"] == second.headers["X-Codeyard-Delivery"]
    assert first.body == second.body and verify("ci-secret", second)
    data = second.json
    assert data["event"] == "ticket.created" and data["sender"] == "alice"
    assert data["project"] == {"name": "Kettles", "url": BASE}
    assert data["ticket"]["id"] == number and data["ticket"]["summary"] == "Kettle leaks"
    assert data["ticket"]["status"] == "new"
    assert data["ticket"]["url"] == f"{BASE}/ticket/{number}"

    # The push: alice pushes two commits with the real git client.
    git = project["git"]
    work = os.path.join(project["tmp"], "work")
    git.run("init", "-q", "-b", "master", work)
    one = git.commit(work, "a.txt", b"a\n", "First file")
    two = git.commit(work, "b.txt", b"b\n", f"Second file, see #{number}")
    git.run("push", "-q", with_user(server.url + "git/main", "alice", PASSWORD), "master",
            cwd=work)
    # The ticket updater comments on the ticket the message names (ticket.changed), and the
    # push itself arrives (their order depends on the worker that sends them).
    got = {g.headers["X-Codeyard-Event"]: g for g in fast.wait_for(4, timeout=30)[2:]}
    assert set(got) == {"push", "ticket.changed"}
    changed = got["ticket.changed"].json
    assert changed["ticket"]["id"] == number and changed["sender"] == "alice"
    assert changed["comment"].startswith(f'In [changeset:"{two}/main"')
    push = got["push"]
    assert push.headers["X-Codeyard-Event"] == "push" and verify("ci-secret", push)
    data = push.json
    assert data["pusher"] == data["sender"] == "alice"
    assert data["repository"] == {"name": "main", "url": f"{BASE}/browser/main"}
    assert [r["id"] for r in data["revisions"]] == [one, two]
    assert data["revisions"][1]["message"].strip() == f"Second file, see #{number}"
    assert data["revisions"][1]["author"].startswith("Alice")
    assert data["revisions"][0]["url"] == f"{BASE}/changeset/{one}/main"

    # The hanging receiver's delivery times out and waits for another try.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        slow_rows = [r for r in _rows(project) if r.hook == "slow"]
        if slow_rows and slow_rows[0].attempts >= 1:
            break
        time.sleep(0.2)
    assert slow_rows[0].status == "pending" and "timed out" in slow_rows[0].last_error

    # The admin panel shows the deliveries.
    root, _token = login(server, "root")
    panel = root.get("admin/general/webhooks")
    assert panel.status == 200
    assert "ticket.created" in panel.text and "push" in panel.text
    assert "HTTP 500: status 500" in panel.text or "delivered" in panel.text

    # Two workers each run a sender: still one delivery per row and event.
    time.sleep(2)
    ids = [g.headers["X-Codeyard-Delivery"] for g in fast.received()]
    assert len(ids) == 4 and len(set(ids)) == 3
    delivered = [r for r in _rows(project) if r.hook == "ci"]
    assert sorted((r.event, r.status, r.attempts) for r in delivered) == [
        ("push", "delivered", 1), ("ticket.changed", "delivered", 1),
        ("ticket.created", "delivered", 2)]
