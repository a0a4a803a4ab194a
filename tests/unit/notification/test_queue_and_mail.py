"""Ticket notifications from the model to a real SMTP server: recipients by rule, Trac's
headers and body, the queue's leases, retries and the admin commands."""

from __future__ import annotations

import threading

import pytest

from codeyard.notification import model, sender
from codeyard.notification.mail import message_id
from codeyard.ticket.model import Ticket

pytestmark = pytest.mark.db


def _ticket(env, **values) -> Ticket:
    ticket = Ticket(env)
    ticket.populate({"summary": "The kettle leaks", "description": "Water everywhere.",
                     "reporter": "alice", **values})
    ticket.insert()
    return ticket


def test_new_ticket_is_queued_not_sent_then_sent(mail_env, smtp):
    ticket = _ticket(mail_env, owner="bob", cc="carol")
    rows = model.queued(mail_env)
    assert [(r.state, r.target, r.category) for r in rows] == [("pending", str(ticket.id),
                                                                 "created")]
    assert smtp.messages() == []  # nothing is sent in the changing call
    assert sender.send_due(mail_env) == (1, 0)
    [got] = smtp.wait_for(1)
    # Trac's default rules: Cc and the updater (the reporter created it), not the owner.
    assert sorted(got.recipients) == ["alice@example.org", "carol@example.org"]
    msg = got.message
    assert msg["Subject"] == f"[proj] #{ticket.id}: The kettle leaks"
    assert msg["X-Trac-Ticket-ID"] == str(ticket.id)
    assert msg["X-Trac-Ticket-URL"] == f"http://example.org/proj/ticket/{ticket.id}"
    assert msg["X-Trac-Project"] == "proj"
    assert msg["Precedence"] == "bulk" and msg["Auto-Submitted"] == "auto-generated"
    assert msg["To"].replace(" ", "") == "undisclosed-recipients:;" and msg["Cc"] is None
    assert msg["Message-ID"] == message_id(mail_env, f"{ticket.id:08d}", "trac@example.org",
                                           None, "alice")
    assert msg["In-Reply-To"] is None
    body = got.body
    assert body.startswith(f"#{ticket.id}: The kettle leaks\n")
    assert "Reporter:  alice" in body and "Owner:  bob" in body
    assert " Water everywhere." in body
    assert f"Ticket URL: <http://example.org/proj/ticket/{ticket.id}>" in body
    assert model.queued(mail_env)[0].state == "sent"
    assert sender.send_due(mail_env) == (0, 0)


def test_change_mail_lists_changes_and_threads(mail_env, smtp):
    ticket = _ticket(mail_env, owner="bob")
    sender.send_due(mail_env)
    created_id = smtp.wait_for(1)[0].message["Message-ID"]
    ticket = Ticket(mail_env, ticket.id)
    ticket["priority"] = "critical"
    ticket["summary"] = "The kettle floods"
    ticket.save_changes("dave", "Now it floods the kitchen.")
    sender.send_due(mail_env)
    got = smtp.wait_for(2)[1]
    msg = got.message
    # The updater (dave), the earlier updater … the reporter alice is a previous updater
    # only if she changed it: she did not, so she is not told by the default rules.
    assert sorted(got.recipients) == ["dave@example.org"]
    assert msg["Subject"] == f"Re: [proj] #{ticket.id}: The kettle floods (was: The kettle leaks)"
    assert msg["In-Reply-To"] == created_id and msg["References"] == created_id
    assert msg["Message-ID"] != created_id
    assert msg["X-Trac-Ticket-URL"].endswith(f"/ticket/{ticket.id}#comment:1")
    body = got.body
    assert "Changes (by dave):" in body
    assert " * priority:  major => critical" in body
    assert "Comment:\n\n Now it floods the kitchen." in body


def test_user_rules_owner_reporter_and_never(make_env, smtp):
    from tests.unit.notification.conftest import add_users, mail_options

    env = make_env("proj", options=mail_options(
        smtp.port, ("notification-subscriber", "always_notify_owner", "TicketOwnerSubscriber"),
        ("notification-subscriber", "always_notify_reporter", "TicketReporterSubscriber"),
        ("notification-subscriber", "always_notify_cc", "CarbonCopySubscriber")))
    add_users(env)
    # carol asks never to hear of tickets she is in Cc of; the rule beats the default.
    model.add_rule(env, "carol", True, "email", "CarbonCopySubscriber", "never")
    _ticket(env, owner="bob", cc="carol, dave")
    sender.send_due(env)
    got = smtp.wait_for(1)[0]
    assert sorted(got.recipients) == ["alice@example.org", "bob@example.org",
                                      "dave@example.org"]


def test_nobody_to_tell_queues_nothing(make_env, smtp):
    from tests.unit.notification.conftest import mail_options

    env = make_env("proj", options=mail_options(smtp.port))
    _ticket(env, reporter="anonymous")
    assert model.queued(env) == []


def test_disabled_queues_nothing(make_env, smtp):
    env = make_env("proj")
    _ticket(env)
    assert model.queued(env) == []


