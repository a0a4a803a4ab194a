"""The source browser: ``/browser[/repo][/path]`` (the repository index, a directory
listing, a file with highlighting and blame, raw downloads) and ``/export/rev/[repo/]path``."""

from __future__ import annotations

import hashlib
import sys
from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup
from werkzeug.routing import Rule
from werkzeug.wrappers import Response

from codeyard.attachment.web import (
    MAX_PREVIEW_SIZE,
    SANDBOX_CSP,
    _content_headers,
    _disposition,
    guess_type,
    is_textual,
)
from codeyard.config import BoolOption, ListOption, options_in
from codeyard.core import hookimpl
from codeyard.util.highlight import highlight_lines
from codeyard.util.lru import BoundedCache
from codeyard.vcs import api
from codeyard.vcs import web_util as U
from codeyard.vcs.web_index import repository_rows
from codeyard.web.api import HTTPBadRequest, HTTPNotFound, NavItem
from codeyard.web.chrome import template_env
from codeyard.wiki.api import format_context
from codeyard.wiki.formatter import format_many
from codeyard.wiki.render_cache import render_texts_html

RENDER_UNSAFE = BoolOption(
    "browser", "render_unsafe_content", False,
    "Serve raw repository files with their own content type, so that browsers render "
    "HTML, SVG and the like on this site. Leave off unless every committer is trusted.")
HIDE_PROPERTIES = ListOption(
    "browser", "hide_properties", "svk:merge",
    "Versioned properties not shown in the browser.")

ORDERS = ("name", "size", "date", "author")
SNIFF_BYTES = 8192
CODE_ROWS = 64  # rendered code tables kept per process


def browser_page(req, path: str = ""):
    """/browser[/repo][/path] — the repository index, a directory or a file, at ``?rev=``;
    ``?format=raw|txt`` downloads a file, ``?annotate=blame`` shows who changed each line."""
    repos_list = U.repositories(req)
    with U.readable_errors():
        if "\x00" in path:
            raise api.InvalidPath("Invalid path: NUL character")
        api.normalize_path(path)
    if not api.normalize_path(path):
        names = repos_list.visible_names()
        has_default = "" in repos_list.get_all_repositories()
        if not has_default or len(names) > (1 if "" in names else 0):
            req.perm.require("BROWSER_VIEW")
            rows = repository_rows(req, repos_list, _order(req), _desc(req))
            if not has_default:
                U.add_stylesheets(req)
                return "vcs/browser.html", {"title": "Repository Index", "index": rows,
                                            "node": None, **_order_data(req)}
            others = [r for r in rows if r["name"]]
            try:
                data = _node_page(req, "", "")
            except HTTPNotFound as exc:
                if exc.title != U.UNAVAILABLE:
                    raise
                # the default repository is gone: the others can still be browsed
                req.add_warning(exc.message)
                U.add_stylesheets(req)
                return "vcs/browser.html", {"title": "Repository Index", "index": others,
                                            "node": None, **_order_data(req)}
            data["index"] = others
            if isinstance(data, Response):
                return data
            default = U.repositories(req).get_repository("")
            data["access"] = _access(req, default, "") if default is not None else []
            return "vcs/browser.html", data
    reponame, repos, rest = U.find(req, path)
    with repos.consistent():
        result = _node_page(req, reponame, rest, repos)
    if isinstance(result, Response):
        return result
    if repos is not None:
        result["access"] = _access(req, repos, rest)
    return "vcs/browser.html", result


def _access(req, repos: api.Repository, path: str) -> list[tuple[str, str]]:
    """How to get this repository (or branch) with its own client, from the hosting
    plugins: ``git clone URL``, ``brz branch URL``."""
    return [pair for found in req.env.hook.repository_access_commands(req=req, repos=repos,
                                                                      path=path)
            for pair in found or ()]


def _order(req) -> str:
    order = (req.args.get("order") or "name").lower()
    return order if order in ORDERS else "name"


def _desc(req) -> bool:
    return str(req.args.get("desc", "")).lower() in ("1", "true", "yes", "on")


def _order_data(req) -> dict:
    return {"order": _order(req), "desc": _desc(req)}


