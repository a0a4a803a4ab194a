"""XML-RPC and JSON-RPC against a real `codeyard serve`, called as scripts written for
Trac's XmlRpcPlugin call it: ``xmlrpc.client.ServerProxy`` on ``/login/rpc`` with the
password in the URL, JSON-RPC with urllib, multicall, faults and permissions."""

from __future__ import annotations

import base64
import http.cookiejar
import json
import urllib.error
import urllib.request
import uuid
import xmlrpc.client
from datetime import UTC, datetime, timedelta

import pytest

from codeyard.env import Environment
from codeyard.perm import PermissionSystem
from tests.conftest import USE_POSTGRES
from tests.functional.conftest import write_htpasswd
from tests.support.codeyard_server import CodeyardServer

pytestmark = [pytest.mark.slow, pytest.mark.db]

USERS = {"admin": "admin-pw", "writer": "writer-pw", "reader": "reader-pw",
         "outsider": "outsider-pw"}


@pytest.fixture(scope="module")
def server(tmp_path_factory, request):
    db_url = "sqlite:db/trac.db"
    if USE_POSTGRES:
        db_url = request.getfixturevalue("postgres").url(schema="t_" + uuid.uuid4().hex[:12])
    root = tmp_path_factory.mktemp("rpc")
    htpasswd = write_htpasswd(str(root / "htpasswd"), USERS)
    env = Environment.create(str(root / "proj"), [("logging", "log_type", "none"),
                                                 ("trac", "database", db_url),
                                                 ("account-manager", "password_file", htpasswd),
                                                 ("ticket-type-defaults", "task.priority", "minor")])
    perms = PermissionSystem(env)
    for action in perms.user_grants("authenticated"):
        perms.revoke("authenticated", action)  # each user below gets exactly what is granted
    perms.grant("admin", "TRAC_ADMIN")
    for action in ("XML_RPC", "WIKI_CREATE", "WIKI_MODIFY", "TICKET_CREATE", "TICKET_MODIFY",
                   "TICKET_APPEND"):
        perms.grant("writer", action)
    perms.grant("reader", "XML_RPC")
    env.shutdown()
    with CodeyardServer("-s", env.path) as srv:
        yield srv


_OPEN: list[xmlrpc.client.ServerProxy] = []


@pytest.fixture(autouse=True)
def _close_proxies():
    yield
    while _OPEN:
        _OPEN.pop()("close")()


def proxy(server, user: str | None = None, path: str = "login/rpc") -> xmlrpc.client.ServerProxy:
    base = server.url
    if user:
        base = base.replace("http://", f"http://{user}:{USERS[user]}@")
    made = xmlrpc.client.ServerProxy(base + path, use_builtin_types=True)
    _OPEN.append(made)
    return made


def post(server, path: str, body: bytes, content_type: str, user: str | None = "admin"):
    request = urllib.request.Request(server.url + path, data=body, method="POST",
                                     headers={"Content-Type": content_type})
    if user:
        token = base64.b64encode(f"{user}:{USERS[user]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers.get("Content-Type"), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type"), exc.read()


def jsonrpc(server, method: str, *params, user: str | None = "admin", rid=7,
            path: str = "login/jsonrpc"):
    body = json.dumps({"method": method, "params": list(params), "id": rid}).encode()
    status, ctype, data = post(server, path, body, "application/json", user)
    assert status == 200 and ctype.startswith("application/json"), (status, data[:300])
    return json.loads(data)


def fault_code(call) -> tuple[int, str]:
    with pytest.raises(xmlrpc.client.Fault) as info:
        call()
    return info.value.faultCode, info.value.faultString


# -- system.*

def test_system_methods(server):
    rpc = proxy(server, "admin")
    names = rpc.system.listMethods()
    for name in ("system.multicall", "system.getAPIVersion", "wiki.getPage", "wiki.putPage"):
        assert name in names
    assert rpc.system.getAPIVersion() == [1, 1, 9]
    assert "getPage" in rpc.system.methodHelp("wiki.getPage")
    assert rpc.system.methodSignature("wiki.getPage") == ["string,string", "string,string,int"]
    code, text = fault_code(lambda: rpc.system.methodHelp("no.such"))
    assert code == -32601 and "no.such" in text


