"""Git smart HTTP in process: the routes, the permission decision handed to the real
``git http-backend``, gzip and chunked bodies, protocol v2, a cut-short push, and the
address the browser pages show."""

from __future__ import annotations

import base64
import gzip
import io
import os
import subprocess

import pytest

from codeyard.hosting import git_backend, git_http
from codeyard.perm import PermissionSystem
from codeyard.vcs.manager import RepositoryManager
from tests.functional.conftest import write_htpasswd
from tests.unit.vcs.vcs_fixtures import GitRepo, git

pytestmark = pytest.mark.db

ZERO = "0" * 40


def pkt(text: str | bytes) -> bytes:
    data = text.encode() if isinstance(text, str) else text
    return b"%04x" % (len(data) + 4) + data


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture
def hosted(served, tmp_path):
    htpasswd = write_htpasswd(str(tmp_path / "htpasswd"), {"dev": "pw", "reader": "pw"})
    env, site = served(options=[("account-manager", "password_file", htpasswd)])
    work = GitRepo(tmp_path / "work")
    head = work.commit("first", {"a.txt": "a\n"})
    bare = str(tmp_path / "main.git")
    git(tmp_path, "clone", "-q", "--bare", str(work.path), bare)
    RepositoryManager(env).add_repository("main", bare, "git")
    PermissionSystem(env).grant("dev", "REPOSITORY_PUSH")
    return {"env": env, "site": site, "work": work, "bare": bare, "head": head,
            "tmp": tmp_path}


def get(site, path: str, **headers):
    return site.get(path, headers={"Accept": "*/*", **headers})


def test_split_service_and_the_clone_address(hosted):
    assert git_http.split_service("info/refs") == ("", "info/refs")
    assert git_http.split_service("a/b/git-upload-pack") == ("a/b", "git-upload-pack")
    assert git_http.split_service("info/info/refs") == ("info", "info/refs")
    assert git_http.split_service("main") == ("main", None)
    site = hosted["site"]
    page = get(site, "/git/main")
    assert page.status_code == 404
    assert "git clone http://localhost/git/main" in page.get_data(as_text=True)


def test_upload_pack_advertisement_for_anyone_receive_pack_only_for_pushers(hosted):
    site = hosted["site"]
    page = get(site, "/git/main/info/refs?service=git-upload-pack")
    assert page.status_code == 200
    assert page.headers["Content-Type"] == "application/x-git-upload-pack-advertisement"
    assert hosted["head"].encode() in page.get_data()
    also = get(site, "/git/main.git/info/refs?service=git-upload-pack")
    assert also.status_code == 200

    denied = get(site, "/git/main/info/refs?service=git-receive-pack")
    assert denied.status_code == 401
    assert denied.headers["WWW-Authenticate"].startswith("Basic realm=")
    forbidden = get(site, "/git/main/info/refs?service=git-receive-pack", **basic("reader", "pw"))
    assert forbidden.status_code == 403
    allowed = get(site, "/git/main/info/refs?service=git-receive-pack", **basic("dev", "pw"))
    assert allowed.status_code == 200
    assert b"report-status" in allowed.get_data()


def test_receive_pack_is_off_in_git_unless_codeyard_allows_it(hosted):
    """Even for an authenticated user (git's own default would let them push)."""
    run = git_backend.BackendRun(
        git_backend.backend_command("git", receive_pack=False),
        git_backend.cgi_environ(git_dir=hosted["bare"], service_path="info/refs", method="GET",
                                query="service=git-receive-pack", content_type="",
                                content_length=None, content_encoding="", protocol=None,
                                remote_user="someone", remote_addr="127.0.0.1",
                                server_protocol="HTTP/1.1"),
        None, cwd=hosted["bare"])
    status, _headers = run.start()
    b"".join(run.body())
    assert status == 403


