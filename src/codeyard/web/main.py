"""Serving one request inside one project: authentication, session, routing, CSRF,
the handler, rendering, and readable error pages."""

from __future__ import annotations

import re
import traceback
from typing import Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound, RequestEntityTooLarge
from werkzeug.routing import RequestRedirect
from werkzeug.wrappers import Response

from codeyard.config import ConfigError, ConfigSection, Option
from codeyard.env import DATABASE, DEBUG, EnvironmentError_
from codeyard.perm import PermissionCache, PermissionError_
from codeyard.web import chrome
from codeyard.web.api import (
    HTTPBadRequest,
    HTTPError,
    HTTPForbidden,
    HTTPInternalError,
    HTTPMethodNotAllowed,
    HTTPNotFound,
    HTTPRequestEntityTooLarge,
    HTTPServiceUnavailable,
    start_page_endpoints,
)
from codeyard.web.request import FORM_TOKEN_FIELD, Request, check_utf8
from codeyard.web.routing import DEFAULT_HANDLER_ENDPOINT, router

DEFAULT_HANDLER = Option(
    "trac", "default_handler", "WikiModule",
    "The page shown at the project's root: a route endpoint name or Trac's module name "
    "(`WikiModule`, `TimelineModule`, `RoadmapModule`, …). A user may choose another in "
    "the session attribute `default_handler`.")
FRAME_ANCESTORS = Option(
    "codeyard", "frame_ancestors", "'self'",
    "Who may show this project's pages in a frame: the `frame-ancestors` sources of the "
    "Content-Security-Policy header sent with every response (`'self'`, `'none'`, or "
    "origins such as `https://intranet.example.org`). Empty sends no framing policy.")
HTTP_HEADERS_SECTION = ConfigSection(
    "http-headers",
    "Response headers sent with every page of the project, `Name = value` (as in Trac). Names "
    "must be HTTP tokens; Content-Type, Content-Length, Location, ETag, Pragma, Cache-Control "
    "and Expires are refused. They replace codeyard's defaults (X-Content-Type-Options, "
    "Referrer-Policy, the framing policy) and add to a page's own headers.")


def ensure_ready(env) -> None:
    """Refuse (503) a project whose database must be upgraded; create own tables once for
    each database and set of enabled plugins (not again at every change of trac.ini)."""
    def make_ready() -> bool:
        key = (DATABASE(env.config), frozenset(name for name, _ in env.plugins.list_name_plugin()))
        if env.ready_for == key:
            return True
        try:
            env.check_ready()
        except EnvironmentError_ as exc:
            raise HTTPServiceUnavailable(str(exc), title="Upgrade needed") from None
        env.ensure_own_tables()
        env.ready_for = key
        return True

    env.memo("web.ready", make_ready)


def dispatch(env, environ: dict) -> Response:
    """Answer one request to the project ``env``: each step below has a name, and any
    failure becomes a readable error page."""
    from codeyard.db.api import hold_reads
    from codeyard.env import request_scope

    with request_scope():
        if environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            # A page's reads share one transaction, ended before the body is sent.
            with hold_reads():
                return _dispatch(env, environ)
        return _dispatch(env, environ)


def _dispatch(env, environ: dict) -> Response:
    from codeyard.web import session

    req = Request(environ, env)
    response: Response
    try:
        ensure_ready(env)
        route = match_route(req)
        check_body(req, route)
        check_encoding(req)
        authenticate(req)
        handler, args = route.result()
        check_form_token(req, handler)
        response = to_response(req, handler(req, **args))
        session.keep_messages_over_redirect(req, response)
        session.finish(req)
    except RequestRedirect as exc:
        response = req.redirect(exc.new_url, code=308)
    except Exception as exc:  # every failure becomes a readable page
        response = error_response(req, exc)
    finally:
        if "files" in req.__dict__:  # uploads parsed by the form: close their temp files
            req.close()
    apply_cookies(req, response)
    apply_site_headers(env, response)
    return response


class Route:
    """The handler a request goes to, or why there is none (raised once the user is known,
    so that a 404 page shows the user's own navigation)."""

    def __init__(self, handler=None, args=None, error: Exception | None = None) -> None:
        self.handler, self.args, self.error = handler, args or {}, error

    def result(self):
        if self.error is not None:
            raise self.error
        return self.handler, self.args


def match_route(req: Request) -> Route:
    the_router = router(req.env)
    try:
        endpoint, args = the_router.bind(req.environ).match()
    except Exception as exc:  # NotFound, MethodNotAllowed, RequestRedirect
        return Route(error=exc)
    req.endpoint = endpoint
    handler = default_handler if endpoint == DEFAULT_HANDLER_ENDPOINT else the_router.handlers[endpoint]
    return Route(handler, args)


def check_body(req: Request, route: Route) -> None:
    """Refuse a body larger than the site or the handler (its ``body_check``) allows,
    before any of it is read."""
    own_limit = getattr(route.handler, "request_size_limit", None)  # e.g. Bazaar pushes
    check = getattr(route.handler, "body_check", None)
    if check is not None and (req.content_length or req.environ.get("wsgi.input_terminated")):
        check(req)  # it may set its own limit (a Git push is larger than any form)
    limit = own_limit(req) if own_limit is not None else req.max_content_length
    if limit is not None and (req.content_length or 0) > limit:
        raise HTTPRequestEntityTooLarge(f"The request body is larger than {limit} bytes.")


