"""The page chrome: Jinja2 templates, navigation, the page context, static files.

Templates are looked up in the project's ``templates/``, then ``[inherit] templates_dir``,
then the plugins' template directories, then the built-in ones, so a project overrides any
page, and ``site_head.html`` / ``site_header.html`` / ``site_footer.html`` add to every page.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
import threading
import time
from datetime import datetime
from email.utils import formatdate, parsedate_to_datetime
from typing import Any

import jinja2
from markupsafe import Markup
from werkzeug.wrappers import Response

from codeyard import __version__
from codeyard.config import ConfigSection, IntOption, Option
from codeyard.env import (
    INHERIT_HTDOCS,
    INHERIT_TEMPLATES,
    PROJECT_FOOTER,
    PROJECT_ICON,
    PROJECT_URL,
    REFRESH_CHECK,
)
from codeyard.util.lru import BoundedCache
from codeyard.web.api import HTTPBadRequest, HTTPNotFound, NavItem
from codeyard.web.routing import router

PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILTIN_TEMPLATES = os.path.join(PACKAGE_DIR, "templates")
BUILTIN_HTDOCS = os.path.join(PACKAGE_DIR, "htdocs")

LOGO_SRC = Option("header_logo", "src", "site/your_project_logo.png",
                  "Logo image: a URL, or `site/…` (the project's htdocs) / `common/…` (built-in).")
LOGO_ALT = Option("header_logo", "alt", "(please configure the [header_logo] section in trac.ini)",
                  "Alternative text of the logo image.")
LOGO_LINK = Option("header_logo", "link", "", "Where the logo links to (the project's start page if empty).")
LOGO_WIDTH = IntOption("header_logo", "width", -1, "Width of the logo in pixels (-1: the image's own).")
LOGO_HEIGHT = IntOption("header_logo", "height", -1, "Height of the logo in pixels (-1: the image's own).")
STATIC_MAX_AGE = IntOption("codeyard", "static_max_age", 7 * 86400,
                           "Seconds browsers may cache files under /chrome/ without asking again.")
HEADER_LOGO_SECTION = ConfigSection("header_logo", "The logo in the page header.")
MAINNAV_SECTION = ConfigSection("mainnav", "Main navigation: `name = disabled`, `name.label`, `name.href`, `name.order`.")
METANAV_SECTION = ConfigSection("metanav", "Meta navigation (login, preferences…), configured as [mainnav].")


# ---------------------------------------------------------------------------
# Templates


def _filters(jenv: jinja2.Environment) -> None:
    jenv.filters["datetime"] = format_datetime
    jenv.filters["date"] = format_date
    jenv.globals["site_part"] = lambda name: _site_part(jenv, name)


_BLANK = re.compile(r"(\s|\{#.*?#\})*", re.S)


def _site_part(jenv: jinja2.Environment, name: str) -> jinja2.Template | None:
    """The template a page includes to let a project add to every page (``site_head.html``
    …), or None when there is none or it holds only comments: including a template copies
    the page's whole context, three times a page for the empty ones we ship. The answer is
    kept on the template object, which Jinja replaces when the file changes."""
    try:
        template = jenv.get_template(name)
    except jinja2.TemplateNotFound:
        return None
    blank = getattr(template, "_codeyard_blank", None)
    if blank is None:
        try:
            with open(template.filename or "", encoding="utf-8") as stream:
                source = stream.read()
            blank = _BLANK.fullmatch(source) is not None
        except OSError:
            blank = False
        template._codeyard_blank = blank  # type: ignore[attr-defined]
    return None if blank else template


def format_date(value: Any, tz=None) -> str:
    return format_datetime(value, tz, "%Y-%m-%d")


MINUTES = "%Y-%m-%d %H:%M"  # what ticket and milestone pages show of a moment


def format_datetime(value: Any, tz=None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """Microseconds since the epoch (or a datetime) in the given time zone."""
    from datetime import UTC

    if value in (None, "", 0):
        return ""
    if not isinstance(value, datetime):
        value = datetime.fromtimestamp(int(value) / 1_000_000, UTC)
    return value.astimezone(tz or UTC).strftime(fmt)


def _dir_stamp(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return 0


def package_template_dirs(env) -> list[str]:
    """The ``templates/`` directory beside each enabled plugin module, in plugin name order:
    a feature's pages are found the way its code is, with nothing to declare."""
    found: list[str] = []
    for _name, plugin in sorted(env.plugins.list_name_plugin(), key=lambda item: item[0]):
        module_file = getattr(plugin, "__file__", None)
        if not module_file:
            continue
        directory = os.path.join(os.path.dirname(module_file), "templates")
        if directory != BUILTIN_TEMPLATES and directory not in found and os.path.isdir(directory):
            found.append(directory)
    return found


