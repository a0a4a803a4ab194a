"""Probes of a running deployment over HTTP, for ``codeyard check URL``.

Each probe is a function of a :class:`Probe` (the URL asked, a ``fetch`` callable doing one
HTTP request without following redirects, optional credentials) returning findings
``(level, subject, message)`` — ``ok``, ``warn`` or ``FAIL`` — where a failure names the
problem and the configuration line that fixes it. ``fetch`` is any callable
``fetch(method, url, body, headers) -> Answer``: :func:`http_fetch` speaks to a real server,
tests may pass one over a WSGI application.

codeyard's pages carry ``<meta name="generator" content="codeyard VERSION">``: that is how a
probe tells the application's answers from the front server's own pages.
"""

from __future__ import annotations

import base64
import html
import http.client
import re
import secrets
import ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

Finding = tuple[str, str, str]

GENERATOR = re.compile(r'<meta\s+name="generator"\s+content="codeyard(?: ([^"]*))?"', re.I)
STYLESHEET = re.compile(r'<link\s+rel="stylesheet"\s+href="([^"]*codeyard\.css[^"]*)"', re.I)
PROJECT_LIST = re.compile(r'<ul class="projects">(.*?)</ul>', re.S)
LINK = re.compile(r'\bhref="([^"]+)"')
ABSOLUTE_LINK = re.compile(r'\b(?:href|src|action)="(https?://[^"]+)"', re.I)
UPGRADE = re.compile(r"codeyard admin (.+?) upgrade")


@dataclass
class Answer:
    """One HTTP response: status, headers (names in lower case), body and the URL asked."""

    status: int
    headers: dict[str, str]
    body: bytes
    url: str

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")

    @property
    def ours(self) -> bool:
        """Whether codeyard wrote this answer (rather than the front server)."""
        return bool(GENERATOR.search(self.text))

    @property
    def version(self) -> str:
        match = GENERATOR.search(self.text)
        return (match.group(1) or "") if match else ""

    def describe(self) -> str:
        who = "codeyard" if self.ours else "the front server"
        kind = self.header("content-type").split(";")[0] or "no content type"
        return f"{self.status} from {who} ({kind})"


Fetch = Callable[[str, str, "bytes | None", "dict[str, str]"], Answer]


def http_fetch(timeout: float = 30.0, verify: bool = True) -> Fetch:
    """A ``fetch`` over the network: one request per connection, redirects not followed."""
    def fetch(method: str, url: str, body: bytes | None, headers: dict[str, str]) -> Answer:
        parts = urlsplit(url)
        conn: http.client.HTTPConnection
        if parts.scheme == "https":
            context = ssl.create_default_context() if verify else ssl._create_unverified_context()
            conn = http.client.HTTPSConnection(parts.hostname or "", parts.port, timeout=timeout,
                                               context=context)
        else:
            conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            conn.request(method, target, body=body, headers={"Connection": "close", **headers})
            raw = conn.getresponse()
            data = raw.read()
            return Answer(raw.status, {k.lower(): v for k, v in raw.getheaders()}, data, url)
        finally:
            conn.close()
    return fetch


@dataclass
class Probe:
    """What the probes share: the project's URL (ending in ``/``), how to fetch, who logs in."""

    url: str
    fetch: Fetch
    user: str | None = None
    password: str | None = None
    cache: dict[tuple[str, str, bool], Answer] = field(default_factory=dict)

    @property
    def path(self) -> str:
        """The project's path on the server, ending in ``/``."""
        return urlsplit(self.url).path or "/"

    def get(self, relative: str = "", auth: bool = False) -> Answer:
        key = ("GET", relative, auth)
        if key not in self.cache:
            headers = {"Accept": "text/html"}
            if auth and self.user is not None:
                headers["Authorization"] = basic(self.user, self.password or "")
            self.cache[key] = self.fetch("GET", urljoin(self.url, relative), None, headers)
        return self.cache[key]

    def post(self, relative: str, body: bytes, content_type: str,
             headers: dict[str, str] | None = None) -> Answer:
        return self.fetch("POST", urljoin(self.url, relative), body,
                          {"Content-Type": content_type, "Accept": "text/html", **(headers or {})})


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# ---------------------------------------------------------------------------
# The probes, in the order they run


