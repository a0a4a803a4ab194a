"""The request object handlers receive: a Werkzeug request plus the project's context.

Everything a handler needs travels on the request, passed explicitly: ``req.env``,
``req.authname``, ``req.perm``, ``req.session``, ``req.href`` / ``req.abs_href``,
``req.form_token``, ``req.chrome`` (navigation, notices), ``req.tz``, ``req.locale``.
"""

from __future__ import annotations

import secrets
import urllib.parse
import zoneinfo
from collections.abc import Callable
from datetime import tzinfo
from typing import Any

from werkzeug.utils import cached_property
from werkzeug.wrappers import Request as WerkzeugRequest
from werkzeug.wrappers import Response

from codeyard.config import BoolOption, IntOption, Option
from codeyard.util.href import Href
from codeyard.web.api import HTTPBadRequest
from codeyard.web.routing import TracPathConverter, TracStringConverter, router

USE_XFORWARDED = BoolOption(
    "trac", "use_xforwarded_headers", False,
    "Trust the `X-Forwarded-Proto` and `X-Forwarded-Host` headers of a reverse proxy when "
    "building absolute URLs. Enable only behind a proxy that sets them.")
USE_BASE_URL_FOR_REDIRECT = BoolOption(
    "trac", "use_base_url_for_redirect", False,
    "Build redirects and absolute URLs from `[trac] base_url` instead of the request's host.")
SECURE_COOKIES = BoolOption(
    "trac", "secure_cookies", False,
    "Mark every cookie Secure (sent over https only), even on requests that arrive as http.")
MAX_REQUEST_SIZE = IntOption(
    "codeyard", "max_request_size", 16 * 1024 * 1024,
    "Largest request body accepted, in bytes; larger ones get a 413 page.")
DEFAULT_TIMEZONE = Option("trac", "default_timezone", "", "The default time zone of users (IANA name).")
DEFAULT_LANGUAGE = Option("trac", "default_language", "",
                          "The language used when a user has not chosen one.")
DEFAULT_DATE_FORMAT = Option("trac", "default_date_format", "",
                             "Date format: `iso8601`, or empty for the format of the user's language.")
DEFAULT_DATEINFO_FORMAT = Option("trac", "default_dateinfo_format", "relative",
                                 "How dates are shown by default: `relative` or `absolute`.")

FORM_TOKEN_COOKIE = "trac_form_token"
FORM_TOKEN_FIELD = "__FORM_TOKEN"


def check_utf8(raw: bytes | str, what: str) -> None:
    """Refuse percent-encoded or raw text that is not valid UTF-8."""
    if isinstance(raw, str):
        try:
            raw = raw.encode("latin-1")
        except UnicodeEncodeError:
            return  # already decoded text, so valid
    try:
        text = raw.decode("utf-8")
        for piece in text.replace("&", ";").split(";"):
            urllib.parse.unquote_to_bytes(piece.replace("+", " ")).decode("utf-8")
    except UnicodeDecodeError:
        raise HTTPBadRequest(f"The {what} is not valid UTF-8.") from None


