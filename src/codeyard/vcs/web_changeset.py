"""Changesets and diffs: ``/changeset/<rev>[/repo][/path]`` (a changeset, optionally
restricted to a path) and ``/changeset?old_path=&old=&new_path=&new=`` (the differences
between any two revisions or paths); ``?format=diff`` (a unified diff) and ``?format=zip``
(the changed files) download them."""

from __future__ import annotations

import hashlib
import io
import sys
import zipfile
from dataclasses import astuple, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup
from werkzeug.routing import Rule
from werkzeug.wrappers import Response

from codeyard.attachment.web import _disposition
from codeyard.config import BoolOption, IntOption, options_in
from codeyard.core import hookimpl
from codeyard.util.diff import DiffOptions, diff_hunks, unified_diff
from codeyard.util.lru import BoundedCache
from codeyard.vcs import api
from codeyard.vcs import web_util as U
from codeyard.web.api import HTTPBadRequest, HTTPNotFound
from codeyard.web.chrome import SPLICE_MIN, Spliced, splice, template_env
from codeyard.wiki.api import format_context
from codeyard.wiki.formatter import format_to_html
from codeyard.wiki.render_cache import render_texts_html

MAX_DIFF_BYTES = IntOption(
    "changeset", "max_diff_bytes", 10_000_000,
    "Largest total size (old and new content, in bytes) of the files whose differences a "
    "changeset page shows inline; past it only the list of changed files is shown "
    "(0 for no limit).")
MAX_DIFF_FILES = IntOption(
    "changeset", "max_diff_files", 0,
    "Most files whose differences a changeset page shows inline (0 for no limit).")
WIKI_FORMAT_MESSAGES = BoolOption(
    "changeset", "wiki_format_messages", True,
    "Show changeset messages as wiki text (otherwise as preformatted text).")
MAX_ZIP_BYTES = 100 * 1024 * 1024  # past this a zip or diff download is refused, not built
RENDERED_DIFFS = 32  # rendered file diffs kept per process
MAX_CACHED_DIFF = 4 * 1024 * 1024  # bigger rendered diffs are not kept

CHANGE_LABELS = {api.ADD: "added", api.DELETE: "deleted", api.EDIT: "modified",
                 api.COPY: "copied", api.MOVE: "moved"}


@dataclass
class FileDiff:
    """One changed path of the page: its change, both sides, and the rendered diff."""

    path: str
    kind: str
    change: str
    old_path: str | None = None
    old_rev: str | None = None
    new_rev: str | None = None
    old_node: api.Node | None = None
    new_node: api.Node | None = None
    state: str = "pending"  # shown, binary, too-large, skipped, forbidden, dir, same
    old_href: str | None = None
    new_href: str | None = None
    label: str = ""
    html: Markup | None = None  # the rendered diff
    diff_key: tuple | None = None  # where the diff cache keeps it (``_diff_key``)
    properties: list[tuple[str, str | None, str | None]] = field(default_factory=list)


def changeset_page(req, rev: str | None = None, rest: str = ""):
    """/changeset/<rev>[/repo][/path], /changeset?old_path=&old=&new_path=&new= — a
    changeset, or the differences between two revisions or paths."""
    args = req.args
    if rev is None and any(args.get(k) for k in ("old", "old_path", "new", "new_path")):
        return _diff_page(req)
    if rev is None:
        rev = ""
    reponame, repos, path = U.find(req, rest)
    with repos.consistent():
        return _changeset_page(req, rev, reponame, repos, path)