def _node_page(req, reponame: str, path: str, repos: api.Repository | None = None):
    if repos is None:
        with U.readable_errors():
            repos = U.repositories(req).get_repository(reponame)
        if repos is None:
            raise HTTPNotFound("No default repository defined.", title="No such repository")
    req.perm.require("BROWSER_VIEW", U.repository_resource(reponame))
    given_rev = req.args.get("rev") or None
    with U.readable_errors(reponame):
        rev = U.normalize_rev(repos, given_rev)
        if rev is None:  # an empty repository
            U.add_stylesheets(req)
            return {"title": reponame or "Browse Source", "reponame": reponame, "node": None,
                    "empty": True, "index": None, "crumbs": U.path_links(req, "browser",
                                                                         reponame, "")}
        node = repos.get_node(path, rev)
    resource = U.source_resource(reponame, path, given_rev)
    fmt = req.args.get("format")
    if node.isfile:
        req.perm.require("FILE_VIEW", resource)
        if fmt in ("raw", "txt"):
            return send_node(req, node, as_text=fmt == "txt")
    elif fmt:
        raise HTTPBadRequest(f"No {fmt!r} download for a directory.", title="Bad format")
    last = None
    if node.isfile:  # a directory's page shows its entries' last changes instead
        with U.readable_errors(reponame):
            last = U.changeset_info(req, repos).get(node.created_rev)
    display_rev = given_rev and repos.display_rev(rev)
    data: dict[str, Any] = {
        "title": "/".join(p for p in (reponame, path) if p) or "Browse Source",
        "reponame": reponame, "repos": repos, "path": path, "node": node, "rev": rev,
        "given_rev": given_rev, "display_rev": display_rev, "index": None,
        "crumbs": U.path_links(req, "browser", reponame, path, given_rev),
        "last": last, "last_age": U.pretty_age(last.date if last else None),
        "last_href": U.changeset_url(req, reponame, node.created_rev, repos=repos),
        "last_rev": repos.short_rev(node.created_rev),
        "log_href": U.url(req, "log", reponame, path, given_rev),
        "can_log": req.perm.has("LOG_VIEW", resource),
        "properties": _properties(req, repos, node),
        **_order_data(req),
    }
    with U.readable_errors(reponame):
        if node.isdir:
            data.update(_listing(req, reponame, repos, node, rev, given_rev))
        else:
            data.update(_file(req, reponame, repos, node, given_rev))
    U.add_stylesheets(req)
    return data


def _properties(req, repos: api.Repository, node: api.Node) -> dict[str, Any]:
    """The node's versioned properties to show: as a plugin renders them, else as text."""
    hidden = HIDE_PROPERTIES(req.env.config)
    shown: dict[str, Any] = {}
    for name, value in node.get_properties().items():
        if name in hidden:
            continue
        rendered = req.env.hook.render_node_property(req=req, repos=repos, node=node,
                                                      name=name, value=value)
        shown[name] = rendered if rendered is not None else value
    return shown


def _listing(req, reponame, repos, node, rev: str, given_rev) -> dict:
    order, desc = _order(req), _desc(req)
    rows_html = U.kept_view(req, repos, "browser", (reponame, node.path, rev, given_rev, order,
                                                    desc),
                            lambda: _dir_rows(req, reponame, repos, node, given_rev, order, desc))
    parent = None
    if node.path:
        parent = U.url(req, "browser", reponame, node.path.rpartition("/")[0], given_rev)
    columns = []
    for key, label in (("name", "Name"), ("size", "Size"), ("date", "Age"),
                       ("author", "Author")):
        columns.append({"key": key, "label": label, "active": key == order,
                        "href": U.url(req, "browser", reponame, node.path, given_rev,
                                      order=key if key != "name" else None,
                                      desc="1" if key == order and not desc else None)})
    return {"kind": "dir", "rows_html": rows_html, "parent_href": parent, "columns": columns}


