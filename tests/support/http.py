"""A small HTTP client for tests against real servers: cookies, forms, no automatic redirects."""

from __future__ import annotations

import base64
import http.client
import re
import ssl
from dataclasses import dataclass, field
from urllib.parse import urlencode, urljoin, urlsplit


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes
    url: str

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name, default)

    @property
    def location(self) -> str | None:
        return self.headers.get("Location")

    def set_cookies(self) -> list[str]:
        return self.headers.get_all("Set-Cookie") or []

    def form_token(self) -> str | None:
        match = re.search(r'name="__FORM_TOKEN"\s+value="([^"]+)"', self.text) or re.search(
            r'value="([^"]+)"\s+name="__FORM_TOKEN"', self.text)
        return match.group(1) if match else None


@dataclass
class Client:
    """Speaks to one server; keeps the cookies it is given (by name, like one browser)."""

    base: str
    cookies: dict[str, str] = field(default_factory=dict)
    auth: tuple[str, str] | None = None
    timeout: float = 30.0

    def url(self, path: str) -> str:
        return urljoin(self.base, path)

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> Response:
        url = self.url(path)
        parts = urlsplit(url)
        if parts.scheme == "https":
            context = ssl._create_unverified_context()
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                parts.hostname, parts.port, timeout=self.timeout, context=context)
        else:
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=self.timeout)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        sent = {"Connection": "close"}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if self.auth:
            token = base64.b64encode(f"{self.auth[0]}:{self.auth[1]}".encode()).decode()
            sent["Authorization"] = "Basic " + token
        sent.update(headers or {})
        try:
            conn.request(method, target, body=body, headers=sent)
            raw = conn.getresponse()
            data = raw.read()
            response = Response(raw.status, raw.headers, data, url)
        finally:
            conn.close()
        for line in response.set_cookies():
            self._store_cookie(line)
        return response

    def _store_cookie(self, line: str) -> None:
        pair, _, attrs = line.partition(";")
        name, _, value = pair.strip().partition("=")
        expired = re.search(r"(?i)max-age=0\b", attrs) or re.search(r"(?i)expires=[^;]*1970", attrs)
        if expired or value == "":
            self.cookies.pop(name, None)
        else:
            self.cookies[name] = value.strip('"')

    def get(self, path: str, headers: dict[str, str] | None = None) -> Response:
        return self.request("GET", path, headers=headers)

    def post(self, path: str, data: dict[str, str] | list[tuple[str, str]],
             headers: dict[str, str] | None = None) -> Response:
        body = urlencode(data).encode()
        sent = {"Content-Type": "application/x-www-form-urlencoded"}
        sent.update(headers or {})
        return self.request("POST", path, body=body, headers=sent)

    def follow(self, response: Response, limit: int = 5) -> Response:
        while response.status in (301, 302, 303, 307, 308) and limit:
            response = self.get(urljoin(response.url, response.location or "/"))
            limit -= 1
        return response


BASIC_AUTH_GAP = (
    "The application refused a Basic header with 401 where it must not: /login has to verify "
    "it against the server's password file (environ 'codeyard.basic_auth', from `codeyard "
    "serve --basic-auth`), and on the pages next to an Apache-protected /login, where "
    "browsers resend the credentials, a header no file of the project can check is ignored "
    "(see codeyard.web.auth.authenticate)."
)


def fail_on_basic_auth_gap(response: Response) -> None:
    """Say which behaviour broke instead of a bare status mismatch."""
    import pytest

    if response.status == 401 and b"Wrong user name or password" in response.body:
        pytest.fail(BASIC_AUTH_GAP)