def _changeset_page(req, rev: str, reponame: str, repos, path: str):
    args = req.args
    with U.readable_errors(reponame):
        nrev = U.normalize_rev(repos, rev or None)
        if nrev is None:
            raise HTTPNotFound("This repository has no changesets yet.", title="Empty repository")
        req.perm.require("CHANGESET_VIEW", U.changeset_resource(reponame, nrev))
    fmt = args.get("format")
    if fmt in ("diff", "zip"):
        _changeset, files = _changeset_files(reponame, repos, nrev, path)
        if fmt == "diff":
            return _diff_download(req, files, f"Changeset_{repos.short_rev(nrev)}.diff")
        return _zip_download(req, reponame, files, f"Changeset_{repos.short_rev(nrev)}.zip")
    if fmt:
        raise HTTPBadRequest(f"Unknown format {fmt!r}: use diff or zip.", title="Bad format")
    fresh: dict[tuple, tuple[Spliced | Markup, bool]] = {}
    # Kept per process like a log page: a revision's changes, diffs' places and states,
    # message and neighbours follow only the branch tips, the message's links, the ages and
    # the reader's rights, which must be the same for every file (else each is checked).
    allowed = req.perm.has("FILE_VIEW", U.source_resource(reponame, path, nrev))
    view = U.kept_view(req, repos, "changeset",
                       (reponame, path, nrev, tuple(_keep_query(req).items()), allowed),
                       lambda: _changeset_view(req, reponame, repos, path, nrev, fresh),
                       uniform=("CHANGESET_VIEW", "FILE_VIEW"))
    U.add_stylesheets(req)
    return "vcs/changeset.html", {**view, "repos": repos,
                                  "files": _with_diffs(req, repos, view, fresh)}


def _changeset_files(reponame: str, repos, nrev: str, path: str
                     ) -> tuple[api.Changeset, list[FileDiff]]:
    """A revision and its changed paths (under ``path``), both sides opened."""
    with U.readable_errors(reponame):
        changeset = repos.get_changeset(nrev)
        parent = changeset.parents[0] if changeset.parents else None
        files = [_file_from_change(c, parent, nrev) for c in repos.get_changes(nrev)
                 if _under(c.path, path) or (c.base_path and _under(c.base_path, path))]
        _open_nodes(repos, files)
    return changeset, files


def _changeset_view(req, reponame: str, repos, path: str, nrev: str,
                    fresh: dict[tuple, tuple[Spliced | Markup, bool]]) -> U.Kept:
    """What the changeset page shows but the diffs' tables (those go to ``fresh`` and
    the diff cache, under each file's ``diff_key``), as ``U.kept_view`` keeps it."""
    changeset, files = _changeset_files(reponame, repos, nrev, path)
    with U.readable_errors(reponame):
        prev_rev = repos.previous_rev(nrev, path)
        next_rev = repos.next_rev(nrev, path)
    message = changeset.message or ""
    wiki = WIKI_FORMAT_MESSAGES(req.env.config)
    probes, before = U.texts_stamp(req.env, [message] if wiki else [])
    ctx = format_context(req, U.changeset_resource(reponame, nrev))
    data = _diff_data(req, reponame, repos, files, fresh)
    query = data["style_args"]
    whole = "/".join(x for x in (reponame, path) if x) or "/"
    now = datetime.now(UTC)
    data.update({
        "reponame": reponame, "path": path, "rev": nrev,
        "title": f"Changeset {repos.display_rev(nrev)}", "mode": "changeset",
        "changeset": changeset, "display_rev": repos.display_rev(nrev),
        # kept as the log's messages are: by the text, where and for whom, while nothing
        # its links and macros depend on changed
        "message_html": (render_texts_html(ctx, "changeset", [message],
                                           lambda: [format_to_html(ctx, message)])[0]
                         if wiki else None),
        "age": U.pretty_age(changeset.date, now),
        "parents": [{"rev": p, "short": repos.short_rev(p),
                     "href": U.changeset_url(req, reponame, p, repos=repos),
                     "diff_href": req.url_for("changeset", old=repos.display_rev(p),
                                              old_path=whole, new=repos.display_rev(nrev),
                                              new_path=whole)}
                    for p in changeset.parents],
        "prev_href": U.changeset_url(req, reponame, prev_rev, path, repos=repos, **query) if prev_rev else None,
        "next_href": U.changeset_url(req, reponame, next_rev, path, repos=repos, **query) if next_rev else None,
        "diff_href": U.changeset_url(req, reponame, nrev, path, repos=repos, format="diff",
                                     **_diff_args(req)),
        "zip_href": U.changeset_url(req, reponame, nrev, path, repos=repos, format="zip"),
        "form_action": U.changeset_url(req, reponame, nrev, path, repos=repos),
        "hidden": [],
    })
    # Kept without the opened nodes (they hold the backend's trees).
    data["files"] = [replace(f, old_node=None, new_node=None) for f in files]
    return U.Kept(data, probes, before, U.ages_expire([changeset.date], now))


