"""``/query``: the tickets a query selects, as a table with sorting, grouping and paging,
or as CSV, TSV and RSS; and the ``[[TicketQuery]]`` macro (list, compact, count, rawcount,
table and progress formats). The language itself lives in ``query.py``."""

from __future__ import annotations

import csv
import io
import sys
import time as _time
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup, escape
from werkzeug.routing import Rule
from werkzeug.wrappers import Response

from codeyard.config import IntOption, Option, as_bool, options_in
from codeyard.core import hookimpl
from codeyard.perm import Resource
from codeyard.ticket.fields import TicketField, ticket_fields
from codeyard.ticket.links import ticket_class
from codeyard.ticket.query import (
    MODE_LABELS,
    Query,
    QueryError,
    filter_modes,
    read_filter_rows,
    read_plain_filters,
)
from codeyard.web.api import HTTPBadRequest, NavItem
from codeyard.web.chrome import MINUTES, format_datetime
from codeyard.web.feeds import FeedItem, rss_response
from codeyard.web.session import cookie_first
from codeyard.wiki.api import MacroError, WikiMacro, format_context
from codeyard.wiki.formatter import format_to_html

ITEMS_PER_PAGE = IntOption("query", "items_per_page", 100,
                           "Tickets a page of /query shows (0 for all of them on one page).")
DEFAULT_QUERY = Option(
    "query", "default_query", "status!=closed&owner=$USER",
    "The query /query runs for a logged-in user when the URL gives no filter: query "
    "language (`status!=closed&owner=$USER`) or, starting with `?`, URL arguments.")
DEFAULT_ANONYMOUS_QUERY = Option(
    "query", "default_anonymous_query", "status!=closed&cc~=$USER",
    "The same for anonymous visitors; `$USER` is their e-mail or name from the preferences, "
    "and a filter on `$USER` is dropped when they gave neither.")
TRAIL_REFRESH = 3600  # seconds after which the same query counts as a new one (as Trac)
_KEYWORDS = ("col", "row", "order", "desc", "group", "groupdesc", "max", "page", "verbose",
             "report", "format")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if hasattr(value, "strftime"):
        return format_datetime(value, fmt=MINUTES)
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _request_pairs(req) -> list[tuple[str, str]]:
    """The page's arguments in order: the URL's, then a posted form's (Trac's form posts)."""
    pairs = list(req.args.items(multi=True))
    if req.method == "POST":
        pairs += [(k, v) for k, v in req.form.items(multi=True) if k != "__FORM_TOKEN"]
    return pairs


def _default_query(req, pairs: list[tuple[str, str]]) -> Query:
    """The configured default query, with what the URL says about columns and order."""
    env = req.env
    if req.is_authenticated:
        text, user = DEFAULT_QUERY(env.config), req.authname
    else:
        text = DEFAULT_ANONYMOUS_QUERY(env.config)
        user = req.session.get("email") or req.session.get("name") or None
    default = Query.from_args(env, text) if text.startswith("?") else Query.from_string(env, text)
    merged: list[tuple[str, str]] = []
    for i, clause in enumerate(default.constraints):
        kept = {}
        for name, values in clause.items():
            if user:
                kept[name] = [v.replace("$USER", user) for v in values]
            elif not any(v.endswith("$USER") for v in values):
                kept[name] = values
        if i and merged:
            merged.append(("or", ""))
        merged.extend((name, v) for name in sorted(kept) for v in kept[name])
    given = {k for k, _ in pairs}
    merged += [(k, v) for k, v in default.to_args()
               if k in ("col", "desc", "group", "groupdesc", "max", "order") and k not in given]
    merged += [(k, v) for k, v in pairs if k in _KEYWORDS]
    return Query.from_args(env, merged)


def _ticket_cells(req, columns: list[str], ticket: dict) -> Markup:
    """A result row's cells (``<td>``s), put together here rather than cell by cell in
    the template: a page shows a hundred tickets."""
    href = escape(req.href("ticket", ticket["id"]))
    out = []
    for column in columns:
        if column == "id":
            shown = f'<a href="{href}" title="View ticket">#{escape(ticket["id"])}</a>'
        elif column == "summary":
            shown = f'<a href="{href}">{escape(ticket.get("summary"))}</a>'
        else:
            value = ticket.get(column)
            if value and hasattr(value, "strftime"):
                value = value.strftime("%Y-%m-%d %H:%M")
            shown = "" if value is None else escape(value)
        out.append(f'<td class="{escape(column)}">{shown}</td>')
    return Markup("".join(out))


