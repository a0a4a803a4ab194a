"""``/search``: the search form, ranked results with excerpts, quickjump to a TracLink or
an existing page; the ``search:`` TracLinks namespace; the index's tables."""

from __future__ import annotations

import dataclasses
import html as _html
import re
import sys

from markupsafe import Markup
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.routing import Rule

from codeyard.config import IntOption, ListOption, options_in
from codeyard.core import hookimpl
from codeyard.perm import Resource
from codeyard.search import index
from codeyard.search.query import parse_query, tokens
from codeyard.web.api import NavItem, offered_choices
from codeyard.web.session import cookie_first
from codeyard.wiki import syntax as S

MIN_QUERY_LENGTH = IntOption(
    "search", "min_query_length", 3,
    "The shortest query (in characters) the search runs.")
DEFAULT_DISABLED_FILTERS = ListOption(
    "search", "default_disabled_filters", "",
    "Sources (``wiki``, ``ticket``, ``milestone``, ``changeset``…) left unchecked until the "
    "reader picks them.")

RESULTS_PER_PAGE = 10
EXCERPT_CHARS = 240
_SINGLE_LINK = re.compile(r'^<a ([^>]*)>(?:(?!<a ).)*</a>$', re.S)


def available_sources(req) -> list[tuple[str, str, bool]]:
    return offered_choices(req.env.hook.search_sources(req=req))


def _picked_sources(req, available) -> list[str]:
    names = [s[0] for s in available]
    picked = [n for n in names if n in req.args]
    remembered = req.session.get("search.filters")
    if picked and "q" in req.args:
        value = ",".join(picked)
        # A visitor without a session cookie (a crawler, a load tool) makes no session row
        # per search for what is only a convenience: a browser keeps its choice from the
        # next search on, once it holds the cookie offered now.
        if remembered != value and not cookie_first(req.session):
            req.session["search.filters"] = value
    if not picked and remembered:
        picked = [n for n in remembered.split(",") if n in names]
    if not picked:
        disabled = set(DEFAULT_DISABLED_FILTERS(req.env.config))
        picked = [n for n, _label, checked in available if checked and n not in disabled]
    return picked


def _words_pattern(words: list[str]) -> re.Pattern[str] | None:
    """Any of ``words`` as a whole token (letters and digits, as the index splits text),
    in any case."""
    if not words:
        return None
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<![^\W_])(?:{alternatives})(?![^\W_])", re.IGNORECASE)


