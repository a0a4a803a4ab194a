"""The standalone Bazaar smart server app and the smart-request plumbing under it, called
in-process: settings from the environ, paths, the jail, one server per root, limits."""

from __future__ import annotations

import io
import os

import breezy.transport
import pytest
from breezy import controldir
from breezy.bzr import bzrdir  # noqa: F401  (registers the formats)
from breezy.errors import PermissionDenied
from fastbencode import bencode
from werkzeug.test import Client, EnvironBuilder

from codeyard.hosting import bzr_smart, bzr_wsgi
from codeyard.hosting.bzr_smart import ConfigurationError


def smart_body(verb: bytes, *args: bytes) -> bytes:
    headers = bencode({b"Software version": b"3.3.0"})
    structure = bencode([verb, *args])
    return (b"bzr message 3 (bzr 1.6)\n" + len(headers).to_bytes(4, "big") + headers
            + b"s" + len(structure).to_bytes(4, "big") + structure + b"e")


@pytest.fixture()
def tree(tmp_path):
    """root/repo (a shared repository) with the branch trunk, root/solo (a standalone
    branch), and outside/secret (a branch outside the root)."""
    root = tmp_path / "root"
    root.mkdir()
    fmt = controldir.format_registry.make_controldir("2a")
    shared = controldir.ControlDir.create(str(root / "repo"), format=fmt)
    shared.create_repository(shared=True)
    controldir.ControlDir.create_branch_convenience(str(root / "repo" / "trunk"), format=fmt,
                                                   force_new_tree=False)
    controldir.ControlDir.create_branch_convenience(str(root / "solo"), format=fmt,
                                                   force_new_tree=False)
    (tmp_path / "outside").mkdir()
    controldir.ControlDir.create_branch_convenience(str(tmp_path / "outside" / "secret"),
                                                   format=fmt, force_new_tree=False)
    return tmp_path


def call(root: str, path: str, body: bytes | None = None, method: str = "POST", **environ):
    settings = {"bzr_wsgi.root": root, "bzr_wsgi.prefix": "/", "bzr_wsgi.readonly": "true"}
    settings.update(environ)
    client = Client(bzr_wsgi.application)
    return client.open(path, method=method, data=body, environ_overrides=settings)


def test_request_verbs_and_what_writes():
    assert bzr_smart.request_verb(smart_body(b"BzrDir.open_2.1", b".")) == b"BzrDir.open_2.1"
    assert bzr_smart.request_verb(b"bzr request 2\nget\x01/x\n") == b"get"
    assert bzr_smart.request_verb(b"hello\n") == b"hello"
    assert bzr_smart.request_verb(b"\x00garbage") is None
    assert not bzr_smart.is_write(b"Repository.get_stream")
    assert not bzr_smart.is_write(b"get")
    for verb in (b"put", b"Branch.lock_write", b"Branch.set_last_revision_info",
                 b"Repository.insert_stream_1.19", b"No.such_verb", None):
        assert bzr_smart.is_write(verb), verb


def test_branch_paths_below_the_prefix():
    relpath = bzr_wsgi.branch_relpath
    assert relpath("/repo/trunk/.bzr/smart", "/") == "repo/trunk"
    assert relpath("/.bzr/smart", "/") == ""
    assert relpath("/bzr/repo/trunk/.bzr/smart", "/bzr/") == "repo/trunk"
    assert relpath("/bzr/.bzr/smart", "/bzr/") == ""
    assert relpath("/other/trunk/.bzr/smart", "/bzr/") is None
    assert relpath("/repo/trunk/.bzr/branch-format", "/") is None
    for bad in ("/repo/../etc/.bzr/smart", "/repo/%2e%2e/x/.bzr/smart", "/a/./b/.bzr/smart",
                "/a//b/.bzr/smart", "/a/%2F/b/.bzr/smart"):
        assert relpath(bad, "/") is None, bad


