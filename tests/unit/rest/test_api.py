"""The REST API over the whole site app: tokens made in /prefs, authentication and CSRF,
JSON errors, tickets, wiki pages, attachments, milestones and components."""

from __future__ import annotations

import base64
import hashlib
import json
from urllib.parse import quote

import pytest

from codeyard.perm import PermissionSystem
from codeyard.rest.tokens import create_token, list_tokens
from tests.functional.conftest import write_htpasswd
from tests.unit.web.conftest import text

pytestmark = pytest.mark.db


class Api:
    def __init__(self, site, headers=None) -> None:
        self.site = site
        self.headers = dict(headers or {})

    def __call__(self, method, path, body=None, headers=None, **kw):
        hd = {"Accept": "application/json", **self.headers, **(headers or {})}
        if body is not None:
            kw["data"] = json.dumps(body)
            hd.setdefault("Content-Type", "application/json")
        response = self.site.request(method, "/api/v1" + path, headers=hd, **kw)
        assert response.headers["Content-Type"].startswith(
            ("application/json", "application/octet-stream", "text/html")), response.headers
        return response


def data(response):
    return json.loads(response.get_data(as_text=True))


def error(response, status):
    assert response.status_code == status, text(response)
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    body = data(response)
    assert body["error"]["status"] == status
    return body["error"]["message"]


@pytest.fixture
def project(served, tmp_path):
    htpasswd = write_htpasswd(str(tmp_path / "htpasswd"), {"basic": "basic-pw"})
    env, site = served(options=[("codeyard", "config_check_interval", "0"),
                                ("account-manager", "password_file", htpasswd),
                                ("codeyard", "max_request_size", "100000")])
    perms = PermissionSystem(env)
    for action in ("TICKET_MODIFY", "TICKET_CREATE", "WIKI_CREATE", "WIKI_MODIFY",
                   "MILESTONE_VIEW"):
        perms.grant("dev", action)
    perms.grant("admin", "TRAC_ADMIN")
    perms.grant("basic", "TICKET_CREATE")
    env.ensure_own_tables()
    dev = Api(site, {"Authorization": f"Bearer {create_token(env, 'dev', 'tests')}"})
    admin = Api(site, {"Authorization": f"token {create_token(env, 'admin', 'tests')}"})
    return env, site, dev, admin


def test_tokens_are_made_listed_and_revoked_in_the_preferences(project):
    env, site, _dev, _admin = project
    site.get("/login", environ={"REMOTE_USER": "carol"})
    page = site.get("/prefs/api-tokens")
    assert page.status_code == 200 and "You have no API tokens." in text(page)
    made = site.post("/prefs/api-tokens", {"action": "create", "name": "deploy bot"})
    assert made.status_code == 200
    secret = text(made).split('<code id="new-token">')[1].split("</code>")[0]
    assert len(secret) >= 40
    # Stored as its SHA-256 only; shown once.
    with env.db_query as db:
        rows = db("SELECT username, name, token_hash FROM codeyard_api_token WHERE username=%s",
                  ("carol",))
    assert rows == [("carol", "deploy bot", hashlib.sha256(secret.encode()).hexdigest())]
    again = text(site.get("/prefs/api-tokens"))
    assert secret not in again and "deploy bot" in again and "never" in again
    fresh = Api(site.__class__(site.environ))  # no cookies: the token alone
    me = fresh("GET", "/user", headers={"Authorization": f"Bearer {secret}"})
    assert data(me)["user"] == "carol" and data(me)["authenticated"] is True
    assert list_tokens(env, "carol")[0]["last_used"] is not None
    assert "never" not in text(site.get("/prefs/api-tokens"))
    token_id = list_tokens(env, "carol")[0]["id"]
    assert site.post("/prefs/api-tokens", {"action": f"revoke_{token_id}"}).status_code == 303
    message = error(fresh("GET", "/user", headers={"Authorization": f"Bearer {secret}"}), 401)
    assert "unknown or has been revoked" in message
    error(fresh("GET", "/user", headers={"Authorization": "Bearer not-a-token"}), 401)
    # Another user's token cannot be revoked; a nameless one is refused.
    other = create_token(env, "dev", "mine")
    dev_id = [t for t in list_tokens(env, "dev") if t["name"] == "mine"][0]["id"]
    assert site.post("/prefs/api-tokens", {"action": f"revoke_{dev_id}"}).status_code == 400
    assert site.post("/prefs/api-tokens", {"action": "revoke_" + "9" * 30}).status_code == 400
    assert data(fresh("GET", "/user", headers={"Authorization": f"Bearer {other}"}))["user"] == "dev"
    assert site.post("/prefs/api-tokens", {"action": "create", "name": " "}).status_code == 400


