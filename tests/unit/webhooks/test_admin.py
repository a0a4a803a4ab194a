"""The Webhooks admin panel (add, edit, disable, delete, the deliveries, redeliver, ping,
bad input as 4xx) and the ``webhook`` admin commands."""

from __future__ import annotations

import time

import pytest

from codeyard.admin.console import main
from codeyard.perm import PermissionSystem
from codeyard.webhooks import model, sender
from tests.unit.web.conftest import text
from tests.unit.webhooks.conftest import hook_options, make_ticket, verify

pytestmark = pytest.mark.db

PANEL = "/admin/general/webhooks"


@pytest.fixture
def admin_site(served, receiver):
    env, site = served("proj", options=hook_options(
        ("codeyard", "config_check_interval", "0"),
        ("webhooks", "ci.url", receiver.url + "?ini"),
        ("webhooks", "ci.events", "push")))
    PermissionSystem(env).grant("root", "TRAC_ADMIN")
    site.get("/login", environ={"REMOTE_USER": "root"})
    yield env, site
    sender.stop_sender(env)



def test_panel_is_for_trac_admins(admin_site, served):
    env, site = admin_site
    page = text(site.get(PANEL))
    assert ">Webhooks</a>" in page and "Nothing has been delivered yet." in page
    assert "ci" in page and "(trac.ini)" in page and "?ini" in page
    _, anonymous = served("other")
    assert anonymous.get(PANEL).status_code == 403


def test_add_edit_disable_delete(admin_site, receiver):
    env, site = admin_site
    added = site.post(PANEL, {"action": "add", "name": "chat", "url": receiver.url,
                              "secret": "abc", "events": ["ticket.created", "wiki.changed"],
                              "active": "1"})
    assert added.status_code == 303, text(added)
    page = text(site.get(added.headers["Location"]))
    assert "The webhook has been added." in page and "ticket.created, wiki.changed" in page
    [hook] = [h for h in model.all_hooks(env) if h.name == "chat"]
    assert (hook.secret, hook.active, hook.source) == ("abc", True, "db")
    edit = f"{PANEL}/{hook.id}"
    form = text(site.get(edit))
    assert 'value="chat"' in form and "abc" not in form  # the secret is never shown
    saved = site.post(edit, {"name": "chat", "url": receiver.url + "?two",
                             "events": ["*"], "secret": ""})  # not active now
    assert saved.status_code == 303, text(saved)
    hook = model.get_db_hook(env, hook.id)
    assert (hook.url, hook.events, hook.active, hook.secret) == (
        receiver.url + "?two", ["*"], False, "abc")
    bad = site.post(edit, {"name": "chat", "url": "gopher://example.org/", "events": ["*"]})
    assert bad.status_code == 400
    assert "is not an http:// or https:// URL" in text(bad)
    assert model.get_db_hook(env, hook.id).url == receiver.url + "?two"
    removed = site.post(PANEL, {"action": "remove", "sel": [str(hook.id)]})
    assert removed.status_code == 303
    assert [h.name for h in model.all_hooks(env)] == ["ci"]
    assert site.get(f"{PANEL}/{hook.id}").status_code == 404
    assert site.get(f"{PANEL}/nonsense").status_code == 400
    assert site.get(f"{PANEL}/{'9' * 30}").status_code == 400  # past what a key can hold