def check_encoding(req: Request) -> None:
    """The query string and form fields must be UTF-8 text."""
    check_utf8(req.environ.get("QUERY_STRING", ""), "query string")
    if req.method == "POST" and req.mimetype == "application/x-www-form-urlencoded":
        check_utf8(req.get_data(cache=True), "form data")
    elif req.method == "POST" and req.mimetype == "multipart/form-data":
        # The multipart parser replaces undecodable bytes with U+FFFD: refuse those
        # fields rather than store text the user never typed.
        if any("\ufffd" in value for value in req.form.values()):
            raise HTTPBadRequest("The form data is not valid UTF-8.")


def authenticate(req: Request) -> None:
    from codeyard.web import auth

    req.authname = auth.authenticate(req) or "anonymous"
    req.perm = PermissionCache(req.env, req.authname)


def check_form_token(req: Request, handler) -> None:
    """Every POST carries the CSRF token of its form (unless the handler is exempt)."""
    if req.method == "POST" and not getattr(handler, "csrf_exempt", False):
        if not req.check_form_token():
            raise HTTPBadRequest(
                "Missing or invalid form token. Your session may have expired or cookies are "
                "disabled: reload the form and submit it again.", title="Invalid form token")


def to_response(req: Request, result: Any) -> Response:
    if isinstance(result, Response):
        return result
    if isinstance(result, tuple) and len(result) in (2, 3):
        template, data = result[0], result[1]
        status = result[2] if len(result) == 3 else 200
        return chrome.render(req, template, data, status=status)
    if isinstance(result, str):
        return Response(result, content_type="text/plain; charset=utf-8")
    raise TypeError(f"handler for {req.path} returned {type(result).__name__}")


def apply_cookies(req: Request, response: Response) -> None:
    for name, spec in req.outcookies.items():
        response.set_cookie(name, spec["value"], max_age=spec["max_age"], path=spec["path"],
                            secure=spec["secure"], httponly=spec["httponly"],
                            samesite=spec["samesite"], expires=spec.get("expires"),
                            domain=spec.get("domain"))
    if req.outcookies:
        response.headers["Cache-Control"] = "no-cache, private"


# Site-wide response headers: the defaults, then ``[http-headers]``

# As Trac: a header name is an RFC 7230 token, a value has no control characters but tab,
# and the headers that describe the body or the caching are not configurable.
_HEADER_NAME_RE = re.compile(r"[-0-9A-Za-z!#$%&'*+.^_`|~]+\Z")
_HEADER_VALUE_BAD_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
RESERVED_HEADERS = frozenset({"content-type", "content-length", "location", "etag", "pragma",
                              "cache-control", "expires"})
# Headers codeyard sends on its own; ``[http-headers]`` replaces them.
_DEFAULT_HEADER_NAMES = frozenset({"x-content-type-options", "referrer-policy",
                                   "x-frame-options", "content-security-policy"})


def configured_headers(env) -> list[tuple[str, str]]:
    """The valid ``[http-headers]`` of a project (invalid ones are logged once and dropped)."""

    def compute() -> list[tuple[str, str]]:
        headers, invalid = [], []
        for name, value in env.config.options("http-headers"):
            if (_HEADER_NAME_RE.match(name) and name.lower() not in RESERVED_HEADERS
                    and not _HEADER_VALUE_BAD_RE.search(value)):
                headers.append((name, value))
            else:
                invalid.append(f"{name!r}: {value!r}")
        if invalid:
            env.log.warning("[http-headers] invalid headers are ignored: %s", ", ".join(invalid))
        return headers

    return env.memo("web.http_headers", compute)