def test_unknown_method_bad_arguments_and_malformed_xml(server):
    rpc = proxy(server, "admin")
    code, text = fault_code(lambda: rpc.wiki.noSuchThing())
    assert code == -32601 and "wiki.noSuchThing" in text
    code, text = fault_code(lambda: rpc.wiki.getPage())
    assert code == 1 and "arguments" in text
    code, text = fault_code(lambda: rpc.wiki.getPage("WikiStart", 1, 2, 3))
    assert code == 1 and "arguments" in text
    code, text = fault_code(lambda: rpc.wiki.getPage(42))
    assert code == 1 and "pagename" in text
    status, ctype, body = post(server, "login/rpc", b"<methodCall><oops", "text/xml")
    assert status == 200
    with pytest.raises(xmlrpc.client.Fault) as info:
        xmlrpc.client.loads(body)
    assert info.value.faultCode == -32700


def test_authentication_and_permissions(server):
    # /login/rpc challenges a caller without credentials; a wrong password too.
    status, _, _ = post(server, "login/rpc", xmlrpc.client.dumps((), "system.listMethods").encode(),
                        "text/xml", user=None)
    assert status == 401
    wrong = server.url.replace("http://", "http://admin:nope@") + "login/rpc"
    with pytest.raises(xmlrpc.client.ProtocolError) as info:
        with xmlrpc.client.ServerProxy(wrong) as bad:
            bad.system.listMethods()
    assert info.value.errcode == 401
    # Anonymous lacks XML_RPC: a 403 fault (HTTP 200) on /rpc.
    code, text = fault_code(lambda: proxy(server, None, "rpc").system.getAPIVersion())
    assert code == 403 and "XML_RPC" in text
    # outsider may read the wiki on the web (WIKI_VIEW), not over RPC.
    code, _ = fault_code(lambda: proxy(server, "outsider").wiki.getAllPages())
    assert code == 403
    # XML_RPC alone does not let one write.
    reader = proxy(server, "reader")
    assert "WikiStart" in reader.wiki.getAllPages()
    code, text = fault_code(lambda: reader.wiki.putPage("ReaderPage", "x", {}))
    assert code == 403 and "WIKI_CREATE" in text
    # A form-encoded POST (what a cross-site form can send) is refused before any call.
    status, _, body = post(server, "login/rpc", b"method=wiki.putPage", "text/plain")
    assert status == 415
    # A browser GET lists the methods with their help.
    request = urllib.request.Request(server.url + "login/rpc", headers={"Accept": "text/html"})
    token = base64.b64encode(b"admin:admin-pw").decode()
    request.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        page = response.read().decode()
    assert "wiki.getPageInfo" in page and "system.multicall" in page


