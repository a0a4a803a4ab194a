"""Rendered wiki pages, kept per process and checked against the shared cache generations.

A version of a page never changes its text, but its HTML depends on the world around it:
which pages exist (``missing wiki`` links, ``TitleIndex``, ``RecentChanges``, the
``InterMapTxt`` page), which attachments exist, and the reader's permissions. Each entry
is stored with the generations of those cache keys (``wiki.pages``, attachments,
``perm.grants``) read from the database, so a page created, renamed or deleted by *any*
process makes every entry stale at once. Pages linking tickets, milestones or reports also
store the answer of a small probe query (e.g. the tickets' latest ``changetime``), so a
ticket closed anywhere shows as closed on the next view. Pages whose HTML depends on what
nothing tracks (changesets, source files, unknown macros) are rendered every time.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict

from markupsafe import Markup

from codeyard.config import IntOption
from codeyard.db.api import key_to_id

__all__ = ["render_page_html", "is_cacheable", "ATTACHMENTS_CACHE_KEY", "DEPENDENCIES"]

RENDER_CACHE_SIZE = IntOption(
    "wiki", "render_cache_size", 256,
    "How many rendered page versions each server process keeps (0 turns the cache off). "
    "Entries are dropped as soon as any page is created, renamed or deleted.")

ATTACHMENTS_CACHE_KEY = "attachment.changes"
DEPENDENCIES = ("wiki.pages", ATTACHMENTS_CACHE_KEY, "perm.grants")

# TracLinks namespaces whose rendering depends only on pages, attachments, configuration
# and permissions.
STABLE_NAMESPACES = frozenset({"wiki", "attachment", "raw-attachment", "htdocs", "search",
                               "mailto", "http", "https", "ftp", "query", "timeline"})
STABLE_MACROS = frozenset({"BR", "br", "PageOutline", "Image", "TitleIndex", "RecentChanges",
                           "MacroList", "TracIni", "KnownMimeTypes", "TracGuideToc", "InterTrac",
                           "InterWiki", "TracAdminHelp", "html", "div", "span", "td", "th", "tr",
                           "table", "rtl", "comment", "htmlcomment", "default"})
WIKI_TEXT_PROCESSORS = frozenset({"div", "span", "td", "th", "tr", "table", "rtl"})

# What else a link or macro depends on: a query whose answer changes whenever the output
# may (every ticket change moves ``changetime``; reports and milestones are few rows).
PROBES = {
    "tickets": "SELECT COUNT(*), MAX(changetime) FROM ticket",
    "milestones": "SELECT COUNT(*), SUM(COALESCE(due, 0)), SUM(COALESCE(completed, 0)) FROM milestone",
    "reports": "SELECT COUNT(*), MAX(id), MIN(id) FROM report",
}
NAMESPACE_PROBES = {"ticket": "tickets", "bug": "tickets", "issue": "tickets",
                    "comment": "tickets", "milestone": "milestones", "report": "reports"}
MACRO_PROBES = {"TicketQuery": "tickets"}


class _LRU:
    def __init__(self) -> None:
        self.entries: OrderedDict = OrderedDict()
        self.lock = threading.Lock()
        self.cacheable: dict[tuple[str, int], frozenset[str] | None] = {}

    def get(self, key):
        with self.lock:
            hit = self.entries.get(key)
            if hit is not None:
                self.entries.move_to_end(key)
            return hit

    def put(self, key, value, size: int) -> None:
        with self.lock:
            self.entries[key] = value
            self.entries.move_to_end(key)
            while len(self.entries) > size:
                self.entries.popitem(last=False)
            if len(self.cacheable) > 4 * size:
                self.cacheable.clear()


def _cache(env) -> _LRU:
    return env.memo("wiki.render_cache", _LRU)


def generations(env) -> tuple[int, ...]:
    """The current generations of the keys rendered pages depend on (one query)."""
    ids = [key_to_id(key) for key in DEPENDENCIES]
    with env.db_query as db:
        rows = dict(db("SELECT id, generation FROM cache WHERE id IN (%s, %s, %s)", tuple(ids)))
    return tuple(rows.get(i, -1) for i in ids)


def is_cacheable(env, text: str) -> frozenset[str] | None:
    """None when the HTML of ``text`` depends on something no generation or probe tracks;
    otherwise the names of the PROBES it depends on besides DEPENDENCIES."""
    from codeyard.wiki.macros import registry
    from codeyard.wiki.parser import parse

    reg = registry(env)
    probes: set[str] = set()
    pending = [parse(text)]
    while pending:
        tree = pending.pop()
        for node in tree.walk():
            kind = node.kind
            if kind == "link":
                if node.ns in NAMESPACE_PROBES:
                    probes.add(NAMESPACE_PROBES[node.ns])
                elif node.ns in reg.resolvers and node.ns not in STABLE_NAMESPACES:
                    return None
            elif kind in ("macro", "processor") and node.name:
                name = node.name
                if kind == "processor" and name in WIKI_TEXT_PROCESSORS:
                    pending.append(parse(node.text or ""))
                elif name in MACRO_PROBES:
                    probes.add(MACRO_PROBES[name])
                elif name in reg.macros and name not in STABLE_MACROS:
                    return None
    return frozenset(probes)


def _authz_stamp(env) -> tuple:
    """The per-resource rules file changes permissions without touching the database."""
    from codeyard.perm import AUTHZ_FILE, PERMISSION_POLICIES

    if "AuthzPolicy" not in PERMISSION_POLICIES(env.config):
        return ()
    filename = AUTHZ_FILE(env.config)
    if not filename:
        return ()
    if not os.path.isabs(filename):
        filename = os.path.join(env.path, filename)
    try:
        return (os.stat(filename).st_mtime_ns,)
    except OSError:
        return (None,)


def _stamp(env, probes: frozenset[str]) -> tuple:
    stamp: tuple = generations(env) + _authz_stamp(env)
    if probes:
        with env.db_query as db:
            for name in sorted(probes):
                stamp += tuple(db(PROBES[name])[0])
    return stamp


def render_page_html(ctx, page, render) -> tuple[Markup, bool]:
    """The HTML of ``page`` (a WikiPage) for this context: ``render()`` on a miss.

    Returns (html, served from the cache)."""
    env = ctx.env
    size = RENDER_CACHE_SIZE(env.config)
    if size <= 0 or not page.exists:
        return render(), False
    cache = _cache(env)
    ident = (page.name, page.version)
    if ident in cache.cacheable:
        probes = cache.cacheable[ident]
    else:
        probes = cache.cacheable[ident] = is_cacheable(env, page.text)
    if probes is None:
        return render(), False
    reader = getattr(ctx.perm, "username", None) if ctx.perm is not None else None
    key = (page.name, page.version, ctx.href.base, ctx.abs_href.base if ctx.abs_href else "",
           reader)
    stamp = _stamp(env, probes)
    hit = cache.get(key)
    if hit is not None and hit[0] == stamp:
        return hit[1], True
    html = render()
    # Only keep the result if nothing changed while rendering (and it was not cut short).
    if getattr(html, "cacheable", True) and _stamp(env, probes) == stamp:
        cache.put(key, (stamp, html), size)
    return html, False