def probe_page(probe: Probe) -> list[Finding]:
    """The project's own page: codeyard's HTML, or what stands in its way."""
    home = probe.get()
    where = probe.url
    if home.status == 401:
        return [("FAIL", "page", f"{where} asks for a password: a <Location {probe.path}> with "
                 f"'Require valid-user' covers the whole project and swallows /login; protect "
                 f'the login page only: <Location "{probe.path}login">')]
    if not home.ours:
        if home.status == 403:
            return [("FAIL", "page", f"{where} answers 403 from the front server, not codeyard: "
                     "a DocumentRoot (or <Directory>) answers the project's URL; remove it, or "
                     f'mount the site with WSGIScriptAlias {probe.path.rstrip("/") or "/"} '
                     "/path/to/cgi-bin/codeyard.wsgi")]
        return [("FAIL", "page", f"{where} is not codeyard's page ({home.describe()}): an "
                 "Alias or DocumentRoot covers the project's URL; alias only "
                 f"{probe.path}chrome/common and put it before the WSGIScriptAlias (for a "
                 "site with its own index template, give a project's URL)")]
    if home.status == 503 and "upgrade" in home.text:
        match = UPGRADE.search(html.unescape(home.text))
        env = match.group(1) if match else "ENV"
        return [("FAIL", "environment", f"{where} needs an upgrade of its database: run "
                 f"`codeyard admin {env} upgrade`")]
    if home.status >= 500:
        return [("FAIL", "page", f"{where} answers {home.status}: {_error_text(home)}; see the "
                 "log (`[logging] log_type = file`) — a plugin that fails to load is named there")]
    if home.status >= 400:
        return [("FAIL", "page", f"{where} answers {home.status} from codeyard: "
                 f"{_error_text(home)}")]
    found: list[Finding] = [("ok", "page", f"{where} is codeyard {home.version}".rstrip())]
    wiki = probe.get("wiki")
    moved = urljoin(wiki.url, wiki.header("location")) if wiki.header("location") else ""
    if wiki.status in (301, 302) and moved.rstrip("/") == wiki.url.rstrip("/") \
            and moved.endswith("/"):
        found.append(("FAIL", "page", f"{wiki.url} is redirected to {moved}: the front server "
                      "adds a slash for a directory of that name, so the project's URLs are "
                      "served from disk (a DocumentRoot or .htaccess set-up); remove it and "
                      f"mount the site with WSGIScriptAlias {probe.path.rstrip('/') or '/'} "
                      "/path/to/cgi-bin/codeyard.wsgi"))
    if wiki.status == 401:
        found.append(("FAIL", "page", f"{urljoin(where, 'wiki')} asks for a password: a "
                      "<Location> with 'Require valid-user' covers the project's pages; protect "
                      f'the login page only: <Location "{probe.path}login">'))
    return found


def probe_stylesheet(probe: Probe) -> list[Finding]:
    """The stylesheet the page links: served, and as text/css."""
    home = probe.get()
    if not home.ours or home.status >= 400:
        return []
    match = STYLESHEET.search(home.text)
    if not match:
        return [("warn", "static", "the page links no codeyard.css (a site template replaced "
                 "the layout?)")]
    url = urljoin(home.url, html.unescape(match.group(1)))
    answer = probe.fetch("GET", url, None, {"Accept": "text/css,*/*"})
    prefix = urlsplit(url).path.split("/chrome/common/")[0]
    alias = (f"Alias {prefix}/chrome/common /path/to/deploy/htdocs/common (`codeyard deploy` "
             "exports the files there; for several projects the AliasMatch it writes)")
    if answer.status == 404 or (answer.status == 403 and not answer.ours):
        return [("FAIL", "static", f"{url} answers {answer.status}: the static files are not "
                 f"served (not exported there, or not readable by the server); add {alias}, "
                 "with 'Require all granted' on its <Directory>")]
    if answer.status != 200:
        return [("FAIL", "static", f"{url} answers {answer.describe()}: let the front server "
                 f"read the exported files ('Require all granted' on their <Directory>) with {alias}")]
    kind = answer.header("content-type").split(";")[0].strip().lower()
    if kind != "text/css":
        if answer.ours or kind == "text/html":
            return [("FAIL", "static", f"{url} is answered with a page ({answer.describe()}), "
                     f"not the stylesheet: add {alias}")]
        return [("FAIL", "static", f"{url} is served as {kind or 'no type'}, so browsers ignore "
                 "it: give the front server the MIME types ('TypesConfig /etc/mime.types' or "
                 "'AddType text/css .css')")]
    return [("ok", "static", f"{url} is served as text/css")]