def _dir_rows(req, reponame, repos, node, given_rev, order: str, desc: bool) -> U.Kept:
    """The rows of a directory's entries (kept per process by ``U.kept_view``: they follow
    only the revision, the messages' links and the ages)."""
    info = U.changeset_info(req, repos)
    entries = list(node.get_entries())
    info.prefetch([e.created_rev for e in entries])  # the entries' last changes, one query
    now = datetime.now(UTC)
    ctx = format_context(req, U.repository_resource(reponame))
    changes = [info.get(entry.created_rev) for entry in entries]
    texts = [U.shorten_line(change.message.strip().split("\n")[0])
             if change and change.message else "" for change in changes]
    probes, before = U.texts_stamp(req.env, texts)
    # One rendering for all the entries' messages, kept as a log page's are.
    messages = render_texts_html(ctx, "oneliner", texts,
                                 lambda: format_many(ctx, texts, oneliner=True, shorten=True))
    rows = []
    for entry, change, message in zip(entries, changes, messages, strict=True):
        rows.append({
            "name": entry.name, "isdir": entry.isdir,
            "href": U.url(req, "browser", reponame, entry.path, given_rev),
            "size": None if entry.isdir else entry.get_content_length(),
            "rev": entry.created_rev, "short_rev": repos.short_rev(entry.created_rev),
            "rev_href": U.changeset_url(req, reponame, entry.created_rev, repos=repos),
            "date": change.date if change else None,
            "age": U.pretty_age(change.date, now) if change else "",
            "author": change.author if change else "",
            "message": message,
        })
    keys = {"name": lambda r: r["name"].lower(), "size": lambda r: r["size"] or 0,
            "date": lambda r: r["date"].timestamp() if r["date"] else 0,
            "author": lambda r: (r["author"] or "").lower()}
    rows.sort(key=keys[order], reverse=desc)
    rows.sort(key=lambda r: not r["isdir"])  # directories first, as Trac lists them
    for r in rows:
        r["pretty_size"] = U.pretty_size(r["size"])
    macro = template_env(req.env).get_template("vcs/_dir_rows.html").module.rows  # type: ignore[attr-defined]
    html = Markup(macro(rows, req.tz))
    return U.Kept(html, probes, before, U.ages_expire((r["date"] for r in rows), now))


def _file(req, reponame, repos, node, given_rev) -> dict:
    size = node.get_content_length() or 0
    mimetype = node.get_content_type() or guess_type(node.name)
    raw_href = U.url(req, "browser", reponame, node.path, given_rev, format="raw")
    data: dict[str, Any] = {
        "kind": "file", "size": size, "pretty_size": U.pretty_size(size), "mimetype": mimetype,
        "raw_href": raw_href,
        "txt_href": U.url(req, "browser", reponame, node.path, given_rev, format="txt"),
        "annotate_href": U.url(req, "browser", reponame, node.path, given_rev,
                               annotate="blame"),
        "plain_href": U.url(req, "browser", reponame, node.path, given_rev),
        "annotate": req.args.get("annotate") == "blame",
        "lines": None, "too_large": False, "binary": False,
    }
    limit = MAX_PREVIEW_SIZE(req.env.config)
    stream = node.get_content()
    try:
        head = stream.read(SNIFF_BYTES) if stream is not None else b""
        if b"\0" in head or (not _decodes(head) and not is_textual(mimetype)):
            data["binary"] = True
            return data
        if size > limit:
            data["too_large"] = True
            data["limit"] = U.pretty_size(limit)
            return data
        content = head + (stream.read(limit - len(head) + 1) if stream is not None else b"")
    finally:
        if stream is not None and hasattr(stream, "close"):
            stream.close()
    text = _decode(content)
    data["lines"] = highlight_lines(node.name, mimetype, text)
    data["marks"] = parse_marks(req.args.get("marks") or "", len(data["lines"]))
    if data["annotate"]:
        data["blame"] = _blame(req, reponame, repos, node, len(data["lines"]))
    else:
        data["code_rows"] = _code_rows(req, node.name, mimetype, text, data["lines"],
                                       data["marks"])
    return data


def _code_rows(req, name: str, mimetype: str, text: str, lines: list, marks: set[int]
               ) -> Markup:
    """The code table's rows, kept per process by the file's content and the marks."""
    jenv = template_env(req.env)
    key = (id(jenv), name, mimetype,
           hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=20).digest(),
           tuple(sorted(marks)))
    cache = req.env.memo("vcs.code_rows", lambda: BoundedCache(CODE_ROWS))

    def make() -> Markup:
        macro = jenv.get_template("vcs/_code_rows.html").module.rows  # type: ignore[attr-defined]
        return Markup(macro(lines, marks))
    return cache.get_or_make(key, make)


