"""Rendered wiki pages, kept per process and checked against the shared cache generations.

A version of a page never changes its text, but its HTML depends on the world around it:
which pages exist (``missing wiki`` links, ``TitleIndex``, ``RecentChanges``, the
``InterMapTxt`` page), which attachments exist, and the reader's permissions. What it
depends on is declared by the plugins that provide the links and macros
(``wiki_render_dependencies``): the cache keys every page depends on, which namespaces and
macros need nothing more, and small probe queries (e.g. the tickets' latest ``changetime``)
for those whose output follows other tables. Each entry is stored with the generations of
those keys, read from the database, and the probes' answers, so a change made by *any*
process makes the entries it affects stale at once. Pages using links or macros nobody
declared (changesets, source files, unknown macros) are rendered every time.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from codeyard.config import IntOption
from codeyard.db.api import key_to_id
from codeyard.util.lru import BoundedCache

__all__ = ["render_page_html", "render_texts_html", "is_cacheable", "texts_probes", "stamp"]

RENDER_CACHE_SIZE = IntOption(
    "wiki", "render_cache_size", 256,
    "How many rendered page versions each server process keeps (0 turns the cache off). "
    "Entries are dropped as soon as any page is created, renamed or deleted.")


@dataclass(frozen=True)
class _Dependencies:
    """The merged declarations of a project's enabled plugins: for each namespace and macro
    name, the probes it needs (several plugins may each add one)."""

    cache_keys: tuple[str, ...]
    namespaces: dict[str, frozenset[str]]
    macros: dict[str, frozenset[str]]
    probes: dict[str, str]
    wiki_text: frozenset[str]


def dependencies(env) -> _Dependencies:
    def compute():
        keys: set[str] = set()
        namespaces: dict[str, frozenset[str]] = {}
        macros: dict[str, frozenset[str]] = {}
        probes: dict[str, str] = {}
        wiki_text: set[str] = set()
        for found in env.hook.wiki_render_dependencies():
            if found is None:
                continue
            keys.update(found.cache_keys)
            for merged, declared in ((namespaces, found.namespaces), (macros, found.macros)):
                for name, probe in declared.items():
                    merged[name] = merged.get(name, frozenset()) | ({probe} if probe else set())
            probes.update(found.probes)
            wiki_text |= found.wiki_text
        # A name probed by a query nobody declared cannot be trusted to be current.
        for names in (namespaces, macros):
            for name, needed in list(names.items()):
                if not needed <= probes.keys():
                    del names[name]
        return _Dependencies(tuple(sorted(keys)), namespaces, macros, probes, frozenset(wiki_text))

    return env.memo("wiki.render_dependencies", compute)


_UNKNOWN = object()


class _PageCache:
    """Rendered HTML by (page, version, where, reader), and whether a version is cacheable."""

    def __init__(self) -> None:
        self.rendered = BoundedCache(RENDER_CACHE_SIZE.default)
        self.cacheable = BoundedCache(4 * RENDER_CACHE_SIZE.default)


def _cache(env) -> _PageCache:
    return env.memo("wiki.render_cache", _PageCache)


def generations(env) -> tuple[int, ...]:
    """The current generations of the keys rendered pages depend on (one query)."""
    keys = dependencies(env).cache_keys
    if not keys:
        return ()
    with env.db_query as db:
        # The scope remembers what it read: a page rendering many texts in one scope asks
        # the database once.
        missing = [key for key in keys if key not in db.generations]
        if missing:
            ids = {key_to_id(key): key for key in missing}
            marks = ", ".join(["%s"] * len(ids))
            rows = dict(db(f"SELECT id, generation FROM cache WHERE id IN ({marks})",
                           tuple(ids)))
            for id_, key in ids.items():
                db.generations[key] = rows.get(id_, -1)
        return tuple(db.generations[key] for key in keys)


def is_cacheable(env, text: str) -> frozenset[str] | None:
    """None when the HTML of ``text`` depends on something no generation or probe tracks;
    otherwise the names of the probes it depends on besides the cache keys."""
    from codeyard.wiki.extensions import registry
    from codeyard.wiki.parser import parse
    from codeyard.wiki.renderers import MAX_PROCESSOR_DEPTH

    reg = registry(env)
    deps = dependencies(env)
    probes: set[str] = set()
    pending = [(parse(text), 0)]
    while pending:
        tree, depth = pending.pop()
        for node in tree.walk():
            kind = node.kind
            if kind == "link":
                if node.ns in deps.namespaces:
                    probes |= deps.namespaces[node.ns]
                elif node.ns in reg.resolvers:
                    return None
            elif kind in ("macro", "processor") and node.name:
                name = node.name
                if kind == "processor" and name in deps.wiki_text:
                    # Deeper than the renderer nests, wiki text is shown as written: nothing
                    # in it links (and parsing every level again would be quadratic).
                    if depth < MAX_PROCESSOR_DEPTH:
                        pending.append((parse(node.text or ""), depth + 1))
                elif name in deps.macros:
                    probes |= deps.macros[name]
                elif name in reg.macros or name in reg.processors:
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
    with env.db_query as db:  # one scope for the generations and the probes
        stamp: tuple = generations(env) + _authz_stamp(env)
        if probes:
            queries = dependencies(env).probes
            for name in sorted(probes):
                stamp += tuple(db(queries[name])[0])
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
    probes = cache.cacheable.get(ident, _UNKNOWN)
    if probes is _UNKNOWN:
        probes = is_cacheable(env, page.text)
        cache.cacheable.put(ident, probes, 4 * size)
    if probes is None:
        return render(), False
    reader = getattr(ctx.perm, "username", None) if ctx.perm is not None else None
    key = (page.name, page.version, ctx.href.base, ctx.abs_href.base if ctx.abs_href else "",
           reader)
    return _kept(env, cache, key, probes, size, render,
                 lambda html: getattr(html, "cacheable", True))


def _kept(env, cache: _PageCache, key: tuple, probes: frozenset[str], size: int,
          render: Callable[[], Any], cacheable: Callable[[Any], bool]) -> tuple[Any, bool]:
    """(the rendering kept under ``key`` while its stamp holds, else ``render()``'s, served
    from the cache). A result is kept only when nothing changed while rendering and
    ``cacheable`` accepts it (a rendering cut short is not)."""
    stamp = _stamp(env, probes)
    hit = cache.rendered.get(key)
    if hit is not None and hit[0] == stamp:
        return hit[1], True
    result = render()
    if cacheable(result) and _stamp(env, probes) == stamp:
        cache.rendered.put(key, (stamp, result), size)
    return result, False


def _text_probes(env, cache: _PageCache, text: str, size: int) -> frozenset[str] | None:
    ident = ("text", hashlib.sha1(text.encode("utf-8", "surrogatepass")).digest())
    probes = cache.cacheable.get(ident, _UNKNOWN)
    if probes is _UNKNOWN:
        probes = is_cacheable(env, text)
        cache.cacheable.put(ident, probes, 4 * size)
    return probes


def texts_probes(env, texts: list[str]) -> frozenset[str] | None:
    """What the HTML of all of ``texts`` depends on besides the cache keys (for a page kept
    whole by its own plugin, checked with ``stamp``), or None when something untracked."""
    size = RENDER_CACHE_SIZE(env.config)
    if size <= 0:
        return None
    cache = _cache(env)
    probes: set[str] = set()
    for text in texts:
        found = _text_probes(env, cache, text, size)
        if found is None:
            return None
        probes |= found
    return frozenset(probes)


def stamp(env, probes: frozenset[str]) -> tuple:
    """The current answers of the cache keys, the rules file and ``probes``: while they
    are the same, HTML rendered from wiki text depending on them is the same."""
    return _stamp(env, probes)


def render_texts_html(ctx, kind: str, texts: list[str],
                      render: Callable[[], list[Markup]],
                      resources: list | None = None) -> list[Markup]:
    """The HTML of several texts rendered together (a log's commit messages), kept like
    pages are: by the texts, how they are rendered (``kind``), where and for whom, and valid
    while nothing they depend on changed. ``render()`` renders them on a miss.
    ``resources`` names each text's own resource when they differ (a timeline's comments:
    relative links resolve against them)."""
    env = ctx.env
    size = RENDER_CACHE_SIZE(env.config)
    if size <= 0 or not texts:
        return render()
    cache = _cache(env)
    probes: set[str] = set()
    for text in texts:
        found = _text_probes(env, cache, text, size)
        if found is None:
            return render()
        probes |= found
    wanted = frozenset(probes)
    digest = hashlib.sha1("\0".join(texts).encode("utf-8", "surrogatepass"))
    for own in resources or ():
        digest.update(f"\1{own.realm}\2{own.id}\2{own.version}".encode("utf-8", "surrogatepass"))
    resource = ctx.resource
    reader = getattr(ctx.perm, "username", None) if ctx.perm is not None else None
    key = ("texts", kind, digest.digest(), ctx.href.base, ctx.abs_href.base if ctx.abs_href else "",
           ctx.flavor, ctx.absurls, getattr(resource, "realm", None),
           getattr(resource, "id", None), reader)
    html, _hit = _kept(env, cache, key, wanted, size, lambda: tuple(render()),
                       lambda out: all(getattr(h, "cacheable", True) for h in out))
    return list(html)
