"""SQL reports on the web: ``/report`` (the list) and ``/report/N`` (one report), with
Trac's actions (``action=new|edit|copy|delete``) and formats (``format=csv|tab|rss|sql``).

A report that fails (bad SQL, a write attempt, too slow) shows the database's message and
the SQL on its page; the transaction it ran in is rolled back.
"""

from __future__ import annotations

import sys
from urllib.parse import parse_qsl, quote, urlencode

from markupsafe import Markup, escape
from werkzeug.routing import Rule
from werkzeug.wrappers import Response

from codeyard.config import options_in
from codeyard.core import hookimpl
from codeyard.perm import Resource
from codeyard.ticket import report as model
from codeyard.ticket.fields import ticket_fields
from codeyard.web.api import HTTPBadRequest, HTTPNotFound, NavItem
from codeyard.web.chrome import format_datetime
from codeyard.web.feeds import FeedItem, rss_response
from codeyard.web.session import cookie_first
from codeyard.wiki.api import format_context
from codeyard.wiki.formatter import format_to_html

LIST_ID = -1
FORMATS = {"csv": (",", "text/csv", "csv"), "tab": ("\t", "text/tab-separated-values", "tsv")}


def _int_arg(args, name: str, default: int | None, minimum: int | None = None) -> int | None:
    raw = args.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise HTTPBadRequest(f"Invalid value for {name}: '{raw}'") from None
    if minimum is not None and value < minimum:
        raise HTTPBadRequest(f"Invalid value for {name}: '{raw}'")
    return value


def _load(req, report_id: int) -> model.Report:
    found = model.get_report(req.env, report_id)
    if found is None:
        raise HTTPNotFound(f"Report {{{report_id}}} does not exist.", title="Invalid report number")
    return found


# ---------------------------------------------------------------------------
# Handlers


def report_page(req, id: str | None = None):
    """/report, /report/<id> — the list of reports, one report's rows, its editor
    (``action=new|edit|copy``) and delete confirmation; POST creates, saves, deletes."""
    req.endpoint = "tickets"
    if id is None:
        report_id = LIST_ID
    elif id.isdigit():
        report_id = int(id)
    else:
        raise HTTPNotFound(f"No report '{id}': report numbers are whole numbers.",
                           title="Invalid report number")
    req.perm.require("REPORT_VIEW", Resource("report", report_id if report_id != LIST_ID else None))
    args = req.form if req.method == "POST" else req.args
    action = args.get("action", "view")

    if req.method == "POST":
        if action == "new":
            return _create(req)
        if action == "edit" and report_id != LIST_ID:
            return _save(req, report_id)
        if action == "delete" and report_id != LIST_ID:
            return _delete(req, report_id)
        raise HTTPBadRequest("Invalid request arguments.")
    if action in ("new", "edit", "copy"):
        return _editor(req, report_id, action)
    if action == "delete" and report_id != LIST_ID:
        return _confirm_delete(req, report_id)
    if report_id == LIST_ID:
        return _list(req)
    return _view(req, report_id)


def _resource(report_id: int | None = None) -> Resource:
    return Resource("report", report_id)


def _list(req):
    sort = req.args.get("sort", "report")
    asc = _int_arg(req.args, "asc", 1, 0) != 0
    rows = [r for r in model.reports(req.env, "title" if sort == "title" else "id", asc)
            if req.perm.has("REPORT_VIEW", _resource(r.id))]
    fmt = req.args.get("format")
    if fmt in FORMATS:
        sep, mimetype, ext = FORMATS[fmt]
        body = model.write_delimited(["report", "title", "description"],
                                     [(r.id, r.title, r.description) for r in rows], sep)
        return _download(body, mimetype, f"reports.{ext}")
    ctx = format_context(req, _resource())
    data = {
        "title": "Available Reports", "reports": rows, "sort": sort, "asc": asc,
        "descriptions": {r.id: format_to_html(ctx, r.description) for r in rows if r.description},
        "can_create": req.perm.has("REPORT_CREATE", _resource()),
    }
    return "ticket/report_list.html", data