# CPython 3.11 can fail compiling in two threads at once ("SystemError: AST constructor
# recursion depth mismatch"): templates are compiled one at a time (once each, then cached).
_COMPILE_LOCK = threading.Lock()


# What a plain dict has as attributes (its methods): ``d.items`` is the method, as in Jinja.
_DICT_ATTRIBUTES = frozenset(dir(dict))


class _Environment(jinja2.Environment):
    def __init__(self, **kw: Any) -> None:
        super().__init__(bytecode_cache=_SHARED_CODE, **kw)

    def getattr(self, obj: Any, attribute: str) -> Any:
        """``obj.name`` in a template. Jinja tries the attribute, then the item; a plain
        dict has no attribute but its methods, so its item is looked up at once. The answer
        is the same, without raising and catching an AttributeError for each of the
        hundreds of ``row.name`` a page reads from dicts."""
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)

    def _compile(self, source: str, filename: str) -> Any:
        with _COMPILE_LOCK:
            return super()._compile(source, filename)


class _CheckedLoader(jinja2.FileSystemLoader):
    """A project's templates, each file checked for changes at most every ``interval``
    seconds (``[codeyard] config_check_interval``, as trac.ini is) rather than at every
    page: a page renders half a dozen templates, and each check is a ``stat``."""

    def __init__(self, searchpath: list[str], interval: float) -> None:
        super().__init__(searchpath)
        self.interval = interval

    def get_source(self, environment: jinja2.Environment, template: str) -> Any:
        source, filename, uptodate = super().get_source(environment, template)
        if self.interval <= 0:
            return source, filename, uptodate
        interval = self.interval
        checked = [time.monotonic()]

        def throttled() -> bool:
            now = time.monotonic()
            if now - checked[0] < interval:
                return True
            if uptodate():
                checked[0] = now
                return True
            return False

        return source, filename, throttled


class SharedCode(jinja2.BytecodeCache):
    """Compiled templates shared by every project's Jinja environment in the process.

    Each project has an environment of its own (its template directories, rebuilt when its
    configuration changes), and each compiled every template again: some 20 ms a template,
    a few hundred milliseconds for a project's first pages, paid again at every change of its
    trac.ini. The code of a template depends only on its source and on the compiler's settings,
    which are part of the key; the source's checksum decides whether a kept code still holds.
    The code objects are kept as they are (no marshalling), a bounded number of them."""

    def __init__(self, size: int = 1024) -> None:
        self._codes = BoundedCache(size)

    def get_bucket(self, environment: jinja2.Environment, name: str, filename: str | None,
                   source: str) -> jinja2.bccache.Bucket:
        key = (_compiler_settings(environment), name, filename)
        bucket = jinja2.bccache.Bucket(environment, key, self.get_source_checksum(source))  # type: ignore[arg-type]
        kept = self._codes.get(key)
        if kept is not None and kept[0] == bucket.checksum:
            bucket.code = kept[1]
        return bucket

    def set_bucket(self, bucket: jinja2.bccache.Bucket) -> None:
        if bucket.code is not None:
            self._codes.put(bucket.key, (bucket.checksum, bucket.code))

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:  # pragma: no cover - unused
        pass

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:  # pragma: no cover - unused
        pass


