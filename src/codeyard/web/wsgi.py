"""Site dispatch: ``application`` serves any number of projects, configured per request.

The WSGI environ says which project(s) to serve — ``codeyard.env_path`` / ``trac.env_path``
(one project), ``codeyard.env_parent_dir`` / ``trac.env_parent_dir`` (every environment in a
directory; the first path segment names the project and moves into ``SCRIPT_NAME``), or
``codeyard.env_paths`` / ``trac.env_paths`` (a list of project directories). Only when the
environ names none of them do the process variables ``TRAC_ENV`` / ``TRAC_ENV_PARENT_DIR``
apply. Nothing about the site is kept between requests except caches keyed by path.
"""

from __future__ import annotations

import fnmatch
import os
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from werkzeug.wrappers import Response

from codeyard import __version__
from codeyard.config import ConfigError, Configuration
from codeyard.env import (
    PROJECT_DESCR,
    PROJECT_NAME,
    EnvironmentError_,
    is_environment,
    open_environment,
)
from codeyard.util.lru import BoundedCache
from codeyard.web.api import HTTPBadRequest, HTTPError, HTTPInternalError, HTTPNotFound
from codeyard.web.request import Request

ENV_KEYS = ("codeyard.env_path", "trac.env_path", "codeyard.env_parent_dir", "trac.env_parent_dir",
            "codeyard.env_paths", "trac.env_paths")


@dataclass
class Site:
    """What one request says about the site it belongs to."""

    env_path: str | None = None
    parent_dir: str | None = None
    env_paths: list[str] = field(default_factory=list)
    index_template: str | None = None
    template_vars: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_environ(cls, environ: dict) -> Site:
        site = cls()
        has_env_keys = any(environ.get(key) for key in ENV_KEYS)
        site.env_path = environ.get("codeyard.env_path") or environ.get("trac.env_path")
        site.parent_dir = environ.get("codeyard.env_parent_dir") or environ.get("trac.env_parent_dir")
        paths = environ.get("codeyard.env_paths") or environ.get("trac.env_paths") or []
        if isinstance(paths, str):
            paths = [p for p in re.split(r"[,%s]" % re.escape(os.pathsep), paths) if p.strip()]
        site.env_paths = [os.path.abspath(p.strip()) for p in paths]
        site.index_template = environ.get("trac.env_index_template") or environ.get(
            "codeyard.env_index_template")
        if not has_env_keys:
            site.env_path = os.environ.get("TRAC_ENV") or None
            site.parent_dir = os.environ.get("TRAC_ENV_PARENT_DIR") or None
            if not site.index_template:
                site.index_template = os.environ.get("TRAC_ENV_INDEX_TEMPLATE") or None
        site.template_vars = parse_template_vars(environ.get("trac.template_vars"))
        if site.parent_dir:
            site.parent_dir = os.path.abspath(site.parent_dir)
        return site


def parse_template_vars(value: Any) -> dict[str, str]:
    """``a=1,b=2`` (mod_wsgi SetEnv), ``a,1 b,2`` (mod_python PythonOption), or a dict."""
    if not value:
        return {}
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    text = str(value).strip()
    out: dict[str, str] = {}
    if "=" in text:
        for pair in text.split(","):
            key, sep, val = pair.partition("=")
            if sep and key.strip():
                out[key.strip()] = val.strip()
    else:
        for pair in text.split():
            key, sep, val = pair.partition(",")
            if sep and key.strip():
                out[key.strip()] = val.strip()
    return out


# ---------------------------------------------------------------------------
# Project listing without opening databases


@dataclass(frozen=True)
class _Listed:
    stamp: Any
    is_env: bool
    config: Configuration | None = None
    error: str | None = None


# What each probed directory is (bounded: a parent directory of many thousands of projects
# still fits; entries of removed directories age out).
_listing = BoundedCache(20_000)


def ignore_patterns(parent: str) -> list[str]:
    """The names a parent directory's ``.tracignore`` hides (``.*`` without one), read again
    only when the file's ``stat`` changes."""
    def patterns(ignore: str) -> list[str]:
        with open(ignore, encoding="utf-8") as fh:
            lines = [line.strip() for line in fh]
        return [line for line in lines if line and not line.startswith("#")]

    try:
        return list(_ignore_files.by_stat(os.path.join(parent, ".tracignore"), patterns))
    except OSError:
        return [".*"]


_ignore_files = BoundedCache(256)  # .tracignore file -> (its stat, its patterns)