def _download(body: bytes, mimetype: str, filename: str) -> Response:
    return Response(body, content_type=f"{mimetype}; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"',
                             "X-Content-Type-Options": "nosniff"})


def _view(req, report_id: int):
    report = _load(req, report_id)
    resource = _resource(report_id)
    req.perm.require("REPORT_VIEW", resource)
    target = model.saved_query_target(report.query, report_id)
    if target is not None:
        return _open_saved_query(req, report_id, target)
    fmt = req.args.get("format") or ""
    if fmt == "sql":
        req.perm.require("REPORT_SQL_VIEW", resource)
        text = f"-- ## {report_id}: {report.title} ## --\n\n"
        if report.description:
            text += "-- " + "\n-- ".join(report.description.splitlines()) + "\n\n"
        return _download((text + report.query).encode("utf-8"), "text/plain",
                         f"report_{report_id}.sql")

    config = req.env.config
    page = _int_arg(req.args, "page", 1, 1) or 1
    default_max = {"rss": model.ITEMS_PER_PAGE_RSS(config), "csv": 0,
                   "tab": 0}.get(fmt, model.ITEMS_PER_PAGE(config))
    given_max = _int_arg(req.args, "max", None, 0)
    limit = default_max if given_max is None else given_max
    sort = req.args.get("sort", "")
    asc = _int_arg(req.args, "asc", 0, 0) != 0
    values = model.var_args(req.args, req.authname)

    def report_href(**changes):
        params = {k: v for k, v in values.items() if k != "USER" and k in used}
        if sort:
            params["sort"] = sort
        if page != 1:
            params["page"] = page
        if given_max is not None:
            params["max"] = given_max
        params["asc"] = 1 if asc else None
        params.update(changes)
        return req.url_for("report", id=str(report_id), **params)

    used = set(model._VAR_RE.findall(report.query))
    ctx = format_context(req, resource)
    data = {
        "title": f"{{{report_id}}} {report.title}", "report": report,
        "description_html": None,
        "can": _can(req, report_id), "report_href": report_href, "sort": sort, "asc": asc,
        "message": None, "failed_sql": None, "args": {}, "result": None,
    }
    try:
        result = model.execute_report(req.env, report.query, values, report_id=report_id,
                                      sort=sort, asc=asc, page=page, limit=limit)
    except model.ReportError as exc:
        if fmt in FORMATS or fmt == "rss":
            raise HTTPBadRequest(f"Report failed: {exc.message}") from None
        data["description_html"] = format_to_html(ctx, _sub_vars(report.description, values))
        data["message"] = exc.message
        data["failed_sql"] = exc.sql if data["can"]["sql"] else None
        return "ticket/report_view.html", data

    rows = [row for row in result.rows if _row_visible(req, result.columns, row)]
    if fmt in FORMATS:
        sep, mimetype, ext = FORMATS[fmt]
        return _download(model.write_delimited(result.columns, rows, sep), mimetype,
                         f"report_{report_id}.{ext}")
    if fmt == "rss":
        return _rss(req, report, result.columns, rows)
    header_groups, row_groups = _laid_out(req, ctx, result, rows, sort, asc)
    if result.missing_args:
        req.add_warning("The following arguments are missing: " + ", ".join(result.missing_args))
    data["args"] = {k: v for k, v in result.args.items() if k != "USER"}
    data["description_html"] = format_to_html(ctx, _sub_vars(report.description, result.args))
    data.update(result=result, header_groups=header_groups, row_groups=row_groups,
                numrows=result.total, pages=_pages(result, report_href))
    _remember_tickets(req, result.columns, row_groups, report_href())
    data["alternate"] = [("Comma-delimited Text", report_href(format="csv", page=None)),
                         ("Tab-delimited Text", report_href(format="tab", page=None)),
                         ("RSS Feed", report_href(format="rss", page=None))]
    if data["can"]["sql"]:
        data["alternate"].append(("SQL Query", req.url_for("report", id=str(report_id),
                                                           format="sql")))
    return "ticket/report_view.html", data


