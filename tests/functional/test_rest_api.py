"""The JSON REST API against a real `codeyard serve`, called with urllib as a script
would: HTTP Basic, an API token made in /prefs over HTTP, tickets with the collision
check, wiki pages, attachments, JSON errors and the OpenAPI document."""

from __future__ import annotations

import base64
import http.cookiejar
import json
import re
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest
from openapi_spec_validator import validate

from codeyard.env import Environment
from codeyard.perm import PermissionSystem
from tests.conftest import USE_POSTGRES
from tests.functional.conftest import write_htpasswd
from tests.support.codeyard_server import CodeyardServer

pytestmark = [pytest.mark.slow, pytest.mark.db]

USERS = {"admin": "admin-pw", "writer": "writer-pw"}


@pytest.fixture(scope="module")
def server(tmp_path_factory, request):
    db_url = "sqlite:db/trac.db"
    if USE_POSTGRES:
        db_url = request.getfixturevalue("postgres").url(schema="t_" + uuid.uuid4().hex[:12])
    root = tmp_path_factory.mktemp("rest")
    htpasswd = write_htpasswd(str(root / "htpasswd"), USERS)
    env = Environment.create(str(root / "proj"), [("logging", "log_type", "none"),
                                                 ("trac", "database", db_url),
                                                 ("account-manager", "password_file", htpasswd)])
    perms = PermissionSystem(env)
    perms.grant("admin", "TRAC_ADMIN")
    for action in ("TICKET_CREATE", "TICKET_MODIFY", "WIKI_CREATE", "WIKI_MODIFY"):
        perms.grant("writer", action)
    env.shutdown()
    with CodeyardServer("-s", env.path) as srv:
        yield srv