QUERY_ROWS = 2048  # result rows whose cells a process keeps


def _all_cells(req, columns: list[str], tickets: list[dict]) -> dict[Any, Markup]:
    """Each ticket's cells, kept per process by what they show (the link base, the
    columns and their values): the default query's hundred rows change rarely."""
    from codeyard.util.lru import BoundedCache

    cache = req.env.memo("ticket.query_cells", lambda: BoundedCache(QUERY_ROWS))
    base = req.href.base
    names = tuple(columns)
    cells = {}
    for ticket in tickets:
        key = (base, names, ticket["id"], *(ticket.get(c) for c in names))
        try:
            cells[ticket["id"]] = cache.get_or_make(
                key, lambda ticket=ticket: _ticket_cells(req, columns, ticket))
        except TypeError:  # a value that cannot be a key (none of the field types)
            cells[ticket["id"]] = _ticket_cells(req, columns, ticket)
    return cells


def _query_from_request(req, pairs: list[tuple[str, str]]) -> Query:
    """The query of the page's arguments (QueryError when they are bad)."""
    query = Query.from_args(req.env, pairs)
    if not query.constraints:
        query = _default_query(req, pairs)
    query.items_per_page = ITEMS_PER_PAGE(req.env.config)
    query.validate()
    return query


def query_page(req):
    """/query — the tickets of a query (``?status=!closed&col=…&order=…`` or the form's
    numbered filters ``?0_status=new&0_owner_mode=~&0_owner=bob``), with the filter form."""
    req.perm.require("TICKET_VIEW")
    pairs = _request_pairs(req)
    fmt = req.args.get("format")
    _check_report_arg(req, pairs)
    try:
        query = _query_from_request(req, pairs)
    except QueryError as exc:
        return _invalid(req, pairs, str(exc), fmt)
    if req.method == "POST" and any(k == "update" for k, _ in pairs):
        return req.redirect(_query_url(req, query.to_args()))
    if fmt in ("csv", "tab") and not any(k == "max" for k, _ in pairs):
        query.max = 0
    try:
        tickets = query.execute(req.env, user=req.authname)
    except QueryError as exc:
        return _invalid(req, pairs, str(exc), fmt, query)
    page = int(query.page or 1)
    if query.max and page > 1 and (page - 1) * query.max >= (query.num_items or 0):
        return _invalid(req, pairs, f"Page {page} is beyond the number of pages in the query.",
                        fmt, query)
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
    query_href = _query_url(req, base)
    row_html: dict[tuple[int, str], Any] = {}
    for ticket in tickets if query.rows else []:
        ctx = format_context(req, Resource("ticket", ticket["id"]))
        for name in query.rows:
            if ticket.get(name):
                row_html[ticket["id"], name] = format_to_html(ctx, str(ticket[name]))
    _remember(req, query, tickets, query_href)
    cells = _all_cells(req, columns, tickets)
    batch = _batch_data(req, tickets) if tickets else None
    data = _page_data(req, query.constraints, _settings(query), query)
    data.update({
        "query": query, "columns": columns, "labels": labels, "row_html": row_html,
        "cells": cells, "groups": groups, "count": query.num_items or 0, "sort_href": sort_href,
        "pages": pages, "page": page, "query_string": query.to_string(),
        "batch": batch, "query_href": query_href,
        "formats": {name: _query_url(req, [*base, ("format", name)]) for name in ("csv", "tab", "rss")},
    })
    return "ticket/query.html", data


def _check_report_arg(req, pairs: list[tuple[str, str]]) -> None:
    """A query opened from a saved report needs the right to view that report."""
    raw = next((v for k, v in pairs if k == "report"), "")
    if raw.strip().isdigit():
        req.perm.require("REPORT_VIEW", Resource("report", int(raw)))