def test_request_path_comes_from_script_name_and_path_info_without_request_uri():
    environ = {"SCRIPT_NAME": "/repo/trunk/.bzr/smart", "PATH_INFO": ""}
    assert bzr_wsgi.request_path(environ) == "/repo/trunk/.bzr/smart"
    environ = {"SCRIPT_NAME": "", "PATH_INFO": "/a b/\xc3\xa9/.bzr/smart"}  # WSGI latin-1
    assert bzr_wsgi.request_path(environ) == "/a%20b/%C3%A9/.bzr/smart"
    environ = {"bzr_wsgi.path_var": "REQUEST_URI", "REQUEST_URI": "/x%20y/.bzr/smart?q=1",
               "SCRIPT_NAME": "/ignored"}
    assert bzr_wsgi.request_path(environ) == "/x%20y/.bzr/smart"


def test_a_root_inside_a_shared_repository_is_a_configuration_error(tree):
    with pytest.raises(ConfigurationError, match="inside the shared repository") as error:
        bzr_smart.check_root(str(tree / "root" / "repo" / "trunk"))
    assert str(tree / "root" / "repo") in str(error.value)
    assert bzr_smart.check_root(str(tree / "root" / "repo")) == os.path.realpath(
        tree / "root" / "repo")
    with pytest.raises(ConfigurationError, match="not a directory"):
        bzr_smart.check_root(str(tree / "nowhere"))
    # The message goes back as a smart error: brz prints those, not HTTP error bodies.
    response = call(str(tree / "root" / "repo" / "trunk"), "/.bzr/smart",
                    smart_body(b"BzrDir.open_2.1", b"."))
    assert response.status_code == 200 and b"oE" in response.data
    assert b"misconfigured: the root" in response.data
    assert b"inside the shared repository" in response.data
    missing = call("", "/x/.bzr/smart", smart_body(b"BzrDir.open_2.1", b"."))
    assert b"oE" in missing.data and b"bzr_wsgi.root" in missing.data
    # What is no smart request is still a 404 (brz probes other protocols first).
    assert call("", "/info/refs", method="GET").status_code == 404


def test_branch_in_a_shared_repository_opens_with_the_whole_root_jailed(tree):
    root = str(tree / "root")
    response = call(root, "/repo/trunk/.bzr/smart", smart_body(b"BzrDir.open_branchV3", b"."))
    assert response.status_code == 200
    assert response.headers["Content-Length"] == str(len(response.data))
    assert b"branch" in response.data and b"error" not in response.data
    # Its repository is found above it, in the shared repository.
    found = call(root, "/repo/trunk/.bzr/smart",
                 smart_body(b"BzrDir.find_repositoryV3", b"."))
    assert b"2:ok2:.." in found.data  # the repository is the parent directory


def test_nothing_outside_the_root_is_reachable(tree):
    root = str(tree / "root")
    os.symlink(tree / "outside" / "secret", tree / "root" / "link")
    through_link = call(root, "/link/.bzr/smart", smart_body(b"BzrDir.open_branchV3", b"."))
    assert b"oE" in through_link.data and b"PermissionDenied" in through_link.data
    assert b"outside the served root" in through_link.data
    up = call(root, "/repo/trunk/.bzr/smart",
              smart_body(b"BzrDir.open_branchV3", b"../../../outside/secret"))
    assert b"oE" in up.data and b"nobranch" in up.data  # the path stops at the root
    assert call(root, "/../outside/secret/.bzr/smart", smart_body(b"hello")).status_code == 404
    transport = bzr_smart.JailedLocalTransport(
        breezy.urlutils.local_path_to_url(root), os.path.realpath(root))
    with pytest.raises(PermissionDenied):
        transport.get_bytes("link/.bzr/branch-format")
    assert transport.get_bytes("solo/.bzr/branch-format").startswith(b"Bazaar")