def basic(user: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{USERS[user]}".encode()).decode()


def call(server, method: str, path: str, body=None, auth: str | None = None,
         headers: dict | None = None, raw: bytes | None = None):
    """(status, headers, decoded JSON or bytes) of one request to /api/v1/<path>."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(server.url + "api/v1/" + path, data=data, method=method)
    if body is not None:
        request.add_header("Content-Type", "application/json")
    if auth:
        request.add_header("Authorization", auth)
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, got, payload = response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        status, got, payload = exc.code, exc.headers, exc.read()
    if got.get("Content-Type", "").startswith("application/json"):
        return status, got, json.loads(payload) if payload else None
    return status, got, payload


def test_tickets_by_basic_with_the_collision_check(server):
    auth = basic("writer")
    status, headers, ticket = call(server, "POST", "tickets",
                                   {"fields": {"summary": "From a script", "priority": "minor"}},
                                   auth)
    assert status == 201, ticket
    tid = ticket["id"]
    assert headers["Location"] == f"{server.url}api/v1/tickets/{tid}"
    status, headers, got = call(server, "GET", f"tickets/{tid}", auth=auth)
    etag = headers["ETag"]
    assert status == 200 and got["fields"]["summary"] == "From a script"
    status, _, changed = call(server, "PATCH", f"tickets/{tid}", {"comment": "First"}, auth,
                              {"If-Match": etag})
    assert status == 200, changed
    status, _, refused = call(server, "PATCH", f"tickets/{tid}", {"comment": "Second"}, auth,
                              {"If-Match": etag})
    assert status == 409 and "changed since" in refused["error"]["message"]
    status, _, changes = call(server, "GET", f"tickets/{tid}/changes", auth=auth)
    assert [c["comment"] for c in changes["items"]] == ["First"]
    query = urllib.parse.quote("summary~=script&order=id")
    status, _, found = call(server, "GET", f"tickets?q={query}", auth=auth)
    assert status == 200 and tid in [t["id"] for t in found["items"]]
    status, _, refused = call(server, "DELETE", f"tickets/{tid}", auth=auth)
    assert status == 403 and "TICKET_ADMIN" in refused["error"]["message"]
    status, _, _ = call(server, "DELETE", f"tickets/{tid}", auth=basic("admin"))
    assert status == 204


def _prefs_opener(server):
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.addheaders = [("Authorization", basic("writer")), ("Accept", "text/html")]
    return opener


def _prefs(opener, server, form: dict | None = None) -> str:
    page = opener.open(server.url + "prefs/api-tokens", timeout=30).read().decode()
    if form is None:
        return page
    token = re.search(r'name="__FORM_TOKEN" value="([^"]+)"', page).group(1)
    data = urllib.parse.urlencode({"__FORM_TOKEN": token, **form}).encode()
    return opener.open(server.url + "prefs/api-tokens", data, timeout=30).read().decode()


def test_token_made_in_the_preferences_used_and_revoked(server):
    opener = _prefs_opener(server)
    page = _prefs(opener, server, {"action": "create", "name": "ci job"})
    secret = re.search(r'<code id="new-token">([^<]+)</code>', page).group(1)
    for scheme in ("Bearer", "token"):
        status, _, me = call(server, "GET", "user", auth=f"{scheme} {secret}")
        assert status == 200 and me["user"] == "writer"
    # A token needs no form token, even for writes.
    status, headers, page_json = call(server, "PUT", "wiki/Scripted/Page", {"text": "v1"},
                                      f"Bearer {secret}")
    assert status == 201 and headers["ETag"] == '"1"'
    status, _, stale = call(server, "PUT", "wiki/Scripted/Page", {"text": "v0", "version": 0},
                            f"Bearer {secret}")
    assert status == 409, stale
    listing = _prefs(opener, server)
    assert "ci job" in listing and secret not in listing
    token_id = re.search(r'value="revoke_(\d+)"', listing).group(1)
    _prefs(opener, server, {"action": f"revoke_{token_id}"})
    status, _, refused = call(server, "GET", "user", auth=f"Bearer {secret}")
    assert status == 401 and "revoked" in refused["error"]["message"]


def test_attachments_round_trip(server):
    auth = basic("admin")
    call(server, "PUT", "wiki/Files", {"text": "Files here"}, auth)
    content = bytes(range(256)) * 4
    status, _, stored = call(server, "PUT", "wiki/Files/attachments/blob.bin?description=Bytes",
                             auth=auth, raw=content,
                             headers={"Content-Type": "application/octet-stream"})
    assert status == 201 and stored["size"] == len(content)
    status, headers, data = call(server, "GET", "wiki/Files/attachments/blob.bin", auth=auth)
    assert status == 200 and data == content
    status, _, listed = call(server, "GET", "wiki/Files/attachments", auth=auth)
    assert [a["description"] for a in listed["items"]] == ["Bytes"]
    assert call(server, "DELETE", "wiki/Files/attachments/blob.bin", auth=auth)[0] == 204


def test_errors_and_the_openapi_document(server):
    auth = basic("writer")
    status, headers, body = call(server, "GET", "nothing", auth=auth, headers={"Accept": "text/html"})
    assert status == 404 and headers["Content-Type"].startswith("application/json")
    assert body["error"]["status"] == 404
    status, _, body = call(server, "POST", "tickets", auth=auth, raw=b"{bad json",
                           headers={"Content-Type": "application/json"})
    assert status == 400 and "not valid JSON" in body["error"]["message"]
    status, _, body = call(server, "POST", "tickets", auth=auth, raw=b"summary=x",
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 415
    status, _, body = call(server, "GET", "user", auth="Basic " + base64.b64encode(b"writer:no").decode())
    assert status == 401 and "Wrong user name or password" in body["error"]["message"]
    status, _, document = call(server, "GET", "openapi.json")
    assert status == 200
    validate(document)
    assert document["servers"] == [{"url": server.url + "api/v1"}]
    assert "/tickets/{id}/attachments/{filename}" in document["paths"]
    status, headers, page = call(server, "GET", "", headers={"Accept": "text/html"})
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert b"/repositories/{repo}/changesets" in page