def probe_login(probe: Probe) -> list[Finding]:
    """/login challenged (and nothing else), and the given user let in."""
    home = probe.get()
    if home.status == 401 or not home.ours or home.status >= 400:
        return []  # the page probe named what stands in the way already
    anonymous = probe.get("login")
    url = urljoin(probe.url, "login")
    anchored = f'<LocationMatch "^{re.escape(probe.path)}login$"> or <Location "{probe.path}login">'
    found: list[Finding] = []
    if anonymous.status == 401:
        found.append(("ok", "login", f"{url} asks for a password"))
        nearby = probe.get("loginfoo")
        if nearby.status == 401:
            found.append(("FAIL", "login", f"{urljoin(probe.url, 'loginfoo')} asks for a password "
                          f"too: the LocationMatch is not anchored; use {anchored}"))
    elif anonymous.status == 200 and anonymous.ours and 'name="password"' in anonymous.text:
        found.append(("ok", "login", f"{url} shows codeyard's login form"))
    elif anonymous.status in (302, 303, 307):
        found.append(("ok", "login", f"{url} logs in without asking (a front-server single "
                      "sign-on?)"))
    elif probe.user is not None:
        found.append(("FAIL", "login", f"{url} does not ask for a password "
                      f"({anonymous.describe()}): add {anchored} with AuthType Basic, AuthName, "
                      "AuthUserFile and 'Require valid-user'"))
        return found
    else:
        found.append(("warn", "login", f"{url} answers {anonymous.describe()}: nobody can log in"))
        return found
    if probe.user is not None:
        found += _login_with_credentials(probe, anonymous)
    return found


def _login_with_credentials(probe: Probe, anonymous: Answer) -> list[Finding]:
    url = urljoin(probe.url, "login")
    answer = probe.get("login", auth=True)
    if answer.status in (302, 303, 307):
        return [("ok", "login", f"{probe.user} logs in at {url}")]
    if anonymous.ours and 'id="login-unconfigured"' in anonymous.text:
        return [("FAIL", "login", f"{url} is codeyard's login form and nothing checks the "
                 "password of --user: the project has no password file; protect the login "
                 f'page in the front server (<Location "{probe.path}login"> with AuthType Basic '
                 "… 'Require valid-user') or set [account-manager] password_file")]
    if anonymous.ours and _same_kind(answer, anonymous):
        # Refused as if no header was sent: ask with a password that cannot be right. If
        # codeyard sees the header it says so; if that too looks anonymous, the header
        # never reached it.
        wrong = probe.fetch("GET", url, None, {"Accept": "text/html", "Authorization": basic(
            "codeyard-check-probe", secrets.token_hex(8))})
        if _same_kind(wrong, anonymous):
            return [("FAIL", "auth", f"{url} answers a Basic request as if no Authorization "
                     "header was sent: the front server keeps it from the application; add "
                     "'WSGIPassAuthorization On' (in the <Directory> of codeyard.wsgi)")]
    return [("FAIL", "login", f"{probe.user} does not log in at {url} ({answer.describe()}): "
             "check --user and --password-file against the AuthUserFile or "
             "[account-manager] password_file")]


def _same_kind(one: Answer, other: Answer) -> bool:
    return one.status == other.status and one.ours == other.ours and (
        one.status != 200 or ('name="password"' in one.text) == ('name="password"' in other.text))


def probe_forms(probe: Probe) -> list[Finding]:
    """A form post reaches the application (no static file or DocumentRoot in the way)."""
    home = probe.get()
    if not home.ours or home.status >= 400:
        return []
    url = urljoin(probe.url, "prefs")
    answer = probe.post("prefs", b"probe=1", "application/x-www-form-urlencoded")
    if answer.ours:
        return [("ok", "forms", f"a form post to {url} reaches codeyard")]
    if answer.status == 401:
        return [("warn", "forms", f"a form post to {url} is asked for a password by the front "
                 "server")]
    return [("FAIL", "forms", f"a form post to {url} is answered {answer.describe()}: a static "
             "file or DocumentRoot shadows the application there; remove it (or the Alias) so "
             "that the WSGIScriptAlias answers the project's URLs")]