def test_one_server_per_root_for_the_process(tree):
    root = str(tree / "root")
    call(root, "/solo/.bzr/smart", smart_body(b"hello"))
    schemes = len(breezy.transport.transport_list_registry.keys())
    for _ in range(20):
        response = call(root, "/solo/.bzr/smart", smart_body(b"hello"))
        assert response.status_code == 200
    assert len(breezy.transport.transport_list_registry.keys()) == schemes
    assert bzr_smart.smart_server(root, True) is bzr_smart.smart_server(root + "/", True)


def test_readonly_refuses_changes_before_they_run(tree):
    root = str(tree / "root")
    refused = call(root, "/solo/.bzr/smart", smart_body(b"Branch.lock_write", b".", b"", b""))
    assert refused.status_code == 200
    assert b"PermissionDenied" in refused.data and b"read-only" in refused.data
    assert not os.listdir(tree / "root" / "solo" / ".bzr" / "branch" / "lock")
    # Without bzr_wsgi.readonly, only a request the front server authenticated may write.
    anonymous = call(root, "/solo/.bzr/smart", smart_body(b"Branch.lock_write", b".", b"", b""),
                     **{"bzr_wsgi.readonly": None})
    assert b"read-only" in anonymous.data
    user = call(root, "/solo/.bzr/smart", smart_body(b"Branch.lock_write", b".", b"", b""),
                **{"bzr_wsgi.readonly": None, "REMOTE_USER": "ann"})
    assert b"ok" in user.data and b"PermissionDenied" not in user.data
    assert os.listdir(tree / "root" / "solo" / ".bzr" / "branch" / "lock")
    bad = call(root, "/solo/.bzr/smart", smart_body(b"BzrDir.open_2.1", b"."),
               **{"bzr_wsgi.readonly": "maybe"})
    assert b"oE" in bad.data and b"not a boolean" in bad.data


def test_bad_requests_get_readable_4xx(tree):
    root = str(tree / "root")
    get = call(root, "/solo/.bzr/smart", method="GET")
    assert get.status_code == 405 and get.headers["Allow"] == "POST"
    assert call(root, "/solo/.bzr/branch-format", b"x").status_code == 404
    big = call(root, "/solo/.bzr/smart", smart_body(b"hello") + b"x" * 2000,
               **{"bzr_wsgi.max_request_size": "1000"})
    assert big.status_code == 413 and "1000 bytes" in big.get_data(as_text=True)
    empty = call(root, "/solo/.bzr/smart", b"", CONTENT_LENGTH="0")
    assert empty.status_code == 400 and "empty" in empty.get_data(as_text=True)
    assert call(root, "/solo/.bzr/smart", b"").status_code == 411  # no length at all
    body = smart_body(b"hello")
    builder = EnvironBuilder(path="/solo/.bzr/smart", method="POST",
                             input_stream=io.BytesIO(body[:10]),
                             environ_overrides={"bzr_wsgi.root": root, "CONTENT_LENGTH":
                                                str(len(body))})
    cut = Client(bzr_wsgi.application).open(builder)
    assert cut.status_code == 400 and "nothing was done" in cut.get_data(as_text=True)


def test_large_replies_are_spooled_to_disk(tree):
    root = tree / "root"
    (root / "big.bin").write_bytes(os.urandom(3 << 20))
    server = bzr_smart.smart_server(str(root), True)
    environ = {"wsgi.input": io.BytesIO(b"bzr request 2\nget\x01/big.bin\n"),
               "CONTENT_LENGTH": str(len(b"bzr request 2\nget\x01/big.bin\n"))}
    request = bzr_smart.read_request(environ)
    body = server.reply(request, "")
    try:
        assert len(body) > 3 << 20
        assert body._spool._rolled  # in a temporary file, not in memory
        chunks = list(body)
        assert max(len(c) for c in chunks) <= bzr_smart.SEND_CHUNK
    finally:
        request.close()


def test_make_application_for_servers_without_setenv(tree):
    app = bzr_wsgi.make_application(root=str(tree / "root"), prefix="/bzr", readonly=True)
    response = Client(app).post("/bzr/solo/.bzr/smart", data=smart_body(b"hello"))
    assert response.status_code == 200 and b"ok" in response.data
