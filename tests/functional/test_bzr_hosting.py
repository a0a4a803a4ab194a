"""Per-project Bazaar hosting through a real `codeyard serve` with the real `brz` client:
branch, log, push (existing branch, new branch in the shared repository, --create-prefix),
permissions, read-only repositories, concurrent and interrupted pushes, and the push ->
ticket closed flow."""

from __future__ import annotations

import os
import socket
import threading

import pytest
from fastbencode import bencode

from codeyard.env import open_environment
from codeyard.perm import PermissionSystem
from codeyard.ticket.model import Ticket
from tests.functional.conftest import make_project, write_htpasswd
from tests.support.brz_client import Brz, shared_repository, with_credentials
from tests.support.codeyard_server import CodeyardServer
from tests.support.http import Client

pytestmark = pytest.mark.slow

PUSHER, PUSHER_PW = "alice", "alice-pw"
READER, READER_PW = "bob", "bob-pw"


def smart_body(verb: bytes, *args: bytes) -> bytes:
    """A protocol-3 smart request, as brz sends it."""
    headers = bencode({b"Software version": b"3.3.0"})
    structure = bencode([verb, *args])
    return (b"bzr message 3 (bzr 1.6)\n" + len(headers).to_bytes(4, "big") + headers
            + b"s" + len(structure).to_bytes(4, "big") + structure + b"e")


class Hosting:
    def __init__(self, root: str) -> None:
        self.root = root
        self.brz = Brz(os.path.join(root, "home"))
        self.repo = os.path.join(root, "repos", "main")
        self.trunk = shared_repository(self.brz, self.repo, "trunk", revisions=2)
        self.frozen = os.path.join(root, "repos", "frozen")
        shared_repository(self.brz, self.frozen, "trunk", revisions=1)
        htpasswd = write_htpasswd(os.path.join(root, "htpasswd"),
                                  {PUSHER: PUSHER_PW, READER: READER_PW})
        parent = os.path.join(root, "projects")
        os.makedirs(parent)
        self.env_path = make_project(parent, "proj", "Hosting", [
            ("account-manager", "password_file", htpasswd),
            ("repositories", ".dir", self.repo), ("repositories", ".type", "bzr"),
            ("repositories", "frozen.dir", self.frozen), ("repositories", "frozen.type", "bzr"),
            ("repositories", "frozen.readonly", "true"),
            ("ticket", "commit_ticket_update_notify", "false"),
        ])
        self.parent = parent
        env = open_environment(self.env_path, use_cache=False)
        try:
            perms = PermissionSystem(env)
            perms.grant(PUSHER, "REPOSITORY_PUSH")
            perms.grant(PUSHER, "TICKET_MODIFY")
            ticket = Ticket(env)
            ticket["summary"], ticket["reporter"], ticket["status"] = "Broken", "joe", "new"
            self.ticket = ticket.insert()
        finally:
            env.shutdown()

    def url(self, server, path: str = "trunk", user: str | None = None,
            password: str | None = None) -> str:
        url = f"{server.url}proj/bzr/{path}"
        return with_credentials(url, user, password or "") if user else url

    def work(self, name: str, server) -> str:
        tree = os.path.join(self.root, name)
        self.brz.run("branch", "-q", self.url(server), tree)
        return tree


@pytest.fixture(scope="module")
def hosting(tmp_path_factory):
    return Hosting(str(tmp_path_factory.mktemp("bzrhost")))


@pytest.fixture(scope="module")
def server(hosting):
    with CodeyardServer("-e", hosting.parent, workers=2) as srv:
        yield srv


def test_anonymous_branch_and_remote_log(hosting, server):
    tree = os.path.join(hosting.root, "anon")
    hosting.brz.run("branch", hosting.url(server), tree)
    assert hosting.brz.revno(tree) == 2
    log = hosting.brz.run("log", "--line", hosting.url(server)).stdout
    assert "Revision 2" in log and "Revision 1" in log


