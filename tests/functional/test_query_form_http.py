"""The /query filter form over HTTP against a real `codeyard serve` (both databases): the
form's buttons as a browser without JavaScript sends them, its 400 page, Save query to a
report and back, and the session trail an anonymous visitor's cookie leads to."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from codeyard.env import Environment
from codeyard.perm import PermissionSystem
from codeyard.ticket.model import Ticket
from tests.support.codeyard_server import CodeyardServer
from tests.support.http import Client
from tests.unit.ticket.test_query_form import form_fields, ticket_ids

pytestmark = [pytest.mark.slow, pytest.mark.db]

OWNERS = ["alice", "bob", "carol"]


@pytest.fixture
def server(tmp_path, db_url):
    env = Environment.create(str(tmp_path / "proj"), [("logging", "log_type", "none"),
                                                     ("trac", "database", db_url)])
    PermissionSystem(env).grant("anonymous", "TICKET_ADMIN")  # a private test site
    PermissionSystem(env).grant("anonymous", "REPORT_ADMIN")
    for i in range(12):
        t = Ticket(env)
        t.populate({"summary": f"Item {i} {'login' if i % 3 == 0 else 'search'}",
                    "reporter": "ann", "owner": OWNERS[i % 3],
                    "milestone": "milestone1" if i % 2 else "milestone2"})
        t["status"] = "closed" if i % 4 == 0 else "new"
        t.insert()
    path = env.path
    env.shutdown()
    with CodeyardServer("-s", path) as srv:
        yield srv, path


def press(client: Client, page: str, button: str, **changes: str):
    """Send the form of ``page`` as a browser does when ``button`` is pressed."""
    pairs = [(k, v.replace("&#39;", "'").replace("&amp;", "&"))
             for k, values in form_fields(page).items() for v in values if k not in changes]
    pairs += list(changes.items()) + [(button, "x")]
    return client.get("query?" + urlencode(pairs))


def test_the_filter_form_without_javascript(server):
    srv, _path = server
    client = Client(srv.url)
    first = client.get("query?status=!closed&order=id")
    assert first.status == 200
    open_ids = ticket_ids(first.text)
    assert open_ids and sorted(form_fields(first.text)["0_status"]) == [
        "accepted", "assigned", "new", "reopened"]
    added = press(client, first.text, "add_0", add_filter_0="owner")
    assert added.status == 200 and form_fields(added.text)["0_owner_mode"] == ["~"]
    # An empty "contains" row filters nothing yet.
    assert ticket_ids(added.text) == open_ids
    narrowed = press(client, added.text, "update", **{"0_owner": "bob", "0_owner_mode": ""})
    bobs = ticket_ids(narrowed.text)
    assert narrowed.status == 200 and bobs and set(bobs) < set(open_ids)
    assert bobs == ticket_ids(client.get("query?status=!closed&owner=bob&order=id").text)
    ored = press(client, narrowed.text, "add_1", add_clause_1="summary")
    either = press(client, ored.text, "update", **{"1_summary": "login"})
    login_ids = ticket_ids(client.get("query?summary=~login&order=id").text)
    assert ticket_ids(either.text) == sorted(set(bobs) | set(login_ids))
    removed = press(client, either.text, "rm_filter_1_summary_0")
    assert ticket_ids(removed.text) == bobs and "1_summary" not in form_fields(removed.text)

    bad = client.get("query?0_owner=bob&0_time=someday&0_time_end=&update=Update")
    assert bad.status == 400 and "Invalid query" in bad.text
    assert 'value="someday"' in bad.text and 'name="0_owner" value="bob"' in bad.text
    assert client.get("query?0_color=red").status == 400
    assert client.get("query?0_owner=bob&0_owner_mode=%2A").status == 400


def test_save_query_as_a_report_and_open_it(server):
    srv, _path = server
    client = Client(srv.url)
    page = client.get("query?owner=carol&status=!closed&order=id")
    save = page.text[page.text.index('id="trac-report-save"'):]
    text = re.search(r'name="query" value="([^"]*)"', save).group(1).replace("&amp;", "&")
    editor = client.get("report?" + urlencode({"action": "new", "query": text}))
    assert editor.status == 200 and "query:?" in editor.text
    token = client.cookies["trac_form_token"]
    made = client.post("report", {"__FORM_TOKEN": token, "action": "new", "title": "Carol's",
                                  "query": text, "description": ""})
    assert made.status == 303
    opened = client.get(urlsplit(made.location).path.lstrip("/"))
    assert opened.status == 303
    target = urlsplit(opened.location)
    assert target.path == "/query" and "report" in dict(parse_qsl(target.query))
    shown = client.get("query?" + target.query)
    assert shown.status == 200 and "Carol&#39;s" in shown.text
    assert ticket_ids(shown.text) == ticket_ids(page.text)
    assert 'id="trac-report-edit"' in shown.text


def test_an_anonymous_visitor_gets_the_trail(server):
    srv, path = server
    client = Client(srv.url)
    first = client.get("query?owner=alice&order=id")  # offered the cookie
    assert first.status == 200 and "trac_session" in client.cookies
    sid = client.cookies["trac_session"]
    page = client.get("query?owner=alice&order=id")  # back with it: the trail is kept
    assert client.cookies["trac_session"] == sid
    env = Environment(path)
    try:
        with env.db_query as db:
            values = dict(db("SELECT name, value FROM session_attribute "
                             "WHERE sid=%s AND authenticated=0", (sid,)))
    finally:
        env.shutdown()
    assert values["query_tickets"].split() == [str(i) for i in ticket_ids(page.text)]
    href = urlsplit(values["query_href"])
    assert href.path == "/query" and ("owner", "alice") in parse_qsl(href.query)
    again = client.get("query?owner=alice&order=id")
    assert not [c for c in again.set_cookies() if c.startswith("trac_session=")]
