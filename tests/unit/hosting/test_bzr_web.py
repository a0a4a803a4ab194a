"""The per-project Bazaar routes: the branch URLs the repository page shows."""

from __future__ import annotations

import pytest

from codeyard.hosting.bzr_web import bzr_url
from codeyard.web.request import Request

pytestmark = pytest.mark.db


def _req(env, script_name="/proj", https=False):
    return Request({"REQUEST_METHOD": "GET", "PATH_INFO": "/", "SCRIPT_NAME": script_name,
                    "SERVER_NAME": "code.example.org", "SERVER_PORT": "443" if https else "80",
                    "wsgi.url_scheme": "https" if https else "http", "QUERY_STRING": ""}, env)


def test_bzr_url_of_a_branch(env):
    req = _req(env)
    assert bzr_url(req, "", "trunk") == "http://code.example.org/proj/bzr/trunk"
    assert bzr_url(req, "lib", "team/ann work") == \
        "http://code.example.org/proj/bzr/lib/team/ann%20work"
    assert bzr_url(req, "", "") == "http://code.example.org/proj/bzr"
    assert bzr_url(_req(env, "", https=True), "lib", "/trunk/") == \
        "https://code.example.org/bzr/lib/trunk"


def _shared(tmp_path) -> str:
    from breezy import controldir
    from breezy.bzr import bzrdir  # noqa: F401

    fmt = controldir.format_registry.make_controldir("2a")
    root = tmp_path / "hosted"
    controldir.ControlDir.create(str(root), format=fmt).create_repository(shared=True)
    controldir.ControlDir.create_branch_convenience(str(root / "trunk"), format=fmt,
                                                   force_new_tree=False)
    return str(root)


HELLO = b"bzr request 2\nhello\n"


def test_request_size_limits_are_the_hosting_ones(served, tmp_path):
    repo = _shared(tmp_path)
    _env, site = served("limits", options=[
        ("repositories", ".dir", repo), ("repositories", ".type", "bzr"),
        ("codeyard", "max_request_size", "10"), ("hosting", "bzr_max_request_size", "100")])
    # Above the site's limit for pages, within the hosting one: served.
    ok = site.request("POST", "/bzr/trunk/.bzr/smart", data=HELLO, headers={"Accept": "*/*"})
    assert ok.status_code == 200, ok.get_data(as_text=True)
    assert ok.data == b"bzr response 2\nsuccess\nok\x012\n"
    big = site.request("POST", "/bzr/trunk/.bzr/smart", data=HELLO + b"x" * 200,
                       headers={"Accept": "*/*"})
    assert big.status_code == 413 and "100 bytes" in big.get_data(as_text=True)
    # Other pages keep the site's limit.
    page = site.request("POST", "/about", data=b"y" * 50, headers={"Accept": "*/*"})
    assert page.status_code == 413


def test_not_a_bazaar_location(served, tmp_path):
    repo = _shared(tmp_path)
    _env, site = served("where", options=[("repositories", ".dir", repo),
                                          ("repositories", ".type", "bzr")])
    page = site.get("/bzr/trunk", headers={"Accept": "*/*"})
    assert page.status_code == 404 and "brz branch http://localhost/bzr/trunk" in \
        page.get_data(as_text=True)
    assert site.get("/bzr/trunk/.bzr/smart").status_code == 405
    assert site.request("POST", "/bzr/%2e%2e/x/.bzr/smart", data=HELLO).status_code == 404
    nosuch = site.request("POST", "/bzr/nosuch/.bzr/smart", data=HELLO,
                          headers={"Accept": "*/*"})
    assert nosuch.status_code == 200  # the default repository's directory "nosuch": breezy
    assert b"success" in nosuch.data  # answers hello for any path, as brz serve does