_TIME_COLUMNS = ("time", "changetime", "created", "modified", "datetime")
LAID_OUT = 32  # report tables kept per process with the rows they were made of


def _laid_out(req, ctx, result: model.ReportResult, rows: list[tuple], sort: str, asc: bool):
    """(header groups, row groups with their rendered ``lines``) of the shown rows. The
    table of rows kept under the tickets' stamp is kept with them, per time zone, link
    base and shown rows; not when a cell is wiki text, whose links depend on the reader."""
    from codeyard.util.lru import BoundedCache

    labels = {f.name: f.label for f in ticket_fields(req.env)}

    def lay_out():
        header_groups, row_groups = model.layout(result.columns, rows, labels, sort, asc)
        writer = _RowWriter(req, ctx)
        with req.env.db_query:  # one read transaction for every rendered cell
            for _, group_rows in row_groups:
                for row in group_rows:
                    row["lines"] = writer.lines(row)
        return header_groups, row_groups

    if not result.kept or any(not model.is_hidden_column(c) and c.strip("_") == "description"
                              for c in result.columns):
        return lay_out()
    cache = req.env.memo("ticket.report_laid_out", lambda: BoundedCache(LAID_OUT))
    shown = None if len(rows) == len(result.rows) else tuple(id(row) for row in rows)
    key = (id(result.rows), shown, str(req.tz), req.href.base, sort, asc,
           tuple(labels.items()))
    hit = cache.get(key)
    # the kept rows themselves are held with the table, so their id stays theirs
    if hit is not None and hit[0] is result.rows:
        return hit[1], hit[2]
    header_groups, row_groups = lay_out()
    cache.put(key, (result.rows, header_groups, row_groups))
    return header_groups, row_groups


class _RowWriter:
    """The table rows (``<tr>``) of the result rows — one per group of shown cells — as
    their class, style and ready cells: a report page shows a hundred rows or more, and
    putting them together here costs a fraction of doing it cell by cell in the template.
    What repeats from row to row (a column's ``<td>``, the links' bases, a milestone's
    link) is made once per page."""

    def __init__(self, req, ctx) -> None:
        self.req, self.ctx, self.tz = req, ctx, req.tz
        self.ticket_base = req.href("ticket") + "/"
        self.td_open: dict[tuple[int, bool], str] = {}
        self.links: dict[tuple[str, str], str] = {}

    def lines(self, row: dict) -> list[dict]:
        lines = []
        many = len(row["cells"]) > 1
        styles = [row["style"]] if row.get("style") else []
        if row.get("bgcolor"):
            styles.append(f"background: {row['bgcolor']}")
        if row.get("fgcolor"):
            styles.append(f"color: {row['fgcolor']}")
        style = "; ".join(styles)
        for cells in row["cells"]:
            shown = [cell for cell in cells if not cell["header"]["hidden"]]
            if not shown:
                continue
            fullrow = len(shown) == 1 and many
            classes = [f"color{row['color']}-" if row.get("color") else ""]
            classes[0] += "odd" if row["idx"] % 2 else "even"
            if row.get("class"):
                classes.append(str(row["class"]))
            if fullrow:
                classes.append("fullrow")
            tds = []
            for cell in shown:
                markup = cell["markup"] = self.cell(cell, row)
                tds.append(self._td_open(cell, fullrow) + markup + "</td>")
            lines.append({"class": " ".join(classes), "style": style,
                          "cells": Markup("".join(tds))})
        return lines

    def _td_open(self, cell: dict, fullrow: bool) -> str:
        key = (cell["index"], fullrow)
        opening = self.td_open.get(key)
        if opening is None:
            span = ' colspan="100"' if fullrow else ""
            opening = self.td_open[key] = (
                f'<td class="{escape(cell["col"])}"{span} '
                f'data-label="{escape(cell["header"]["title"])}">')
        return opening

    def _ticket_href(self, value) -> str:
        text = str(value)
        if text.isdigit():
            return self.ticket_base + text
        return str(escape(self.req.href("ticket", text)))

    def _link(self, realm: str, value: str) -> str:
        href = self.links.get((realm, value))
        if href is None:
            href = self.links[(realm, value)] = str(escape(self.req.href(realm, value)))
        return href

    def cell(self, cell: dict, row: dict) -> str:
        """One cell of the result table as HTML: ticket and report numbers, summaries and
        milestones as links, times in the user's time zone, descriptions as wiki text."""
        col, value = cell["col"], cell["value"]
        text = escape(value)
        if col == "report" and value:
            return (f'<a href="{escape(self.req.url_for("report", id=value))}">'
                    f'{{{text}}}</a>')
        if col in ("ticket", "id") and value:
            return f'<a href="{self._ticket_href(value)}" title="View ticket">#{text}</a>'
        if col == "summary" and row["id"]:
            return f'<a href="{self._ticket_href(row["id"])}" title="View ticket">{text}</a>'
        if col in _TIME_COLUMNS or col == "date":
            if not value:
                return "--"
            shown = format_datetime(value, self.tz, "%Y-%m-%d" if col == "date"
                                    else "%Y-%m-%d %H:%M:%S")
            return f"<time>{escape(shown)}</time>"
        if col == "description" and value:
            return str(format_to_html(self.ctx, value))
        if col == "milestone" and value:
            return f'<a href="{self._link("milestone", value)}">{text}</a>'
        return str(text)