def _compiler_settings(jenv: jinja2.Environment) -> tuple:
    """What, besides the source, decides a template's compiled code. Filters are part of it
    because the compiler folds constant expressions through them."""
    return (jenv.block_start_string, jenv.block_end_string, jenv.variable_start_string,
            jenv.variable_end_string, jenv.comment_start_string, jenv.comment_end_string,
            jenv.line_statement_prefix, jenv.line_comment_prefix, jenv.trim_blocks,
            jenv.lstrip_blocks, jenv.newline_sequence, jenv.keep_trailing_newline,
            jenv.autoescape, jenv.optimized, jenv.finalize, jenv.is_async,
            tuple(sorted(jenv.extensions)),
            tuple(sorted((name, id(f)) for name, f in jenv.filters.items())),
            tuple(sorted((name, id(f)) for name, f in jenv.tests.items())))


_SHARED_CODE = SharedCode()


def template_env(env) -> jinja2.Environment:
    """The Jinja2 environment of one project (rebuilt when its configuration changes, or
    when a template is added to the project's templates directory)."""
    def build() -> jinja2.Environment:
        dirs = [env.templates_dir]
        shared = INHERIT_TEMPLATES(env.config)
        if shared:
            dirs.append(shared)
        for result in env.hook.template_dirs():
            dirs.extend(result or ())
        dirs.extend(package_template_dirs(env))
        dirs.append(BUILTIN_TEMPLATES)
        jenv = _Environment(loader=_CheckedLoader([d for d in dirs if d],
                                                  REFRESH_CHECK(env.config)),
                            autoescape=True, auto_reload=True,
                            trim_blocks=True, lstrip_blocks=True)
        _filters(jenv)
        return jenv

    # the templates directory is looked at once per request (a page renders several templates)
    return env.per_request("web.jinja", lambda: env.memo_stamped(
        "web.jinja", _dir_stamp(env.templates_dir), build))




# Jinja environments for pages outside any project: the built-in templates (key None) and
# each index template directory a front server names (a handful; bounded all the same).
_site_envs = BoundedCache(32)


def site_template_env(extra_dir: str | None = None) -> jinja2.Environment:
    """Templates for pages outside any project (project index, site errors)."""
    return _site_envs.get_or_make(extra_dir, lambda: _make_site_env(extra_dir))


def _make_site_env(directory: str | None) -> jinja2.Environment:
    if directory is None:
        jenv = _Environment(loader=jinja2.FileSystemLoader([BUILTIN_TEMPLATES]),
                                  autoescape=True, trim_blocks=True, lstrip_blocks=True)
    else:
        jenv = _Environment(loader=jinja2.FileSystemLoader([directory, BUILTIN_TEMPLATES]),
                                  autoescape=True, auto_reload=True)
    _filters(jenv)
    return jenv


# ---------------------------------------------------------------------------
# Navigation and page context


def navigation(req) -> dict[str, list[NavItem]]:
    """Main and meta navigation items, with the ``[mainnav]``/``[metanav]`` overrides applied.

    A third category, ``search``, is the header's search box (Trac's ``form#search``): the
    first item offered there names the page the box submits to.
    """
    items: dict[str, list[NavItem]] = {"mainnav": [], "metanav": [], "search": []}
    env = req.env
    # the [mainnav] and [metanav] sections, read once per configuration
    overrides = env.memo("web.nav_overrides", lambda: {
        section: dict(env.config.options(section)) for section in ("mainnav", "metanav")})
    for result in env.hook.navigation_items(req=req):
        for item in result or ():
            section = item.category
            if section not in items:
                continue
            if section == "search":
                items[section].append(item)
                continue
            given = overrides[section]
            if given.get(item.name, "").strip().lower() in ("disabled", "false", "no", "off"):
                continue
            label = given.get(item.name + ".label", "")
            href = given.get(item.name + ".href", "")
            order = given.get(item.name + ".order", "")
            if label:
                item.label = label
            if href:
                item.href = href if href.startswith(("/", "http:", "https:")) else req.href(href)
            try:
                if order:
                    item.order = float(order)
            except ValueError:
                pass
            if req.endpoint and (item.name == req.endpoint or req.endpoint.startswith(item.name + ".")):
                item.active = True
            items[section].append(item)
    for section in items.values():
        section.sort(key=lambda i: (i.order, i.name))
    return items