def test_bad_input_is_a_400_with_a_message(admin_site, receiver):
    env, site = admin_site
    for data, message in [
            ({"action": "add", "name": "x", "url": "file:///etc/passwd", "events": ["*"]},
             "is not an http:// or https:// URL"),
            ({"action": "add", "name": "ci", "url": receiver.url, "events": ["*"]},
             "taken by a hook of trac.ini"),
            ({"action": "add", "name": "x", "url": receiver.url}, "at least one event"),
            ({"action": "add", "name": "x y", "url": receiver.url, "events": ["*"]},
             "name is 1 to 64"),
            ({"action": "remove"}, "No webhooks were selected."),
            ({"action": "ping", "hook": "nope"}, "There is no webhook"),
            ({"action": "redeliver", "delivery": "77"}, "There is no delivery 77."),
            ({"action": "redeliver", "delivery": "9" * 30}, "is not the number of"),
            ({"action": "explode"}, "Unknown action")]:
        answer = site.post(PANEL, data)
        assert answer.status_code == 400, (data, answer.status_code)
        assert message in text(answer), (data, text(answer)[:2000])
    assert site.post(PANEL, {"action": "redeliver", "delivery": "x"}).status_code == 400
    assert site.post(PANEL, {"action": "add", "name": "x", "url": receiver.url},
                     token=False).status_code == 400  # no form token
    assert [h.name for h in model.all_hooks(env)] == ["ci"]


def _settled(env, count: int) -> list[model.Delivery]:
    """The deliveries once ``count`` of them are no longer pending (the sender thread)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        rows = model.deliveries(env)
        if sum(1 for r in rows if r.status != "pending") >= count:
            return rows
        time.sleep(0.05)
    raise AssertionError(f"still pending: {model.deliveries(env)}")


def test_deliveries_are_listed_and_redelivered(admin_site, receiver):
    env, site = admin_site
    env.config.set("webhooks", "retry_delay", "600")  # the failed try waits: the page shows it
    model.add_hook(env, "main", receiver.url, "k")
    receiver.statuses = [502]
    make_ticket(env)  # the project's sender thread tries it at once
    deadline = time.monotonic() + 10
    while model.deliveries(env)[0].attempts == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    page = text(site.get(PANEL))
    assert "ticket.created" in page and "pending" in page and "502" in page
    assert "HTTP 502: status 502" in page
    assert sender.send_due(env, due_only=False) == (1, 0)
    [row] = model.deliveries(env)
    assert row.status == "delivered"
    again = site.post(PANEL, {"action": "redeliver", "delivery": str(row.id)})
    assert again.status_code == 303
    assert "The delivery has been queued again." in text(site.get(again.headers["Location"]))
    pinged = site.post(PANEL, {"action": "ping", "hook": "main"})
    assert pinged.status_code == 303
    got = receiver.wait_for(4)
    assert [g.headers["X-Codeyard-Event"] for g in got] == ["ticket.created"] * 3 + ["ping"]
    assert got[3].json["sender"] == "root" and verify("k", got[3])
    assert len(_settled(env, 3)) == 3
    page = text(site.get(PANEL))
    assert page.count("delivery-delivered") == 3 and "delivery-pending" not in page


def test_admin_commands(make_env, receiver, capsys):
    env = make_env("proj", options=hook_options(("webhooks", "ci.url", receiver.url),
                                                ("webhooks", "bad.url", "ftp://x/")))
    model.add_hook(env, "main", receiver.url, "secret", "ticket.created")
    make_ticket(env)
    capsys.readouterr()
    assert main([env.path, "webhook", "list"]) == 0
    out = capsys.readouterr().out
    assert "ci" in out and "main" in out and "ticket.created" in out and "ini" in out
    assert "Left out: [webhooks] bad" in out
    assert main([env.path, "webhook", "deliveries"]) == 0
    out = capsys.readouterr().out
    assert "pending" in out and "ticket.created" in out and "ci" in out
    assert main([env.path, "webhook", "ping", "main"]) == 0
    assert "Ping queued as delivery" in capsys.readouterr().out
    assert main([env.path, "webhook", "send-due"]) == 0
    assert "3 delivered, 0 failed." in capsys.readouterr().out
    assert len(receiver.wait_for(3)) == 3
    assert main([env.path, "webhook", "deliveries", "delivered"]) == 0
    assert capsys.readouterr().out.count("  delivered  ") == 3
    assert main([env.path, "webhook", "deliveries", "bogus"]) != 0
    assert main([env.path, "webhook", "ping", "nope"]) != 0
