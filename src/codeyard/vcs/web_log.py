"""The revision log: ``/log[/repo][/path]`` — the changesets that touched a path, newest
first, with Trac's parameters (``rev``, ``stop_rev``, ``revs``, ``limit``, ``mode``,
``verbose``, ``format=rss``)."""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup
from werkzeug.routing import Rule

from codeyard.config import IntOption, options_in
from codeyard.core import hookimpl
from codeyard.util.lru import BoundedCache
from codeyard.vcs import api
from codeyard.vcs import web_util as U
from codeyard.web.api import HTTPBadRequest, HTTPNotFound
from codeyard.web.chrome import template_env
from codeyard.web.feeds import FeedItem, rss_response
from codeyard.wiki.api import format_context
from codeyard.wiki.formatter import format_many
from codeyard.wiki.render_cache import render_texts_html

DEFAULT_LOG_LIMIT = IntOption("revisionlog", "default_log_limit", 100,
                              "How many revisions one page of the revision log shows.")
MAX_LOG_LIMIT = 10_000  # a bound on what a URL may ask for in one page

MODES = ("stop_on_copy", "follow_copy", "path_history")
LOG_ROWS = 8192  # rendered log rows kept per process
CHANGE_LABELS = {api.ADD: "added", api.DELETE: "deleted", api.EDIT: "edited",
                 api.COPY: "copied", api.MOVE: "moved"}


class RevRanges:
    """Trac's ``revs=`` argument: revisions and ranges (``a-b``, ``a:b``) separated by
    commas, each bound normalized by the backend."""

    def __init__(self, repos: api.Repository, text: str) -> None:
        self.repos = repos
        self.pairs: list[tuple[str, str]] = []
        for piece in (p.strip() for p in text.replace("\u200b", "").split(",")):
            if not piece:
                continue
            self.pairs.append(self._pair(piece))
        if not self.pairs:
            raise HTTPBadRequest(f"No revisions in {text!r}.", title="Invalid revision range")

    def _pair(self, piece: str) -> tuple[str, str]:
        try:
            rev = self.repos.normalize_rev(piece)
            return rev, rev
        except api.NoSuchChangeset:
            pass
        # ``a-b`` or ``a:b``; Bazaar revisions have colons of their own (``trunk:1:trunk:3``)
        for i, char in enumerate(piece):
            if char not in "-:" or not 0 < i < len(piece) - 1:
                continue
            try:
                first = self.repos.normalize_rev(piece[:i])
                second = self.repos.normalize_rev(piece[i + 1:])
            except api.NoSuchChangeset:
                continue
            if self.repos.rev_older_than(second, first):
                first, second = second, first
            return first, second
        with U.readable_errors():
            rev = self.repos.normalize_rev(piece)
        return rev, rev

    @property
    def newest(self) -> str:
        newest = self.pairs[0][1]
        for _a, b in self.pairs[1:]:
            if self.repos.rev_older_than(newest, b):
                newest = b
        return newest

    def contains(self, rev: str) -> bool:
        for a, b in self.pairs:
            if rev in (a, b):
                return True
            if self.repos.rev_older_than(a, rev) and self.repos.rev_older_than(rev, b):
                return True
        return False

    def older_than_all(self, rev: str) -> bool:
        return all(self.repos.rev_older_than(rev, a) for a, _b in self.pairs)

    def __str__(self) -> str:
        show = self.repos.display_rev
        return ",".join(show(a) if a == b else f"{show(a)}-{show(b)}" for a, b in self.pairs)


def _limit(req) -> int:
    raw = req.args.get("limit")
    if raw in (None, ""):
        return DEFAULT_LOG_LIMIT(req.env.config)
    try:
        value = int(raw)
    except ValueError:
        raise HTTPBadRequest(f"limit={raw!r} is not a number.", title="Invalid limit") from None
    if value < 1:
        raise HTTPBadRequest("limit must be at least 1.", title="Invalid limit")
    return min(value, MAX_LOG_LIMIT)


def log_page(req, path: str = ""):
    """/log[/repo][/path] — the revision log of a path (``?format=rss`` as a feed)."""
    reponame, repos, rest = U.find(req, path)
    with repos.consistent():
        return _log_page(req, reponame, repos, rest)