def _invalid(req, pairs: list[tuple[str, str]], message: str, fmt: str | None,
             query: Query | None = None):
    """The 400 page of a query that cannot run: the problem, and the form as the user
    filled it in, to correct it."""
    if fmt:
        raise HTTPBadRequest(message, title="Invalid query")
    fields = ticket_fields(req.env)
    if query is not None:
        clauses, settings = query.constraints, _settings(query)
    else:
        numbered, _problems = read_filter_rows(fields, pairs)
        clauses = [*numbered, *read_plain_filters(fields, pairs)]
        settings = _raw_settings(pairs)
    data = _page_data(req, clauses, settings, None)
    data.update({"query": query, "title": "Invalid query", "error": message, "count": 0, "groups": [],
                 "columns": [], "labels": {}, "pages": {}, "batch": None})
    return "ticket/query.html", data, 400


def _settings(query: Query) -> dict[str, Any]:
    return {"cols": query.get_columns(), "rows": query.rows, "order": query.order,
            "desc": query.desc, "group": query.group, "groupdesc": query.groupdesc,
            "max": str(query.max), "report": query.report}


def _raw_settings(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    def first(name: str, default: str = "") -> str:
        return next((v for k, v in pairs if k == name), default)

    report = first("report").strip()
    return {"cols": [v for k, v in pairs if k == "col"], "rows": [v for k, v in pairs if k == "row"],
            "order": first("order"), "desc": as_bool(first("desc")), "group": first("group"),
            "groupdesc": as_bool(first("groupdesc")), "max": first("max"),
            "report": int(report) if report.isdigit() else None}


def _page_data(req, clauses, settings: dict[str, Any], query: Query | None) -> dict[str, Any]:
    """What the page shows around the results: the filter form, the saved report it
    comes from, and the buttons that save it."""
    req.chrome["stylesheets"].append(req.url_for("chrome", prefix="common", path="css/ticket.css"))
    fields = ticket_fields(req.env)
    data: dict[str, Any] = {"title": "Custom Query", "error": None, "description_html": None,
                            "report": None, "save": None,
                            "form": filter_form(fields, clauses, settings)}
    report_id = settings.get("report")
    reports_on = req.env.is_enabled("codeyard.ticket.report_web")
    if reports_on and report_id is not None:
        from codeyard.ticket.report import get_report

        found = get_report(req.env, report_id)
        if found is not None and req.perm.has("REPORT_VIEW", Resource("report", report_id)):
            data["report"] = found
            data["title"] = found.title or data["title"]
            if found.description:
                ctx = format_context(req, Resource("report", report_id))
                data["description_html"] = format_to_html(ctx, found.description)
    if reports_on and query is not None:
        data["save"] = _save_buttons(req, query, data["report"])
    return data


def _save_buttons(req, query: Query, report) -> dict[str, Any] | None:
    """Trac's Edit / Save / Delete query buttons (GET forms to the report pages)."""
    perm = req.perm(Resource("report", report.id if report else None))
    edit = report is not None and perm.has("REPORT_MODIFY")
    new = req.perm.has("REPORT_CREATE", Resource("report"))
    delete = report is not None and perm.has("REPORT_DELETE")
    if not (edit or new or delete):
        return None
    target = req.url_for("report", id=str(report.id)) if report is not None else None
    return {"edit": edit, "new": new, "delete": delete, "target": target,
            "save_action": target if edit else req.url_for("report"),
            "text": saved_query_text(query), "report_id": report.id if report else None}


def saved_query_text(query: Query) -> str:
    """The body of a report that stands for this query, as Trac writes it: ``query:?``
    and the URL arguments, one per line (without the report number and the page)."""
    args = [(k, v) for k, v in query.to_args() if k not in ("report", "page", "format")]
    return "query:?" + "\n&\n".join(urlencode([pair]) for pair in args)


def _remember(req, query: Query, tickets: list[dict], href: str) -> None:
    """The session trail the ticket pages follow (Previous/Next, Back to query), under
    Trac's names; the session is written only when something in it changed."""
    session = req.session
    if cookie_first(session):
        return
    constraints = str(query.constraints)
    now = int(_time.time())
    try:
        since = int(session.get("query_time") or 0)
    except ValueError:
        since = 0
    if session.get("query_constraints") != constraints or now - since > TRAIL_REFRESH:
        session["query_constraints"] = constraints
        session["query_time"] = str(now)
    session["query_href"] = href
    session["query_tickets"] = " ".join(str(t["id"]) for t in tickets)


# ---------------------------------------------------------------------------
# The filter form


def filter_form(fields: list[TicketField], clauses: list[dict[str, list[str]]],
                settings: dict[str, Any]) -> dict[str, Any]:
    """What the template needs to draw the filter form of these clauses with Trac's
    field names: per clause its rows, then the add-a-filter choices; the columns, group,
    rows and max options."""
    info = {f.name: f for f in fields}
    info["id"] = TicketField("id", "id", "Ticket")
    names = sorted(info, key=lambda n: info[n].label.lower())
    out = []
    for number, clause in enumerate(clauses or [{}]):
        rows = []
        for name in names:
            if name in clause:
                rows.extend(_filter_rows(number, info[name], clause[name]))
        add = [{"name": n, "label": info[n].label,
                "disabled": info[n].type in ("radio", "checkbox", "id") and n in clause}
               for n in names]
        out.append({"number": number, "rows": rows, "add": add})
    cols = settings.get("cols") or []
    all_columns = [c for c in _all_columns(fields) if c != "id"]
    return {
        "clauses": out, "next_clause": len(out),
        "fields": [{"name": n, "label": info[n].label} for n in names],
        "columns": [{"name": c, "label": info[c].label if c in info else c, "checked": c in cols}
                    for c in all_columns],
        "group_fields": [{"name": n, "label": info[n].label} for n in names
                         if info[n].type in ("select", "radio") or n in ("owner", "reporter")],
        "textareas": [{"name": f.name, "label": f.label, "checked": f.name in settings.get("rows", [])}
                      for f in fields if f.type == "textarea"],
        **{k: settings.get(k) for k in ("order", "desc", "group", "groupdesc", "max", "report")},
    }


def _all_columns(fields: list[TicketField]) -> list[str]:
    return Query(fields, []).get_all_columns()


def _split_value(value: str) -> tuple[str, str]:
    neg = value.startswith("!")
    rest = value[neg:]
    mode = rest[:1] if rest[:1] in ("~", "^", "$") and rest != "$USER" else ""
    return ("!" if neg else "") + mode, rest[len(mode):]


def _filter_rows(number: int, f: TicketField, values: list[str]) -> list[dict[str, Any]]:
    """The form rows of one field's filter: one per value (one in all for checkboxes)."""
    split = [_split_value(v) for v in values] or [("", "")]
    mode = split[0][0]
    bare = [b for _, b in split]
    key = f"{number}_{f.name}"
    base: dict[str, Any] = {"key": key, "name": f.name, "label": f.label, "kind": f.type,
                            "mode": mode}
    modes = filter_modes(f.type)
    if modes:
        base["modes"] = [{"value": m, "label": MODE_LABELS[m], "selected": m == mode} for m in modes]
        if mode not in modes:
            base["modes"].append({"value": mode, "label": MODE_LABELS.get(mode, mode),
                                  "selected": True})
    if f.type == "radio":
        chosen = set(bare)
        return [{**base, "index": 0, "first": True, "options": [
            {"value": o, "label": o or "none", "checked": (mode == "") == (o in chosen)}
            for o in f.options]}]
    if f.type == "checkbox":
        on = as_bool(bare[0]) != (mode == "!")
        return [{**base, "index": 0, "first": True, "on": on}]
    rows = []
    for index, value in enumerate(bare if f.type != "id" else bare[:1]):
        row = {**base, "index": index, "first": index == 0, "value": value}
        if f.type == "time":
            row["start"], _, row["end"] = value.partition("..")
        elif f.type == "select":
            options = ["", *f.options]
            if value not in options:
                options.append(value)
            row["options"] = [{"value": o, "label": o or "unset", "selected": o == value}
                              for o in options]
        rows.append(row)
    return rows


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
        return Markup('<a class="%s" href="%s" title="%s">%s</a>') % (
            ticket_class(t.get("status")), href.ticket(t["id"]), t.get("summary", ""), label or f"#{t['id']}")

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
    return [(Rule("/query", endpoint="query", methods=["GET", "HEAD", "POST"]), query_page)]


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
