"""The notification preferences panel, the SubscriberList macro and the admin commands."""

from __future__ import annotations

import pytest

from codeyard.admin.console import main
from codeyard.notification import model
from codeyard.perm import Resource
from codeyard.ticket.model import Ticket
from codeyard.wiki.formatter import FormatContext, format_to_html
from tests.unit.notification.conftest import add_users, mail_options
from tests.unit.web.conftest import text

pytestmark = pytest.mark.db


def test_panel_adds_lists_and_deletes_rules(served):
    env, site = served()
    alice = {"environ": {"REMOTE_USER": "alice"}}
    page = site.get("/prefs/notification", **alice)
    assert page.status_code == 200
    body = text(page)
    assert "Subscriptions" in body and 'value="add-rule_email"' in body
    # The tab list of /prefs names the panel; the defaults of a new project are shown.
    assert 'href="/prefs/notification"' in text(site.get("/prefs", **alice))
    assert "I update a ticket" in body and "Ticket that I&#39;m listed in the CC field" in body
    added = site.post("/prefs/notification", {"action": "add-rule_email",
                                              "new-adverb-email": "never",
                                              "new-rule-email": "CarbonCopySubscriber"}, **alice)
    assert added.status_code == 303
    [rule] = model.session_rules(env, "alice", True, "email")
    assert (rule.klass, rule.adverb, rule.priority) == ("CarbonCopySubscriber", "never", 1)
    with env.db_query as db:
        assert db("SELECT sid, authenticated, distributor FROM notify_subscription") == [
            ("alice", 1, "email")]
    assert "Never notify: Ticket that I&#39;m listed" in text(site.get("/prefs/notification",
                                                                       **alice))
    site.post("/prefs/notification", {"action": "add-rule_email", "new-adverb-email": "always",
                                      "new-rule-email": "TicketOwnerSubscriber"}, **alice)
    # Replace keeps the order the form sends (the page's reordering).
    site.post("/prefs/notification", {"action": "replace_all",
                                      "class-email": ["TicketOwnerSubscriber",
                                                      "CarbonCopySubscriber"],
                                      "adverb-email": ["always", "never"]}, **alice)
    rules = model.session_rules(env, "alice", True, "email")
    assert [(r.klass, r.priority) for r in rules] == [("TicketOwnerSubscriber", 1),
                                                      ("CarbonCopySubscriber", 2)]
    site.post("/prefs/notification", {"action": f"delete-rule_{rules[0].id}"}, **alice)
    assert [r.klass for r in model.session_rules(env, "alice", True, "email")] == [
        "CarbonCopySubscriber"]


def test_panel_refuses_bad_input_and_missing_token(served):
    env, site = served()
    alice = {"environ": {"REMOTE_USER": "alice"}}
    bad = site.post("/prefs/notification", {"action": "add-rule_email",
                                            "new-adverb-email": "sometimes",
                                            "new-rule-email": "CarbonCopySubscriber"}, **alice)
    assert bad.status_code == 400
    unknown = site.post("/prefs/notification", {"action": "add-rule_email",
                                                "new-adverb-email": "always",
                                                "new-rule-email": "NoSuchSubscriber"}, **alice)
    assert unknown.status_code == 400
    assert site.post("/prefs/notification", {"action": "what"}, **alice).status_code == 400
    assert site.post("/prefs/notification", {"action": "delete-rule_1"}, token=False,
                     **alice).status_code == 400
    assert model.session_rules(env, "alice", True, "email") == []


def test_anonymous_sees_only_rules_without_login(served):
    _env, site = served()
    body = text(site.get("/prefs/notification"))
    assert "Any ticket is created" in body and "I update a ticket" not in body


def render_html(env, text: str) -> str:
    return str(format_to_html(FormatContext(env, resource=Resource("wiki", "WikiStart")), text))


def test_subscriber_list_macro(env):
    html = str(render_html(env, "[[SubscriberList]]"))
    for name in ("CarbonCopySubscriber", "NewTicketSubscriber", "TicketOwnerSubscriber",
                 "TicketPreviousUpdatersSubscriber", "TicketReporterSubscriber",
                 "TicketUpdaterSubscriber"):
        assert f"<code>{name}</code>" in html
    only = str(render_html(env, "[[SubscriberList(TicketO*)]]"))
    assert "TicketOwnerSubscriber" in only and "CarbonCopySubscriber" not in only


def test_new_project_has_trac_default_rules(env):
    assert dict(env.config.options("notification-subscriber")) == {
        "always_notify_cc": "CarbonCopySubscriber",
        "always_notify_updater": "TicketUpdaterSubscriber",
        "always_notify_previous_updater": "TicketPreviousUpdatersSubscriber"}


def test_admin_send_and_list(make_env, smtp, capsys):
    env = make_env("proj", options=mail_options(smtp.port))
    add_users(env)
    ticket = Ticket(env)
    ticket.populate({"summary": "Queued", "reporter": "alice"})
    ticket.insert()
    capsys.readouterr()
    assert main([env.path, "notification", "list"]) == 0
    out = capsys.readouterr().out
    assert "pending" in out and f"ticket:{ticket.id}" in out and "alice@example.org" in out
    assert main([env.path, "notification", "send"]) == 0
    assert "1 sent, 0 failed." in capsys.readouterr().out
    assert len(smtp.wait_for(1)) == 1
    assert main([env.path, "notification", "list", "sent"]) == 0
    assert f"ticket:{ticket.id}" in capsys.readouterr().out
    assert main([env.path, "notification", "list", "bogus"]) != 0


def test_admin_send_refuses_when_off(env, capsys):
    assert main([env.path, "notification", "send"]) != 0
    assert "smtp_enabled" in capsys.readouterr().err


def test_check_reports_the_mail_setup(make_env, smtp):
    env = make_env("proj", options=mail_options(smtp.port,
                                                ("notification", "email_sender", "Sendmail")))
    found = [f for r in env.hook.environment_checks(env=env) for f in r or ()
             if f[1] == "notification"]
    assert [f[0] for f in found] == ["FAIL"] and "SmtpEmailSender" in found[0][2]
    env.config.set("notification", "email_sender", "SmtpEmailSender")
    found = [f for r in env.hook.environment_checks(env=env) for f in r or ()
             if f[1] == "notification"]
    assert [f[0] for f in found] == ["ok"] and f"127.0.0.1:{smtp.port}" in found[0][2]