def probe_urls(probe: Probe) -> list[Finding]:
    """Redirects and absolute links keep the scheme and host asked."""
    asked = urlsplit(probe.url)
    urls: list[tuple[str, str]] = []
    if probe.user is not None:
        login = probe.get("login", auth=True)
        if login.status in (302, 303, 307) and login.header("location"):
            urls.append(("the login redirect", urljoin(login.url, login.header("location"))))
    home = probe.get()
    if home.ours:
        for link in ABSOLUTE_LINK.findall(home.text):
            link = html.unescape(link)
            if urlsplit(link).path.startswith(probe.path):
                urls.append(("a link of the page", link))
    found: list[Finding] = []
    for what, url in urls:
        parts = urlsplit(url)
        if asked.scheme == "https" and parts.scheme == "http":
            found.append(("FAIL", "https", f"{what} drops to http ({url}): the front server "
                          "ends TLS without telling codeyard; add 'SetEnv HTTPS 1' in the "
                          f"project's <Location> (or set [trac] base_url = {probe.url.rstrip('/')})"))
        elif parts.netloc.lower() != asked.netloc.lower() and parts.path.startswith(probe.path):
            found.append(("warn", "base_url", f"{what} points to {parts.scheme}://{parts.netloc}, "
                          f"not {asked.scheme}://{asked.netloc} that was asked: [trac] base_url "
                          f"= {probe.url.rstrip('/')} (or leave it empty)"))
    if not found and urls:
        found.append(("ok", "urls", f"{len(urls)} absolute URL(s) keep {asked.scheme}://"
                      f"{asked.netloc}"))
    return found[:3]


def probe_bzr(probe: Probe) -> list[Finding]:
    """The Bazaar smart route reaches codeyard."""
    home = probe.get()
    if not home.ours or home.status >= 400:
        return []
    url = urljoin(probe.url, "bzr/.bzr/smart")
    headers = {}
    if probe.user is not None:
        headers["Authorization"] = basic(probe.user, probe.password or "")
    answer = probe.post("bzr/.bzr/smart", b"", "application/octet-stream", headers)
    if answer.ours:
        return [("ok", "bzr", f"the Bazaar smart route {url} reaches codeyard")]
    root = probe.path.rstrip("/").rsplit("/", 1)[0]
    route = f'WSGIScriptAliasMatch "^{re.escape(root)}(?=/[^/]+/bzr(/|$))" /path/to/cgi-bin/codeyard.wsgi'
    return [("FAIL", "bzr", f"a Bazaar push to {url} is answered {answer.describe()}: the smart "
             f"route does not reach codeyard; add {route} before any other .bzr/smart alias")]


PROBES: tuple[Callable[[Probe], list[Finding]], ...] = (
    probe_page, probe_stylesheet, probe_login, probe_forms, probe_urls, probe_bzr)


def _error_text(answer: Answer) -> str:
    match = re.search(r"<h1>(.*?)</h1>\s*(?:<p[^>]*>(.*?)</p>)?", answer.text, re.S)
    if not match:
        return answer.describe()
    parts = [re.sub(r"<[^>]+>", "", html.unescape(p or "")).strip() for p in match.groups()]
    return ": ".join(p for p in parts if p)[:300]


def find_project(url: str, fetch: Fetch) -> tuple[str, list[Finding]]:
    """The project to probe: ``url`` itself, or the first project of the site's index."""
    base = url if url.endswith("/") else url + "/"
    home = fetch("GET", base, None, {"Accept": "text/html"})
    listing = PROJECT_LIST.search(home.text) if home.ours and home.status == 200 else None
    if not listing:
        return base, []
    links = [urljoin(base, html.unescape(link)) for link in LINK.findall(listing.group(1))]
    if not links:
        return base, [("warn", "site", f"{base} lists no project to probe")]
    first = links[0] if links[0].endswith("/") else links[0] + "/"
    return first, [("ok", "site", f"{base} lists {len(links)} project(s); probing {first}")]


def probe_deployment(url: str, fetch: Fetch, user: str | None = None,
                     password: str | None = None,
                     probes: Iterable[Callable[[Probe], list[Finding]]] = PROBES) -> list[Finding]:
    """Every probe's findings for the deployment at ``url`` (a project, or a site's index)."""
    try:
        base, found = find_project(url, fetch)
    except (OSError, http.client.HTTPException) as error:
        return [("FAIL", "connect", f"{url} does not answer: {error}")]
    probe = Probe(base, fetch, user, password)
    for run in probes:
        try:
            found += run(probe)
        except (OSError, http.client.HTTPException) as error:
            found.append(("FAIL", "connect", f"{run.__name__}: {error}"))
    return found
