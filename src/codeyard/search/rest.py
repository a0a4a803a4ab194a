"""Search in the REST API: the hits of ``q`` in the picked sources, best first, as
``/search`` finds them (SEARCH_VIEW)."""

from __future__ import annotations

from markupsafe import Markup

from codeyard.core import hookimpl
from codeyard.perm import Resource
from codeyard.rest.api import STR, TIME, Call, Endpoint, Paged, Param, array, bad_request, iso, obj
from codeyard.search.query import parse_query
from codeyard.search.web import MIN_QUERY_LENGTH, available_sources, describe_hits, visible_hits

HIT_SCHEMA = obj({"url": STR, "title": STR, "date": TIME, "author": STR, "excerpt": STR})


@hookimpl
def rest_endpoints():
    return [
        Endpoint("GET", "/search", "The hits of a search, best first", search, "search",
                 "SEARCH_VIEW", [
                     Param("q", "query", STR, "The words to find (the search page's syntax).",
                           True),
                     Param("filters", "query", array(STR), "The sources to search (e.g. "
                           "ticket,wiki), comma-separated; by default all of them."),
                 ], response_schema=HIT_SCHEMA, paged=True),
        Endpoint("GET", "/search/filters", "The sources one may search", search_filters,
                 "search", "SEARCH_VIEW", response_schema=array(obj({"name": STR,
                                                                     "label": STR}))),
    ]


def search_filters(call: Call) -> list[dict]:
    call.req.perm.require("SEARCH_VIEW", Resource("search"))
    return [{"name": n, "label": str(label)} for n, label, _checked in available_sources(call.req)]


def search(call: Call) -> Paged:
    req = call.req
    req.perm.require("SEARCH_VIEW", Resource("search"))
    names = [name for name, _label, _checked in available_sources(req)]
    picked = call.args.get("filters")
    if picked is None:
        picked = names
    unknown = [name for name in picked if name not in names]
    if unknown:
        raise bad_request(f"filters: unknown source {unknown[0]!r} (known: {', '.join(names)})")
    text = call.args["q"].strip()
    minimum = MIN_QUERY_LENGTH(call.env.config)
    if len(text) < minimum:
        raise bad_request(f"q: a search needs at least {minimum} characters.")
    parsed = parse_query(text)
    if not parsed:
        raise bad_request("q holds no word to search for.")
    hits = visible_hits(req, parsed, picked)
    page = call.page_of(hits)
    return Paged([{"url": req.absolute(item["href"]), "title": Markup(item["title"]).striptags(),
                   "date": iso(item["date"]), "author": item["author"] or "",
                   "excerpt": Markup(item["excerpt"]).striptags()}
                  for item in describe_hits(req, page.items, parsed.words)], page.total)
