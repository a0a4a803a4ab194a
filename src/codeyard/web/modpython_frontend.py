"""Apache mod_python front end: ``PythonHandler codeyard.web.modpython_frontend``.

Adapts a mod_python request to the WSGI application ``codeyard.web.wsgi:application``.
The site is configured with Trac's ``PythonOption`` names::

    <Location /projects>
        SetHandler mod_python
        PythonInterpreter codeyard
        PythonHandler codeyard.web.modpython_frontend
        PythonOption TracEnvParentDir /srv/projects
        PythonOption TracUriRoot /projects
    </Location>

``TracEnv``, ``TracEnvParentDir``, ``TracEnvIndexTemplate``, ``TracTemplateVars``
(space-separated ``key,value`` pairs) and ``TracLocale`` become the environ keys the
application reads; ``TracUriRoot`` is the mount point, which splits the request URI into
``SCRIPT_NAME`` and ``PATH_INFO``. The module imports without mod_python (which exists only
inside Apache), so it can be checked and tested anywhere.
"""

from __future__ import annotations

import sys
import urllib.parse
from collections.abc import Callable, Iterable
from typing import Any

OPTION_KEYS = {
    "TracEnv": "trac.env_path",
    "TracEnvParentDir": "trac.env_parent_dir",
    "TracEnvIndexTemplate": "trac.env_index_template",
    "TracTemplateVars": "trac.template_vars",
    "TracLocale": "trac.locale",
}
CHUNK = 64 * 1024


class RequestInput:
    """``wsgi.input`` reading the request body from Apache as the application asks for it."""

    def __init__(self, req: Any) -> None:
        self.req = req

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            return self.req.read()
        return self.req.read(size)

    def readline(self, size: int = -1) -> bytes:
        return self.req.readline(size) if size is not None and size >= 0 else self.req.readline()

    def readlines(self, hint: int = -1) -> list[bytes]:
        return self.req.readlines(hint) if hint is not None and hint >= 0 else self.req.readlines()

    def __iter__(self):
        while True:
            line = self.readline()
            if not line:
                return
            yield line

    def close(self) -> None:
        pass


class ErrorLog:
    """``wsgi.errors`` writing into Apache's error log."""

    def __init__(self, req: Any) -> None:
        self.req = req

    def write(self, text: str) -> None:
        for line in str(text).rstrip("\n").splitlines():
            self.req.log_error(line)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        pass


def _is_https(req: Any, cgi_env: dict) -> bool:
    is_https = getattr(req, "is_https", None)
    if callable(is_https):
        try:
            if is_https():
                return True
        except Exception:  # older mod_python without ssl hooks
            pass
    return str(cgi_env.get("HTTPS", "")).lower() in ("on", "1", "yes", "true")


def build_environ(req: Any, options: dict, cgi_env: dict, *, multithread: bool = True,
                  multiprocess: bool = True) -> dict:
    """The WSGI environ of a mod_python request (``cgi_env`` is ``apache.build_cgi_env(req)``)."""
    environ: dict[str, Any] = {str(k): str(v) for k, v in cgi_env.items()}
    for option, key in OPTION_KEYS.items():
        if option in options and options[option]:
            environ[key] = options[option]
    root = options.get("TracUriRoot")
    if root is not None:
        root = "/" + root.strip("/") if root.strip("/") else ""
        uri = environ.get("REQUEST_URI") or getattr(req, "unparsed_uri", "") or req.uri
        path = uri.split("?", 1)[0]
        if path != root and not path.startswith(root + "/"):
            raise ValueError(f"TracUriRoot is {root or '/'} but the request is for {path}")
        environ["SCRIPT_NAME"] = root
        environ["PATH_INFO"] = urllib.parse.unquote(path[len(root):], errors="surrogateescape")
    environ.setdefault("PATH_INFO", "")
    environ.setdefault("QUERY_STRING", getattr(req, "args", None) or "")
    user = getattr(req, "user", None)
    if user:
        environ["REMOTE_USER"] = user
    https = _is_https(req, cgi_env)
    if https:
        environ["HTTPS"] = "on"
    environ.update({
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "https" if https else "http",
        "wsgi.input": RequestInput(req),
        "wsgi.errors": ErrorLog(req),
        "wsgi.multithread": multithread,
        "wsgi.multiprocess": multiprocess,
        "wsgi.run_once": False,
        "codeyard.frontend": "mod_python",
    })
    return environ


class ResponseWriter:
    """``start_response`` and body writing onto a mod_python request."""

    def __init__(self, req: Any) -> None:
        self.req = req
        self.pending: tuple[str, list[tuple[str, str]]] | None = None
        self.sent = False

    def start_response(self, status: str, headers: list[tuple[str, str]], exc_info=None) -> Callable:
        if exc_info:
            try:
                if self.sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.pending is not None:
            raise AssertionError("start_response called twice without exc_info")
        self.pending = (status, list(headers))
        return self.write

    def _send_headers(self) -> None:
        if self.sent:
            return
        if self.pending is None:
            raise AssertionError("the application wrote a body before start_response")
        status, headers = self.pending
        self.req.status = int(status.split(" ", 1)[0])
        for name, value in headers:
            lower = name.lower()
            if lower == "content-type":
                self.req.content_type = value
            elif lower == "content-length":
                self.req.set_content_length(int(value))
            else:
                self.req.headers_out.add(name, value)
        self.sent = True

    def write(self, data: bytes) -> None:
        self._send_headers()
        if data:
            try:
                self.req.write(data)
            except OSError as exc:
                if "client closed connection" not in str(exc):
                    raise

    def finish(self) -> None:
        self._send_headers()


def serve(req: Any, app: Callable, environ: dict) -> None:
    """Run ``app`` for one request, streaming its response to Apache."""
    writer = ResponseWriter(req)
    result = app(environ, writer.start_response)
    try:
        for chunk in result:
            writer.write(chunk)
        writer.finish()
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()


def handler(req: Any) -> int:
    """mod_python's entry point."""
    from mod_python import apache

    from codeyard.web.wsgi import application

    try:
        threaded = apache.mpm_query(apache.AP_MPMQ_IS_THREADED) > 0
        forked = apache.mpm_query(apache.AP_MPMQ_IS_FORKED) > 0
    except Exception:  # not every build offers mpm_query
        threaded = forked = True
    options = dict(req.get_options())
    try:
        environ = build_environ(req, options, apache.build_cgi_env(req),
                                multithread=threaded, multiprocess=forked)
    except ValueError as exc:
        req.log_error(str(exc))
        return apache.HTTP_NOT_FOUND
    # PythonDebug On: a failing request shows its traceback (as [trac] debug does); only the
    # server's configuration can say so.
    if str(req.get_config().get("PythonDebug", "")).lower() in ("1", "on"):
        environ["codeyard.show_tracebacks"] = True
    serve(req, application, environ)
    return apache.OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit("This module is loaded by Apache: PythonHandler codeyard.web.modpython_frontend")
