"""Git smart HTTP through a real `codeyard serve` with the real git client: clone, fetch,
push (small, and chunked past 1 MiB), denied pushes, a read-only repository, concurrent
pushes, an interrupted push, and a push that closes a ticket."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest

from codeyard.env import open_environment
from codeyard.perm import PermissionSystem
from codeyard.ticket.model import Ticket
from codeyard.vcs.manager import RepositoryManager
from tests.functional.conftest import make_project, write_htpasswd
from tests.support.codeyard_server import CodeyardServer

pytestmark = pytest.mark.slow

PUSHER, PUSHER_PW = "dev", "push-secret"
READER, READER_PW = "reader", "read-only"


def git_environ(home: str) -> dict[str, str]:
    """No user or system configuration, no prompt: credentials come from the URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(HOME=home, GIT_CONFIG_NOSYSTEM="1", GIT_TERMINAL_PROMPT="0",
               GIT_AUTHOR_NAME="Alice", GIT_AUTHOR_EMAIL="alice@example.org",
               GIT_COMMITTER_NAME="Alice", GIT_COMMITTER_EMAIL="alice@example.org")
    return env


class Git:
    def __init__(self, home: str) -> None:
        self.environ = git_environ(home)

    def run(self, *args: str, cwd: str | None = None, check: bool = True,
            timeout: float = 120) -> subprocess.CompletedProcess:
        result = subprocess.run(["git", *args], cwd=cwd, env=self.environ, capture_output=True,
                                text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed ({result.returncode}):\n"
                                 f"{result.stdout}\n{result.stderr}")
        return result

    def out(self, *args: str, cwd: str | None = None) -> str:
        return self.run(*args, cwd=cwd).stdout.strip()

    def commit(self, work: str, name: str, content: bytes, message: str) -> str:
        with open(os.path.join(work, name), "wb") as fh:
            fh.write(content)
        self.run("add", name, cwd=work)
        self.run("commit", "-q", "-m", message, cwd=work)
        return self.out("rev-parse", "HEAD", cwd=work)