def test_basic_authentication_and_its_wrong_password(project):
    _env, site, _dev, _admin = project
    basic = Api(site.__class__(site.environ))
    good = base64.b64encode(b"basic:basic-pw").decode()
    bad = base64.b64encode(b"basic:wrong").decode()
    created = basic("POST", "/tickets", {"fields": {"summary": "By Basic"}},
                    headers={"Authorization": f"Basic {good}"})
    assert created.status_code == 201, text(created)  # no form token needed
    message = error(basic("GET", "/user", headers={"Authorization": f"Basic {bad}"}), 401)
    assert "Wrong user name or password" in message


def test_cookie_authenticated_writes_need_the_form_token(project):
    _env, site, _dev, _admin = project
    site.get("/login", environ={"REMOTE_USER": "dev"})
    browser = Api(site)
    assert data(browser("GET", "/user"))["user"] == "dev"
    body = {"fields": {"summary": "From a page"}}
    assert "form token" in error(browser("POST", "/tickets", body), 403)
    ok = browser("POST", "/tickets", body, headers={"X-Form-Token": site.form_token()})
    assert ok.status_code == 201, text(ok)


def test_errors_are_json_with_the_right_status(project):
    env, site, dev, _admin = project
    assert "No API endpoint" in error(dev("GET", "/nothing/here"), 404)
    response = dev("DELETE", "/user")
    assert "not allowed" in error(response, 405) and response.headers["Allow"] == "GET, HEAD"
    assert "Content-Type: application/json" in error(
        dev("POST", "/tickets", data="{}", headers={"Content-Type": "text/plain"}), 415)
    assert "not valid JSON" in error(dev("POST", "/tickets", data="{nope",
                                         headers={"Content-Type": "application/json"}), 400)
    assert "unknown field 'color'" in error(dev("POST", "/tickets", {"fields": {}, "color": 1}), 400)
    assert "must be object" in error(dev("POST", "/tickets", {"fields": "x"}), 400)
    assert "not a ticket field" in error(dev("POST", "/tickets", {"fields": {"colour": "x"}}), 400)
    assert "Unknown query parameter 'sort'" in error(dev("GET", "/tickets?sort=id"), 400)
    assert "per_page must be at most 100" in error(dev("GET", "/tickets?per_page=500"), 400)
    assert "page must be an integer" in error(dev("GET", "/tickets?page=two"), 400)
    error(dev("GET", "/tickets/abc"), 404)
    assert "Ticket 42 does not exist" in error(dev("GET", "/tickets/42"), 404)
    assert "Invalid query" in error(dev("GET", "/tickets?q=nofield=1"), 400)
    big = dev("PUT", "/wiki/Big", data="x" * 200_000, headers={"Content-Type": "application/json"})
    error(big, 413)  # refused by the site before the handler, answered in JSON all the same
    # An HTML client gets JSON too under /api/v1.
    assert error(dev("GET", "/tickets/42", headers={"Accept": "text/html"}), 404)
    anonymous = Api(site.__class__(site.environ))
    PermissionSystem(env).revoke("anonymous", "TICKET_VIEW")
    response = anonymous("GET", "/tickets/1")
    assert "TICKET_VIEW" in error(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def _ticket_rows(env, tid):
    with env.db_query as db:
        return db("SELECT COUNT(*) FROM ticket_change WHERE ticket=%s", (tid,))[0][0]


def test_tickets_create_get_update_with_collision_check_and_delete(project):
    env, _site, dev, admin = project
    created = dev("POST", "/tickets", {"fields": {"summary": "Crash", "priority": "minor",
                                                  "keywords": "ui"}})
    assert created.status_code == 201, text(created)
    ticket = data(created)
    tid = ticket["id"]
    assert created.headers["Location"].endswith(f"/api/v1/tickets/{tid}")
    assert ticket["fields"]["status"] == "new" and ticket["fields"]["reporter"] == "dev"
    got = dev("GET", f"/tickets/{tid}")
    assert got.headers["ETag"] == f'"{ticket["ts"]}"'
    assert data(got)["fields"]["priority"] == "minor"

    changed = dev("PATCH", f"/tickets/{tid}", {"comment": "Seen it", "fields": {"keywords": "ui crash"}},
                  headers={"If-Match": got.headers["ETag"]})
    assert changed.status_code == 200, text(changed)
    assert data(changed)["fields"]["keywords"] == "ui crash"
    before = _ticket_rows(env, tid)
    # The stamp of the first version is stale now: refused, nothing written.
    stale = dev("PATCH", f"/tickets/{tid}", {"comment": "Late", "ts": ticket["ts"]})
    assert "changed since" in error(stale, 409)
    # A workflow error or a bad value: nothing written either.
    assert "resolve" in error(dev("PATCH", f"/tickets/{tid}", {"action": "resolve",
                              "action_resolve_resolve_resolution": "nonsense"}), 400).lower()
    error(dev("PATCH", f"/tickets/{tid}", {"fields": {"priority": "urgent-ish"}}), 400)
    assert "workflow action" in error(dev("PATCH", f"/tickets/{tid}",
                                          {"fields": {"status": "closed"}}), 400)
    assert _ticket_rows(env, tid) == before

    actions = [a["action"] for a in data(dev("GET", f"/tickets/{tid}/actions"))]
    assert "resolve" in actions
    resolved = dev("PATCH", f"/tickets/{tid}", {"action": "resolve",
                                                "action_resolve_resolve_resolution": "fixed",
                                                "comment": "Fixed"})
    assert resolved.status_code == 200, text(resolved)
    assert data(resolved)["fields"]["status"] == "closed"
    assert data(resolved)["fields"]["resolution"] == "fixed"
    changes = data(dev("GET", f"/tickets/{tid}/changes"))
    assert changes["total"] == 2
    assert changes["items"][0]["comment"] == "Seen it" and changes["items"][0]["cnum"] == 1
    assert changes["items"][1]["fields"]["status"] == {"old": "new", "new": "closed"}

    assert "TICKET_ADMIN" in error(dev("DELETE", f"/tickets/{tid}"), 403)
    assert admin("DELETE", f"/tickets/{tid}").status_code == 204
    error(dev("GET", f"/tickets/{tid}"), 404)


def test_ticket_list_takes_the_query_language_and_pages(project):
    _env, _site, dev, _admin = project
    for n in range(5):
        dev("POST", "/tickets", {"fields": {"summary": f"T{n}",
                                            "priority": "minor" if n % 2 else "major"}})
    found = data(dev("GET", "/tickets?q=" + quote("priority=minor&order=id")))
    assert found["total"] == 2 and [t["summary"] for t in found["items"]] == ["T1", "T3"]
    assert "Unknown query parameter 'order'" in error(
        dev("GET", "/tickets?q=priority=minor&order=id"), 400)  # the query must be encoded
    page = data(dev("GET", "/tickets?q=" + quote("order=id") + "&per_page=2&page=3"))
    assert (page["total"], page["page"], page["per_page"]) == (5, 3, 2)
    assert [t["summary"] for t in page["items"]] == ["T4"]
    assert data(dev("GET", "/tickets?per_page=2&page=9"))["items"] == []


def test_attachments_upload_list_download_delete(project):
    _env, _site, dev, admin = project
    tid = data(dev("POST", "/tickets", {"fields": {"summary": "With a file"}}))["id"]
    put = admin("PUT", f"/tickets/{tid}/attachments/log.txt?description=The+log",
                data=b"line 1\n", headers={"Content-Type": "application/octet-stream"})
    assert put.status_code == 201, text(put)
    assert data(put)["size"] == 7 and data(put)["description"] == "The log"
    again = admin("PUT", f"/tickets/{tid}/attachments/log.txt", data=b"x",
                  headers={"Content-Type": "application/octet-stream"})
    assert "replace" in error(again, 409)
    listed = data(dev("GET", f"/tickets/{tid}/attachments"))
    assert [a["filename"] for a in listed["items"]] == ["log.txt"]
    raw = dev("GET", f"/tickets/{tid}/attachments/log.txt")
    assert raw.status_code == 200 and raw.get_data() == b"line 1\n"
    error(dev("GET", f"/tickets/{tid}/attachments/none.txt"), 404)
    error(dev("GET", "/tickets/999/attachments"), 404)
    assert admin("DELETE", f"/tickets/{tid}/attachments/log.txt").status_code == 204
    assert data(dev("GET", f"/tickets/{tid}/attachments"))["items"] == []


def test_a_body_nested_too_deeply_is_refused(project):
    _env, _site, dev, _admin = project
    depth = 20_000  # deeper than the JSON parser descends (and within the size limit)
    nested = dev("POST", "/tickets", data="[" * depth + "]" * depth,
                 headers={"Content-Type": "application/json"})
    assert "nested too deeply" in error(nested, 400)
    assert data(dev("GET", "/tickets"))["total"] == 0


def test_wiki_page_attachments(project):
    _env, _site, dev, admin = project
    assert dev("PUT", "/wiki/Notes/Files", {"text": "See the files"}).status_code == 201
    put = admin("PUT", "/wiki/Notes/Files/attachments/a.txt", data=b"abc",
                headers={"Content-Type": "application/octet-stream"})
    assert put.status_code == 201, text(put)
    listed = data(dev("GET", "/wiki/Notes/Files/attachments"))
    assert [(a["filename"], a["size"]) for a in listed["items"]] == [("a.txt", 3)]
    assert dev("GET", "/wiki/Notes/Files/attachments/a.txt").get_data() == b"abc"
    error(dev("GET", "/wiki/NoSuchPage/attachments"), 404)
    assert admin("DELETE", "/wiki/Notes/Files/attachments/a.txt").status_code == 204
    assert data(dev("GET", "/wiki/Notes/Files/attachments"))["items"] == []


def test_wiki_pages_with_the_version_check(project):
    _env, _site, dev, admin = project
    created = dev("PUT", "/wiki/Notes/Deploy", {"text": "Step 1", "comment": "start"})
    assert created.status_code == 201 and created.headers["ETag"] == '"1"'
    assert "version you edited" in error(dev("PUT", "/wiki/Notes/Deploy", {"text": "Step 2"}), 428)
    saved = dev("PUT", "/wiki/Notes/Deploy", {"text": "Step 1\nStep 2"}, headers={"If-Match": '"1"'})
    assert saved.status_code == 200 and data(saved)["version"] == 2
    stale = dev("PUT", "/wiki/Notes/Deploy", {"text": "Other", "version": 1})
    assert "changed since version 1" in error(stale, 409)
    assert data(dev("GET", "/wiki/Notes/Deploy"))["text"] == "Step 1\nStep 2"
    assert data(dev("GET", "/wiki/Notes/Deploy?version=1"))["text"] == "Step 1"
    error(dev("GET", "/wiki/Notes/Deploy?version=7"), 404)
    history = data(dev("GET", "/wiki/Notes/Deploy/history"))
    assert [v["version"] for v in history["items"]] == [2, 1]
    assert history["items"][1]["comment"] == "start"
    names = [p["name"] for p in data(dev("GET", "/wiki?prefix=Notes/"))["items"]]
    assert names == ["Notes/Deploy"]
    assert "WIKI_ADMIN" in error(dev("PUT", "/wiki/Notes/Deploy",
                                     {"text": "x", "version": 2, "readonly": True}), 403)
    assert "WIKI_DELETE" in error(dev("DELETE", "/wiki/Notes/Deploy"), 403)
    assert admin("DELETE", "/wiki/Notes/Deploy?version=2").status_code == 204
    assert data(dev("GET", "/wiki/Notes/Deploy"))["version"] == 1
    assert admin("DELETE", "/wiki/Notes/Deploy").status_code == 204
    error(dev("GET", "/wiki/Notes/Deploy"), 404)


def test_milestones_and_components(project):
    _env, _site, dev, admin = project
    assert "MILESTONE_CREATE" in error(dev("POST", "/milestones", {"name": "v2"}), 403)
    made = admin("POST", "/milestones", {"name": "v2", "due": "2030-01-01T00:00:00Z"})
    assert made.status_code == 201 and data(made)["due"] == "2030-01-01T00:00:00Z"
    assert "exists" in error(admin("POST", "/milestones", {"name": "v2"}), 409)
    renamed = admin("PATCH", "/milestones/v2", {"name": "v2.0", "description": "Big"})
    assert data(renamed) == {"name": "v2.0", "due": "2030-01-01T00:00:00Z", "completed": None,
                             "description": "Big"}
    assert data(dev("GET", "/milestones/v2.0"))["description"] == "Big"
    error(dev("GET", "/milestones/v2"), 404)
    assert "v2.0" in [m["name"] for m in data(dev("GET", "/milestones?per_page=100"))["items"]]
    assert admin("DELETE", "/milestones/v2.0").status_code == 204

    assert "TICKET_ADMIN" in error(dev("POST", "/components", {"name": "ui"}), 403)
    assert admin("POST", "/components", {"name": "ui", "owner": "dev"}).status_code == 201
    assert data(admin("PATCH", "/components/ui", {"owner": "admin"}))["owner"] == "admin"
    assert data(dev("GET", "/components/ui")) == {"name": "ui", "owner": "admin",
                                                  "description": ""}
    error(admin("POST", "/components", {"name": ""}), 400)
    assert admin("DELETE", "/components/ui").status_code == 204
    error(dev("GET", "/components/ui"), 404)


def test_the_endpoint_page_lists_groups_methods_and_permissions(project):
    _env, site, _dev, _admin = project
    page = site.get("/api/v1/")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    body = text(page)
    for piece in ('id="tickets"', 'id="wiki"', "<code>PATCH</code>", "<code>/tickets/{id}</code>",
                  "TICKET_ADMIN", "<code>per_page</code>", "openapi.json"):
        assert piece in body, piece
    document = data(site.get("/api/v1/openapi.json", headers={"Accept": "application/json"}))
    assert document["openapi"] == "3.1.0" and "/tickets/{id}" in document["paths"]


def test_front_server_basic_needs_no_form_token_and_comments_need_append(project):
    env, site, _dev, _admin = project
    perms = PermissionSystem(env)
    perms.revoke("authenticated", "TICKET_MODIFY")  # fronted may create, not comment
    perms.grant("fronted", "TICKET_CHGPROP")
    front = Api(site.__class__(site.environ))
    headers = {"Authorization": "Basic " + base64.b64encode(b"fronted:x").decode()}
    created = front("POST", "/tickets", {"fields": {"summary": "Via Apache"}}, headers=headers,
                    environ_overrides={"REMOTE_USER": "fronted"})
    assert created.status_code == 201, text(created)
    # Without an Authorization header a front server's user is a browser: the form token.
    error(front("POST", "/tickets", {"fields": {"summary": "Via a page"}},
                environ_overrides={"REMOTE_USER": "fronted"}), 403)
    # fronted may create tickets but not comment on them (no TICKET_APPEND).
    tid = data(created)["id"]
    message = error(front("PATCH", f"/tickets/{tid}", {"comment": "me too"}, headers=headers,
                          environ_overrides={"REMOTE_USER": "fronted"}), 403)
    assert "TICKET_APPEND" in message
