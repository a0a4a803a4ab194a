"""``/query``: the tickets a query selects, as a table with sorting, grouping and paging,
or as CSV, TSV and RSS; and the ``[[TicketQuery]]`` macro (list, compact, count, rawcount,
table and progress formats). The language itself lives in ``query.py``."""

from __future__ import annotations

import csv
import io
import sys
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup
from werkzeug.routing import Rule
from werkzeug.wrappers import Response

from codeyard.config import IntOption, options_in
from codeyard.core import hookimpl
from codeyard.perm import Resource
from codeyard.ticket.query import Query, QueryError
from codeyard.web.api import HTTPBadRequest, NavItem
from codeyard.web.chrome import MINUTES, format_datetime
from codeyard.web.feeds import FeedItem, rss_response
from codeyard.wiki.api import MacroError, WikiMacro

ITEMS_PER_PAGE = IntOption("query", "items_per_page", 100,
                           "Tickets a page of /query shows (0 for all of them on one page).")
DEFAULT_QUERY = "status!=closed&owner=$USER"
DEFAULT_ANONYMOUS_QUERY = "status!=closed&cc~=$USER"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if hasattr(value, "strftime"):
        return format_datetime(value, fmt=MINUTES)
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _query_from_request(req) -> Query:
    args = req.args
    meaningful = [k for k in args if k not in ("format", "page", "__FORM_TOKEN")]
    try:
        if not meaningful:
            text = DEFAULT_QUERY if req.is_authenticated else "status!=closed"
            query = Query.from_string(req.env, text + "&order=priority")
        else:
            query = Query.from_args(req.env, args)
        if "page" in args:
            query = Query.from_args(req.env, [*query.to_args(), ("page", args.get("page", ""))])
        query.items_per_page = ITEMS_PER_PAGE(req.env.config)
        if query.max is None and query.items_per_page:
            query.max = query.items_per_page
        query.validate()
    except QueryError as exc:
        raise HTTPBadRequest(str(exc), title="Invalid query") from None
    return query


def query_page(req):
    """/query — the tickets of a query (``?status=!closed&col=…&order=…``)."""
    req.perm.require("TICKET_VIEW")
    query = _query_from_request(req)
    fmt = req.args.get("format")
    if fmt in ("csv", "tab"):
        query.max = 0
    try:
        tickets = query.execute(req.env, user=req.authname)
    except QueryError as exc:
        raise HTTPBadRequest(str(exc), title="Invalid query") from None
    page = int(query.page or 1)
    if query.max and page > 1 and (page - 1) * query.max >= (query.num_items or 0):
        raise HTTPBadRequest(f"Page {page} is beyond the number of pages in the query.",
                             title="Invalid query")
    tickets = [t for t in tickets if req.perm.has("TICKET_VIEW", Resource("ticket", t["id"]))]
    columns = query.get_columns()
    if fmt in ("csv", "tab"):
        return _export(columns, tickets, "," if fmt == "csv" else "\t")
    if fmt == "rss":
        return _rss(req, query, tickets)
    if fmt:
        raise HTTPBadRequest(f"Unknown format '{fmt}': csv, tab or rss.")
    labels = {f.name: f.label for f in query.fields}
    labels["id"] = "Ticket"
    groups: list[tuple[str, list[dict]]] = []
    for ticket in tickets:
        key = _cell(ticket.get(query.group)) if query.group else ""
        if not groups or groups[-1][0] != key:
            groups.append((key, []))
        groups[-1][1].append(ticket)
    base = query.to_args()

    def sort_href(column: str) -> str:
        args = [(k, v) for k, v in base if k not in ("order", "desc", "page")]
        args.append(("order", column))
        if query.order == column and not query.desc:
            args.append(("desc", "1"))
        return _query_url(req, args)

    pages = {}
    if query.max:
        args = [(k, v) for k, v in base if k != "page"]
        if page > 1:
            pages["prev"] = _query_url(req, [*args, ("page", str(page - 1))])
        if query.has_more_pages and page * query.max < (query.num_items or 0):
            pages["next"] = _query_url(req, [*args, ("page", str(page + 1))])
    req.chrome["stylesheets"].append(req.url_for("chrome", prefix="common", path="css/ticket.css"))
    batch = _batch_data(req, tickets) if tickets else None
    return "ticket/query.html", {
        "title": "Custom Query", "query": query, "columns": columns, "labels": labels,
        "groups": groups, "count": query.num_items or 0, "sort_href": sort_href,
        "pages": pages, "page": page, "query_string": query.to_string(),
        "batch": batch, "query_href": _query_url(req, base),
        "formats": {name: _query_url(req, [*base, ("format", name)]) for name in ("csv", "tab", "rss")},
    }


def _batch_data(req, tickets: list[dict]) -> dict | None:
    """The batch modify form: the fields, and the actions some shown ticket allows."""
    if not (req.perm.has("TICKET_BATCH_MODIFY") and req.env.is_enabled("codeyard.ticket.batch")):
        return None
    from codeyard.ticket import workflow
    from codeyard.ticket.batch import batch_fields
    from codeyard.ticket.model import Ticket

    actions: dict[str, Any] = {}
    for row in tickets[:50]:  # the actions of the first tickets are enough to offer them
        ticket = Ticket(req.env, row["id"])
        values = {**ticket.values, "id": ticket.id}
        perm = req.perm(Resource("ticket", ticket.id))
        for action in workflow.available_actions(req.env, values, perm, req.authname):
            if action.name not in actions:
                actions[action.name] = {
                    "action": action, "checked": action.name == "leave",
                    "control": workflow.action_controls(req.env, action, values, req.authname)}
    return {"fields": batch_fields(req.env), "actions": list(actions.values())}


