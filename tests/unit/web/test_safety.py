"""CSRF, https detection, static files, bad input, error pages, permissions."""

from __future__ import annotations

import pytest
from werkzeug.routing import Rule

from codeyard.core import hookimpl
from codeyard.perm import Resource
from tests.unit.web.conftest import set_cookie_headers, text

pytestmark = pytest.mark.db


class TestPages:
    """A plugin with pages that fail or check per-resource permissions."""

    @hookimpl
    def web_routes(self):
        def boom(req):
            """/boom — fails."""
            raise RuntimeError("secret internals")

        def page(req, name):
            """/page/<name> — a wiki-like page guarded per resource."""
            req.perm.require("WIKI_VIEW", Resource("wiki", name))
            return f"page {name}"

        def echo(req):
            """/echo — echoes a form field."""
            return f"got {req.form.get('value', '')}"

        return [(Rule("/boom", endpoint="boom"), boom),
                (Rule("/page/<name>", endpoint="page"), page),
                (Rule("/echo", endpoint="echo", methods=["POST"]), echo)]


def add_test_pages(env):
    env.plugins.register(TestPages())
    env._memo.pop("web.router", None)


def test_post_without_form_token_is_refused(served):
    env, site = served()
    add_test_pages(env)
    refused = site.post("/echo", {"value": "x"}, token=False)
    assert refused.status_code == 400
    assert "form token" in text(refused)
    wrong = site.post("/echo", {"value": "x", "__FORM_TOKEN": "0" * 32}, token=False)
    assert wrong.status_code == 400
    ok = site.post("/echo", {"value": "x"})
    assert ok.status_code == 200 and text(ok) == "got x"
    via_header = site.request("POST", "/echo", data={"value": "y"},
                              headers={"X-Requested-With": "XMLHttpRequest",
                                       "X-Form-Token": site.form_token()})
    assert text(via_header) == "got y"


def test_https_from_environ_and_trusted_proxy_headers(served):
    env, site = served()
    plain = site.get("/login", headers={"Referer": "http://localhost/about", "Accept": "text/html"},
                     environ={"REMOTE_USER": "u"})
    assert plain.headers["Location"] == "http://localhost/about"
    for https in ({"HTTPS": "on"}, {"HTTPS": "1"}, {"wsgi.url_scheme": "https"}):
        page = site.get("/login", environ={"REMOTE_USER": "u", **https},
                        headers={"Referer": "http://localhost/about", "Accept": "text/html"})
        assert page.headers["Location"] == "https://localhost/about", https
        assert "Secure" in set_cookie_headers(page, "trac_auth")[0]
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "public.example",
                 "Accept": "text/html"}
    untrusted = site.get("/login", environ={"REMOTE_USER": "u"}, headers=forwarded)
    assert untrusted.headers["Location"] == "http://localhost/"
    env.config.set("trac", "use_xforwarded_headers", "enabled")
    env.config.save()
    trusted = site.get("/login", environ={"REMOTE_USER": "u"}, headers=forwarded)
    assert trusted.headers["Location"] == "https://public.example/"


def test_base_url_for_redirects_never_downgrades(served):
    env, site = served(options=[("trac", "base_url", "http://projects.example/p"),
                                ("trac", "use_base_url_for_redirect", "enabled")])
    page = site.post("/logout")
    assert page.headers["Location"].startswith("http://projects.example/p")
    secure = site.post("/logout", environ={"HTTPS": "on"})
    assert secure.headers["Location"].startswith("https://projects.example/p")


