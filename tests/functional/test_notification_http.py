"""Ticket notifications over HTTP against a real `codeyard serve` (two workers) and a real
SMTP server: who gets which mail, a user's own "never" rule, Trac's headers, a mail server
that is down for a while, and a project's own mail template."""

from __future__ import annotations

import os
import re
import time

import pytest

from codeyard.env import Environment
from codeyard.notification import model
from codeyard.perm import PermissionSystem
from codeyard.sessions import create_session
from tests.functional.conftest import login as login_as
from tests.functional.conftest import serve_with_accounts
from tests.support.http import Client
from tests.support.smtp_server import SmtpServer

pytestmark = [pytest.mark.slow, pytest.mark.db]

USERS = ("alice", "bob", "carol", "dave")
PASSWORD = "secret-pass"


@pytest.fixture
def smtp():
    with SmtpServer() as server:
        yield server


@pytest.fixture
def project(tmp_path, db_url, smtp):
    env = Environment.create(str(tmp_path / "proj"), [
        ("logging", "log_type", "none"),
        ("trac", "database", db_url),
        ("project", "name", "Kettles"),
        ("notification", "smtp_enabled", "enabled"),
        ("notification", "smtp_server", "127.0.0.1"),
        ("notification", "smtp_port", str(smtp.port)),
        ("notification", "smtp_from", "trac@example.org"),
        ("notification", "send_retry_delay", "1"),
        ("notification-subscriber", "always_notify_cc", "CarbonCopySubscriber"),
        ("notification-subscriber", "always_notify_owner", "TicketOwnerSubscriber"),
        ("notification-subscriber", "always_notify_reporter", "TicketReporterSubscriber"),
        ("notification-subscriber", "always_notify_updater", "TicketUpdaterSubscriber"),
    ])
    PermissionSystem(env).grant("authenticated", "TICKET_ADMIN")
    for user in USERS:
        create_session(env, user, True, {"email": f"{user}@example.org"})
    env.shutdown()
    return env.path


@pytest.fixture
def server(tmp_path, project):
    with serve_with_accounts(tmp_path, project, USERS, PASSWORD) as srv:
        yield srv


def login(server, user: str) -> tuple[Client, str]:
    return login_as(server, user, PASSWORD)


def view_time(client: Client, path: str) -> str:
    page = client.get(path)
    return page.text.split('name="view_time" value="', 1)[1].split('"', 1)[0]


def comment(client: Client, token: str, path: str, text: str):
    return client.post(path, {"__FORM_TOKEN": token, "comment": text, "action": "leave",
                              "view_time": view_time(client, path), "submit": "1"})


def test_mail_after_ticket_changes_over_http(server, project, smtp):
    alice, token = login(server, "alice")
    made = alice.post("newticket", {"__FORM_TOKEN": token, "field_summary": "Kettle leaks",
                                    "field_description": "Water on the table.",
                                    "field_owner": "bob", "field_cc": "carol",
                                    "action": "create", "submit": "Create ticket"})
    assert made.status == 303, made.text[:500]
    path = made.location.split(server.url.rstrip("/"), 1)[-1].lstrip("/")
    number = int(path.rsplit("/", 1)[1])
    first = smtp.wait_for(1)[0]
    assert sorted(first.recipients) == ["alice@example.org", "bob@example.org",
                                        "carol@example.org"]
    msg = first.message
    assert msg["Subject"] == f"[Kettles] #{number}: Kettle leaks"
    assert msg["X-Trac-Ticket-ID"] == str(number)
    assert msg["X-Trac-Ticket-URL"].endswith(f"/ticket/{number}")
    assert msg["X-Trac-Project"] == "Kettles" and msg["Precedence"] == "bulk"
    assert msg["Auto-Submitted"] == "auto-generated" and msg["Bcc"] is None
    assert re.fullmatch(r"<\d{3}\.[0-9a-f]{32}@example\.org>", msg["Message-ID"])
    assert "Owner:  bob" in first.body and " Water on the table." in first.body

    # carol never wants mail for being in Cc: her rule decides before the project's.
    carol, carol_token = login(server, "carol")
    saved = carol.post("prefs/notification", {"__FORM_TOKEN": carol_token,
                                              "action": "add-rule_email",
                                              "new-adverb-email": "never",
                                              "new-rule-email": "CarbonCopySubscriber"})
    assert saved.status == 303
    assert "Never notify" in carol.get("prefs/notification").text

    dave, dave_token = login(server, "dave")
    assert comment(dave, dave_token, path, "Mine leaks too.").status == 303
    second = smtp.wait_for(2)[1]
    assert sorted(second.recipients) == ["alice@example.org", "bob@example.org",
                                         "dave@example.org"]
    reply = second.message
    assert reply["Subject"] == f"Re: [Kettles] #{number}: Kettle leaks"
    assert reply["In-Reply-To"] == msg["Message-ID"] == reply["References"]
    assert reply["Message-ID"] != msg["Message-ID"]
    assert reply["X-Trac-Ticket-URL"].endswith(f"/ticket/{number}#comment:1")
    assert "Comment (by dave):" in second.body and " Mine leaks too." in second.body

    # The mail server goes away: the page still answers at once, the mail waits.
    smtp.stop()
    started = time.monotonic()
    assert comment(alice, token, path, "Still leaking.").status == 303
    assert time.monotonic() - started < 10
    deadline = time.monotonic() + 20
    env = Environment(project)
    try:
        while time.monotonic() < deadline:
            rows = [r for r in model.queued(env) if r.state == "pending"]
            if rows and rows[0].attempts >= 1:
                break
            time.sleep(0.2)
        assert rows and rows[0].attempts >= 1 and rows[0].last_error
    finally:
        env.shutdown()
    smtp.start()
    third = smtp.wait_for(3, timeout=30)[2]
    assert "Still leaking." in third.body

    # A project's own template replaces the body.
    with open(os.path.join(project, "templates", "ticket_notify_email.txt"), "w") as fh:
        fh.write("Ticket ${ticket.id} of ${project.name} changed by ${change.author}.\n")
    bob, bob_token = login(server, "bob")
    assert comment(bob, bob_token, path, "Fixed the seal.").status == 303
    fourth = smtp.wait_for(4)[3]
    assert fourth.body == f"Ticket {number} of Kettles changed by bob.\n"

    # Two worker processes each run a sender: still one mail per change.
    time.sleep(2)
    ids = [m.message["Message-ID"] for m in smtp.messages()]
    assert len(ids) == len(set(ids)) == 4