def _log_page(req, reponame: str, repos: api.Repository, rest: str):
    resource = U.source_resource(reponame, rest)
    req.perm.require("LOG_VIEW", resource)
    mode = req.args.get("mode") or "stop_on_copy"
    if mode not in MODES:
        raise HTTPBadRequest(f"Unknown mode {mode!r}: use {', '.join(MODES)}.",
                             title="Invalid mode")
    verbose = str(req.args.get("verbose", "")).lower() in ("1", "true", "on", "yes")
    limit = _limit(req)
    fmt = req.args.get("format")
    if fmt not in (None, "", "rss"):
        raise HTTPBadRequest(f"Unknown format {fmt!r}.", title="Bad format")
    revs_arg = req.args.get("revs") or None
    given_rev = req.args.get("rev") or None
    keep = {"mode": mode if mode != "stop_on_copy" else None,
            "verbose": "1" if verbose else None,
            "limit": req.args.get("limit") or None,
            "revs": revs_arg, "stop_rev": req.args.get("stop_rev") or None}
    with U.readable_errors(reponame):
        ranges = RevRanges(repos, revs_arg) if revs_arg else None
        rev = ranges.newest if ranges else U.normalize_rev(repos, given_rev)
        stop_rev = U.normalize_rev(repos, req.args["stop_rev"]) \
            if req.args.get("stop_rev") else None
        if rev is None:
            raise HTTPNotFound("This repository has no changesets yet.", title="Empty repository")
        query = _Query(reponame, rest, rev, mode, verbose, limit, ranges, stop_rev, keep)
        if fmt == "rss":
            repos.get_node(rest, rev)  # 404 for a path that is not there at that revision
            items, _more = _history(req, repos, query)
        else:
            view = _kept_view(req, repos, query, resource)
    if fmt == "rss":
        _messages(req, repos, resource, items, full=True, absurls=True)
        for item in items:
            _links(req, repos, reponame, item)
        return _rss(req, reponame, rest, items)
    U.add_stylesheets(req)
    return "vcs/log.html", {
        "title": f"Revision Log of /{'/'.join(p for p in (reponame, rest) if p)}",
        "reponame": reponame, "path": rest, "rev": rev, "given_rev": given_rev,
        "display_rev": given_rev and repos.display_rev(rev),
        "rows_html": view.rows_html, "has_items": view.has_items, "mode": mode,
        "verbose": verbose, "limit": limit, "revs": revs_arg and str(ranges),
        "stop_rev": req.args.get("stop_rev") or "",
        "crumbs": U.path_links(req, "log", reponame, rest, given_rev),
        "browse_href": U.url(req, "browser", reponame, rest, given_rev),
        "next_href": view.next_href,
        "rss_href": U.url(req, "log", reponame, rest, given_rev, format="rss", **keep),
        "form_action": U.url(req, "log", reponame, rest),
        "modes": [("stop_on_copy", "Stop on copy"), ("follow_copy", "Follow copies"),
                  ("path_history", "Show only adds, moves and deletes")],
    }


@dataclass(frozen=True)
class _Query:
    """What one page of the log is of (every argument after normalization)."""

    reponame: str
    path: str
    rev: str
    mode: str
    verbose: bool
    limit: int
    ranges: RevRanges | None
    stop_rev: str | None
    keep: dict[str, str | None]

    def key(self) -> tuple:
        return (self.reponame, self.path, self.rev, self.mode, self.verbose, self.limit,
                None if self.ranges is None else tuple(self.ranges.pairs), self.stop_rev,
                tuple(sorted(self.keep.items())))


@dataclass(frozen=True)
class _View:
    """The part of a log page that follows the revisions: the rows and the next page."""

    rows_html: Markup
    has_items: bool
    next_href: str | None


def _messages(req, repos: api.Repository, resource, items: list[dict[str, Any]], full: bool,
              absurls: bool = False) -> tuple[frozenset[str] | None, tuple | None]:
    """Each item's changeset, message HTML and age; returns the probes the messages' HTML
    depends on and their stamp before rendering (``U.texts_stamp``)."""
    ctx = format_context(req, resource, absurls=absurls)  # feeds are read elsewhere
    info = U.changeset_info(req, repos)
    info.prefetch(item["rev"] for item in items)
    changes = [info.get(item["rev"]) for item in items]
    messages = [(change.message if change else "") for change in changes]
    texts = messages if full else [U.shorten_line(m.strip()) for m in messages]
    probes, before = U.texts_stamp(req.env, texts) if not absurls else (None, None)
    rendered = render_texts_html(ctx, "full" if full else "oneliner", texts,
                                 lambda: format_many(ctx, texts, oneliner=not full,
                                                     shorten=not full))
    for item, change, message_html in zip(items, changes, rendered, strict=True):
        item.update(changeset=change, message_html=message_html,
                    age=U.pretty_age(change.date) if change else "")
    return probes, before


def _view(req, repos: api.Repository, query: _Query, resource) -> U.Kept:
    reponame = query.reponame
    repos.get_node(query.path, query.rev)  # 404 for a path that is not there at that revision
    items, more = _history(req, repos, query)
    now = datetime.now(UTC)
    probes, before = _messages(req, repos, resource, items, full=query.verbose)
    from codeyard.vcs import cache

    cached = cache.change_counts(req.env, repos, [i["rev"] for i in items]) \
        if repos.id and items else {}
    for item in items:
        item["changes"] = _summary(repos, item["rev"], cached.get(item["rev"]))
    _render_rows(req, repos, reponame, items, query.verbose)
    next_href = None
    if more is not None:
        next_href = U.url(req, "log", reponame, more["path"], repos.display_rev(more["rev"]),
                          **query.keep)
    view = _View(Markup("").join(item["row_html"] for item in items), bool(items), next_href)
    expires = U.ages_expire((item["changeset"].date if item["changeset"] else None
                             for item in items), now)
    return U.Kept(view, probes, before, expires)


