"""Tickets over HTTP against a real `codeyard serve`: create, comment, collide, query,
report, roadmap and batch modify, with Trac's form field names."""

from __future__ import annotations

import pytest

from codeyard.env import Environment
from codeyard.perm import PermissionSystem
from tests.support.codeyard_server import CodeyardServer
from tests.support.http import Client

pytestmark = [pytest.mark.slow, pytest.mark.db]


@pytest.fixture
def server(tmp_path, db_url):
    env = Environment.create(str(tmp_path / "proj"), [("logging", "log_type", "none"),
                                                     ("trac", "database", db_url)])
    PermissionSystem(env).grant("anonymous", "TICKET_ADMIN")  # a private test site
    env.shutdown()
    with CodeyardServer("-s", env.path) as srv:
        yield srv


def _token(client: Client) -> str:
    page = client.get("newticket")
    assert page.status == 200, page.text[:500]
    return client.cookies["trac_form_token"]


def test_ticket_life_over_http(server):
    client = Client(server.url)
    token = _token(client)
    made = client.post("newticket", {"__FORM_TOKEN": token, "field_summary": "Over the wire",
                                     "field_description": "x", "field_priority": "major",
                                     "action": "create", "submit": "Create ticket"})
    assert made.status == 303, made.text[:1000]
    path = made.location.split(server.url.rstrip("/"), 1)[-1].lstrip("/")
    page = client.get(path)
    assert page.status == 200 and "Over the wire" in page.text
    view_time = page.text.split('name="view_time" value="', 1)[1].split('"', 1)[0]

    commented = client.post(path, {"__FORM_TOKEN": token, "comment": "First", "action": "leave",
                                   "view_time": view_time, "submit": "1"})
    assert commented.status == 303
    # The same stale form again: the collision page, with the text kept.
    stale = client.post(path, {"__FORM_TOKEN": token, "comment": "Second thoughts",
                               "action": "leave", "view_time": view_time, "submit": "1"})
    assert stale.status == 409 and "Second thoughts" in stale.text
    no_token = client.post(path, {"comment": "x", "action": "leave", "submit": "1"})
    assert no_token.status == 400

    number = path.rsplit("/", 1)[1]
    csv = client.get(f"query?id={number}&col=id&col=summary&format=csv")
    assert csv.status == 200 and f"{number},Over the wire" in csv.text
    report = client.get("report/1")
    assert report.status == 200 and "Over the wire" in report.text
    assert client.get("report/1?format=csv").status == 200
    assert client.get("roadmap").status == 200
    assert client.get("roadmap?format=ics").text.startswith("BEGIN:VCALENDAR")

    batch = client.post("batchmodify", {"__FORM_TOKEN": token, "selected_tickets": number,
                                        "batchmod_value_priority": "blocker",
                                        "batchmod_value_comment": "batch", "action": "leave"})
    assert batch.status == 303
    assert "blocker" in client.get(f"query?id={number}&col=priority&format=csv").text
    assert client.get("ticket/not-a-number").status == 404