def _diff_page(req):
    args = req.args
    new_full = args.get("new_path") or args.get("old_path") or ""
    old_full = args.get("old_path") or new_full
    new_name, repos, new_path = U.find(req, new_full)
    old_name, old_repos, old_path = U.find(req, old_full)
    if old_name != new_name:
        raise HTTPBadRequest("Both sides of a diff must be in the same repository.",
                             title="Invalid diff")
    with U.readable_errors(new_name):
        new_rev = U.normalize_rev(repos, args.get("new") or None)
        old_rev = U.normalize_rev(repos, args.get("old") or None) if args.get("old") else new_rev
        if new_rev is None:
            raise HTTPNotFound("This repository has no changesets yet.", title="Empty repository")
        for p, r in ((old_path, old_rev), (new_path, new_rev)):
            req.perm.require("CHANGESET_VIEW", U.changeset_resource(new_name, r))
            repos.get_node(p, r)  # 404 for a side that is not there
        files = []
        for old_node, new_node, kind, change in repos.get_changes_between(
                old_path, old_rev, new_path, new_rev):
            path = (new_node or old_node).path
            files.append(FileDiff(path, kind, change,
                                  old_path=old_node.path if old_node else None,
                                  old_rev=old_rev if old_node else None,
                                  new_rev=new_rev if new_node else None,
                                  old_node=old_node, new_node=new_node))
    show = repos.display_rev
    if old_path == new_path:
        title = f"Diff [{show(old_rev)}:{show(new_rev)}] for /{new_path}"
    else:
        title = f"Diff from /{old_path}@{show(old_rev)} to /{new_path}@{show(new_rev)}"
    fmt = args.get("format")
    name = f"diff-{repos.short_rev(old_rev)}-{repos.short_rev(new_rev)}"
    if fmt == "diff":
        return _diff_download(req, files, name + ".diff")
    if fmt == "zip":
        return _zip_download(req, new_name, files, name + ".zip")
    if fmt:
        raise HTTPBadRequest(f"Unknown format {fmt!r}: use diff or zip.", title="Bad format")
    fresh: dict[tuple, tuple[Spliced | Markup, bool]] = {}
    data = _diff_data(req, new_name, repos, files, fresh)
    data["files"] = _with_diffs(req, repos, data, fresh)
    sides = {"old_path": old_full or "/", "old": args.get("old") or None,
             "new_path": new_full or "/", "new": args.get("new") or None}
    data.update({
        "title": title, "mode": "diff", "repos": repos, "reponame": new_name,
        "old_path": old_path, "new_path": new_path,
        "old_rev": show(old_rev), "new_rev": show(new_rev),
        "old_href": U.url(req, "browser", new_name, old_path, show(old_rev)),
        "new_href": U.url(req, "browser", new_name, new_path, show(new_rev)),
        "diff_href": req.url_for("changeset", format="diff", **sides, **_diff_args(req)),
        "zip_href": req.url_for("changeset", format="zip", **sides),
        "form_action": req.url_for("changeset"),
        "hidden": [(k, v) for k, v in sides.items() if v],
    })
    U.add_stylesheets(req)
    return "vcs/changeset.html", data