def logo(req) -> dict[str, Any] | None:
    config = req.env.config
    src = LOGO_SRC(config).strip()
    if not src:
        return None
    if src.startswith(("http://", "https://", "/")):
        url = src
    else:
        prefix, _, rest = src.partition("/")
        if prefix == "site" and not os.path.isfile(os.path.join(req.env.htdocs_dir, rest)):
            return None  # the placeholder of a new project: show the name instead
        url = chrome_url(req, src)
    return {"src": url, "alt": LOGO_ALT(config), "link": LOGO_LINK(config) or req.url_for("start"),
            "width": LOGO_WIDTH(config) if LOGO_WIDTH(config) > 0 else None,
            "height": LOGO_HEIGHT(config) if LOGO_HEIGHT(config) > 0 else None}


def chrome_url(req, path: str) -> str:
    """A configured static file (``common/…``, ``site/…``, or a URL) as a URL."""
    if path.startswith(("http://", "https://", "/")):
        return path
    prefix, _, rest = path.partition("/")
    return req.url_for("chrome", prefix=prefix, path=rest)


def page_context(req) -> dict[str, Any]:
    env = req.env
    if "nav" not in req.chrome or not req.chrome["nav"]:
        req.chrome["nav"] = navigation(req)
    if req.env is not None and not req.chrome.get("messages_taken"):
        from codeyard.web.session import take_kept_messages

        req.chrome["messages_taken"] = True
        take_kept_messages(req)
    req.chrome["logo"] = logo(req)
    icon = PROJECT_ICON(env.config)
    return {
        "req": req,
        "env": env,
        "project": {"name": env.project_name, "descr": env.project_description,
                    "url": PROJECT_URL(env.config), "footer": Markup(PROJECT_FOOTER(env.config)),
                    "icon": chrome_url(req, icon) if icon else None},
        "chrome": req.chrome,
        "href": req.href,
        "abs_href": req.abs_href,
        "form_token": req.form_token,
        "authname": req.authname,
        "perm": req.perm,
        "session": req.session,
        "version": __version__,
        "chrome_url": lambda path: chrome_url(req, path),
        "url_for": req.url_for,
        "has_route": lambda endpoint: endpoint in router(env).handlers,
        "tz": req.tz,
    }


# A piece of a page at least this large is sent as ready bytes (see ``splice``).
SPLICE_MIN = 32 * 1024


class Spliced:
    """A large piece of a page, as text and as its UTF-8 bytes (made once, then kept)."""

    __slots__ = ("html", "encoded")

    def __init__(self, html: Markup) -> None:
        self.html = html
        self.encoded = str(html).encode("utf-8")


def splice(req, piece: Spliced | Markup) -> Markup:
    """What a template outputs for a large ready piece of the page (a diff table of
    hundreds of kilobytes): a marker that ``render`` replaces by the piece's bytes, so
    the piece is neither copied into the page's text nor encoded again on each view. A
    small piece is itself. Markers carry a token of the request, which a page's own
    text cannot guess."""
    if isinstance(piece, Markup):
        if len(piece) < SPLICE_MIN:
            return piece
        piece = Spliced(piece)
    elif len(piece.encoded) < SPLICE_MIN:
        return piece.html
    pieces = req.__dict__.setdefault("_spliced", [])
    if not pieces:
        req.__dict__["_splice_token"] = secrets.token_hex(8)
    pieces.append(piece.encoded)
    return Markup(f"\x00{req.__dict__['_splice_token']}:{len(pieces) - 1}\x00")


