"""The ``search.*`` RPC namespace as Trac's XmlRpcPlugin offers it."""

from __future__ import annotations

from codeyard.core import hookimpl
from codeyard.perm import Resource
from codeyard.rpc.api import RpcError, RpcMethod, to_datetime, want
from codeyard.search.query import parse_query
from codeyard.search.web import MIN_QUERY_LENGTH, available_sources, describe_hits, visible_hits


@hookimpl
def rpc_methods():
    return [
        RpcMethod("search.getSearchFilters", get_search_filters, [[list]], "SEARCH_VIEW"),
        RpcMethod("search.performSearch", perform_search, [[list, str], [list, str, list]],
                  "SEARCH_VIEW"),
    ]


def get_search_filters(req):
    """Returns the search filters (sources) the caller may search, each
    ``[name, description]``."""
    req.perm.require("SEARCH_VIEW", Resource("search"))
    return [[name, label] for name, label, _checked in available_sources(req)]


def perform_search(req, query, filters=None):
    """Searches the named filters (all of them when none are given; an empty list finds
    nothing) and returns the hits, best first, each
    ``[href, title, date, author, excerpt]`` with an absolute href."""
    want(query, str, "query")
    req.perm.require("SEARCH_VIEW", Resource("search"))
    names = [name for name, _label, _checked in available_sources(req)]
    if filters is not None:
        want(filters, list, "filters")
        picked = [n for n in names if n in set(map(str, filters))]
        if not picked:
            return []
    else:
        picked = names
    text = query.strip()
    minimum = MIN_QUERY_LENGTH(req.env.config)
    if len(text) < minimum:
        raise RpcError(f"Search query too short. Query must be at least {minimum} "
                       "characters long.")
    parsed = parse_query(text)
    if not parsed:
        raise RpcError("The query holds no word to search for.")
    hits = visible_hits(req, parsed, picked)
    return [[req.absolute(item["href"]), str(item["title"]), to_datetime(item["date"]),
             item["author"] or "", str(item["excerpt"])]
            for item in describe_hits(req, hits, parsed.words)]
