"""The standalone Bazaar smart server: ``codeyard.hosting.bzr_wsgi:application``.

It serves a tree of Bazaar branches (standalone branches, shared repositories and their
branches) over the smart protocol on HTTP, as a front server mounts it::

    WSGIScriptAliasMatch ^.*/\\.bzr/smart$ /srv/www/cgi-bin/bzr.wsgi
    SetEnv bzr_wsgi.root /srv/bzr
    SetEnv bzr_wsgi.prefix /

Each request is configured by its WSGI environ:

``bzr_wsgi.root``
    the directory served (required); it must not lie inside a shared repository.
``bzr_wsgi.prefix``
    the URL path that maps to the root (default ``/``).
``bzr_wsgi.path_var``
    the environ key holding the request path (default: ``SCRIPT_NAME`` + ``PATH_INFO``, which
    every server gives; ``REQUEST_URI`` is missing under many).
``bzr_wsgi.readonly``
    ``true`` refuses every change, ``false`` allows them; by default only a request the
    front server authenticated (``REMOTE_USER``) may change anything.
``bzr_wsgi.max_request_size``
    the largest request body in bytes (default 1 GiB).

Under a server without ``SetEnv`` (gunicorn), ``make_application(root=…, prefix=…)`` gives an
application with those defaults: ``gunicorn 'codeyard.hosting.bzr_wsgi:make_application(root="/srv/bzr")'``.
"""

from __future__ import annotations

import logging
import posixpath
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, unquote_to_bytes

from codeyard.hosting import bzr_smart
from codeyard.hosting.bzr_smart import SMART_SUFFIX, ConfigurationError, RequestError

log = logging.getLogger(__name__)

ROOT = "bzr_wsgi.root"
PREFIX = "bzr_wsgi.prefix"
PATH_VAR = "bzr_wsgi.path_var"
READONLY = "bzr_wsgi.readonly"
MAX_REQUEST_SIZE = "bzr_wsgi.max_request_size"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _text_response(start_response, status: str, text: str, headers=()) -> list[bytes]:
    body = text.encode("utf-8")
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"),
                            ("Content-Length", str(len(body))), *headers])
    return [body]


_STATUS = {400: "400 Bad Request", 403: "403 Forbidden", 404: "404 Not Found",
           405: "405 Method Not Allowed", 411: "411 Length Required",
           413: "413 Request Entity Too Large", 500: "500 Internal Server Error"}


def parse_bool(value: Any, setting: str) -> bool:
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigurationError(f"{setting} = {value!r} is not a boolean (true or false)")


def _prefix(value: str) -> str:
    inner = value.strip("/")
    return f"/{inner}/" if inner else "/"


def request_path(environ: dict) -> str:
    """The URL-escaped request path, from ``bzr_wsgi.path_var`` or SCRIPT_NAME + PATH_INFO."""
    var = environ.get(PATH_VAR)
    if var:
        raw = str(environ.get(var) or "").split("?", 1)[0]
        data = unquote_to_bytes(raw)
    else:
        text = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        data = text.encode("latin-1", "replace")  # WSGI strings carry bytes as latin-1
    return quote(data, safe="/~!$&'()*+,;=:@")


def branch_relpath(path: str, prefix: str) -> str | None:
    """The branch path below the root of a request path ending in ``/.bzr/smart``, or None
    when the path is not one the root serves. ``..`` and ``.`` segments are refused."""
    if not path.startswith(prefix):
        if path + "/" != prefix:
            return None
        path = prefix
    rest = path[len(prefix):]
    if rest != SMART_SUFFIX and not rest.endswith("/" + SMART_SUFFIX):
        return None
    relpath = rest[:-len(SMART_SUFFIX)].strip("/")
    segments = relpath.split("/") if relpath else []
    for segment in segments:
        decoded = unquote_to_bytes(segment)
        if decoded in (b"", b".", b"..") or b"/" in decoded or b"\x00" in decoded:
            return None
    return posixpath.join(*segments) if segments else ""


