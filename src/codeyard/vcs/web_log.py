"""The revision log: ``/log[/repo][/path]`` — the changesets that touched a path, newest
first, with Trac's parameters (``rev``, ``stop_rev``, ``revs``, ``limit``, ``mode``,
``verbose``, ``format=rss``)."""

from __future__ import annotations

import sys
from collections import Counter
from typing import Any

from werkzeug.routing import Rule

from codeyard.config import IntOption, options_in
from codeyard.core import hookimpl
from codeyard.vcs import api
from codeyard.vcs import web_util as U
from codeyard.web.api import HTTPBadRequest, HTTPNotFound
from codeyard.web.feeds import FeedItem, rss_response
from codeyard.wiki.api import format_context
from codeyard.wiki.formatter import format_many

DEFAULT_LOG_LIMIT = IntOption("revisionlog", "default_log_limit", 100,
                              "How many revisions one page of the revision log shows.")
MAX_LOG_LIMIT = 10_000  # a bound on what a URL may ask for in one page

MODES = ("stop_on_copy", "follow_copy", "path_history")
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
    with U.readable_errors(reponame):
        ranges = RevRanges(repos, revs_arg) if revs_arg else None
        rev = ranges.newest if ranges else U.normalize_rev(repos, given_rev)
        stop_rev = U.normalize_rev(repos, req.args["stop_rev"]) \
            if req.args.get("stop_rev") else None
        if rev is None:
            raise HTTPNotFound("This repository has no changesets yet.", title="Empty repository")
        repos.get_node(rest, rev)  # 404 for a path that is not there at that revision
        items, more = _history(req, repos, reponame, rest, rev, mode, limit, ranges, stop_rev)

    ctx = format_context(req, resource, absurls=fmt == "rss")  # feeds are read elsewhere
    info = U.changeset_info(req, repos)
    info.prefetch(item["rev"] for item in items)
    full = verbose or fmt == "rss"
    changes = [info.get(item["rev"]) for item in items]
    messages = [(change.message if change else "") for change in changes]
    rendered = format_many(ctx, messages if full else
                           [U.shorten_line(m.strip()) for m in messages],
                           oneliner=not full, shorten=not full)
    for item, change, message_html in zip(items, changes, rendered, strict=True):
        item.update(
            changeset=change, short_rev=repos.short_rev(item["rev"]),
            display_rev=repos.display_rev(item["rev"]),
            rev_href=U.changeset_url(req, reponame, item["rev"], repos=repos),
            node_href=U.url(req, "browser", reponame, item["path"],
                            repos.display_rev(item["rev"])),
            age=U.pretty_age(change.date) if change else "",
            message_html=message_html,
        )
    if fmt == "rss":
        return _rss(req, reponame, rest, items)
    with U.readable_errors(reponame):
        from codeyard.vcs import cache

        cached = cache.change_counts(req.env, repos, [i["rev"] for i in items]) \
            if repos.id and items else {}
        for item in items:
            item["changes"] = _summary(repos, item["rev"], cached.get(item["rev"]))
    keep = {"mode": mode if mode != "stop_on_copy" else None,
            "verbose": "1" if verbose else None,
            "limit": req.args.get("limit") or None,
            "revs": revs_arg, "stop_rev": req.args.get("stop_rev") or None}
    next_href = None
    if more is not None:
        next_href = U.url(req, "log", reponame, more["path"], repos.display_rev(more["rev"]),
                          **keep)
    U.add_stylesheets(req)
    return "vcs/log.html", {
        "title": f"Revision Log of /{'/'.join(p for p in (reponame, rest) if p)}",
        "reponame": reponame, "path": rest, "rev": rev, "given_rev": given_rev,
        "display_rev": given_rev and repos.display_rev(rev), "items": items, "mode": mode,
        "verbose": verbose, "limit": limit, "revs": revs_arg and str(ranges),
        "stop_rev": req.args.get("stop_rev") or "",
        "crumbs": U.path_links(req, "log", reponame, rest, given_rev),
        "browse_href": U.url(req, "browser", reponame, rest, given_rev),
        "next_href": next_href,
        "rss_href": U.url(req, "log", reponame, rest, given_rev, format="rss", **keep),
        "form_action": U.url(req, "log", reponame, rest),
        "modes": [("stop_on_copy", "Stop on copy"), ("follow_copy", "Follow copies"),
                  ("path_history", "Show only adds, moves and deletes")],
    }


def _history(req, repos, reponame, path, rev, mode, limit, ranges, stop_rev):
    """(the page's items, the first item of the next page or None)."""
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
        item = {"path": old_path, "rev": old_rev, "change": change,
                "change_label": CHANGE_LABELS.get(change, change),
                "copied_from": old_path != previous_path}
        if len(items) >= limit:
            return items, item
        items.append(item)
        previous_path = old_path
        if mode == "stop_on_copy" and change in (api.COPY, api.MOVE):
            break
        if stop_rev and old_rev == stop_rev:
            break
    return items, None


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