def default_headers(env) -> list[tuple[str, str]]:
    """What every response carries unless ``[http-headers]`` says otherwise (``env`` None:
    the pages outside any project, the project index and site errors)."""
    headers = [("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "same-origin")]
    frame_ancestors = FRAME_ANCESTORS(env.config) if env is not None else FRAME_ANCESTORS.default
    ancestors = " ".join(frame_ancestors.split())
    if ancestors:
        headers.append(("Content-Security-Policy", f"frame-ancestors {ancestors}"))
        legacy = {"'self'": "SAMEORIGIN", "'none'": "DENY"}.get(ancestors.lower())
        if legacy:  # for browsers that know no CSP; others ignore it next to frame-ancestors
            headers.append(("X-Frame-Options", legacy))
    return headers


def apply_site_headers(env, response: Response) -> None:
    try:
        configured = configured_headers(env) if env is not None else []
        defaults = default_headers(env)
    except Exception:  # an environment that could not be opened: the page still goes out
        configured, defaults = [], [("X-Content-Type-Options", "nosniff")]
    names = {name.lower() for name, _ in configured}
    headers = response.headers
    for name, value in defaults:
        if name.lower() in names:
            continue
        if name == "Content-Security-Policy" and name in headers:
            policy = headers[name]
            if "frame-ancestors" not in policy.lower():
                headers[name] = f"{policy.rstrip('; ')}; {value}"
        else:
            headers.setdefault(name, value)
    for name, value in configured:
        lower = name.lower()
        if lower == "content-security-policy" and name in headers:
            headers.add(name, value)  # a page's own policy stays; browsers enforce both
        elif lower in _DEFAULT_HEADER_NAMES:
            headers[name] = value
        else:
            headers.setdefault(name, value)


# ---------------------------------------------------------------------------
# The start page


def default_handler(req: Request):
    """/ — the project's start page: the ``[trac] default_handler`` route, else WikiStart."""
    handlers = router(req.env).handlers
    trac_names = start_page_endpoints(req.env)
    choices = [req.session.get("default_handler") if req.session is not None else None,
               DEFAULT_HANDLER(req.env.config) or "WikiModule", "WikiModule"]
    for name in filter(None, choices):
        for endpoint in (name, trac_names.get(name)):
            handler = handlers.get(endpoint) if endpoint else None
            if handler is not None:
                req.endpoint = endpoint
                return handler(req)
    return "start.html", {"start_text": req.env.hook.start_page_text(env=req.env, perm=req.perm)}


# ---------------------------------------------------------------------------
# Errors


def _as_http_error(req: Request, exc: Exception) -> tuple[HTTPError, str | None]:
    if isinstance(exc, HTTPError):
        return exc, None
    if isinstance(exc, PermissionError_):
        return HTTPForbidden(str(exc)), None
    if isinstance(exc, NotFound):
        return HTTPNotFound(f"No page at {req.path}."), None
    if isinstance(exc, MethodNotAllowed):
        return HTTPMethodNotAllowed(f"{req.method} is not allowed here.",
                                    headers=[("Allow", ", ".join(exc.valid_methods or []))]), None
    if isinstance(exc, RequestEntityTooLarge):
        return HTTPRequestEntityTooLarge("The request body is too large."), None
    if isinstance(exc, HTTPException) and exc.code:
        other = HTTPError(exc.description or "")
        other.code = exc.code
        other.title = exc.name
        return other, None
    if isinstance(exc, ConfigError):  # a file the administrator can mend: say what is wrong
        if req.env is not None:
            req.env.log.error("configuration error on %s %s: %s", req.method, req.path, exc)
        return HTTPInternalError(str(exc), title="Configuration error"), None
    tb = traceback.format_exc()
    return HTTPInternalError("Something went wrong while answering this request. The problem "
                             "has been logged."), tb


def error_response(req: Request, exc: Exception) -> Response:
    env = req.env
    error, tb = _as_http_error(req, exc)
    debug = False
    if env is not None:
        try:
            debug = DEBUG(env.config)
        except Exception:
            debug = False
        if tb is not None:
            env.log.error("internal error on %s %s:\n%s", req.method, req.path, tb)
    debug = debug or bool(req.environ.get("codeyard.show_tracebacks"))
    return render_error(req, error, tb if debug else None)


def _plugin_error_response(req: Request, error: HTTPError) -> Response | None:
    """A plugin's own answer for an error on its URLs (``error_response``), if any."""
    if req.env is None:
        return None
    try:
        return req.env.hook.error_response(req=req, error=error)
    except Exception:  # the site's own error page still goes out
        req.env.log.error("error_response failed", exc_info=True)
        return None


def render_error(req: Request, error: HTTPError, tb: str | None = None) -> Response:
    headers = list(getattr(error, "extra_headers", []))
    login_href = None
    if error.code == 403 and req.env is not None and not req.is_authenticated:
        try:
            login_href = req.url_for("login", referer=req.url)
        except Exception:
            login_href = None
    own = _plugin_error_response(req, error)
    if own is not None:
        response = own
    elif req.wants_html:
        data = {"error": error, "traceback": tb, "login_href": login_href,
                "title": f"{error.code} {error.title}"}
        body = None
        if req.env is not None and req.perm is not None:
            try:
                body = chrome.template_env(req.env).get_template("error.html").render(
                    {**chrome.page_context(req), **data})
            except Exception:
                body = None
        if body is None:
            body = chrome.site_template_env().get_template("site_error.html").render(data)
        response = Response(body, status=error.code, content_type="text/html; charset=utf-8")
    else:
        text = f"{error.code} {error.title}\n\n{error.message}\n"
        if login_href:
            text += f"\nLog in at {req.absolute(login_href)}\n"
        if tb:
            text += "\n" + tb
        response = Response(text, status=error.code, content_type="text/plain; charset=utf-8")
    for name, value in headers:
        response.headers[name] = value
    response.headers["Cache-Control"] = "no-cache"
    if req.env is None:  # a site error, outside any project (projects add theirs in dispatch)
        apply_site_headers(None, response)
    else:
        response.headers["X-Content-Type-Options"] = "nosniff"
    return response


FORM_TOKEN = FORM_TOKEN_FIELD  # re-exported for handlers building forms by hand