def _under(path: str, prefix: str) -> bool:
    return not prefix or path == prefix or path.startswith(prefix + "/")


def _file_from_change(change: api.Change, parent: str | None, rev: str) -> FileDiff:
    base_rev = change.base_rev or parent
    if change.change == api.ADD:
        return FileDiff(change.path, change.kind, change.change, new_rev=rev)
    if change.change == api.DELETE:
        return FileDiff(change.path, change.kind, change.change,
                        old_path=change.base_path or change.path, old_rev=base_rev)
    return FileDiff(change.path, change.kind, change.change,
                    old_path=change.base_path or change.path, old_rev=base_rev, new_rev=rev)


def _open_nodes(repos: api.Repository, files: list[FileDiff]) -> None:
    for f in files:
        try:
            if f.old_path is not None and f.old_rev:
                f.old_node = repos.get_node(f.old_path, f.old_rev)
            if f.new_rev:
                f.new_node = repos.get_node(f.path, f.new_rev)
        except api.NoSuchNode:
            pass


def _read(node: api.Node | None, limit: int) -> bytes | None:
    """The content of a file node (b"" for a missing side), None past ``limit`` bytes."""
    if node is None:
        return b""
    size = node.get_content_length() or 0
    if limit and size > limit:
        return None
    stream = node.get_content()
    if stream is None:
        return b""
    try:
        return stream.read()
    finally:
        if hasattr(stream, "close"):
            stream.close()


def _contents(f: FileDiff) -> tuple[bytes, bytes]:
    """Both sides' whole contents (b"" for a missing side)."""
    old, new = _read(f.old_node, 0), _read(f.new_node, 0)
    assert old is not None and new is not None  # no limit given
    return old, new


def _lines(content: bytes) -> list[str]:
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        text = content.decode("latin-1")
    return text.splitlines()


def _is_binary(content: bytes) -> bool:
    return b"\0" in content[:8192]


def _sized(f: FileDiff) -> int:
    return sum((n.get_content_length() or 0) for n in (f.old_node, f.new_node) if n is not None)


def _style(req) -> str:
    return "sidebyside" if req.args.get("style") == "sidebyside" else "inline"


def _diff_data(req, reponame: str, repos: api.Repository, files: list[FileDiff],
               fresh: dict[tuple, tuple[Spliced | Markup, bool]]) -> dict:
    """Each file's links, properties and state; a diff to show gets its ``diff_key``, its
    table is in the diff cache or, rendered now, in ``fresh`` (``_with_diffs`` puts the
    tables in)."""
    options = DiffOptions.from_args(req.args)
    style = _style(req)
    max_bytes = MAX_DIFF_BYTES(req.env.config)
    max_files = MAX_DIFF_FILES(req.env.config)
    total = sum(_sized(f) for f in files if f.kind == api.FILE)
    summarized = bool((max_bytes and total > max_bytes) or
                      (max_files and sum(f.kind == api.FILE for f in files) > max_files))
    for f in files:
        f.label = CHANGE_LABELS.get(f.change, f.change)
        if f.old_node is not None:
            f.old_href = U.url(req, "browser", reponame, f.old_node.path,
                               repos.display_rev(f.old_rev or f.old_node.rev))
        if f.new_node is not None:
            f.new_href = U.url(req, "browser", reponame, f.new_node.path,
                               repos.display_rev(f.new_rev or f.new_node.rev))
        f.properties = _property_changes(f.old_node, f.new_node)
        if f.kind != api.FILE:
            # Directories are not opened: the change says where each side was.
            if f.old_path is not None and f.old_rev:
                f.old_href = U.url(req, "browser", reponame, f.old_path,
                                   repos.display_rev(f.old_rev))
            if f.new_rev:
                f.new_href = U.url(req, "browser", reponame, f.path, repos.display_rev(f.new_rev))
            f.state = "dir"
            continue
        allowed = all(req.perm.has("FILE_VIEW", U.source_resource(reponame, n.path, n.rev))
                      for n in (f.old_node, f.new_node) if n is not None)
        if not allowed:
            f.state = "forbidden"
            continue
        if summarized:
            f.state = "skipped"
            continue
        if max_bytes and any((n.get_content_length() or 0) > max_bytes
                             for n in (f.old_node, f.new_node) if n is not None):
            f.state = "too-large"
            continue
        # A diff seen before is found by the contents' ids, without reading them; without
        # ids, by the contents' digests.
        contents = None
        ids: tuple | None = _content_ids(repos, f)
        if ids is None:
            contents = _contents(f)
            ids = tuple(hashlib.sha1(side).digest() for side in contents)
        key = _diff_key(req, repos, f, ids, options, style)
        found = _diff_cache(req).get(key)
        if found is None:
            old, new = contents or _contents(f)
            if _is_binary(old) or _is_binary(new):
                f.state = "binary"
                continue
            found = fresh[key] = _rendered_diff(req, repos, f, old, new, options, style, key)
        f.diff_key = key
        f.state = "shown" if found[1] else "same"
    return {"files": files, "style": style, "options": options, "summarized": summarized,
            "style_args": _keep_query(req)}