def test_protocol_v2_and_a_gzip_encoded_request(hosted):
    site = hosted["site"]
    advert = get(site, "/git/main/info/refs?service=git-upload-pack", **{"Git-Protocol": "version=2"})
    assert b"version 2" in advert.get_data()
    request = pkt("command=ls-refs\n") + b"0001" + pkt("peel\n") + b"0000"
    answer = site.request("POST", "/git/main/git-upload-pack", data=gzip.compress(request),
                       headers={"Content-Type": "application/x-git-upload-pack-request",
                                "Content-Encoding": "gzip", "Git-Protocol": "version=2",
                                "Accept": "*/*"})
    assert answer.status_code == 200, answer.get_data()
    assert answer.headers["Content-Type"] == "application/x-git-upload-pack-result"
    assert f"{hosted['head']} refs/heads/master".encode() in answer.get_data()


def _push_request(hosted, ref: str) -> tuple[str, bytes]:
    work = hosted["work"]
    new = work.commit("second", {"b.bin": os.urandom(200_000).hex()})
    pack = subprocess.run(["git", "pack-objects", "--stdout", "--revs", "-q"], cwd=work.path,
                          input=f"{new}\n^{hosted['head']}\n".encode(), capture_output=True,
                          check=True).stdout
    return new, pkt(f"{ZERO} {new} {ref}\0report-status\n") + b"0000" + pack


def _refs(bare: str) -> str:
    return git(bare, "for-each-ref")


def test_a_chunked_push_through_the_site_updates_the_ref_and_the_cache(hosted):
    site, env = hosted["site"], hosted["env"]
    new, body = _push_request(hosted, "refs/heads/topic")
    answer = site.request("POST", "/git/main/git-receive-pack", input_stream=io.BytesIO(body),
                       environ={"wsgi.input_terminated": True},
                       headers={"Content-Type": "application/x-git-receive-pack-request",
                                "Transfer-Encoding": "chunked", "Accept": "*/*",
                                **basic("dev", "pw")})
    assert answer.status_code == 200, answer.get_data()
    assert b"ok refs/heads/topic" in answer.get_data()
    assert git(hosted["bare"], "rev-parse", "topic") == new
    with env.db_query as db:
        assert db("SELECT rev FROM revision WHERE rev=%s", (new,))


def test_a_push_over_the_size_limit_is_refused(hosted):
    site, env = hosted["site"], hosted["env"]
    env.config.set("git", "max_request_size", "1000")
    env.config.save()
    _new, body = _push_request(hosted, "refs/heads/big")
    before = _refs(hosted["bare"])
    answer = site.request("POST", "/git/main/git-receive-pack", data=body,
                       headers={"Content-Type": "application/x-git-receive-pack-request",
                                "Accept": "*/*", **basic("dev", "pw")})
    assert answer.status_code == 413
    assert "max_request_size" in answer.get_data(as_text=True)
    assert _refs(hosted["bare"]) == before


class CutShort(io.RawIOBase):
    """A request body whose client goes away half-way."""

    def __init__(self, data: bytes) -> None:
        self.data, self.sent = data, 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self.sent >= len(self.data) // 2:
            raise ConnectionResetError("client gone")
        chunk = self.data[self.sent:self.sent + min(size, 8192)]
        self.sent += len(chunk)
        return chunk


def test_a_push_cut_short_leaves_the_repository_clean_and_unchanged(hosted):
    bare = hosted["bare"]
    before = _refs(bare)
    _new, body = _push_request(hosted, "refs/heads/cut")
    finished = []
    run = git_backend.BackendRun(
        git_backend.backend_command("git", receive_pack=True),
        git_backend.cgi_environ(git_dir=bare, service_path="git-receive-pack", method="POST",
                                query="", content_type="application/x-git-receive-pack-request",
                                content_length=None, content_encoding="", protocol=None,
                                remote_user="dev", remote_addr="127.0.0.1",
                                server_protocol="HTTP/1.1"),
        CutShort(body), cwd=bare, on_finish=lambda code, cut: finished.append(cut))
    with pytest.raises((ConnectionResetError, git_backend.BackendError)):
        run.start()
        b"".join(run.body())
    run.close()
    assert finished == [True]
    assert _refs(bare) == before
    subprocess.run(["git", "--git-dir", bare, "fsck", "--no-progress"], check=True,
                   capture_output=True)