def test_session_cookie_authenticates_but_only_rpc_content_types(server):
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    login = urllib.request.Request(server.url + "login")
    login.add_header("Authorization", "Basic " + base64.b64encode(b"writer:writer-pw").decode())
    with opener.open(login, timeout=30):
        pass
    assert "trac_auth" in {c.name for c in jar}

    def call(body: bytes, content_type: str):
        request = urllib.request.Request(server.url + "login/rpc", data=body, method="POST",
                                         headers={"Content-Type": content_type})
        try:
            with opener.open(request, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    status, body = call(xmlrpc.client.dumps(("CookiePage", "by cookie", {}), "wiki.putPage")
                        .encode(), "text/xml")
    assert status == 200 and xmlrpc.client.loads(body)[0] == (True,)
    assert proxy(server, "admin").wiki.getPageInfo("CookiePage")["author"] == "writer"
    # What a cross-site form could send with the cookie: refused, nothing written.
    for content_type in ("application/x-www-form-urlencoded", "text/plain", "multipart/form-data"):
        status, _ = call(xmlrpc.client.dumps(("CookiePage", "forged", {}), "wiki.putPage")
                         .encode(), content_type)
        assert status == 415
    assert proxy(server, "admin").wiki.getPage("CookiePage") == "by cookie"


# -- wiki.*

def test_wiki_pages(server):
    rpc = proxy(server, "writer")
    assert rpc.wiki.getRPCVersionSupported() == 2
    before = datetime.now(UTC) - timedelta(seconds=5)
    assert rpc.wiki.putPage("RpcPage", "= Hello =\nSee WikiStart.", {"comment": "first"}) is True
    assert rpc.wiki.putPage("RpcPage", "Second text", {"comment": "second"}) is True
    assert rpc.wiki.getPage("RpcPage") == "Second text"
    assert rpc.wiki.getPageVersion("RpcPage", 1).startswith("= Hello =")
    info = rpc.wiki.getPageInfo("RpcPage")
    assert info["name"] == "RpcPage" and info["version"] == 2 and info["author"] == "writer"
    assert info["comment"] == "second" and isinstance(info["lastModified"], datetime)
    assert rpc.wiki.getPageInfoVersion("RpcPage", 1)["comment"] == "first"
    assert rpc.wiki.getPageInfo("NoSuchPage") == 0  # as the plugin: a test for existence
    assert rpc.wiki.getPageInfoVersion("RpcPage", 7) == 0
    html = rpc.wiki.getPageHTMLVersion("RpcPage", 1)
    assert html.startswith("<html><body>") and "Hello</h1>" in html
    assert 'href="http://' in html  # links are absolute
    assert "RpcPage" in rpc.wiki.getAllPages() and "WikiStart" in rpc.wiki.getAllPages()
    changed = rpc.wiki.getRecentChanges(before)
    assert changed[0]["name"] == "RpcPage" and changed[0]["version"] == 2
    assert all(c["lastModified"] >= before.replace(tzinfo=None) for c in changed)
    assert "<strong>bold</strong>" in rpc.wiki.wikiToHtml("'''bold'''")
    assert rpc.wiki.listLinks("RpcPage") == []
    code, text = fault_code(lambda: rpc.wiki.getPage("NoSuchPage"))
    assert code == 404 and "NoSuchPage" in text
    code, _ = fault_code(lambda: rpc.wiki.getPageVersion("RpcPage", 9))
    assert code == 404
    code, text = fault_code(lambda: rpc.wiki.putPage("RpcPage", "Second text", {}))
    assert code == 1 and "not modified" in text
    code, _ = fault_code(lambda: rpc.wiki.putPage("RpcPage", "x", "not a struct"))
    assert code == 1
    # writer has no WIKI_DELETE; admin does.
    code, _ = fault_code(lambda: rpc.wiki.deletePage("RpcPage"))
    assert code == 403
    assert proxy(server, "admin").wiki.deletePage("RpcPage", 1) is True
    assert rpc.wiki.getPageInfo("RpcPage")["version"] == 2


def test_wiki_readonly_needs_admin(server):
    admin = proxy(server, "admin")
    assert admin.wiki.putPage("LockedPage", "locked", {"readonly": True})
    code, text = fault_code(lambda: proxy(server, "writer").wiki.putPage("LockedPage", "x", {}))
    assert code == 403 and "WIKI_ADMIN" in text
    assert admin.wiki.getPage("LockedPage") == "locked"


def test_wiki_attachments(server):
    rpc = proxy(server, "admin")
    rpc.wiki.putPage("FilesPage", "files", {})
    data = bytes(range(256)) * 10
    assert rpc.wiki.putAttachment("FilesPage/blob.bin", xmlrpc.client.Binary(data)) is True
    assert rpc.wiki.getAttachment("FilesPage/blob.bin") == data
    # replace keeps one file of that name; replace=False picks another name.
    assert rpc.wiki.putAttachmentEx("FilesPage", "blob.bin", "new", b"new content") == "blob.bin"
    assert rpc.wiki.getAttachment("FilesPage/blob.bin") == b"new content"
    assert rpc.wiki.putAttachmentEx("FilesPage", "blob.bin", "", b"other", False) == "blob.2.bin"
    assert rpc.wiki.listAttachments("FilesPage") == ["FilesPage/blob.bin", "FilesPage/blob.2.bin"]
    assert rpc.wiki.deleteAttachment("FilesPage/blob.2.bin") is True
    assert rpc.wiki.listAttachments("FilesPage") == ["FilesPage/blob.bin"]
    code, _ = fault_code(lambda: rpc.wiki.getAttachment("FilesPage/gone.bin"))
    assert code == 404
    code, _ = fault_code(lambda: rpc.wiki.putAttachment("NoSuchPage/x.txt", b"x"))
    assert code == 404
    code, _ = fault_code(lambda: rpc.wiki.putAttachment("FilesPage/x.txt", "not binary"))
    assert code == 1


# -- multicall and JSON-RPC

def test_multicall(server):
    rpc = proxy(server, "admin")
    multi = xmlrpc.client.MultiCall(rpc)
    multi.system.getAPIVersion()
    multi.wiki.getPage("NoSuchPage")
    multi.wiki.getRPCVersionSupported()
    results = multi()
    assert results[0] == [1, 1, 9]
    with pytest.raises(xmlrpc.client.Fault) as info:
        results[1]
    assert info.value.faultCode == 404
    assert results[2] == 2


def test_jsonrpc(server):
    answer = jsonrpc(server, "system.getAPIVersion")
    assert answer == {"result": [1, 1, 9], "error": None, "id": 7}
    answer = jsonrpc(server, "wiki.putPage", "JsonPage", "from json", {"comment": "j"})
    assert answer["result"] is True
    info = jsonrpc(server, "wiki.getPageInfo", "JsonPage")["result"]
    kind, text = info["lastModified"]["__jsonclass__"]
    assert kind == "datetime" and datetime.fromisoformat(text).year >= 2024
    since = {"__jsonclass__": ["datetime", "2000-01-01T00:00:00"]}
    assert "JsonPage" in [c["name"] for c in jsonrpc(server, "wiki.getRecentChanges", since)["result"]]
    blob = {"__jsonclass__": ["binary", base64.b64encode(b"\x00\x01json").decode()]}
    assert jsonrpc(server, "wiki.putAttachment", "JsonPage/j.bin", blob)["result"] is True
    got = jsonrpc(server, "wiki.getAttachment", "JsonPage/j.bin")["result"]
    assert base64.b64decode(got["__jsonclass__"][1]) == b"\x00\x01json"
    error = jsonrpc(server, "wiki.getPage", "NoSuchPage", rid="x")
    assert error["result"] is None and error["id"] == "x"
    assert error["error"]["code"] == 404 and "NoSuchPage" in error["error"]["message"]
    assert error["error"]["name"]
    assert jsonrpc(server, "no.method")["error"]["code"] == -32601
    assert jsonrpc(server, "wiki.getPage", user="reader")["error"]["code"] == 1
    assert jsonrpc(server, "wiki.putPage", "P", "x", {}, user="reader")["error"]["code"] == 403
    multi = jsonrpc(server, "system.multicall",
                    {"method": "wiki.getPage", "params": ["JsonPage"], "id": 1},
                    {"method": "wiki.getPage", "params": ["Nope"], "id": 2})["result"]
    assert multi[0] == {"result": "from json", "error": None, "id": 1}
    assert multi[1]["error"]["code"] == 404 and multi[1]["id"] == 2
    huge = jsonrpc(server, "wiki.getPageVersion", "JsonPage", 10**30)
    assert huge["error"]["code"] == 404
    assert jsonrpc(server, "ticket.get", 10**30)["error"]["code"] == 404
    assert jsonrpc(server, "wiki.getPage", 1.5)["error"]["code"] == 1
    for body in (b"{not json", b"[1, 2]", b'{"method": "x", "params": {"__jsonclass__": 1}}',
                 b'{"params": []}', b'{"method": "wiki.getPage", "params": {"a": 1}}',
                 b'{"method": "x", "params": [{"__jsonclass__": ["datetime", "never"]}]}',
                 b"\xff\xfe"):
        status, _, data = post(server, "login/jsonrpc", body, "application/json")
        assert status == 200 and json.loads(data)["error"]["code"] == -32700
    # /jsonrpc speaks JSON only.
    status, _, _ = post(server, "login/jsonrpc", xmlrpc.client.dumps((), "system.listMethods").encode(),
                        "text/xml")
    assert status == 415


# -- ticket.*

def test_ticket_create_get_update_and_collision(server):
    rpc = proxy(server, "writer")
    tid = rpc.ticket.create("Over RPC", "The description", {"priority": "major",
                                                           "keywords": "rpc"})
    assert isinstance(tid, int)
    number, created, changed, attrs = rpc.ticket.get(tid)
    assert number == tid and isinstance(created, datetime) and changed >= created
    assert attrs["summary"] == "Over RPC" and attrs["status"] == "new"
    assert attrs["reporter"] == "writer" and attrs["priority"] == "major"
    stamp = attrs["_ts"]
    # A comment and a field change with the stamp from get().
    updated = rpc.ticket.update(tid, "First comment", {"keywords": "rpc xml", "_ts": stamp,
                                                       "action": "leave"})
    assert updated[3]["keywords"] == "rpc xml" and updated[3]["_ts"] != stamp
    # The same stale stamp again: refused, nothing written.
    code, text = fault_code(lambda: rpc.ticket.update(tid, "Stale", {"_ts": stamp,
                                                                    "keywords": "lost"}))
    assert code == 1 and "updated since" in text
    assert rpc.ticket.get(tid)[3]["keywords"] == "rpc xml"
    log = rpc.ticket.changeLog(tid)
    assert ["keywords", "rpc", "rpc xml"] in [entry[2:5] for entry in log]
    assert any(e[2] == "comment" and e[4] == "First comment" for e in log)
    assert all(e[1] == "writer" and isinstance(e[0], datetime) for e in log)
    # The actions, with the inputs they need (resolve: its resolution).
    actions = [a[0] for a in rpc.ticket.getActions(tid)]
    assert "leave" in actions and "resolve" in actions
    assert rpc.ticket.getAvailableActions(tid) == actions
    resolve = next(a for a in rpc.ticket.getActions(tid) if a[0] == "resolve")
    assert resolve[3] and "fixed" in resolve[3][0][2]
    moved = rpc.ticket.update(tid, "", {"action": "reassign",
                                         "action_reassign_reassign_owner": "admin"})
    assert moved[3]["owner"] == "admin" and moved[3]["status"] == "assigned"
    # reader may see the ticket, not comment on it nor change it.
    reader = proxy(server, "reader")
    assert reader.ticket.get(tid)[3]["owner"] == "admin"
    code, _ = fault_code(lambda: reader.ticket.update(tid, "a comment"))
    assert code == 403
    done = rpc.ticket.update(tid, "Done", {"action": "resolve",
                                           "action_resolve_resolve_resolution": "fixed"})
    assert done[3]["status"] == "closed" and done[3]["resolution"] == "fixed"
    assert tid not in rpc.ticket.query()
    assert tid in rpc.ticket.query("status=closed&keywords~=xml")
    assert tid in rpc.ticket.getRecentChanges(created - timedelta(seconds=1))


def test_ticket_refusals_write_nothing(server):
    rpc = proxy(server, "writer")
    tid = rpc.ticket.create("Strict", "x")
    before = rpc.ticket.get(tid)[3]
    code, text = fault_code(lambda: rpc.ticket.update(tid, "c", {"priority": "no-such"}))
    assert code == 1 and "priority" in text
    code, text = fault_code(lambda: rpc.ticket.update(tid, "c", {"nosuchfield": "1"}))
    assert code == 1 and "nosuchfield" in text
    code, text = fault_code(lambda: rpc.ticket.update(tid, "c", {"action": "resolve"}))
    assert code == 1 and "resolution" in text
    code, _ = fault_code(lambda: rpc.ticket.update(tid, "c", {"status": "closed"}))
    assert code == 1
    code, _ = fault_code(lambda: rpc.ticket.update(tid, "c", {"_ts": "not-a-stamp"}))
    assert code == 1
    code, text = fault_code(lambda: rpc.ticket.create("", "no summary"))
    assert code == 1 and "summary" in text
    code, _ = fault_code(lambda: rpc.ticket.create("S", "d", {"milestone": "no-such"}))
    assert code == 1
    after = rpc.ticket.get(tid)[3]
    assert after == before and len(rpc.ticket.changeLog(tid)) == 0
    code, _ = fault_code(lambda: rpc.ticket.get(99999))
    assert code == 404
    code, _ = fault_code(lambda: rpc.ticket.get("one"))
    assert code == 1
    # Permissions: reader may not create, writer may not delete.
    code, text = fault_code(lambda: proxy(server, "reader").ticket.create("x", "y"))
    assert code == 403 and "TICKET_CREATE" in text
    code, _ = fault_code(lambda: rpc.ticket.delete(tid))
    assert code == 403
    admin = proxy(server, "admin")
    assert admin.ticket.delete(tid) == 0
    code, _ = fault_code(lambda: admin.ticket.get(tid))
    assert code == 404


def test_ticket_attachments_and_fields(server):
    rpc = proxy(server, "admin")
    tid = rpc.ticket.create("With files", "x")
    assert rpc.ticket.putAttachment(tid, "log.txt", "a log", b"line 1\n") == "log.txt"
    assert rpc.ticket.putAttachment(tid, "log.txt", "again", b"line 2\n", False) == "log.2.txt"
    listed = rpc.ticket.listAttachments(tid)
    assert [a[0] for a in listed] == ["log.txt", "log.2.txt"]
    assert listed[0][1:3] == ["a log", 7] and listed[0][4] == "admin"
    assert rpc.ticket.getAttachment(tid, "log.2.txt") == b"line 2\n"
    assert rpc.ticket.deleteAttachment(tid, "log.2.txt") is True
    code, _ = fault_code(lambda: rpc.ticket.getAttachment(tid, "log.2.txt"))
    assert code == 404
    code, _ = fault_code(lambda: rpc.ticket.putAttachment(99999, "a.txt", "", b"x"))
    assert code == 404
    # A new ticket takes its type's defaults unless the caller sets the field.
    assert rpc.ticket.get(rpc.ticket.create("A task", "", {"type": "task"}))[3]["priority"] == "minor"
    assert rpc.ticket.get(rpc.ticket.create("Another", "", {"type": "task", "priority": "major"})
                          )[3]["priority"] == "major"
    fields = {f["name"]: f for f in rpc.ticket.getTicketFields()}
    assert "major" in fields["priority"]["options"] and fields["summary"]["type"] == "text"
    assert "closed" in rpc.ticket.status.getAll()


def test_ticket_value_families(server):
    rpc = proxy(server, "admin")
    assert "component1" in rpc.ticket.component.getAll()
    rpc.ticket.component.create("rpc-comp", {"owner": "admin", "description": "made"})
    assert rpc.ticket.component.get("rpc-comp") == {"name": "rpc-comp", "owner": "admin",
                                                    "description": "made"}
    rpc.ticket.component.update("rpc-comp", {"name": "rpc-comp2", "owner": "writer"})
    assert rpc.ticket.component.get("rpc-comp2")["owner"] == "writer"
    code, _ = fault_code(lambda: rpc.ticket.component.get("rpc-comp"))
    assert code == 404
    code, text = fault_code(lambda: rpc.ticket.component.create("rpc-comp2", {}))
    assert code == 1 and "exists" in text
    rpc.ticket.component.delete("rpc-comp2")
    assert "rpc-comp2" not in rpc.ticket.component.getAll()

    due = datetime(2030, 5, 1, 12, 0, 0)
    rpc.ticket.milestone.create("rpc-ms", {"due": due, "description": "soon"})
    got = rpc.ticket.milestone.get("rpc-ms")
    assert got["due"] == due and got["completed"] == 0 and got["description"] == "soon"
    rpc.ticket.milestone.update("rpc-ms", {"completed": due})
    assert rpc.ticket.milestone.get("rpc-ms")["completed"] == due
    rpc.ticket.version.create("9.9", {"description": "v"})
    assert rpc.ticket.version.get("9.9")["time"] == 0
    code, text = fault_code(lambda: rpc.ticket.version.create("9.8", {"colour": "red"}))
    assert code == 1 and "colour" in text

    rpc.ticket.priority.create("urgent-rpc", "9")
    assert rpc.ticket.priority.get("urgent-rpc") == "9"
    rpc.ticket.priority.update("urgent-rpc", "10")
    assert rpc.ticket.priority.get("urgent-rpc") == "10"
    assert "urgent-rpc" in rpc.ticket.priority.getAll()
    rpc.ticket.priority.delete("urgent-rpc")
    code, _ = fault_code(lambda: rpc.ticket.priority.get("urgent-rpc"))
    assert code == 404
    assert "defect" in rpc.ticket.type.getAll() and "fixed" in rpc.ticket.resolution.getAll()
    assert rpc.ticket.severity.getAll() == []
    # Only TICKET_ADMIN changes them.
    code, _ = fault_code(lambda: proxy(server, "writer").ticket.type.create("x", "1"))
    assert code == 403


# -- search.*

def test_search(server):
    rpc = proxy(server, "admin")
    filters = dict(rpc.search.getSearchFilters())
    assert "wiki" in filters and "ticket" in filters
    rpc.wiki.putPage("SearchTarget", "The zanzibarian keyword lives here.", {})
    tid = rpc.ticket.create("Zanzibarian ticket", "also zanzibarian")
    hits = rpc.search.performSearch("zanzibarian")
    hrefs = [h[0] for h in hits]
    assert server.url + "wiki/SearchTarget" in hrefs
    assert server.url + f"ticket/{tid}" in hrefs
    assert all(isinstance(h[2], datetime) for h in hits)
    wiki_only = rpc.search.performSearch("zanzibarian", ["wiki"])
    assert [h[0] for h in wiki_only] == [server.url + "wiki/SearchTarget"]
    assert rpc.search.performSearch("zanzibarian", []) == []
    code, text = fault_code(lambda: rpc.search.performSearch("z"))
    assert code == 1 and "too short" in text