def _spliced_body(req, body: str) -> str | list[bytes]:
    pieces = req.__dict__.get("_spliced")
    if not pieces:
        return body
    token = f"\x00{req.__dict__['_splice_token']}:"
    parts = body.split(token)
    chunks = [parts[0].encode("utf-8")]
    for part in parts[1:]:
        index, _nul, rest = part.partition("\x00")
        chunks.append(pieces[int(index)])
        chunks.append(rest.encode("utf-8"))
    return chunks


def render(req, template: str, data: dict[str, Any] | None = None, status: int = 200,
           content_type: str = "text/html; charset=utf-8") -> Response:
    context = page_context(req)
    context.update(data or {})
    body = template_env(req.env).get_template(template).render(context)
    response = Response(_spliced_body(req, body), status=status, content_type=content_type)
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


# ---------------------------------------------------------------------------
# Static files


def static_roots(env) -> dict[str, list[str]]:
    def compute():
        roots: dict[str, list[str]] = {"common": [BUILTIN_HTDOCS], "site": [env.htdocs_dir]}
        shared = INHERIT_HTDOCS(env.config)
        if shared:
            roots["shared"] = [shared]
        for result in env.hook.static_dirs():
            for prefix, directory in (result or {}).items():
                roots.setdefault(prefix, []).insert(0 if prefix != "common" else 1, directory)
        return roots

    return env.memo("web.static_roots", compute)


def find_static(roots: list[str], path: str) -> str | None:
    """The file for ``path`` inside one of ``roots``; nothing outside them, ever."""
    parts = path.split("/")
    if (not path or "\\" in path or "\0" in path
            or any(p in ("", ".", "..") or p.startswith(".") for p in parts)):
        return None
    for root in roots:
        root_real = os.path.realpath(root)
        candidate = os.path.realpath(os.path.join(root_real, *parts))
        if not candidate.startswith(root_real + os.sep):
            continue
        try:
            st = os.stat(candidate)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode):
            return candidate
    return None


def serve_static(req, prefix: str, path: str) -> Response:
    """/chrome/<prefix>/<path> — a static file with validators and long-lived caching."""
    if "\\" in path or "\0" in path:
        raise HTTPBadRequest("Invalid file name.")
    roots = static_roots(req.env).get(prefix)
    filename = find_static(roots, path) if roots else None
    if filename is None:
        raise HTTPNotFound(f"No file {prefix}/{path}.")
    return send_file(req, filename, STATIC_MAX_AGE(req.env.config))


def send_file(req, filename: str, max_age: int) -> Response:
    import mimetypes

    st = os.stat(filename)
    etag = f'"{st.st_mtime_ns:x}-{st.st_size:x}"'
    last_modified = formatdate(int(st.st_mtime), usegmt=True)
    headers = {"ETag": etag, "Last-Modified": last_modified,
               "Cache-Control": f"public, max-age={max_age}",
               "X-Content-Type-Options": "nosniff"}
    if not_modified(req, etag, int(st.st_mtime)):
        response = Response(status=304)
        response.headers.update(headers)
        return response
    mimetype = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    if mimetype.startswith("text/") or mimetype in ("application/javascript", "image/svg+xml"):
        mimetype += "; charset=utf-8"
    with open(filename, "rb") as fh:
        data = fh.read()
    response = Response(data if req.method != "HEAD" else b"", content_type=mimetype)
    response.headers.update(headers)
    response.headers["Content-Length"] = str(st.st_size)
    return response


def not_modified(req, etag: str, mtime: int) -> bool:
    given = req.headers.get("If-None-Match")
    if given:
        return any(tag.strip() in (etag, "*", "W/" + etag) for tag in given.split(","))
    since = req.headers.get("If-Modified-Since")
    if since:
        try:
            return int(parsedate_to_datetime(since).timestamp()) >= mtime
        except (TypeError, ValueError, IndexError, OverflowError):
            return False
    return False


def now_text() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S")