def with_user(url: str, user: str, password: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{user}:{password}@{rest}"


def http_status(url: str, user: str | None = None, password: str | None = None):
    request = urllib.request.Request(url)
    if user:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


@pytest.fixture(scope="module")
def hosted(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("githost"))
    htpasswd = write_htpasswd(os.path.join(root, "htpasswd"),
                              {PUSHER: PUSHER_PW, READER: READER_PW})
    git = Git(root)
    bare = os.path.join(root, "repos", "main.git")
    readonly = os.path.join(root, "repos", "frozen.git")
    for path in (bare, readonly):
        git.run("init", "-q", "--bare", "-b", "master", path)
    parent = os.path.join(root, "projects")
    os.makedirs(parent)
    path = make_project(parent, "proj", "Hosting", [
        ("account-manager", "password_file", htpasswd),
        ("repositories", "frozen.dir", readonly), ("repositories", "frozen.type", "git"),
        ("repositories", "frozen.readonly", "true")])
    env = open_environment(path, use_cache=False)
    RepositoryManager(env).add_repository("main", bare, "git")
    PermissionSystem(env).grant(PUSHER, "REPOSITORY_PUSH")
    ticket = Ticket(env)
    for field, value in (("summary", "Pushes should close me"), ("reporter", "someone"),
                         ("status", "new")):
        ticket[field] = value
    ticket_id = ticket.insert()
    env.shutdown()
    # Something to clone from the read-only one, put there behind codeyard's back.
    seed = os.path.join(root, "seed")
    git.run("init", "-q", "-b", "master", seed)
    git.commit(seed, "README", b"frozen\n", "frozen history")
    git.run("push", "-q", readonly, "master", cwd=seed)
    with CodeyardServer("-e", parent, workers=2) as server:
        yield {"root": root, "git": git, "server": server, "bare": bare, "readonly": readonly,
               "url": server.url + "proj/git/main", "project": path, "ticket": ticket_id}


def fsck(git: Git, bare: str) -> None:
    result = git.run("--git-dir", bare, "fsck", "--no-progress", check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def new_work(hosted, name: str) -> str:
    git = hosted["git"]
    work = os.path.join(hosted["root"], name)
    git.run("clone", "-q", with_user(hosted["url"], PUSHER, PUSHER_PW), work)
    return work


def test_push_clone_fetch_small_and_chunked_large(hosted):
    git, url = hosted["git"], hosted["url"]
    work = os.path.join(hosted["root"], "w1")
    git.run("init", "-q", "-b", "master", work)
    first = git.commit(work, "hello.txt", b"hello\n", "a first file")
    git.run("push", "-q", with_user(url, PUSHER, PUSHER_PW), "master", cwd=work)
    assert git.out("--git-dir", hosted["bare"], "rev-parse", "master") == first

    clone = os.path.join(hosted["root"], "c1")
    git.run("clone", "-q", url, clone)  # anonymous pull is allowed by default
    assert git.out("rev-parse", "HEAD", cwd=clone) == first

    # > 1 MiB of incompressible data: git sends it chunked (past http.postBuffer).
    big = git.commit(work, "blob.bin", os.urandom(3 * 1024 * 1024), "a large file")
    pushed = git.run("-c", "http.postBuffer=65536", "push",
                     with_user(url, PUSHER, PUSHER_PW), "master", cwd=work)
    assert "master -> master" in pushed.stderr
    assert git.out("--git-dir", hosted["bare"], "rev-parse", "master") == big
    git.run("-c", "protocol.version=2", "fetch", "-q", "origin", cwd=clone)
    assert git.out("rev-parse", "origin/master", cwd=clone) == big
    git.run("merge", "-q", "--ff-only", "origin/master", cwd=clone)
    with open(os.path.join(clone, "blob.bin"), "rb") as fh:
        assert len(fh.read()) == 3 * 1024 * 1024
    fsck(git, hosted["bare"])


def test_protocol_v2_is_passed_through(hosted):
    request = urllib.request.Request(hosted["url"] + "/info/refs?service=git-upload-pack",
                                     headers={"Git-Protocol": "version=2"})
    with urllib.request.urlopen(request, timeout=30) as response:
        body = response.read()
        assert response.headers["Content-Type"] == "application/x-git-upload-pack-advertisement"
    assert b"version 2" in body and b"ls-refs" in body
    with urllib.request.urlopen(hosted["url"] + "/info/refs?service=git-upload-pack",
                                timeout=30) as response:
        assert b"version 2" not in response.read()


def test_denied_pushes_get_401_or_403_and_change_nothing(hosted):
    git, url = hosted["git"], hosted["url"]
    work = new_work(hosted, "w-denied")
    before = git.out("--git-dir", hosted["bare"], "for-each-ref")
    git.commit(work, "denied.txt", b"no\n", "should not arrive")

    status, headers, _ = http_status(url + "/info/refs?service=git-receive-pack")
    assert status == 401 and headers["WWW-Authenticate"].startswith("Basic realm=")
    status, _, body = http_status(url + "/info/refs?service=git-receive-pack", READER, READER_PW)
    assert status == 403 and b"REPOSITORY_PUSH" in body
    status, _, _ = http_status(url + "/info/refs?service=git-upload-pack", READER, READER_PW)
    assert status == 200

    anonymous = git.run("push", url, "HEAD:master", cwd=work, check=False)
    assert anonymous.returncode != 0
    assert "could not read Username" in anonymous.stderr or "401" in anonymous.stderr
    reader = git.run("push", with_user(url, READER, READER_PW), "HEAD:master", cwd=work,
                     check=False)
    assert reader.returncode != 0 and "403" in reader.stderr
    wrong = git.run("push", with_user(url, PUSHER, "wrong"), "HEAD:master", cwd=work,
                    check=False)
    assert wrong.returncode != 0
    assert git.out("--git-dir", hosted["bare"], "for-each-ref") == before


def test_a_readonly_repository_is_cloned_but_never_pushed(hosted):
    git = hosted["git"]
    url = hosted["server"].url + "proj/git/frozen.git"
    work = os.path.join(hosted["root"], "frozen-clone")
    git.run("clone", "-q", url, work)
    before = git.out("--git-dir", hosted["readonly"], "rev-parse", "master")
    git.commit(work, "more.txt", b"more\n", "more")
    result = git.run("push", with_user(url, PUSHER, PUSHER_PW), "master", cwd=work, check=False)
    assert result.returncode != 0 and "403" in result.stderr
    assert git.out("--git-dir", hosted["readonly"], "rev-parse", "master") == before
    status, _, body = http_status(url + "/info/refs?service=git-receive-pack", PUSHER, PUSHER_PW)
    assert status == 403 and b"read-only" in body


def test_concurrent_pushes_all_arrive(hosted):
    git, url = hosted["git"], hosted["url"]
    works = [new_work(hosted, f"w-conc-{n}") for n in range(4)]
    heads = {}
    for n, work in enumerate(works):
        heads[n] = git.commit(work, f"conc-{n}.bin", os.urandom(400_000), f"concurrent {n}")
    results: dict[int, subprocess.CompletedProcess] = {}

    def push(n: int) -> None:
        results[n] = git.run("push", with_user(url, PUSHER, PUSHER_PW), f"HEAD:refs/heads/c{n}",
                             cwd=works[n], check=False)

    threads = [threading.Thread(target=push, args=(n,)) for n in range(len(works))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    for n, result in results.items():
        assert result.returncode == 0, result.stderr
        assert git.out("--git-dir", hosted["bare"], "rev-parse", f"c{n}") == heads[n]
    assert len(results) == len(works)
    fsck(git, hosted["bare"])


def test_an_interrupted_push_leaves_the_repository_consistent(hosted):
    git, url = hosted["git"], hosted["url"]
    work = new_work(hosted, "w-killed")
    before = git.out("--git-dir", hosted["bare"], "for-each-ref")
    git.commit(work, "huge.bin", os.urandom(40 * 1024 * 1024), "never completes")
    proc = subprocess.Popen(["git", "-c", "http.postBuffer=65536", "push",
                             with_user(url, PUSHER, PUSHER_PW), "HEAD:refs/heads/killed"],
                            cwd=work, env=git.environ, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(30)
    # The server is still serving, the repository is clean and has no new ref.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status, _, _ = http_status(url + "/info/refs?service=git-upload-pack")
        if status == 200:
            break
        time.sleep(0.2)
    assert status == 200
    assert git.out("--git-dir", hosted["bare"], "for-each-ref") == before
    fsck(git, hosted["bare"])
    # And the next push goes through (no lock left behind).
    fresh = os.path.join(hosted["root"], "w-after-killed")
    git.run("init", "-q", "-b", "master", fresh)
    after = git.commit(fresh, "small.txt", b"small\n", "after the interrupted one")
    git.run("push", "-q", with_user(url, PUSHER, PUSHER_PW), "HEAD:refs/heads/after", cwd=fresh)
    assert git.out("--git-dir", hosted["bare"], "rev-parse", "after") == after


def test_a_push_closes_the_ticket_it_fixes_as_the_pusher(hosted):
    git, url = hosted["git"], hosted["url"]
    work = new_work(hosted, "w-ticket")
    ticket_id = hosted["ticket"]
    rev = git.commit(work, "fix.txt", b"fixed\n", f"Repair the thing, fixes #{ticket_id}")
    git.run("push", "-q", with_user(url, PUSHER, PUSHER_PW), "HEAD:master", cwd=work)
    # No waiting: the push returned, so the cache and the ticket are up to date.
    env = open_environment(hosted["project"], use_cache=False)
    try:
        ticket = Ticket(env, ticket_id)
        assert ticket["status"] == "closed"
        assert ticket["resolution"] == "fixed"
        with env.db_query as db:
            authors = [row[0] for row in db(
                "SELECT author FROM ticket_change WHERE ticket=%s AND field='comment'",
                (ticket_id,))]
            cached = db("SELECT rev FROM revision WHERE rev=%s", (rev,))
        assert authors == [PUSHER]
        assert cached
    finally:
        env.shutdown()


def test_unknown_repository_and_dumb_requests_are_readable_errors(hosted):
    base = hosted["server"].url + "proj/git"
    status, _, body = http_status(base + "/nothing/info/refs?service=git-upload-pack")
    assert status == 404 and b"No Git repository" in body
    status, _, body = http_status(hosted["url"] + "/info/refs")
    assert status == 403 and b"smart HTTP" in body
    status, _, body = http_status(hosted["url"])
    assert status == 404 and b"git clone" in body
    status, _, _ = http_status(hosted["url"] + "/git-upload-pack")
    assert status == 405


def test_the_browser_shows_the_clone_and_push_commands(hosted):
    """The repository's page says how to get it; push only to those who may push."""
    git, url = hosted["git"], hosted["url"]
    work = os.path.join(hosted["root"], "w-shown")
    git.run("init", "-q", "-b", "master", work)
    git.commit(work, "shown.txt", b"shown\n", "something to browse")
    git.run("push", "-q", with_user(url, PUSHER, PUSHER_PW), "HEAD:refs/heads/shown", cwd=work)
    browse = hosted["server"].url + "proj/browser/main"
    status, _, body = http_status(browse)
    page = body.decode()
    assert status == 200 and f"git clone {url}" in page and "git push" not in page
    status, _, body = http_status(browse, PUSHER, PUSHER_PW)
    assert status == 200 and f"git push {url}" in body.decode()
    frozen = http_status(hosted["server"].url + "proj/browser/frozen", PUSHER, PUSHER_PW)[2]
    assert "git clone" in frozen.decode() and "git push" not in frozen.decode()
