"""Fixtures for the in-process web tests: a Werkzeug client over the whole site app."""

from __future__ import annotations

import re
import subprocess

from werkzeug.test import Client

from codeyard.web.wsgi import application
from tests.support.servers import require_binary

HTML = {"Accept": "text/html"}


class Site:
    """A client that sends the given environ values with every request."""

    def __init__(self, environ: dict) -> None:
        self.environ = dict(environ)
        self.client = Client(application)

    def request(self, method: str, path: str, environ: dict | None = None, **kw):
        base = {**self.environ, **(environ or {})}
        headers = dict(kw.pop("headers", {}) or {})
        headers.setdefault("Accept", "text/html")
        scheme = base.pop("wsgi.url_scheme", "http")
        kw.setdefault("base_url", f"{scheme}://localhost" + base.pop("SCRIPT_NAME", ""))
        return self.client.open(path, method=method, environ_base=base, headers=headers, **kw)

    def get(self, path: str, **kw):
        return self.request("GET", path, **kw)

    def post(self, path: str, data=None, token: bool = True, **kw):
        data = dict(data or {})
        if token:
            data.setdefault("__FORM_TOKEN", self.form_token(kw))
        return self.request("POST", path, data=data, **kw)

    def form_token(self, kw=None) -> str:
        cookie = self.client.get_cookie("trac_form_token", domain="localhost")
        if cookie is None:
            page = self.get("/about", **{k: v for k, v in (kw or {}).items() if k == "environ"})
            assert page.status_code == 200, page.get_data(as_text=True)
            cookie = self.client.get_cookie("trac_form_token", domain="localhost")
        return cookie.value

    def cookie(self, name: str):
        return self.client.get_cookie(name, domain="localhost")


def text(response) -> str:
    return response.get_data(as_text=True)


def get_page(client, url, status=200):
    """GET ``url``, failing with the start of the page unless it answers ``status``."""
    page = client.get(url)
    assert page.status_code == status, (url, page.status_code, text(page)[:2000])
    return page


def main_of(page) -> str:
    """The page's ``<main>`` element, as text."""
    body = text(page)
    match = re.search(r"<main.*?</main>", body, re.S)
    assert match, body[:500]
    return match.group(0)


def set_cookie_headers(response, name: str) -> list[str]:
    return [h for h in response.headers.getlist("Set-Cookie") if h.startswith(name + "=")]


def htpasswd(path, user: str, password: str, scheme: str) -> None:
    """Add an entry with Apache's own htpasswd (-B bcrypt, -m apr1, -s SHA1, -d crypt)."""
    binary = require_binary("htpasswd")
    args = [binary, "-b", f"-{scheme}"]
    if not path.exists():
        args.append("-c")
    subprocess.run([*args, str(path), user, password], check=True, capture_output=True)


def token_in(page: str) -> str:
    match = re.search(r'name="__FORM_TOKEN" value="([^"]+)"', page)
    assert match, "no form token in the page"
    return match.group(1)


