"""The site's ticket query (``/?view=query`` in parent-dir mode): ``/query``'s arguments
run in every project the visitor may query, plus ``project=`` (``alpha|beta``,
``!gamma``) to pick projects; one table, sorted as asked, with a project column."""

from __future__ import annotations

from typing import Any

from codeyard.core import hookimpl
from codeyard.perm import Resource
from codeyard.ticket.query import Query, QueryError
from codeyard.ticket.query_web import _cell, _query_from_request
from codeyard.web.api import HTTPBadRequest
from codeyard.web.site_views import pick_projects

QUERY_PLUGIN = "codeyard.ticket.query_web"
SITE_MAX = 100  # rows per page of the combined table
COLUMNS = ["id", "summary", "status", "type", "priority", "owner", "milestone"]


def _sort_key(value: Any):
    if value is None or value == "":
        return (1, "")
    if isinstance(value, (int, float)):
        return (0, value)
    if hasattr(value, "timestamp"):
        return (0, value.timestamp())
    return (0, str(value).lower())


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def split_project_clauses(text: str) -> tuple[str, list[str]]:
    """A ``query:`` string with its ``project=`` clauses taken out: (the rest, their values)."""
    kept, projects = [], []
    for clause in text.split("&"):
        name, sep, value = clause.partition("=")
        if sep and name.strip() == "project":
            projects.append(value)
        elif sep and name.strip() == "project!":
            projects.append("!" + value)
        else:
            kept.append(clause)
    return "&".join(kept), projects


def site_query(site):
    pairs = [(k, v) for k, v in site.args.items(multi=True)
             if k not in ("view", "project", "page", "max", "query")]
    text, in_text = split_project_clauses((site.args.get("query") or "").strip().lstrip("?"))
    wanted, refused = pick_projects([*site.args.getlist("project"), *in_text])
    try:
        page = max(1, int(site.args.get("page") or 1))
    except ValueError:
        raise HTTPBadRequest("page is a number.", title="Invalid query") from None
    rows: list[dict[str, Any]] = []
    total = 0
    error = None
    order, desc = "priority", False
    shown: list[dict[str, Any]] = []
    for visit in site.visit(QUERY_PLUGIN):
        name = visit.info["dirname"]
        if (wanted and name not in wanted) or name in refused:
            continue
        req = visit.req
        if not req.perm.has("TICKET_VIEW"):
            continue
        shown.append(visit.info)
        try:
            if text:
                query = Query.from_string(req.env, text)
                query.max = page * SITE_MAX
                query.validate()
            else:
                query = _query_from_request(req, [*pairs, ("max", str(page * SITE_MAX))])
            tickets = query.execute(req.env, user=req.authname)
        except QueryError as exc:
            error = f"{visit.info['name']}: {exc}"
            continue
        order, desc = query.order or "priority", bool(query.desc)
        total += query.num_items or 0
        for ticket in tickets:
            if req.perm.has("TICKET_VIEW", Resource("ticket", ticket["id"])):
                ticket = dict(ticket)
                ticket["project"] = visit.info["name"]
                ticket["href"] = req.url_for("ticket", id=ticket["id"])
                rows.append(ticket)
    if error and not rows:
        raise HTTPBadRequest(error, title="Invalid query")
    # Each project sorted its own rows (priorities and such by their own order); the
    # combined table sorts by the value, then by project and number.
    rows.sort(key=lambda t: (t["project"], t["id"]))
    if order == "priority":  # by the priorities' own order, as each project ranks them
        rows.sort(key=lambda t: _sort_key(_as_int(t.get("_priority_value"))), reverse=desc)
    else:
        rows.sort(key=lambda t: _sort_key(t.get(order)), reverse=desc)
    start = (page - 1) * SITE_MAX
    visible = rows[start:start + SITE_MAX]
    base = [(k, v) for k, v in site.args.items(multi=True) if k != "page"]
    from urllib.parse import urlencode

    root = site.script_root.rstrip("/")

    def page_href(number: int) -> str:
        return f"{root}/?{urlencode([*base, ('page', str(number))])}"

    return "ticket/site_query.html", {
        "title": "Tickets of all projects",
        "columns": [c for c in COLUMNS if c != "id"],
        "rows": [{"project": t["project"], "href": t["href"], "id": t["id"],
                  "cells": [_cell(t.get(c)) for c in COLUMNS if c != "id"]} for t in visible],
        "count": total, "projects": shown, "error": error,
        "prev_href": page_href(page - 1) if page > 1 else None,
        "next_href": page_href(page + 1) if start + SITE_MAX < len(rows) else None,
        "query_text": site.args.get("query") or "",
        "query_args": [(k, v) for k, v in site.args.items(multi=True)
                       if k not in ("view", "page", "query")],
    }


@hookimpl
def site_views():
    from codeyard.web.site_views import SiteView, template_dir_of

    return [SiteView("query", "Tickets", site_query, plugin=QUERY_PLUGIN,
                     template_dir=template_dir_of(__file__))]
