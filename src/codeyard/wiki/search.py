"""Wiki pages in the search (source ``wiki``): the latest version of each page."""

from __future__ import annotations

import re

from codeyard.core import hookimpl
from codeyard.perm import Resource
from codeyard.search.api import SearchDocument
from codeyard.search.index import reindex

_CAMEL_PART = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_LATEST = ("SELECT w.name, w.time, w.author, w.text FROM wiki w "
           "JOIN (SELECT name, MAX(version) AS version FROM wiki GROUP BY name) l "
           "ON l.name = w.name AND l.version = w.version")


def _title(name: str) -> str:
    """The page name and its parts (``WikiStart`` is found by "start" too)."""
    parts = " ".join(_CAMEL_PART.findall(name))
    return f"{name} {parts}" if parts and parts != name else name


def page_documents(env, since: int | None = None, names=None) -> list[SearchDocument]:
    sql, params = _LATEST, []
    if since is not None:
        sql += " WHERE w.time >= %s"
        params.append(since)
    with env.db_query as db:
        if names is not None:
            rows = []
            for name in names:
                rows += db(sql + (" AND" if since is not None else " WHERE") + " w.name = %s",
                           [*params, name])
        else:
            rows = db(sql, params)
    return [SearchDocument("wiki", name, _title(name), text or "", author or "", int(time or 0))
            for name, time, author, text in rows]


@hookimpl
def search_sources(req):
    if req.perm.has("WIKI_VIEW"):
        return [("wiki", "Wiki", True)]
    return []


@hookimpl
def search_stamps(env, db):
    # Two subqueries, each answered from an index (the pair in one SELECT reads the table)
    count, newest = db("SELECT (SELECT COUNT(DISTINCT name) FROM wiki), "
                       "(SELECT MAX(time) FROM wiki)")[0]
    return {"wiki": (count, newest)}


@hookimpl
def search_documents(env, source, since):
    if source == "wiki":
        return page_documents(env, since)
    return None


@hookimpl
def search_visible(req, hits):
    return req.perm.allowed("WIKI_VIEW", (hit for hit in hits if hit.source == "wiki"),
                            lambda hit: Resource("wiki", hit.id))


@hookimpl
def search_results(req, hits):
    return [(hit, req.url_for("wiki", page=hit.id), hit.id) for hit in hits
            if hit.source == "wiki"]


@hookimpl
def wiki_page_changed(env, event, page, old_name, version):
    name = page.name
    removed = [("wiki", "", old_name)] if old_name else []
    docs = page_documents(env, names=[name])
    if not docs:
        removed.append(("wiki", "", name))
    reindex(env, docs, removed)