def _kept_view(req, repos: api.Repository, query: _Query, resource) -> _View:
    """The rows, kept per process (``U.kept_view``): the reader's right to see changesets
    is part of what they follow, and must be the same for every changeset (otherwise the
    rows are filtered one by one, and never kept)."""
    allowed = req.perm.has("CHANGESET_VIEW", U.changeset_resource(query.reponame, query.rev))
    return U.kept_view(req, repos, "log", (allowed, query.key()),
                       lambda: _view(req, repos, query, resource),
                       uniform=("CHANGESET_VIEW",))


def _history(req, repos, query: _Query):
    """(the page's items, the first item of the next page or None)."""
    reponame, path, rev, mode = query.reponame, query.path, query.rev, query.mode
    limit, ranges, stop_rev = query.limit, query.ranges, query.stop_rev
    items: list[dict[str, Any]] = []
    previous_path = path
    for old_path, old_rev, change in repos.get_path_history(path, rev):
        if stop_rev and repos.rev_older_than(old_rev, stop_rev):
            break
        if ranges is not None:
            if ranges.older_than_all(old_rev):
                break
            if not ranges.contains(old_rev):
                continue
        if not req.perm.has("CHANGESET_VIEW", U.changeset_resource(reponame, old_rev)):
            continue
        if mode == "path_history" and change == api.EDIT:
            continue
        copied_from = old_path != previous_path
        item = {"path": old_path, "rev": old_rev, "change": change,
                "change_label": CHANGE_LABELS.get(change, change),
                "copied_from": copied_from}
        if len(items) >= limit:
            return items, item
        items.append(item)
        previous_path = old_path
        # As in Trac: the first revision found at the path copied (or moved) from is
        # still listed, marked with that path; the log stops there.
        if mode == "stop_on_copy" and copied_from:
            break
        if stop_rev and old_rev == stop_rev:
            break
    return items, None


def _links(req, repos: api.Repository, reponame: str, item: dict[str, Any]) -> None:
    display = repos.display_rev(item["rev"])
    item.update(short_rev=repos.short_rev(item["rev"]), display_rev=display,
                rev_href=U.changeset_url(req, reponame, item["rev"], repos=repos),
                node_href=U.url(req, "browser", reponame, item["path"], display))


def _render_rows(req, repos: api.Repository, reponame: str, items: list[dict[str, Any]],
                 verbose: bool) -> None:
    """Each item's table row (``row_html``). A row shows only what its key holds, so rows
    are kept per process by that key and a page of revisions seen before is mostly joins."""
    jenv = template_env(req.env)
    cache = req.env.memo("vcs.log_rows", lambda: BoundedCache(LOG_ROWS))
    tz = req.tz
    macro = None
    for index, item in enumerate(items):
        change = item["changeset"]
        parity = "odd" if index % 2 == 0 else "even"
        key = (id(jenv), req.href.base, reponame, repos.id, item["rev"],
               repos.display_rev(item["rev"]), item["path"],
               item["change"], item["copied_from"], parity, verbose, str(tz),
               change.author if change else None, change.date if change else None,
               item["age"], str(item["message_html"]),
               tuple((c["kind"], c["count"]) for c in item["changes"]))
        html = cache.get(key)
        if html is None:
            _links(req, repos, reponame, item)
            if macro is None:
                macro = jenv.get_template("vcs/_log_row.html").module.row  # type: ignore[attr-defined]
            html = Markup(macro(item, parity, verbose, tz))
            cache.put(key, html)
        item["row_html"] = html


def _summary(repos: api.Repository, rev: str, cached: dict[str, int] | None
             ) -> list[dict[str, Any]]:
    counts = Counter(cached) if cached else Counter(c.change for c in repos.get_changes(rev))
    return [{"kind": kind, "label": CHANGE_LABELS.get(kind, kind), "count": counts[kind]}
            for kind in (api.ADD, api.EDIT, api.COPY, api.MOVE, api.DELETE) if counts[kind]]


def _rss(req, reponame, path, items):
    feed = []
    for item in items:
        change = item["changeset"]
        message = change.message if change else ""
        feed.append(FeedItem(
            title=f"Revision {item['display_rev']}: {U.shorten_line(message.strip().splitlines()[0] if message.strip() else '')}",
            link=req.absolute(item["rev_href"]), permalink=True,
            author=change.author if change else None,
            date=change.date if change else None,
            description=str(item["message_html"])))
    where = "/" + "/".join(p for p in (reponame, path) if p)
    return rss_response(f"{req.env.project_name}: Revisions of {where}",
                        req.absolute(U.url(req, "log", reponame, path)),
                        f"Revision log of {where}", feed)


@hookimpl
def web_routes():
    return [
        (Rule("/log", endpoint="log"), log_page),
        (Rule("/log/<path:path>", endpoint="log"), log_page),
    ]


@hookimpl
def config_options():
    return options_in(sys.modules[__name__])
