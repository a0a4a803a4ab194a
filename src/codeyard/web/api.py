"""Hooks of the web site, and the HTTP errors handlers raise.

A plugin contributes pages with ``web_routes``: Werkzeug ``Rule`` objects paired with a
handler ``handler(req, **url_args)`` that returns a ``Response`` or ``(template, data)``.
A handler's docstring starts with its URL pattern. Errors are exceptions that are
themselves responses; the site turns them into readable pages (HTML for browsers,
plain text for other clients).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from werkzeug.exceptions import HTTPException

from codeyard.core import hookspec

# ---------------------------------------------------------------------------
# Hooks


@hookspec
def web_routes():
    """Return (werkzeug Rule, handler) pairs; handler(req, **url_args) returns a Response or (template, data)."""


@hookspec
def navigation_items(req):
    """Return NavItem objects (category 'mainnav', 'metanav' or 'search', the header's search box) for this request's user."""


@hookspec
def start_pages():
    """Return {Trac module name: route endpoint} of pages that can be a project's start page."""


@hookspec(firstresult=True)
def start_page_text(env, perm):
    """Return the text shown at the project's root when no start page route answers."""


def start_page_endpoints(env) -> dict[str, str]:
    """Trac module name (``WikiModule``, ``AboutModule``, …) -> endpoint, for the
    ``[trac] default_handler`` option and the ``default_handler`` session attribute."""
    def compute():
        pages: dict[str, str] = {}
        for found in env.hook.start_pages():
            pages.update(found or {})
        return pages

    return env.memo("web.start_pages", compute)


@hookspec
def template_dirs():
    """Return extra directories of Jinja2 templates (a plugin's own ``templates/`` is found without it)."""


@hookspec
def static_dirs():
    """Return {prefix: directory} of static files, served at /chrome/<prefix>/<path>."""


@hookspec
def admin_panels(req):
    """Return AdminPanel objects this request's user may open under /admin."""


@hookspec
def site_views():
    """Return SiteView objects: pages at the site's root (``/?view=NAME``, parent-dir mode) that combine the projects' own data."""


@hookspec(firstresult=True)
def error_response(req, error):
    """Return a Response for an HTTPError on your own URLs (an API's JSON error), or None for the site's error page."""


@hookspec
def request_authenticators():
    """Return callables(req) -> user name or None, asked after the auth cookie and HTTP Basic."""


# ---------------------------------------------------------------------------
# Data the hooks return


@dataclass
class NavItem:
    """A link in the main or meta navigation bar; ``[mainnav] name.order`` etc. override."""

    category: str  # 'mainnav', 'metanav' or 'search' (the header's search box)
    name: str
    label: str
    href: str
    order: float = 50
    active: bool = False
    form: bool = False  # rendered as a POST button (logout)


def offered_choices(results) -> list[tuple[str, str, bool]]:
    """The (name, label, checked) choices plugins offer through a hook (the timeline's
    filters, the search's sources), in order, the first offer of a name winning; an offer
    of (name, label) is checked by default."""
    found: list[tuple[str, str, bool]] = []
    seen: set[str] = set()
    for offered in results:
        for item in offered or ():
            name, label = item[0], item[1]
            if name not in seen:
                seen.add(name)
                found.append((name, label, bool(item[2]) if len(item) > 2 else True))
    return found


@dataclass
class AdminPanel:
    """A page under /admin/<category>/<panel>; handler(req, category, panel, path_info)."""

    category: str
    category_label: str
    panel: str
    panel_label: str
    handler: Callable[..., Any]
    order: float = 50


def body_check(check: Callable[[Any], None]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Run ``check(req)`` before the body of a request to this handler is read or decoded.

    The check looks at the headers (``req.content_length``) and raises an HTTPError (413)
    for a body the handler would refuse anyway; it may also set ``req.max_content_length``
    (lower, or higher than the site's ``[codeyard] max_request_size`` for a handler that
    takes large bodies, such as a Git push), which bounds a body sent without a length too."""

    def mark(handler: Callable[..., Any]) -> Callable[..., Any]:
        handler.body_check = check  # type: ignore[attr-defined]
        return handler

    return mark


def csrf_exempt(handler: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a handler whose POSTs need no form token (machine protocols with their own auth)."""
    handler.csrf_exempt = True  # type: ignore[attr-defined]
    return handler


# ---------------------------------------------------------------------------
# Errors


class HTTPError(HTTPException):
    """An HTTP error with a title and a message a person can read."""

    code = 500
    title = "Error"

    def __init__(self, message: str = "", title: str | None = None, headers=None) -> None:
        super().__init__(message or self.title)
        self.message = message or self.title
        if title:
            self.title = title
        self.extra_headers = list(headers or [])

    @property
    def name(self) -> str:  # werkzeug's plain rendering uses .name
        return self.title

    def get_headers(self, environ=None, scope=None):
        return [("Content-Type", "text/plain; charset=utf-8"), *self.extra_headers]

    def get_body(self, environ=None, scope=None) -> str:
        return f"{self.code} {self.title}\n\n{self.message}\n"


class HTTPBadRequest(HTTPError):
    code = 400
    title = "Bad Request"


class HTTPUnauthorized(HTTPError):
    code = 401
    title = "Unauthorized"


class HTTPForbidden(HTTPError):
    code = 403
    title = "Forbidden"


class HTTPNotFound(HTTPError):
    code = 404
    title = "Not Found"


class HTTPMethodNotAllowed(HTTPError):
    code = 405
    title = "Method Not Allowed"


class HTTPRequestEntityTooLarge(HTTPError):
    code = 413
    title = "Request Entity Too Large"


class HTTPTooManyRequests(HTTPError):
    code = 429
    title = "Too Many Requests"


class HTTPInternalError(HTTPError):
    code = 500
    title = "Internal Server Error"


class HTTPServiceUnavailable(HTTPError):
    code = 503
    title = "Service Unavailable"