def _probe(path: str) -> _Listed:
    """Whether ``path`` is an environment, and its trac.ini, cached by modification times."""
    try:
        st = os.stat(path)
    except OSError:
        return _Listed(None, False)
    conf = os.path.join(path, "conf", "trac.ini")
    try:
        cst = os.stat(conf)
        conf_stamp: Any = (cst.st_mtime_ns, cst.st_size)
    except OSError:
        conf_stamp = None
    stamp = (st.st_mtime_ns, st.st_ino, conf_stamp)
    found = _listing.get(path)
    if found is not None and found.stamp == stamp:
        if found.config is None:
            return found
        try:
            with _reload_lock:
                found.config.reload_if_changed()  # inherited files
            return found
        except ConfigError as exc:
            listed = _Listed(stamp, True, None, str(exc))
    elif not is_environment(path):
        listed = _Listed(stamp, False)
    else:
        try:
            listed = _Listed(stamp, True, Configuration(conf))
        except ConfigError as exc:
            listed = _Listed(stamp, True, None, str(exc))
    _listing.put(path, listed)
    return listed


def project_names(parent: str) -> list[str]:
    return [name for name, _ in _project_dirs(parent)]


def _project_dirs(parent: str) -> list[tuple[str, _Listed]]:
    patterns = ignore_patterns(parent)
    try:
        entries = [e.name for e in os.scandir(parent) if e.is_dir()]
    except OSError:
        return []
    names = [n for n in entries if not any(fnmatch.fnmatch(n, p) for p in patterns)]
    probed = [(n, _probe(os.path.join(parent, n))) for n in names]
    return [(n, listed) for n, listed in probed if listed.is_env]


def project_info(name: str, path: str, href: str | None, listed: _Listed | None = None) -> dict[str, Any]:
    listed = listed or _probe(path)
    if listed.error or listed.config is None:
        return {"name": name, "description": listed.error or "not a project environment",
                "href": None, "dirname": name}
    return {"name": PROJECT_NAME(listed.config) or name, "description": PROJECT_DESCR(listed.config),
            "href": href, "dirname": name}


# The index of a large parent directory is rebuilt at most once a second per process
# unless the directory itself or its .tracignore changed (a project added, removed or
# hidden shows at once); a project's new name or description shows within the second.
INDEX_TTL = 1.0
_index_cache = BoundedCache(64)  # (site, base path) -> (time, directory stamp, listing)
_index_pages = BoundedCache(64)  # (site, base path, template, vars) -> (listing, page)
_reload_lock = threading.Lock()


def _dir_stamp(parent: str | None) -> tuple:
    stamps: list[Any] = []
    if parent:
        for path in (parent, os.path.join(parent, ".tracignore")):
            try:
                st = os.stat(path)
                stamps.append((st.st_mtime_ns, st.st_ino, st.st_size))
            except OSError:
                stamps.append(None)
    return tuple(stamps)


def site_projects(site: Site, base_path: str) -> list[dict[str, Any]]:
    key = (site.parent_dir, tuple(site.env_paths), base_path)
    now = time.monotonic()
    stamp = _dir_stamp(site.parent_dir)
    hit = _index_cache.get(key)
    if hit is not None and now - hit[0] < INDEX_TTL and hit[1] == stamp:
        return hit[2]
    projects = _list_projects(site, base_path)
    _index_cache.put(key, (now, stamp, projects))
    return projects


def _list_projects(site: Site, base_path: str) -> list[dict[str, Any]]:
    from urllib.parse import quote

    projects = []
    if site.parent_dir:
        for name, listed in _project_dirs(site.parent_dir):
            projects.append(project_info(name, os.path.join(site.parent_dir, name),
                                         f"{base_path}/{quote(name)}", listed))
    for path in site.env_paths:
        name = os.path.basename(path.rstrip("/"))
        if _probe(path).is_env:
            projects.append(project_info(name, path, f"{base_path}/{quote(name)}"))
    projects.sort(key=lambda p: p["name"].lower())
    return projects


def find_project(site: Site, name: str) -> str | None:
    if not name or name.startswith(".") or "/" in name or "\\" in name or "\0" in name:
        return None
    if site.parent_dir:
        if any(fnmatch.fnmatch(name, p) for p in ignore_patterns(site.parent_dir)):
            return None
        path = os.path.join(site.parent_dir, name)
        if os.path.isdir(path) and _probe(path).is_env:
            return path
    for path in site.env_paths:
        if os.path.basename(path.rstrip("/")) == name and _probe(path).is_env:
            return path
    return None


# ---------------------------------------------------------------------------
# The application


def check_path(environ: dict) -> str:
    """PATH_INFO as text; refuse invalid UTF-8, encoded backslashes, NUL and dot segments.

    An encoded slash is a slash: the server has decoded it in PATH_INFO already."""
    raw = environ.get("PATH_INFO", "")
    try:
        path = raw.encode("latin-1").decode("utf-8")
    except UnicodeEncodeError:
        path = raw  # already text
    except UnicodeDecodeError:
        raise HTTPBadRequest("The requested URL is not valid UTF-8.") from None
    request_uri = environ.get("REQUEST_URI") or environ.get("RAW_URI") or ""
    raw_path = request_uri.split("?", 1)[0].lower()
    if "%5c" in raw_path or "%00" in raw_path or "\0" in path:
        raise HTTPBadRequest("Encoded backslashes and NUL characters are not allowed in URLs.")
    if any(segment in (".", "..") for segment in path.split("/")) or "\\" in path:
        raise HTTPNotFound("No such page.")
    return path