def excerpt(text: str, words: list[str], size: int = EXCERPT_CHARS) -> Markup:
    """About ``size`` characters of ``text`` around the first of ``words`` found, escaped,
    each of the words in it marked ``<span class="searchword">``."""
    text = " ".join((text or "").split())
    pattern = _words_pattern(words)
    match = pattern.search(text) if pattern else None
    first = match.start() if match else None
    start = 0 if first is None else max(0, first - size // 3)
    if start:  # begin at a word
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < first else start  # type: ignore[operator]
    piece = text[start:start + size]
    out = ["... " if start else ""]
    pos = 0
    for found in pattern.finditer(piece) if pattern else ():
        out.append(_html.escape(piece[pos:found.start()], quote=False))
        out.append(f'<span class="searchword">{_html.escape(found.group(0))}</span>')
        pos = found.end()
    out.append(_html.escape(piece[pos:], quote=False))
    if start + size < len(text):
        out.append(" ...")
    return Markup("".join(out))


def _as_int(text, default: int) -> int:
    try:
        return int(str(text).strip())
    except (TypeError, ValueError):
        return default


def quickjump(req, text: str) -> str | None:
    """Where ``text`` leads when it is one TracLink (``#1``, ``r42``, ``wiki:Page``) or the
    name of an existing page: the link's URL, else None."""
    text = text.strip()
    if not text or any(c.isspace() for c in text) or len(text) > 200:
        return None
    from codeyard.wiki.api import format_context
    from codeyard.wiki.formatter import format_to_oneliner

    ctx = format_context(req, Resource("search"))
    rendered = str(format_to_oneliner(ctx, text)).strip()
    match = _SINGLE_LINK.match(rendered)
    if not match:
        return None
    attrs = match.group(1)
    css = re.search(r'class="([^"]*)"', attrs)
    if css and "missing" in css.group(1).split():
        return None
    href = re.search(r'href="([^"]*)"', attrs)
    if not href:
        return None
    target = _html.unescape(href.group(1))
    if not target.startswith("/") or target.startswith("//"):
        return None  # an external link is not a jump
    return target


def visible_hits(req, query, sources: list[str]) -> list:
    """The hits of ``query`` in ``sources`` that the reader may see, best first (the index
    caught up with writes it did not see first)."""
    try:
        index.catch_up(req.env)
    except SQLAlchemyError as exc:  # another process catching up at once: search as is
        req.env.log.warning("search: catching up the index failed: %s", exc)
    hits = index.search(req.env, query, sources)
    visible: set[int] = set()
    for found in req.env.hook.search_visible(req=req, hits=hits):
        visible.update(id(hit) for hit in found or ())
    return [hit for hit in hits if id(hit) in visible]


def describe_hits(req, hits: list, words: list[str]) -> list[dict]:
    """The links, titles, excerpts, authors and dates of the hits shown, in their order
    (each result's ``hit`` is the one given; the hooks see copies with their ``body``)."""
    shown = [dataclasses.replace(hit) for hit in hits]  # the index's hits are shared
    index.load_bodies(req.env, shown)
    described: list = []
    for found in req.env.hook.search_results(req=req, hits=shown):
        described.extend(found or ())
    given = {id(copy): (n, hit) for n, (copy, hit) in enumerate(zip(shown, hits, strict=True))}
    described = [item for item in described if id(item[0]) in given]
    described.sort(key=lambda item: given[id(item[0])][0])
    return [{"href": href, "title": title, "author": copy.author, "date": copy.time,
             "excerpt": excerpt(copy.body, words), "hit": given[id(copy)][1]}
            for copy, href, title in described]


def search_page(req):
    """/search — ``q``, the source checkboxes, ``page``; ``noquickjump=1`` always searches."""
    req.perm.require("SEARCH_VIEW", Resource("search"))
    cookie_first(req.session)  # a new visitor is offered the cookie its choices need
    available = available_sources(req)
    picked = _picked_sources(req, available)
    text = (req.args.get("q") or "").strip()
    data = {
        "title": "Search", "query": text, "results": [], "searched": False,
        "filters": [{"name": n, "label": label, "active": n in picked}
                    for n, label, _checked in available],
        "prev_href": None, "next_href": None, "page": 1, "pages": 0, "total": 0,
    }
    req.chrome["stylesheets"].append(req.url_for("chrome", prefix="common",
                                                 path="css/search.css"))
    if not text:
        return "search/search.html", data
    if _as_int(req.args.get("noquickjump"), 0) == 0:
        target = quickjump(req, text)
        if target:
            return req.redirect(target)
    minimum = MIN_QUERY_LENGTH(req.env.config)
    if len(text) < minimum:
        req.add_warning("Search query too short. "
                        f"Query must be at least {minimum} characters long.")
        return "search/search.html", data
    query = parse_query(text)
    if not query:
        req.add_warning("The query holds no word to search for.")
        return "search/search.html", data
    shown = visible_hits(req, query, picked)
    total = len(shown)
    pages = max(1, -(-total // RESULTS_PER_PAGE))
    page = min(max(1, _as_int(req.args.get("page"), 1)), pages)
    words = query.words
    on_page = shown[(page - 1) * RESULTS_PER_PAGE:page * RESULTS_PER_PAGE]
    results = describe_hits(req, on_page, words)
    args = {"q": text, "noquickjump": 1, **{n: "on" for n in picked}}
    data.update(
        searched=True, results=results, page=page, pages=pages, total=total,
        prev_href=req.url_for("search", page=page - 1, **args) if page > 1 else None,
        next_href=req.url_for("search", page=page + 1, **args) if page < pages else None)
    return "search/search.html", data


# ---------------------------------------------------------------------------
# search: links


def search_link(fmt, ns, target, label, link=None) -> Markup:
    path, query, fragment = S.split_url(target)
    if path:
        href = fmt.href("search", q=path)
        if query:
            href += "&" + query[1:]
    else:
        href = fmt.href("search") + query
    return Markup('<a class="search" href="%s">%s</a>') % (href + fragment, Markup(label))


# ---------------------------------------------------------------------------
# Hooks


@hookimpl
def web_routes():
    return [(Rule("/search", endpoint="search"), search_page)]


@hookimpl
def navigation_items(req):
    if req.perm.has("SEARCH_VIEW", Resource("search")):
        url = req.url_for("search")
        # The main menu's entry, and the header's search box (Trac's form#search).
        return [NavItem("mainnav", "search", "Search", url, order=90),
                NavItem("search", "search", "Search", url)]
    return []


@hookimpl
def wiki_link_resolvers():
    return {"search": search_link}


@hookimpl
def database_extras(env, db):
    return index.ensure_tables(db)


@hookimpl
def config_options():
    return options_in(sys.modules[__name__])


__all__ = ["excerpt", "quickjump", "search_page", "tokens"]