def test_cgi_environ_passes_only_what_git_needs(monkeypatch):
    monkeypatch.setenv("GIT_DIR", "/elsewhere")
    cgi = git_backend.cgi_environ(git_dir="/srv/git/main.git", service_path="git-upload-pack",
                                  method="POST", query="", content_type="x", content_length=None,
                                  content_encoding="gzip",
                                  protocol=git_backend.protocol_header("version=2"),
                                  remote_user=None, remote_addr="::1", server_protocol="")
    assert cgi["GIT_PROJECT_ROOT"] == "/srv/git"
    assert cgi["PATH_INFO"] == "/main.git/git-upload-pack"
    assert cgi["GIT_PROTOCOL"] == "version=2" and cgi["HTTP_CONTENT_ENCODING"] == "gzip"
    assert "CONTENT_LENGTH" not in cgi and "REMOTE_USER" not in cgi and "GIT_DIR" not in cgi
    assert git_backend.protocol_header("version=2\nX: y") is None


def test_the_clone_address_of_a_repository(hosted):
    from codeyard.web.request import Request

    env = hosted["env"]
    req = Request({"REQUEST_METHOD": "GET", "SERVER_NAME": "example.org", "SERVER_PORT": "80",
                   "wsgi.url_scheme": "http", "SCRIPT_NAME": "/proj", "PATH_INFO": "/",
                   "HTTP_HOST": "example.org"}, env)
    assert git_http.git_url(req, "main") == "http://example.org/proj/git/main"
    assert git_http.git_url(req, "") == "http://example.org/proj/git"
    assert git_http.git_url(req, "(default)") == "http://example.org/proj/git"


def test_a_failing_ticket_updater_never_fails_the_push(hosted, monkeypatch):
    from codeyard.vcs import ticket_updater

    calls = []

    def broken(env, repos, changeset, *args, **kwargs):
        calls.append(changeset.rev)
        raise RuntimeError("the ticket updater broke")

    from codeyard.vcs import cache

    env = hosted["env"]
    cache.sync(env, RepositoryManager(env).get_repository("main"))
    monkeypatch.setattr(ticket_updater, "update_tickets", broken)
    new, body = _push_request(hosted, "refs/heads/despite")
    answer = hosted["site"].request(
        "POST", "/git/main/git-receive-pack", data=body,
        headers={"Content-Type": "application/x-git-receive-pack-request", "Accept": "*/*",
                 **basic("dev", "pw")})
    assert answer.status_code == 200
    assert b"ok refs/heads/despite" in answer.get_data()
    assert git(hosted["bare"], "rev-parse", "despite") == new
    assert calls == [new]


def test_a_chunked_push_over_the_size_limit_is_cut_and_changes_nothing(hosted):
    site, env = hosted["site"], hosted["env"]
    env.config.set("git", "max_request_size", "50000")
    env.config.save()
    _new, body = _push_request(hosted, "refs/heads/too-big")
    before = _refs(hosted["bare"])
    # Cut while git reads: a 413 when git had not answered yet, else a broken response.
    try:
        answer = site.request(
            "POST", "/git/main/git-receive-pack", input_stream=io.BytesIO(body),
            environ={"wsgi.input_terminated": True},
            headers={"Content-Type": "application/x-git-receive-pack-request",
                     "Transfer-Encoding": "chunked", "Accept": "*/*", **basic("dev", "pw")})
        assert answer.status_code == 413, answer.get_data()
    except git_backend.BackendError as exc:
        assert "could not be read" in str(exc)
    assert _refs(hosted["bare"]) == before
    subprocess.run(["git", "--git-dir", hosted["bare"], "fsck", "--no-progress"], check=True,
                   capture_output=True)


def test_a_push_may_be_larger_than_the_site_limit_for_pages(hosted):
    site, env = hosted["site"], hosted["env"]
    env.config.set("codeyard", "max_request_size", "1000")
    env.config.save()
    new, body = _push_request(hosted, "refs/heads/larger")
    assert len(body) > 1000
    answer = site.request("POST", "/git/main/git-receive-pack", data=body,
                          headers={"Content-Type": "application/x-git-receive-pack-request",
                                   "Accept": "*/*", **basic("dev", "pw")})
    assert answer.status_code == 200, answer.get_data()
    assert git(hosted["bare"], "rev-parse", "larger") == new