def test_static_files_with_validators_and_no_traversal(served, tmp_path):
    env, site = served()
    with open(f"{env.htdocs_dir}/logo.txt", "w") as fh:
        fh.write("site file")
    (tmp_path / "outside.txt").write_text("secret")
    import os

    os.symlink(tmp_path / "outside.txt", f"{env.htdocs_dir}/link.txt")
    css = site.get("/chrome/common/codeyard.css")
    assert css.status_code == 200 and "--bg" in text(css)
    assert css.headers["Cache-Control"].startswith("public, max-age=")
    etag = css.headers["ETag"]
    again = site.get("/chrome/common/codeyard.css", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b""
    since = site.get("/chrome/common/codeyard.css",
                     headers={"If-Modified-Since": css.headers["Last-Modified"]})
    assert since.status_code == 304
    assert text(site.get("/chrome/site/logo.txt")) == "site file"
    for bad in ("/chrome/site/../conf/trac.ini", "/chrome/site/%2e%2e/conf/trac.ini",
                "/chrome/site/link.txt", "/chrome/common/../../env.py", "/chrome/site/.hidden",
                "/chrome/nope/x.css"):
        response = site.get(bad)
        assert response.status_code in (400, 404), bad
        assert "secret" not in text(response) and "[trac]" not in text(response)
    # An encoded slash is a slash (the server decodes it); an encoded backslash is refused.
    os.mkdir(f"{env.htdocs_dir}/sub")
    with open(f"{env.htdocs_dir}/sub/logo.txt", "w") as fh:
        fh.write("sub file")
    assert text(site.get("/chrome/site/sub%2Flogo.txt")) == "sub file"
    assert site.get("/chrome/site/sub%2F..%2F..%2Fconf/trac.ini").status_code in (400, 404)
    encoded = site.get("/chrome/site/sub%5Clogo.txt")
    assert encoded.status_code == 400 and "backslashes" in text(encoded)


def test_invalid_utf8_in_path_query_and_form(served):
    env, site = served()
    add_test_pages(env)
    from werkzeug.test import EnvironBuilder, run_wsgi_app

    from codeyard.web.wsgi import application

    environ = EnvironBuilder("/page/x", headers={"Accept": "text/html"},
                             environ_base=site.environ).get_environ()
    environ["PATH_INFO"] = "/page/caf\xc3"  # the raw byte, as a server passes it
    body, status, _ = run_wsgi_app(application, environ)
    assert status.startswith("400") and b"UTF-8" in b"".join(body)
    query = site.get("/about", query_string="x=%ff")
    assert query.status_code == 400
    form = site.request("POST", "/echo", data=b"value=%ff&__FORM_TOKEN=" + site.form_token().encode(),
                        content_type="application/x-www-form-urlencoded")
    assert form.status_code == 400
    raw = site.request("POST", "/echo", data=b"value=\xff\xfe",
                       content_type="application/x-www-form-urlencoded")
    assert raw.status_code == 400
    good = site.post("/echo", {"value": "café"})
    assert text(good) == "got café"
    token = site.form_token().encode()
    boundary = b"XyZ"
    parts = (b"--XyZ\r\nContent-Disposition: form-data; name=\"value\"\r\n\r\ncaf\xc3\r\n"
             b"--XyZ\r\nContent-Disposition: form-data; name=\"__FORM_TOKEN\"\r\n\r\n" + token +
             b"\r\n--XyZ--\r\n")
    multipart = site.request("POST", "/echo", data=parts,
                             content_type="multipart/form-data; boundary=" + boundary.decode())
    assert multipart.status_code == 400 and "UTF-8" in text(multipart)
    fine = site.request("POST", "/echo", data=parts.replace(b"caf\xc3", "café".encode()),
                        content_type="multipart/form-data; boundary=XyZ")
    assert text(fine) == "got café"


def test_oversized_body_is_413(served):
    env, site = served(options=[("codeyard", "max_request_size", "1000")])
    add_test_pages(env)
    page = site.post("/echo", {"value": "x" * 5000})
    assert page.status_code == 413


def test_internal_error_hides_traceback_unless_debug(served):
    env, site = served()
    add_test_pages(env)
    page = site.get("/boom")
    assert page.status_code == 500
    assert "secret internals" not in text(page) and "has been logged" in text(page)
    with open(f"{env.log_dir}/trac.log") as fh:
        assert "RuntimeError: secret internals" in fh.read()
    env.config.set("trac", "debug", "enabled")
    env.config.save()
    site.get("/about")  # picks up the change
    add_test_pages(env)
    page = site.get("/boom")
    assert page.status_code == 500 and "RuntimeError: secret internals" in text(page)


def test_not_found_pages_are_readable(served):
    _, site = served()
    page = site.get("/no/such/page")
    assert page.status_code == 404 and "<main" in text(page) and "No page at" in text(page)
    plain = site.get("/no/such/page", headers={"Accept": "*/*"})
    assert plain.mimetype == "text/plain" and plain.status_code == 404
    assert site.request("DELETE", "/about").status_code == 405


def test_forbidden_offers_login_to_anonymous(served):
    env, site = served()
    env.config.set("project", "descr", "x")
    env.config.save()
    site.get("/about")
    from codeyard.perm import PermissionSystem

    PermissionSystem(env).revoke("anonymous", "WIKI_VIEW")
    add_test_pages(env)
    page = site.get("/page/Start")
    assert page.status_code == 403
    assert "WIKI_VIEW" in text(page) and 'href="/login?referer=' in text(page)


def test_authz_policy_file_denies_a_page(served, tmp_path):
    env, site = served()
    rules = tmp_path / "authz.ini"
    rules.write_text("[wiki:Secret@*]\n* =\n\n[*]\n* = WIKI_VIEW\n")
    env.config.set("authz_policy", "authz_file", str(rules))
    env.config.set("trac", "permission_policies", "AuthzPolicy, DefaultPermissionPolicy")
    env.config.save()
    site.get("/about")
    add_test_pages(env)
    assert text(site.get("/page/Public")) == "page Public"
    assert site.get("/page/Secret").status_code == 403


def test_a_broken_authz_file_is_named_not_a_traceback(served, tmp_path):
    env, site = served()
    rules = tmp_path / "authz.ini"
    rules.write_text("[wiki:Page[1-5]@*]\n* =\n")  # brackets end the section name early
    env.config.set("authz_policy", "authz_file", str(rules))
    env.config.set("trac", "permission_policies", "AuthzPolicy, DefaultPermissionPolicy")
    env.config.save()
    page = site.get("/about")
    body = text(page)
    assert page.status_code == 500 and "Configuration error" in body
    assert f"{rules}, line 1" in body and "Traceback" not in body
    rules.write_text("[wiki:Secret@*]\n* =\n\n[*]\n* = WIKI_VIEW\n")  # mended: served again
    assert site.get("/about").status_code == 200


def test_extra_permissions_and_about_config_view(served):
    env, site = served(options=[("extra-permissions", "EXTRA_ADMIN", "EXTRA_VIEW")])
    from codeyard.perm import PermissionSystem

    assert "EXTRA_VIEW" in PermissionSystem(env).all_actions()
    assert "Configuration" not in text(site.get("/about"))
    PermissionSystem(env).grant("anonymous", "CONFIG_VIEW")
    about = text(site.get("/about"))
    assert "Configuration" in about and "extra-permissions" in about


def test_environ_base_url_locale_and_cookie_path_options(served):
    env, site = served(options=[("trac", "auth_cookie_path", "/"),
                                ("trac", "auth_cookie_domain", "example.org")])
    page = site.get("/login", environ={"REMOTE_USER": "u", "trac.base_url": "https://public.example/p",
                                       "trac.locale": "de_DE"})
    assert page.headers["Location"] == "https://public.example/p/"
    cookie = set_cookie_headers(page, "trac_auth")[0]
    assert "Path=/" in cookie and "Domain=example.org" in cookie
    about = site.get("/about", environ={"trac.locale": "de_DE"})
    assert '<html lang="de-DE">' in text(about)
