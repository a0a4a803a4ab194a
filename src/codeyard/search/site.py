"""The site's search (``/?view=search`` in parent-dir mode): one query run in every project
the visitor may search, each through its own index and permissions, the hits merged into one
ranked list with the project named on each.

The lists are merged by each hit's score: the same ranking (bm25 on SQLite, ts_rank on
PostgreSQL) over each project's own documents, so a title match in one project still ranks
above a passing mention in another. Projects on different database engines rank on different
scales; within one engine the order is the one each index would give.
"""

from __future__ import annotations

from urllib.parse import urlencode

from codeyard.core import hookimpl
from codeyard.perm import Resource
from codeyard.search.query import parse_query
from codeyard.search.web import (
    MIN_QUERY_LENGTH,
    RESULTS_PER_PAGE,
    _as_int,
    available_sources,
    describe_hits,
    visible_hits,
)
from codeyard.web.api import HTTPBadRequest
from codeyard.web.site_views import pick_projects

SEARCH_PLUGIN = "codeyard.search.web"


def site_search(site):
    text = (site.args.get("q") or "").strip()
    wanted, refused = pick_projects(site.args.getlist("project"))
    visits = [v for v in site.visit(SEARCH_PLUGIN)
              if v.req.perm.has("SEARCH_VIEW", Resource("search"))
              and not (wanted and v.info["dirname"] not in wanted)
              and v.info["dirname"] not in refused]
    data = {"title": "Search all projects", "query": text, "results": [], "searched": False,
            "projects": [v.info for v in visits], "total": 0, "page": 1, "pages": 0,
            "prev_href": None, "next_href": None,
            "picked": [p for p in site.args.getlist("project") if p]}
    if not text:
        return "search/site_search.html", data
    query = parse_query(text)
    shortest = min((MIN_QUERY_LENGTH(v.req.env.config) for v in visits), default=3)
    if len(text) < shortest:
        raise HTTPBadRequest(f"Search query too short. Query must be at least {shortest} "
                             "characters long.", title="Search")
    if not query:
        raise HTTPBadRequest("The query holds no word to search for.", title="Search")
    merged = []
    for visit in visits:
        req = visit.req
        sources = [name for name, _label, checked in available_sources(req) if checked]
        hits = visible_hits(req, query, sources)
        for rank, hit in enumerate(hits):
            merged.append((hit.score, -rank, hit.time, visit, hit))
    merged.sort(key=lambda item: (item[0], item[1], item[2]), reverse=True)
    total = len(merged)
    pages = max(1, -(-total // RESULTS_PER_PAGE))
    page = min(max(1, _as_int(site.args.get("page"), 1)), pages)
    on_page = merged[(page - 1) * RESULTS_PER_PAGE:page * RESULTS_PER_PAGE]
    results = []
    by_visit: dict[int, list] = {}
    for item in on_page:
        by_visit.setdefault(id(item[3]), []).append(item)
    described: dict[int, dict] = {}
    for items in by_visit.values():
        visit = items[0][3]
        for result in describe_hits(visit.req, [i[4] for i in items], query.words):
            result["project"] = visit.info["name"]
            described[id(result["hit"])] = result
    results = [described[id(item[4])] for item in on_page if id(item[4]) in described]
    root = site.script_root.rstrip("/")
    base = [(k, v) for k, v in site.args.items(multi=True) if k != "page"]

    def page_href(number: int) -> str:
        return f"{root}/?{urlencode([*base, ('page', str(number))])}"

    data.update(searched=True, results=results, total=total, page=page, pages=pages,
                prev_href=page_href(page - 1) if page > 1 else None,
                next_href=page_href(page + 1) if page < pages else None)
    return "search/site_search.html", data


@hookimpl
def site_views():
    from codeyard.web.site_views import SiteView, template_dir_of

    return [SiteView("search", "Search", site_search, plugin=SEARCH_PLUGIN,
                     template_dir=template_dir_of(__file__))]