class Request(WerkzeugRequest):
    """One HTTP request to one project."""

    def __init__(self, environ: dict, env=None) -> None:
        super().__init__(environ)
        self.env = env
        self.authname = "anonymous"
        self.auth_method: str | None = None
        self.perm: Any = None
        self._session: Any = None
        self.endpoint: str | None = None
        self.chrome: dict[str, Any] = {"notices": [], "warnings": [], "scripts": [],
                                       "stylesheets": [], "nav": {}}
        self.outcookies: dict[str, dict[str, Any]] = {}
        if env is not None:
            self.max_content_length = MAX_REQUEST_SIZE(env.config)

    @property
    def session(self):
        """The user's session, loaded on first use (static files never touch it)."""
        if self._session is None and self.env is not None:
            from codeyard.web.session import session_for

            self._session = session_for(self)
        return self._session

    @session.setter
    def session(self, value) -> None:
        self._session = value

    @property
    def loaded_session(self):
        """The session if this request used it, else None (without loading it)."""
        return self._session

    # -- where the request came from
    @property
    def is_authenticated(self) -> bool:
        return self.authname != "anonymous"

    def _trusts_proxy(self) -> bool:
        return self.env is not None and USE_XFORWARDED(self.env.config)

    @cached_property
    def is_https(self) -> bool:
        environ = self.environ
        if environ.get("wsgi.url_scheme") == "https":
            return True
        if str(environ.get("HTTPS", "")).lower() in ("on", "1", "yes"):
            return True
        if self._trusts_proxy():
            proto = environ.get("HTTP_X_FORWARDED_PROTO", "").split(",")[0].strip().lower()
            return proto == "https"
        return False

    @cached_property
    def public_scheme(self) -> str:
        return "https" if self.is_https else "http"

    @cached_property
    def public_host(self) -> str:
        environ = self.environ
        if self._trusts_proxy() and environ.get("HTTP_X_FORWARDED_HOST"):
            return environ["HTTP_X_FORWARDED_HOST"].split(",")[0].strip()
        if environ.get("HTTP_HOST"):
            return environ["HTTP_HOST"]
        host = environ.get("SERVER_NAME", "localhost")
        port = str(environ.get("SERVER_PORT", ""))
        default = "443" if self.is_https else "80"
        return host if not port or port == default else f"{host}:{port}"

    @cached_property
    def base_path(self) -> str:
        """The project's mount point (SCRIPT_NAME), without a trailing slash."""
        return self.script_root.rstrip("/")

    @cached_property
    def project_url(self) -> str:
        """The absolute URL of the project's root, never http when the request is https."""
        configured = self.environ.get("trac.base_url") or ""
        if not configured and self.env is not None and USE_BASE_URL_FOR_REDIRECT(self.env.config):
            configured = self.env.config.get("trac", "base_url", "")
        if configured:
            url = configured.rstrip("/")
            if self.is_https and url.startswith("http://"):
                url = "https://" + url[len("http://"):]
            return url
        return f"{self.public_scheme}://{self.public_host}{urllib.parse.quote(self.base_path)}"

    @cached_property
    def href(self) -> Href:
        return Href(urllib.parse.quote(self.base_path))

    @cached_property
    def abs_href(self) -> Href:
        return Href(self.project_url)

    def absolute(self, url: str) -> str:
        """Make a site-relative URL absolute on the project's scheme and host."""
        if url.startswith(("http://", "https://")):
            if self.is_https and url.startswith("http://"):
                parts = urllib.parse.urlsplit(url)
                if parts.netloc == urllib.parse.urlsplit(self.project_url).netloc:
                    url = "https://" + url[len("http://"):]
            return url
        parts = urllib.parse.urlsplit(self.project_url)
        if not url.startswith("/"):
            url = self.href(url)
        base = urllib.parse.quote(self.base_path)
        if url == base or url.startswith(base + "/") or (base and url.startswith(base + "?")):
            # A URL built from req.href: re-root it on the public project URL.
            return self.project_url + url[len(base):]
        return f"{parts.scheme}://{parts.netloc}{url}"

    def redirect(self, url: str, code: int = 303) -> Response:
        response = Response(status=code)
        response.headers["Location"] = self.absolute(url)
        return response

    def url_for(self, endpoint: str, **values: Any) -> str:
        """The URL of a named route of this project (site-relative): rule arguments fill the
        path, other values the query string (``None`` dropped), quoted as Trac quotes."""
        path = router(self.env).build(endpoint, values)
        if path == "/" or path.startswith("/?"):  # the project's root is its base, as Href has it
            path = path[1:]
        url = self.href.base + path
        return url if url.startswith("/") else "/" + url

    def url_builder(self, endpoint: str, name: str) -> Callable[[Any], str]:
        """``value -> url_for(endpoint, name=value)``, quicker for a page that builds many
        URLs of one route (a timeline's tickets, a listing's files)."""
        plan = router(self.env).single_plan(endpoint, name)
        if plan is None:
            return lambda value: self.url_for(endpoint, **{name: value})
        before, quote_value, after = plan
        head = self.href.base + before
        if not head.startswith("/"):
            head = "/" + head
        url_for = self.url_for
        # Trac's quoting leaves a number's digits (and sign) as they are: ticket ids
        digits_as_is = isinstance(getattr(quote_value, "__self__", None),
                                  (TracPathConverter, TracStringConverter))

        def build(value: Any) -> str:
            if type(value) is int and digits_as_is:
                return head + str(value) + after
            if value is None or value == "":
                return url_for(endpoint, **{name: value})
            return head + quote_value(value) + after

        return build

    # -- cookies
    def set_cookie(self, name: str, value: str, max_age: int | None = None, path: str | None = None,
                   httponly: bool = True, domain: str | None = None) -> None:
        """Queue a cookie: HttpOnly, SameSite=Lax, Secure under https or `secure_cookies`."""
        secure = self.is_https or (self.env is not None and SECURE_COOKIES(self.env.config))
        self.outcookies[name] = {"value": value, "max_age": max_age, "path": path or self.base_path or "/",
                                 "httponly": httponly, "secure": secure, "samesite": "Lax",
                                 "domain": domain or None}

    def expire_cookie(self, name: str, path: str | None = None, domain: str | None = None) -> None:
        self.set_cookie(name, "", max_age=0, path=path, domain=domain)
        self.outcookies[name]["expires"] = 0

    # -- CSRF
    @cached_property
    def form_token(self) -> str:
        token = self.cookies.get(FORM_TOKEN_COOKIE, "")
        if not (20 <= len(token) <= 64 and token.isalnum()):
            token = secrets.token_hex(16)
            self.set_cookie(FORM_TOKEN_COOKIE, token)
        return token

    def check_form_token(self) -> bool:
        cookie = self.cookies.get(FORM_TOKEN_COOKIE, "")
        if not cookie:
            return False
        given = self.form.get(FORM_TOKEN_FIELD) or self.headers.get("X-Form-Token", "")
        return bool(given) and secrets.compare_digest(given, cookie)

    # -- user context
    @cached_property
    def tz(self) -> tzinfo:
        name = self.session.get("tz", "") if self.session is not None else ""
        if not name and self.env is not None:
            name = DEFAULT_TIMEZONE(self.env.config)
        return get_timezone(name)

    @cached_property
    def locale(self) -> str:
        lang = self.session.get("language", "") if self.session is not None else ""
        if not lang:
            lang = self.environ.get("trac.locale") or ""
        if not lang and self.env is not None:
            lang = DEFAULT_LANGUAGE(self.env.config)
        if not lang:
            best = self.accept_languages.best
            lang = best.replace("-", "_") if best else "en_US"
        return lang

    def add_notice(self, message: Any) -> None:
        self.chrome["notices"].append(message)

    def add_warning(self, message: Any) -> None:
        self.chrome["warnings"].append(message)

    @property
    def wants_html(self) -> bool:
        accept = self.headers.get("Accept", "")
        return "text/html" in accept or "application/xhtml" in accept


def get_timezone(name: str) -> tzinfo:
    from datetime import UTC

    if not name:
        return UTC
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return UTC