def test_push_to_existing_branch_updates_cache_and_closes_ticket(hosting, server):
    tree = hosting.work("push-existing", server)
    hosting.brz.commit_file(tree, "file.txt", "fixed\n", f"Repair it, fixes #{hosting.ticket}")
    hosting.brz.run("push", hosting.url(server, user=PUSHER, password=PUSHER_PW), cwd=tree)
    assert hosting.brz.revno(hosting.trunk) == 3
    env = open_environment(hosting.env_path, use_cache=False)
    try:
        ticket = Ticket(env, hosting.ticket)
        assert ticket["status"] == "closed" and ticket["resolution"] == "fixed"
        with env.db_query as db:
            authors = [row[0] for row in db(
                "SELECT author FROM ticket_change WHERE ticket=%s AND field='comment'",
                (hosting.ticket,))]
            cached = db("SELECT COUNT(*) FROM revision")[0][0]
        assert authors == [PUSHER]
        assert cached == 3  # the default repository, the pushed revision included
    finally:
        env.shutdown()


def test_push_new_branch_into_the_shared_repository(hosting, server):
    tree = hosting.work("push-new", server)
    hosting.brz.commit_file(tree, "new.txt", "new\n", "On a feature branch")
    hosting.brz.run("push", hosting.url(server, "feature", PUSHER, PUSHER_PW), cwd=tree)
    feature = os.path.join(hosting.repo, "feature")
    assert hosting.brz.revno(feature) == hosting.brz.revno(tree)
    # The branch uses the shared repository: no repository of its own.
    assert not os.path.exists(os.path.join(feature, ".bzr", "repository"))
    hosting.brz.run("push", "--create-prefix",
                    hosting.url(server, "team/ann/work", PUSHER, PUSHER_PW), cwd=tree)
    assert hosting.brz.revno(os.path.join(hosting.repo, "team", "ann", "work")) >= 3
    hosting.brz.run("check", hosting.repo)


def test_denied_push_is_401_or_403_and_changes_nothing(hosting, server):
    before = hosting.brz.revno(hosting.trunk)
    client = Client(server.url)
    body = smart_body(b"Branch.lock_write", b".", b"", b"")
    anonymous = client.request("POST", "proj/bzr/trunk/.bzr/smart", body=body)
    assert anonymous.status == 401
    assert anonymous.header("WWW-Authenticate", "").startswith("Basic realm=")
    reader = Client(server.url, auth=(READER, READER_PW))
    denied = reader.request("POST", "proj/bzr/trunk/.bzr/smart", body=body)
    assert denied.status == 403 and "REPOSITORY_PUSH" in denied.text
    assert not os.listdir(os.path.join(hosting.trunk, ".bzr", "branch", "lock"))

    tree = hosting.work("push-denied", server)
    hosting.brz.commit_file(tree, "file.txt", "sneaky\n", "Not allowed")
    done = hosting.brz.run("push", hosting.url(server, user=READER, password=READER_PW),
                           cwd=tree, check=False)
    assert done.returncode != 0 and "403" in done.stderr, done.stderr
    assert hosting.brz.revno(hosting.trunk) == before
    # A reader's pull still works.
    reads = reader.request("POST", "proj/bzr/trunk/.bzr/smart",
                           body=smart_body(b"BzrDir.open_2.1", b"."))
    assert reads.status == 200 and b"yes" in reads.body


def test_readonly_repository_refuses_pushes(hosting, server):
    tree = os.path.join(hosting.root, "frozen-work")
    hosting.brz.run("branch", "-q", hosting.url(server, "frozen/trunk"), tree)
    hosting.brz.commit_file(tree, "file.txt", "change\n", "Frozen?")
    done = hosting.brz.run("push", hosting.url(server, "frozen/trunk", PUSHER, PUSHER_PW),
                           cwd=tree, check=False)
    assert done.returncode != 0 and "read-only" in done.stderr, done.stderr
    assert hosting.brz.revno(os.path.join(hosting.frozen, "trunk")) == 1