def application(environ: dict, start_response) -> Iterable[bytes]:
    """/<prefix>/<branch path>/.bzr/smart — one smart request on the configured root."""
    prefix = _prefix(str(environ.get(PREFIX) or "/"))
    relpath = branch_relpath(request_path(environ), prefix)
    if relpath is None:
        return _text_response(start_response, _STATUS[404],
                              "Not a Bazaar smart server location (…/.bzr/smart below "
                              f"{prefix}).\n")
    if environ.get("REQUEST_METHOD") != "POST":
        return _text_response(start_response, _STATUS[405],
                              "The Bazaar smart server answers POST requests only.\n",
                              [("Allow", "POST")])
    try:
        server, limit = configured_server(environ)
    except ConfigurationError as exc:
        log.error("Bazaar smart server configuration: %s", exc)
        # brz shows the text of a smart error, not the body of an HTTP error.
        try:
            probe: bzr_smart.SmartRequest | None = bzr_smart.read_request(environ)
        except RequestError:
            probe = None
        data = bzr_smart.error_message(probe, f"The Bazaar smart server is misconfigured: {exc}")
        if probe is not None:
            probe.close()
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(len(data)))])
        return [data]
    try:
        request = bzr_smart.read_request(environ, limit)
    except RequestError as exc:
        return _text_response(start_response, _STATUS.get(exc.status, "400 Bad Request"),
                              exc.message + "\n")
    return serve(server, request, relpath, start_response)


def configured_server(environ: dict) -> tuple[bzr_smart.SmartServer, int]:
    """The server of the request's root and its request size limit."""
    root = environ.get(ROOT) or ""
    readonly_setting = environ.get(READONLY)
    if readonly_setting is None:
        readonly = not environ.get("REMOTE_USER")
    else:
        readonly = parse_bool(readonly_setting, READONLY)
    limit_text = environ.get(MAX_REQUEST_SIZE)
    try:
        limit = int(limit_text) if limit_text else bzr_smart.DEFAULT_MAX_REQUEST_SIZE
    except ValueError:
        raise ConfigurationError(f"{MAX_REQUEST_SIZE} = {limit_text!r} is not a number "
                                 "of bytes") from None
    return bzr_smart.smart_server(root, readonly), limit


def serve(server: bzr_smart.SmartServer, request: bzr_smart.SmartRequest, relpath: str,
          start_response, lock_dir: str | None = None, after=None) -> Iterable[bytes]:
    """Answer one smart request; a write request runs under the write lock of ``lock_dir``
    (the root by default) and, when it may have moved a branch, ``after()`` runs before
    the reply goes out."""
    body = answer(server, request, relpath, lock_dir or server.root, after)
    start_response("200 OK", [("Content-Type", "application/octet-stream"),
                              ("Content-Length", str(len(body)))])
    return body


def answer(server: bzr_smart.SmartServer, request: bzr_smart.SmartRequest, relpath: str,
           lock_dir: str, after=None, readonly_message: str = "") -> bzr_smart.ReplyBody:
    """The reply to one request. On a read-only server a request that would change
    anything is answered by a ``PermissionDenied`` error before it runs."""
    from codeyard.hosting.gate import write_lock

    try:
        if not request.writes:
            return server.reply(request, relpath)
        if server.readonly:
            return bzr_smart.refusal(request, readonly_message or "This server is read-only.")
        if request.verb in bzr_smart.LOCK_VERBS:
            # Waiting for another push's branch lock must not hold the write lock that
            # push needs for its next request: a lock request takes no write lock.
            body = server.reply(request, relpath)
        else:
            with write_lock(lock_dir):
                body = server.reply(request, relpath)
        if after is not None and request.moves_tips:
            after()
        return body
    finally:
        request.close()


def make_application(root: str, prefix: str = "/", readonly: bool | None = None,
                     path_var: str | None = None, max_request_size: int | None = None):
    """``application`` with these settings as defaults (the environ's own still win)."""
    defaults: dict[str, Any] = {ROOT: root, PREFIX: prefix}
    if readonly is not None:
        defaults[READONLY] = "true" if readonly else "false"
    if path_var:
        defaults[PATH_VAR] = path_var
    if max_request_size:
        defaults[MAX_REQUEST_SIZE] = str(max_request_size)

    def configured(environ: dict, start_response) -> Iterable[bytes]:
        for key, value in defaults.items():
            environ.setdefault(key, value)
        return application(environ, start_response)

    return configured