def _remember_tickets(req, columns, row_groups, href: str) -> None:
    """As Trac: a report whose rows are tickets leaves the same session trail as /query,
    so the ticket pages' Previous/Next follow the report."""
    if "report" in columns:
        return
    rows = [row for _, group in row_groups for row in group]
    ids = [str(row["id"]).strip() for row in rows if row["realm"] == "ticket" and row["id"]]
    if not rows or len(ids) != len(rows) or not all(i.isdigit() for i in ids):
        return
    session = req.session
    if cookie_first(session):
        return
    session["query_tickets"] = " ".join(ids)
    session["query_href"] = href
    for name in ("query_constraints", "query_time"):
        session.pop(name, None)


def _open_saved_query(req, report_id: int, target: str) -> Response:
    """A report that is a saved ticket query opens /query with it (and ``report=N``, so
    the page names the report); a body that does not parse goes back to the editor."""
    from codeyard.ticket.query import Query, QueryError

    def back_to_editor(message: str) -> Response:
        return req.redirect(req.url_for("report", id=str(report_id), action="edit",
                                        error=message))

    if target.startswith("query:"):  # the query language: status=new&owner=$USER
        try:
            query = Query.from_string(req.env, target[len("query:"):], report=report_id)
        except QueryError as exc:
            return back_to_editor(str(exc))
        return req.redirect(req.url_for("query") + "?" + urlencode(query.to_args()))
    numbers = {v.strip() for k, v in parse_qsl(target[1:], keep_blank_values=True)
               if k == "report"}
    if numbers - {str(report_id)}:
        return back_to_editor(f'When specified, the report number should be "{report_id}".')
    return req.redirect(req.url_for("query") + "?" + quote(target[1:], safe=_QUERY_SAFE))


_QUERY_SAFE = "/?&=%+:;,$!~^|*'()@.-_"


def _sub_vars(text: str, values) -> str:
    return model._VAR_RE.sub(lambda m: values.get(m.group(1), m.group(0)), text or "")


def _row_visible(req, columns, row) -> bool:
    """A row that names a ticket is shown only to who may see that ticket."""
    for i, col in enumerate(columns):
        if col in ("ticket", "id", "_id") and row[i] not in (None, ""):
            return req.perm.has("TICKET_VIEW", Resource("ticket", model.cell_value(row[i])))
    return True


def _pages(result: model.ReportResult, report_href) -> list[dict]:
    if not result.paged and result.page == 1:
        return []
    last = result.pages
    low = max(1, min(result.page - 10, last - 20))
    return [{"number": n, "href": report_href(page=n), "current": n == result.page}
            for n in range(low, min(last, low + 20) + 1)]