def test_failure_backs_off_then_succeeds(mail_env, smtp):
    smtp.stop()
    _ticket(mail_env)
    assert sender.send_due(mail_env) == (0, 1)
    [row] = model.queued(mail_env)
    assert row.state == "pending" and row.attempts == 1 and row.last_error
    assert row.next_try > model.now_us() + 20_000_000  # 30 s later
    assert sender.send_due(mail_env) == (0, 0)  # not due yet
    smtp.start()
    assert sender.send_due(mail_env, due_only=False) == (1, 0)
    assert len(smtp.wait_for(1)) == 1
    assert model.queued(mail_env)[0].state == "sent"


def test_gives_up_after_the_retries(make_env, smtp):
    from tests.unit.notification.conftest import add_users, mail_options

    env = make_env("proj", options=mail_options(smtp.port, ("notification", "send_retries", "1")))
    add_users(env)
    smtp.stop()
    _ticket(env)
    assert sender.send_due(env, due_only=False) == (0, 1)
    assert sender.send_due(env, due_only=False) == (0, 1)
    assert model.queued(env)[0].state == "failed"


def test_racing_senders_send_each_message_once(mail_env, smtp):
    for n in range(12):
        _ticket(mail_env, summary=f"Ticket {n}")
    results = []
    barrier = threading.Barrier(4)

    def run():
        barrier.wait()
        results.append(sender.send_due(mail_env))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r[0] for r in results) == 12
    got = smtp.wait_for(12)
    subjects = [g.message["Subject"] for g in got]
    assert len(subjects) == len(set(subjects)) == 12


def test_the_lease_keeps_a_claimed_row_from_others(mail_env, smtp):
    _ticket(mail_env)
    first = model.claim(mail_env, "one", 60)
    assert len(first) == 1
    assert model.claim(mail_env, "two", 60) == []
    model.mark_sent(mail_env, first[0].id, "two")  # not the owner: no effect
    assert model.queued(mail_env)[0].state == "pending"


def test_project_template_overrides_the_body(mail_env, smtp):
    import os

    with open(os.path.join(mail_env.templates_dir, "ticket_notify_email.txt"), "w") as fh:
        fh.write("Custom: ${ticket.id} by ${project.name}\n")
    mail_env.config.set("notification", "smtp_from_name", "Kettles")  # rebuilds memos
    ticket = _ticket(mail_env)
    sender.send_due(mail_env)
    got = smtp.wait_for(1)[0]
    assert got.body == f"Custom: {ticket.id} by proj\n"
    assert got.message["From"] == "Kettles <trac@example.org>"


def test_serving_starts_one_sender_that_sends_on_its_own(served, smtp):
    from tests.unit.notification.conftest import add_users, mail_options

    env, site = served("proj", options=mail_options(smtp.port))
    add_users(env)
    assert site.get("/about").status_code == 200
    assert site.get("/about").status_code == 200
    running = [t for t in threading.enumerate() if t.name == f"notify-sender {env.path}"]
    assert len(running) == 1
    _ticket(env)
    assert len(smtp.wait_for(1)) == 1
    sender.stop_sender(env)
    assert not running[0].is_alive()


def test_new_ticket_rule_tells_of_new_tickets_only(mail_env, smtp):
    model.add_rule(mail_env, "dave", True, "email", "NewTicketSubscriber", "always")
    ticket = _ticket(mail_env)
    sender.send_due(mail_env)
    assert "dave@example.org" in smtp.wait_for(1)[0].recipients
    ticket = Ticket(mail_env, ticket.id)
    ticket.save_changes("alice", "A comment.")
    sender.send_due(mail_env)
    assert smtp.wait_for(2)[1].recipients == ["alice@example.org"]


def test_public_cc_always_lists_default_domain_and_author_as_sender(make_env, smtp):
    from codeyard.sessions import create_session
    from tests.unit.notification.conftest import add_users, mail_options

    env = make_env("proj", options=mail_options(
        smtp.port, ("notification", "use_public_cc", "enabled"),
        ("notification", "smtp_always_cc", "boss@example.org"),
        ("notification", "smtp_always_bcc", "archive@example.org, audit@example.org"),
        ("notification", "smtp_default_domain", "corp.example"),
        ("notification", "smtp_from_author", "enabled"),
        ("notification", "mime_encoding", "base64")))
    add_users(env)
    create_session(env, "erin", True, {"name": "Erin"})  # no e-mail: erin@corp.example
    _ticket(env, owner="bob", cc="erin, anonymous, nobody@ignored")
    sender.send_due(env)
    got = smtp.wait_for(1)[0]
    assert sorted(got.recipients) == ["alice@example.org", "archive@example.org",
                                      "audit@example.org", "boss@example.org",
                                      "erin@corp.example"]
    msg = got.message
    assert msg["To"] == "alice@example.org"  # the reporter, who made the change
    assert sorted(a.strip() for a in msg["Cc"].split(",")) == ["boss@example.org",
                                                                "erin@corp.example"]
    assert "archive" not in str(msg)  # Bcc stays off the message
    assert msg["From"] == "Alice <alice@example.org>"
    assert msg["Content-Transfer-Encoding"] == "base64"
    assert "The kettle leaks" in got.body