def _with_diffs(req, repos: api.Repository, data: dict,
                fresh: dict[tuple, tuple[Spliced | Markup, bool]]) -> list[FileDiff]:
    """The files of ``data`` (``_diff_data``'s) with their diffs' tables: rendered for this
    request, from the diff cache, or (gone from it since the page was kept) rendered again."""
    options, style = data["options"], data["style"]
    shown = []
    for f in data["files"]:
        if f.diff_key is None:
            shown.append(f)
            continue
        found = fresh.get(f.diff_key) or _diff_cache(req).get(f.diff_key)
        if found is None:
            opened = replace(f)
            with U.readable_errors(repos.name):
                _open_nodes(repos, [opened])
            old, new = _contents(opened)
            found = _rendered_diff(req, repos, f, old, new, options, style, f.diff_key)
        shown.append(replace(f, html=splice(req, found[0])))
    return shown


def _content_ids(repos: api.Repository, f: FileDiff) -> tuple[str, str] | None:
    """The ids of both sides' contents ("" for a missing side) when the backend knows them
    without reading (``Node.content_id``), else None."""
    ids = []
    for node in (f.old_node, f.new_node):
        if node is None:
            ids.append("")
            continue
        content_id = node.content_id
        if not content_id:
            return None
        ids.append(f"{type(repos).__name__}:{content_id}")
    return ids[0], ids[1]


def _labels(repos: api.Repository, f: FileDiff) -> tuple[str, str]:
    return (f"{f.old_path} ({repos.short_rev(f.old_rev) if f.old_rev else ''})",
            f"{f.path} ({repos.short_rev(f.new_rev) if f.new_rev else ''})")


def _diff_key(req, repos: api.Repository, f: FileDiff, digests: tuple, options: DiffOptions,
              style: str) -> tuple:
    return (*digests, astuple(options), style, *_labels(repos, f), id(template_env(req.env)))


def _diff_cache(req) -> BoundedCache:
    return req.env.memo("vcs.rendered_diffs", lambda: BoundedCache(RENDERED_DIFFS))


def _rendered_diff(req, repos: api.Repository, f: FileDiff, old: bytes, new: bytes,
                   options: DiffOptions, style: str, key: tuple
                   ) -> tuple[Spliced | Markup, bool]:
    """The diff table of two contents and whether they differ, kept per process under
    ``key`` (``_diff_key``: the contents' ids or digests, the options and the labels): a
    changeset's diff is the same for every reader (permissions are checked before), so a
    big one is computed once, not per view. Binary contents never come here, so a kept
    diff stands for a text one."""
    old_label, new_label = _labels(repos, f)
    hunks = diff_hunks(_lines(old), _lines(new), options)
    html = Markup(template_env(req.env).get_template("_diff.html").module.render(  # type: ignore[attr-defined]
        hunks, style, old_label, new_label))
    result: tuple[Spliced | Markup, bool] = (
        Spliced(html) if len(html) >= SPLICE_MIN else html, bool(hunks))
    if len(html) <= MAX_CACHED_DIFF:
        _diff_cache(req).put(key, result)
    return result