def _query_url(req, pairs: list[tuple[str, str]]) -> str:
    """/query with these arguments, in their order."""
    return req.url_for("query") + "?" + urlencode(pairs)


def _export(columns: list[str], tickets: list[dict], delimiter: str) -> Response:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(columns)
    for ticket in tickets:
        writer.writerow([_cell(ticket.get(c)).replace("\t", " ") if delimiter != "," else
                         _cell(ticket.get(c)) for c in columns])
    kind = "text/csv" if delimiter == "," else "text/tab-separated-values"
    return Response("\ufeff" + out.getvalue(), content_type=f"{kind}; charset=utf-8",
                    headers={"Content-Disposition": "attachment; filename=query." +
                                                    ("csv" if delimiter == "," else "tsv")})


def _rss(req, query: Query, tickets: list[dict]) -> Response:
    items = [FeedItem(f"#{t['id']}: {t.get('summary', '')}",
                      req.absolute(req.url_for("ticket", id=t["id"])), permalink=True,
                      date=t.get("time") or None)
             for t in tickets]
    return rss_response(f"{req.env.project_name}: Ticket Query",
                        req.absolute(req.url_for("query")), query.to_string(), items)


# ---------------------------------------------------------------------------
# [[TicketQuery]]


def ticket_query_macro(fmt, name, content, args):
    env = fmt.env
    try:
        query = Query.from_macro(env, content or "")
        user = getattr(fmt.ctx.perm, "username", None) if fmt.ctx.perm is not None else None
        if query.format in ("count", "rawcount"):
            count = query.count(env, user=user)
            if query.format == "rawcount":
                return Markup('<span class="query_count">%d</span>') % count
            href = fmt.href.query(query.to_args())
            return Markup('<a href="%s" title="%d tickets matching %s" class="query_count">%d</a>') % (
                href, count, query.to_string(), count)
        tickets = query.execute(env, user=user)
    except QueryError as exc:
        raise MacroError(str(exc)) from None
    if fmt.ctx.perm is not None:
        tickets = [t for t in tickets if fmt.ctx.allows("TICKET_VIEW", "ticket", t["id"])]
    href = fmt.href

    def ticket_link(t: dict, label: str | None = None) -> Markup:
        status = t.get("status", "")
        return Markup('<a class="%s ticket" href="%s" title="%s">%s</a>') % (
            status, href.ticket(t["id"]), t.get("summary", ""), label or f"#{t['id']}")

    if query.format == "compact":
        if not tickets:
            return Markup('<span class="query_no_results">No results</span>')
        return Markup('<span>%s</span>') % Markup(", ").join(ticket_link(t) for t in tickets)
    if query.format == "table":
        columns = query.get_columns()
        labels = {f.name: f.label for f in query.fields} | {"id": "Ticket"}
        head = Markup("").join(Markup("<th>%s</th>") % labels.get(c, c) for c in columns)
        rows = Markup("").join(
            Markup("<tr>%s</tr>") % Markup("").join(
                Markup("<td>%s</td>") % (ticket_link(t) if c == "id"
                                         else _cell(t.get(c))) for c in columns)
            for t in tickets)
        return Markup('<table class="listing tickets"><thead><tr>%s</tr></thead><tbody>%s</tbody>'
                      '</table>') % (head, rows)
    if query.format == "progress":
        closed = sum(1 for t in tickets if t.get("status") == "closed")
        total = len(tickets)
        percent = round(closed * 100 / total) if total else 0
        return Markup('<div class="trac-progress"><table class="progress"><tr>'
                      '<td class="closed" style="width: %d%%"></td><td class="open" style="width: %d%%">'
                      '</td></tr></table><p class="percent">%d / %d</p></div>') % (
            percent, 100 - percent, closed, total)
    if not tickets:
        return Markup('<span class="query_no_results">No results</span>')
    items = Markup("").join(Markup("<dt>%s</dt><dd>%s</dd>") % (ticket_link(t), t.get("summary", ""))
                            for t in tickets)
    return Markup('<div><dl class="wiki compact">%s</dl></div>') % items


# ---------------------------------------------------------------------------
# Hooks


@hookimpl
def web_routes():
    return [(Rule("/query", endpoint="query"), query_page)]


@hookimpl
def start_pages():
    return {"QueryModule": "query"}


@hookimpl
def navigation_items(req):
    # "View Tickets" goes to the reports when they are on (as in Trac), else here.
    if req.perm.has("TICKET_VIEW") and not req.env.is_enabled("codeyard.ticket.report_web"):
        return [NavItem("mainnav", "query", "View Tickets", req.url_for("query"), order=40)]
    return []


@hookimpl
def config_options():
    return options_in(sys.modules[__name__])


@hookimpl
def wiki_macros():
    return {"TicketQuery": WikiMacro(
        "TicketQuery", ticket_query_macro,
        "Insert the tickets of a query: `[[TicketQuery(status=new|assigned&owner=$USER, "
        "format=table, col=summary|owner)]]`; formats list, compact, count, rawcount, table, "
        "progress.", lambda content: any(f in (content or "") for f in ("compact", "count")))}