def test_concurrent_pushes_take_turns(hosting, server):
    trees = []
    for number in range(3):
        tree = hosting.work(f"concurrent-{number}", server)
        hosting.brz.commit_file(tree, f"c{number}.txt", f"{number}\n", f"Concurrent {number}")
        trees.append(tree)
    procs = [hosting.brz.popen("push", hosting.url(server, f"concurrent/b{n}", PUSHER, PUSHER_PW)
                               if n else hosting.url(server, "concurrent/b0", PUSHER, PUSHER_PW),
                               "--create-prefix", cwd=tree)
             for n, tree in enumerate(trees)]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    for number in range(3):
        branch = os.path.join(hosting.repo, "concurrent", f"b{number}")
        assert hosting.brz.revno(branch) == hosting.brz.revno(trees[number])
    hosting.brz.run("check", hosting.repo)


def test_interrupted_push_leaves_the_repository_consistent(hosting, server):
    before = hosting.brz.revno(hosting.trunk)
    host, port = "127.0.0.1", server.port
    auth = __import__("base64").b64encode(f"{PUSHER}:{PUSHER_PW}".encode()).decode()
    body = smart_body(b"Branch.lock_write", b".", b"", b"")
    # Announce a large body, send part of it, and vanish.
    with socket.create_connection((host, port)) as sock:
        sock.sendall((f"POST /proj/bzr/trunk/.bzr/smart HTTP/1.1\r\nHost: {host}\r\n"
                      f"Authorization: Basic {auth}\r\nContent-Length: {len(body) + 100000}\r\n"
                      "\r\n").encode() + body)
    # Then a client killed in the middle of a real push.
    tree = hosting.work("killed", server)
    with open(os.path.join(tree, "big.bin"), "wb") as fh:
        fh.write(os.urandom(8 << 20))
    hosting.brz.run("add", "-q", "big.bin", cwd=tree)
    hosting.brz.run("commit", "-q", "-m", "Big", cwd=tree)
    proc = hosting.brz.popen("push", hosting.url(server, user=PUSHER, password=PUSHER_PW), cwd=tree)
    timer = threading.Timer(1.5, proc.kill)
    timer.start()
    proc.communicate(timeout=120)
    timer.cancel()
    if proc.returncode != 0:  # killed before the end: nothing of it is the branch's tip
        assert hosting.brz.revno(hosting.trunk) == before
    hosting.brz.run("check", hosting.repo)
    lock = os.path.join(hosting.trunk, ".bzr", "branch", "lock")
    if os.path.isdir(lock) and os.listdir(lock):
        hosting.brz.run("break-lock", "--force", hosting.trunk)
    # The branch still takes pushes.
    tree2 = hosting.work("after-kill", server)
    hosting.brz.commit_file(tree2, "file.txt", "after\n", "After the interruption")
    hosting.brz.run("push", hosting.url(server, user=PUSHER, password=PUSHER_PW), cwd=tree2)
    assert hosting.brz.revno(hosting.trunk) == hosting.brz.revno(tree2)


def test_bad_requests_are_readable_4xx(hosting, server):
    client = Client(server.url)
    assert client.get("proj/bzr/trunk/.bzr/smart").status == 405
    assert client.get("proj/bzr/trunk").status == 404
    assert client.request("POST", "proj/bzr/nosuch/../../x/.bzr/smart", body=b"x").status == 404
    empty = client.request("POST", "proj/bzr/trunk/.bzr/smart", body=b"")
    assert empty.status == 400 and "empty" in empty.text


def test_the_browser_shows_the_branch_command_inside_a_branch(hosting, server):
    import urllib.request

    def page(path: str) -> str:
        with urllib.request.urlopen(server.url + "proj/browser/" + path, timeout=30) as response:
            return response.read().decode()

    inside = page("trunk")
    assert f"brz branch {hosting.url(server)}" in inside and "brz push" not in inside
    assert "brz branch" not in page("")  # above the branches: nothing to branch from
