"""Response headers on every page of a project: the defaults and ``[http-headers]``."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.db


def test_default_headers_on_pages_errors_and_files(served):
    env, site = served()
    for path in ("/wiki/WikiStart", "/about", "/no/such/page", "/chrome/common/codeyard.css",
                 "/login"):
        response = site.get(path)
        headers = response.headers
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert headers["Referrer-Policy"] == "same-origin", path
        assert headers.getlist("Content-Security-Policy") == ["frame-ancestors 'self'"], path
        assert headers["X-Frame-Options"] == "SAMEORIGIN", path
    plain = site.get("/no/such/page", headers={"Accept": "text/plain"})
    assert plain.status_code == 404 and plain.headers["X-Frame-Options"] == "SAMEORIGIN"


def test_a_page_policy_keeps_its_rules_and_gains_the_framing_rule(served):
    import io

    from codeyard.attachment import model
    from codeyard.wiki.model import WikiPage

    env, site = served()
    page = WikiPage(env, "Files")
    page.text = "x"
    page.save("admin")
    model.insert(env, "wiki", "Files", "a.html", io.BytesIO(b"<b>x</b>"), author="admin")
    raw = site.get("/raw-attachment/wiki/Files/a.html")
    assert raw.status_code == 200
    (policy,) = raw.headers.getlist("Content-Security-Policy")
    assert "sandbox" in policy and policy.endswith("; frame-ancestors 'self'")


def test_frame_ancestors_option(served):
    env, site = served(options=[("codeyard", "frame_ancestors", "'self' https://intra.example")])
    headers = site.get("/about").headers
    assert headers["Content-Security-Policy"] == "frame-ancestors 'self' https://intra.example"
    assert "X-Frame-Options" not in headers  # it cannot say "these origins"
    env2, site2 = served("other", options=[("codeyard", "frame_ancestors", "")])
    headers = site2.get("/about").headers
    assert "Content-Security-Policy" not in headers and "X-Frame-Options" not in headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    env3, site3 = served("third", options=[("codeyard", "frame_ancestors", "'none'")])
    assert site3.get("/about").headers["X-Frame-Options"] == "DENY"


def test_http_headers_section_adds_and_overrides(served):
    env, site = served(options=[
        ("http-headers", "X-Frame-Options", "DENY"),
        ("http-headers", "Referrer-Policy", "no-referrer"),
        ("http-headers", "Permissions-Policy", "camera=()"),
        ("http-headers", "Strict-Transport-Security", "max-age=63072000"),
        ("http-headers", "Content-Security-Policy", "default-src 'self'"),
        # Refused as Trac refuses them: not a token, or a reserved name.
        ("http-headers", "Bad Name", "x"),
        ("http-headers", "Content-Type", "text/evil"),
        ("http-headers", "Cache-Control", "public"),
        ("http-headers", "Location", "http://evil.example/"),
    ])
    for path in ("/about", "/wiki/Nope"):
        response = site.get(path)
        headers = response.headers
        assert headers["X-Frame-Options"] == "DENY", path
        assert headers["Referrer-Policy"] == "no-referrer", path
        assert headers["Permissions-Policy"] == "camera=()", path
        assert headers["Strict-Transport-Security"] == "max-age=63072000", path
        assert headers.getlist("Content-Security-Policy") == ["default-src 'self'"], path
        assert headers["Content-Type"].startswith("text/html"), path
        assert headers["Cache-Control"].startswith("no-cache"), path
        assert "Location" not in headers and "Bad Name" not in headers, path


def test_the_project_index_and_site_errors_carry_the_defaults(make_env, tmp_path):
    from tests.unit.web.conftest import Site

    make_env("one")
    site = Site({"codeyard.env_parent_dir": str(tmp_path)})
    for path, status in (("/", 200), ("/no-such-project/wiki", 404)):
        page = site.get(path)
        assert page.status_code == status
        assert page.headers["X-Content-Type-Options"] == "nosniff"
        assert page.headers["Referrer-Policy"] == "same-origin"
        assert page.headers["Content-Security-Policy"] == "frame-ancestors 'self'"