def parse_marks(text: str, count: int) -> set[int]:
    """Trac's ``marks=1-3,7``: the line numbers to highlight (bad pieces ignored)."""
    marked: set[int] = set()
    for piece in text.split(","):
        first, _, last = piece.strip().partition("-")
        if not first.isdigit() or (last and not last.isdigit()):
            continue
        start, stop = int(first), int(last or first)
        marked.update(range(max(1, start), min(count, stop) + 1))
    return marked


def _decodes(head: bytes) -> bool:
    if not head:
        return True
    try:
        head.decode("utf-8")
        return True
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 4


def _decode(content: bytes) -> str:
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return content.decode("latin-1")


def _blame(req, reponame, repos, node, count: int) -> list[dict]:
    annotations = node.get_annotations()
    info = U.changeset_info(req, repos)
    revs = [a.rev for a in annotations]
    info.prefetch(revs)
    rows = []
    previous = None
    for i in range(count):
        rev = revs[i] if i < len(revs) else None
        change = info.get(rev) if rev else None
        rows.append({
            "rev": rev, "short": repos.short_rev(rev) if rev else "",
            "href": U.changeset_url(req, reponame, rev, repos=repos) if rev else None,
            "author": (change.author.split(" <")[0] or change.author) if change else "",
            "title": (f"{change.author}, {change.date:%Y-%m-%d}: "
                      f"{U.shorten_line(change.message.strip().splitlines()[0] if change.message.strip() else '')}"
                      if change else ""),
            "first": rev != previous,
        })
        previous = rev
    return rows


def send_node(req, node: api.Node, as_text: bool = False) -> Response:
    """A file's content, streamed, with a type that never lets it run as part of the site."""
    mimetype = node.get_content_type() or guess_type(node.name)
    unsafe_ok = RENDER_UNSAFE(req.env.config)
    stream = node.get_processed_content()
    if stream is None:
        raise HTTPNotFound(f"No content for /{node.path}")
    head = stream.read(SNIFF_BYTES)
    content_type, kind = _content_headers(mimetype, head, unsafe_ok, as_text)
    size = node.processed_length()

    def body():
        try:
            if req.method == "HEAD":
                return
            yield head
            while True:
                chunk = stream.read(65536)
                if not chunk:
                    break
                yield chunk
        finally:
            if hasattr(stream, "close"):
                stream.close()

    response = Response(body(), content_type=content_type, direct_passthrough=True)
    if size is not None:
        response.headers["Content-Length"] = str(size)
    response.headers["Content-Disposition"] = _disposition(kind, node.name)
    response.headers["X-Content-Type-Options"] = "nosniff"
    if not unsafe_ok:
        response.headers["Content-Security-Policy"] = SANDBOX_CSP
    response.headers["Cache-Control"] = "private, no-cache"
    return response


def export_page(req, rev: str, path: str = ""):
    """/export/<rev>/[repo/]path — a file's content at a revision (Trac's export links)."""
    reponame, repos, rest = U.find(req, path)
    req.perm.require("BROWSER_VIEW", U.repository_resource(reponame))
    with U.readable_errors(reponame):
        node = repos.get_node(rest, U.normalize_rev(repos, rev))
    req.perm.require("FILE_VIEW", U.source_resource(reponame, rest, rev))
    if not node.isfile:
        raise HTTPNotFound(f"/{rest} is a directory.", title="Not a file")
    return send_node(req, node)


# -- hooks


@hookimpl
def web_routes():
    return [
        (Rule("/browser", endpoint="browser"), browser_page),
        (Rule("/browser/<path:path>", endpoint="browser"), browser_page),
        (Rule("/export/<rev>/<path:path>", endpoint="export"), export_page),
    ]


@hookimpl
def navigation_items(req):
    if req.endpoint in ("browser", "log", "changeset", "export"):
        active = True
    else:
        active = False
    try:
        names = U.repositories(req).get_all_repositories()
    except Exception:
        return []
    if names and any(req.perm.has("BROWSER_VIEW", U.repository_resource(n)) for n in names):
        return [NavItem("mainnav", "browser", "Browse Source", req.url_for("browser"),
                        order=35, active=active)]
    return []


@hookimpl
def start_pages():
    return {"BrowserModule": "browser"}


@hookimpl
def config_options():
    return options_in(sys.modules[__name__])