def index_response(req: Request, site: Site) -> Response:
    from codeyard.web.chrome import site_template_env

    template = "index.html"
    directory = None
    if site.index_template:
        directory, template = os.path.split(os.path.abspath(site.index_template))
    projects = site_projects(site, req.script_root.rstrip("/"))
    # The page depends on the listing, the template and its variables only: while the listing
    # is reused, so is the page.
    body_key = (site.parent_dir, tuple(site.env_paths), req.script_root, site.index_template,
                tuple(sorted(site.template_vars.items())))
    cached = _index_pages.get(body_key)
    if cached is not None and cached[0] is projects:
        body = cached[1]
    else:
        data = {"projects": projects, "req": req, "href": req.script_root.rstrip("/") or "",
                "views": _view_links(req),
                "trac": {"version": __version__, "time": time.strftime("%Y-%m-%d %H:%M:%S")},
                "codeyard": {"version": __version__}}
        data.update(site.template_vars)
        body = site_template_env(directory).get_template(template).render(data)
        _index_pages.put(body_key, (projects, body))
    from codeyard.web.main import apply_site_headers

    content_type = "text/xml" if template.endswith(".xml") else "text/html"
    response = Response(body, content_type=content_type + "; charset=utf-8",
                        headers={"Cache-Control": "no-cache"})
    apply_site_headers(None, response)
    return response


def _view_links(req: Request) -> list[dict[str, str]]:
    from codeyard.web.site_views import site_views

    base = req.script_root.rstrip("/")
    return [{"name": v.name, "label": v.label, "href": f"{base}/?view={v.name}"}
            for v in site_views().values()]


def site_view_response(req: Request, site: Site, name: str) -> Response:
    """``/?view=NAME``: a page combining the projects (a ``site_views`` hook's)."""
    from codeyard.web.main import apply_site_headers
    from codeyard.web.site_views import SiteRequest, render_view, site_views

    view = site_views().get(name)
    if view is None:
        raise HTTPNotFound(f"There is no site view named {name!r} here.", title="No such page")
    base = req.script_root.rstrip("/")
    site_req = SiteRequest(req.environ, site, site_projects(site, base))
    result = view.render(site_req)
    if isinstance(result, Response):
        response = result
    else:
        template, data = result
        body = render_view(view, template, {
            "req": site_req, "href": base or "", "views": _view_links(req), "view": view,
            "codeyard": {"version": __version__}, **site.template_vars, **data})
        response = Response(body, content_type="text/html; charset=utf-8")
    response.headers["Cache-Control"] = "no-cache, private"
    apply_site_headers(None, response)
    return response


def site_dispatch(environ: dict) -> Response:
    from codeyard.web.main import dispatch

    site = Site.from_environ(environ)
    path = check_path(environ)
    if site.env_path:
        env_path = site.env_path
    elif site.parent_dir or site.env_paths:
        segments = path.lstrip("/").split("/", 1)
        name = segments[0]
        if not name:
            req = Request(environ)
            if req.args.get("view"):
                return site_view_response(req, site, req.args["view"])
            return index_response(req, site)
        found = find_project(site, name)
        if found is None:
            raise HTTPNotFound(f"There is no project named {name!r} here.", title="No such project")
        env_path = found
        rest = "/" + segments[1] if len(segments) > 1 else ""
        environ = dict(environ)
        environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "").rstrip("/") + "/" + name
        environ["PATH_INFO"] = rest.encode("utf-8").decode("latin-1")
    else:
        raise HTTPInternalError(
            "No project is configured: set codeyard.env_path, codeyard.env_parent_dir (or "
            "trac.env_path / trac.env_parent_dir) in the WSGI environ, or TRAC_ENV / "
            "TRAC_ENV_PARENT_DIR in the process environment.", title="Not configured")
    try:
        env = open_environment(env_path)
    except EnvironmentError_ as exc:
        raise HTTPInternalError(f"The project cannot be opened: {exc}",
                                title="Project unavailable") from None
    env.announce_served()
    return dispatch(env, environ)


def application(environ: dict, start_response):
    """The WSGI entry point (``codeyard.web.wsgi:application``)."""
    try:
        response = site_dispatch(environ)
    except HTTPError as exc:
        from codeyard.web.main import render_error

        response = render_error(Request(environ), exc)
    except Exception:
        import logging
        import traceback

        logging.getLogger("codeyard.web").error("site error:\n%s", traceback.format_exc())
        from codeyard.web.main import render_error

        response = render_error(Request(environ), HTTPInternalError(
            "Something went wrong while answering this request."))
    return response(environ, start_response)