def _property_changes(old: api.Node | None, new: api.Node | None
                      ) -> list[tuple[str, str | None, str | None]]:
    """(name, old value, new value) of the versioned properties that differ (None: absent
    on that side)."""
    if old is None and new is None:
        return []
    before = old.get_properties() if old is not None else {}
    after = new.get_properties() if new is not None else {}
    return [(name, before.get(name), after.get(name))
            for name in sorted(set(before) | set(after)) if before.get(name) != after.get(name)]


def _diff_args(req) -> dict[str, Any]:
    return {k: req.args.get(k) or None for k in ("contextlines", "contextall",
                                                  "ignoreblanklines", "ignorecase",
                                                  "ignorewhitespace")}


def _keep_query(req) -> dict[str, Any]:
    return {"style": req.args.get("style") or None, **_diff_args(req)}


def _diff_download(req, files: list[FileDiff], filename: str) -> Response:
    options = DiffOptions.from_args(req.args, default_context=3)
    if sum(_sized(f) for f in files if f.kind == api.FILE) > MAX_ZIP_BYTES:
        raise HTTPBadRequest("The changed files are too large to download as one diff.",
                             title="Too large")
    out: list[str] = []
    for f in files:
        if f.kind != api.FILE:
            continue
        if any(n is not None and not req.perm.has("FILE_VIEW", _node_resource(n))
               for n in (f.old_node, f.new_node)):
            continue
        old, new = _read(f.old_node, 0), _read(f.new_node, 0)
        old_name = f"{f.old_path or f.path}" + (f"\t(revision {f.old_rev})" if f.old_rev else "")
        new_name = f"{f.path}" + (f"\t(revision {f.new_rev})" if f.new_rev else "")
        header = [f"Index: {f.path}", "=" * 67]
        if _is_binary(old or b"") or _is_binary(new or b""):
            out.extend([*header, "Cannot display: file marked as a binary type.", ""])
            continue
        body = unified_diff(_lines(old or b""), _lines(new or b""), old_name, new_name, options)
        if body:
            out.extend(header)
            out.append(body.rstrip("\n"))
    text = "\n".join(out) + ("\n" if out else "")
    response = Response(text, content_type="text/x-patch; charset=utf-8")
    response.headers["Content-Disposition"] = _disposition("attachment", filename)
    return response


def _node_resource(node: api.Node):
    return U.source_resource(node.repos.name, node.path, node.rev)


def _zip_download(req, reponame: str, files: list[FileDiff], filename: str) -> Response:
    buffer = io.BytesIO()
    total = 0
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for f in files:
            node = f.new_node
            if f.kind != api.FILE or node is None:
                continue
            if not req.perm.has("FILE_VIEW", _node_resource(node)):
                continue
            total += node.get_content_length() or 0
            if total > MAX_ZIP_BYTES:
                raise HTTPBadRequest("The changed files are too large to download as one zip "
                                     "archive.", title="Too large")
            archive.writestr(node.path, _read(node, 0) or b"")
    response = Response(buffer.getvalue(), content_type="application/zip")
    response.headers["Content-Disposition"] = _disposition("attachment", filename)
    return response


@hookimpl
def web_routes():
    return [
        (Rule("/changeset", endpoint="changeset"), changeset_page),
        (Rule("/changeset/<rev>", endpoint="changeset"), changeset_page),
        (Rule("/changeset/<rev>/<path:rest>", endpoint="changeset"), changeset_page),
    ]


@hookimpl
def config_options():
    return options_in(sys.modules[__name__])