def _can(req, report_id: int) -> dict[str, bool]:
    perm = req.perm(_resource(report_id))
    return {"create": perm.has("REPORT_CREATE"), "modify": perm.has("REPORT_MODIFY"),
            "delete": perm.has("REPORT_DELETE"), "sql": perm.has("REPORT_SQL_VIEW")}


def _rss(req, report: model.Report, columns, rows) -> Response:
    items = []
    for item in model.rss_items(columns, rows):
        link = req.abs_href("ticket", item["id"]) if item["id"] else None
        items.append(FeedItem(("#" + item["id"] + ": " if item["id"] else "") + item["title"],
                              link, author=item["author"], date=item["date"],
                              description=item["description"]))
    return rss_response(f"{req.env.config.get('project', 'name')}: {{{report.id}}} {report.title}",
                        req.absolute(req.url_for("report", id=str(report.id))),
                        report.description, items)


def _editor(req, report_id: int, action: str):
    if report_id != LIST_ID and action in ("edit", "copy"):
        report = _load(req, report_id)
        req.perm.require("REPORT_MODIFY" if action == "edit" else "REPORT_CREATE",
                         _resource(report_id))
        title, query, description = report.title, report.query, report.description
    else:
        req.perm.require("REPORT_CREATE", _resource())
        title = query = description = ""
    query = req.args.get("query", query)
    if action == "copy":
        title += " (copy)"
    new = action != "edit"
    data = {"title": "New Report" if new else f"Edit Report {{{report_id}}} {title}",
            "action": "new" if new else "edit", "report_id": report_id,
            "form": {"title": title, "query": query, "description": description},
            "error": None if new else req.args.get("error")}
    return "ticket/report_edit.html", data


def _form_fields(req) -> tuple[str, str, str]:
    form = req.form
    return (form.get("title", ""), form.get("query", "").replace("\r\n", "\n"),
            form.get("description", "").replace("\r\n", "\n"))


def _create(req):
    req.perm.require("REPORT_CREATE", _resource())
    if "cancel" in req.form:
        return req.redirect(req.url_for("report"))
    title, query, description = _form_fields(req)
    new_id = model.create_report(req.env, title, query, description, req.authname)
    req.add_notice("The report has been created.")
    return req.redirect(req.url_for("report", id=str(new_id)))


def _save(req, report_id: int):
    req.perm.require("REPORT_MODIFY", _resource(report_id))
    if "cancel" not in req.form:
        title, query, description = _form_fields(req)
        if not model.update_report(req.env, report_id, title, query, description):
            raise HTTPNotFound(f"Report {{{report_id}}} does not exist.",
                               title="Invalid report number")
        req.add_notice("Your changes have been saved.")
    return req.redirect(req.url_for("report", id=str(report_id)))


def _delete(req, report_id: int):
    req.perm.require("REPORT_DELETE", _resource(report_id))
    if "cancel" in req.form:
        return req.redirect(req.url_for("report", id=str(report_id)))
    if not model.delete_report(req.env, report_id):
        raise HTTPNotFound(f"Report {{{report_id}}} does not exist.", title="Invalid report number")
    req.add_notice(f"The report {{{report_id}}} has been deleted.")
    return req.redirect(req.url_for("report"))


def _confirm_delete(req, report_id: int):
    req.perm.require("REPORT_DELETE", _resource(report_id))
    report = _load(req, report_id)
    return "ticket/report_delete.html", {
        "title": f"Delete Report {{{report_id}}} {report.title}", "report": report}


# ---------------------------------------------------------------------------
# Hooks


@hookimpl
def web_routes():
    methods = ["GET", "HEAD", "POST"]
    return [
        (Rule("/report", endpoint="report", methods=methods), report_page),
        (Rule("/report/<id>", endpoint="report", methods=methods), report_page),
    ]


@hookimpl
def navigation_items(req):
    if req.perm.has("REPORT_VIEW"):
        return [NavItem("mainnav", "tickets", "View Tickets", req.url_for("report"), order=40)]
    return []


@hookimpl
def config_options():
    return options_in(model, sys.modules[__name__])
