"""The ticket pages: ``/newticket`` (the form, preview, create) and ``/ticket/<n>`` (the
ticket, its history, the comment and change form with the workflow's actions, mid-air
collision detection), with ``?format=csv|tab|rss``.

Forms use Trac's field names — ``field_<name>``, ``comment``, ``action``,
``action_<action>_<operation>_<param>``, ``submit``, ``preview``, ``replyto``, and the hidden
``start_time`` / ``view_time`` — so scripts written against Trac's forms keep working.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from markupsafe import Markup, escape
from werkzeug.routing import Rule
from werkzeug.wrappers import Response

from codeyard.core import hookimpl
from codeyard.perm import Resource
from codeyard.ticket import workflow
from codeyard.ticket.model import (
    Ticket,
    TicketCollision,
    TicketError,
    TicketNotFound,
    TicketValidationError,
)
from codeyard.web.api import HTTPBadRequest, HTTPNotFound, NavItem
from codeyard.web.chrome import MINUTES, format_datetime
from codeyard.web.feeds import FeedItem, rss_response
from codeyard.wiki.api import format_context
from codeyard.wiki.formatter import format_to_html, format_to_oneliner

# Fields the form never takes from the user (the workflow or the clock sets them).
SYSTEM_FIELDS = ("status", "resolution", "time", "changetime")


def _perm_for(req, ticket: Ticket):
    return req.perm(Resource("ticket", ticket.id))


def _editable_fields(req, ticket: Ticket, creating: bool) -> list:
    """The fields the form shows as inputs for this user."""
    perm = _perm_for(req, ticket)
    out = []
    for f in ticket.fields:
        if f.name in SYSTEM_FIELDS or f.name == "owner" and not creating:
            continue
        if f.name == "reporter" and not (creating and not req.is_authenticated
                                         or perm.has("TICKET_ADMIN")):
            continue
        if not creating:
            if f.name == "description" and not (perm.has("TICKET_EDIT_DESCRIPTION")
                                                or perm.has("TICKET_CHGPROP")):
                continue
            if f.name == "cc" and not (perm.has("TICKET_EDIT_CC") or perm.has("TICKET_CHGPROP")):
                continue
            if f.name not in ("description", "cc") and not perm.has("TICKET_CHGPROP"):
                continue
        out.append(f)
    return out


def _form_values(req, fields) -> dict[str, str]:
    """``field_<name>`` values of the fields the user may set (checkbox: absent = off)."""
    form = req.form
    values: dict[str, str] = {}
    for f in fields:
        key = f"field_{f.name}"
        if f.type == "checkbox":
            if key in form or f"field_checkbox_{f.name}" in form:
                values[f.name] = "1" if form.get(key) else "0"
        elif key in form:
            values[f.name] = form.get(key, "")
    return values


def _as_mapping(ticket: Ticket) -> dict[str, Any]:
    """The ticket as the workflow reads it."""
    return {**ticket.values, "id": ticket.id}


def _workflow_data(req, ticket: Ticket, creating: bool, chosen: str | None, form) -> list[dict]:
    perm = _perm_for(req, ticket)
    values = _as_mapping(ticket)
    actions = workflow.available_actions(req.env, values, perm, req.authname, creating=creating)
    chosen = chosen or (actions[0].name if actions else None)
    out = []
    for action in actions:
        control = workflow.action_controls(req.env, action, values, req.authname, form,
                                           creating=creating)
        out.append({"action": action, "control": control, "checked": action.name == chosen})
    return out


def _render(req, ticket: Ticket, text: str, oneliner: bool = False) -> Markup:
    ctx = format_context(req, Resource("ticket", ticket.id))
    return (format_to_oneliner if oneliner else format_to_html)(ctx, text or "")


def _box(req, ticket: Ticket) -> list[dict]:
    """The fields box of a ticket's page: label and shown value of every field."""
    rows = []
    for f in ticket.fields:
        if f.name in ("summary", "description", "time", "changetime", "status", "resolution"):
            continue
        value = ticket[f.name]
        if f.type == "checkbox":
            shown: Any = "yes" if str(value) in ("1", "true", "on") else "no"
        elif f.type == "time":
            shown = format_datetime(value, fmt=MINUTES) if isinstance(value, int) else (value or "")
        elif f.format == "wiki":
            shown = _render(req, ticket, value or "", oneliner=f.type != "textarea")
        else:
            shown = value or ""
        rows.append({"field": f, "value": shown})
    return rows


def _changes(req, ticket: Ticket) -> list[dict]:
    """The ticket's history grouped by change (one author, one moment)."""
    groups: list[dict] = []
    by_time: dict[tuple[int, str], dict] = {}
    for when, author, field, old, new, permanent in ticket.get_changelog():
        key = (when, author or "")
        group = by_time.get(key)
        if group is None:
            group = by_time[key] = {"time": when, "date": format_datetime(when, fmt=MINUTES),
                                    "author": author,
                                    "fields": [], "comment": None, "cnum": None}
            groups.append(group)
        if field == "comment":
            if permanent:
                group["cnum"] = old
                group["comment"] = _render(req, ticket, new) if new else None
            elif new:
                group["fields"].append({"name": "attachment", "text": Markup(escape(new))})
        elif field.startswith("_"):
            continue
        elif field == "attachment":
            group["fields"].append({"name": "attachment", "text": Markup("<em>%s</em> added") % new})
        elif field == "description":
            group["fields"].append({"name": field, "text": Markup("modified")})
        else:
            if old and new:
                text = Markup("changed from <em>%s</em> to <em>%s</em>") % (old, new)
            elif new:
                text = Markup("set to <em>%s</em>") % new
            else:
                text = Markup("<em>%s</em> deleted") % old
            group["fields"].append({"name": field, "text": text})
    for group in groups:
        number = group["cnum"] or ""
        group["anchor"] = f"comment:{number.rpartition('.')[2]}" if number else None
        group["replyto"] = number.rpartition(".")[0] if "." in number else None
    return groups


def _ticket_data(req, ticket: Ticket, **more) -> dict:
    perm = _perm_for(req, ticket)
    creating = not ticket.exists
    form = req.form if req.method == "POST" else {}
    data = {
        "ticket": ticket, "creating": creating,
        "fields": _editable_fields(req, ticket, creating),
        "box": _box(req, ticket) if ticket.exists else [],
        "changes": _changes(req, ticket) if ticket.exists else [],
        "description_html": _render(req, ticket, ticket["description"]) if ticket.exists else "",
        "actions": _workflow_data(req, ticket, creating, form.get("action"), form),
        "can": {"append": creating or perm.has("TICKET_APPEND"),
                "chgprop": creating or perm.has("TICKET_CHGPROP"),
                "create": perm.has("TICKET_CREATE")},
        "comment": form.get("comment", ""), "replyto": form.get("replyto") or req.args.get("replyto", ""),
        "view_time": form.get("view_time") or (ticket.time_changed or ""),
        "start_time": form.get("start_time") or (ticket.time_changed or ""),
        "errors": [], "preview": None, "collision": False,
        "created": format_datetime(ticket.time_created, fmt=MINUTES),
        "modified": format_datetime(ticket.time_changed, fmt=MINUTES),
        "attachments": _attachments(req, ticket),
        "title": f"#{ticket.id} ({ticket['summary']})" if ticket.exists else "New Ticket",
    }
    data.update(more)
    return data


def _attachments(req, ticket: Ticket) -> dict | None:
    """The ticket's attachments and whether the reader may add one (None: a new ticket)."""
    if not ticket.exists:
        return None
    from codeyard.attachment.model import select

    perm = req.perm(Resource("ticket", ticket.id))
    return {"files": select(req.env, "ticket", str(ticket.id)),
            "can_attach": req.env.is_enabled("codeyard.attachment.web") and perm.has("TICKET_APPEND")}


def _errors_of(exc: Exception) -> list[str]:
    if isinstance(exc, TicketValidationError):
        return [f"{name}: {message}" for name, message in exc.errors]
    return [str(exc)]


def _stylesheets(req) -> None:
    req.chrome["stylesheets"].append(req.url_for("chrome", prefix="common", path="css/wiki.css"))
    req.chrome["stylesheets"].append(req.url_for("chrome", prefix="common", path="css/ticket.css"))


# ---------------------------------------------------------------------------
# /newticket


def newticket(req):
    """/newticket — the form for a new ticket; POST previews or creates it."""
    req.perm.require("TICKET_CREATE", Resource("ticket"))
    _stylesheets(req)
    ticket = Ticket(req.env)
    for name, value in req.args.items():  # /newticket?type=task&summary=… prefills, as in Trac
        if name in ticket._by_name and name not in SYSTEM_FIELDS:
            ticket[name] = value
    if req.method != "POST":
        return "ticket/newticket.html", _ticket_data(req, ticket)
    fields = _editable_fields(req, ticket, True)
    ticket.populate(_form_values(req, fields))
    if not req.is_authenticated and not ticket["reporter"]:
        ticket["reporter"] = "anonymous"
    errors: list[str] = []
    action = req.form.get("action") or ""
    try:
        changes = workflow.apply_action(req.env, action, _as_mapping(ticket), req.form,
                                        req.authname, perm=_perm_for(req, ticket), creating=True)
        for name, value in changes.items():
            ticket[name] = value
    except workflow.WorkflowError as exc:
        errors.append(str(exc))
    errors += [f"{name}: {message}" for name, message in ticket.validate()]
    if not (ticket["summary"] or "").strip():
        errors.append("Tickets must contain a summary.")
    if errors or "preview" in req.form:
        preview = None if errors else _render(req, ticket, ticket["description"])
        return ("ticket/newticket.html", _ticket_data(req, ticket, errors=errors, preview=preview),
                400 if errors else 200)
    try:
        number = ticket.insert(author=req.authname if req.is_authenticated else ticket["reporter"])
    except TicketError as exc:
        return "ticket/newticket.html", _ticket_data(req, ticket, errors=_errors_of(exc)), 400
    return req.redirect(req.url_for("ticket", id=number))


# ---------------------------------------------------------------------------
# /ticket/<n>


def _load(req, id: str) -> Ticket:
    if not Ticket.id_is_valid(id):
        raise HTTPNotFound(f"Ticket {id} does not exist.", title="Invalid ticket number")
    try:
        return Ticket(req.env, int(id))
    except TicketNotFound:
        raise HTTPNotFound(f"Ticket {id} does not exist.", title="Invalid ticket number") from None


def ticket_page(req, id: str):
    """/ticket/<n> — a ticket; POST a comment, field changes and a workflow action."""
    ticket = _load(req, id)
    perm = _perm_for(req, ticket)
    perm.require("TICKET_VIEW")
    fmt = req.args.get("format")
    if fmt in ("csv", "tab"):
        return _export(ticket, "," if fmt == "csv" else "\t")
    if fmt == "rss":
        return _rss(req, ticket)
    if fmt:
        raise HTTPBadRequest(f"Unknown format '{fmt}': csv, tab or rss.")
    _stylesheets(req)
    if req.method == "POST":
        return _save(req, ticket)
    return "ticket/ticket.html", _ticket_data(req, ticket)


def _save(req, ticket: Ticket):
    perm = _perm_for(req, ticket)
    form = req.form
    comment = form.get("comment", "")
    fields = _editable_fields(req, ticket, False)
    stored = {name: ticket[name] for name in ("status", "owner", "resolution", "component")}
    changes = _form_values(req, fields)
    errors: list[str] = []
    if comment.strip() and not perm.has("TICKET_APPEND"):
        errors.append("You may not add comments to this ticket (TICKET_APPEND).")
    ticket.populate(changes)
    action = form.get("action") or ""
    try:
        if action:
            moved = workflow.apply_action(req.env, action, {**_as_mapping(ticket), **stored}, form,
                                          req.authname, perm=perm, changes=changes)
            for name, value in moved.items():
                ticket[name] = value
    except workflow.WorkflowError as exc:
        errors.append(str(exc))
    errors += [f"{name}: {message}" for name, message in ticket.validate(comment)]
    if errors or "preview" in form:
        preview = None if errors else (_render(req, ticket, comment) if comment else None)
        return ("ticket/ticket.html", _ticket_data(req, ticket, errors=errors, preview=preview),
                400 if errors else 200)
    try:
        view_time = int(form.get("view_time") or 0) or None
    except ValueError:
        raise HTTPBadRequest("The form's view_time is not a number.") from None
    try:
        ticket.save_changes(req.authname, comment, replyto=form.get("replyto") or None,
                            expected_changetime=view_time)
    except TicketCollision:
        fresh = Ticket(req.env, ticket.id)
        data = _ticket_data(req, fresh, collision=True, errors=[
            "Sorry, can not save your changes. This ticket has been modified by someone else "
            "since you started: your comment and changes are kept below; review the history "
            "and submit again."])
        data["view_time"] = fresh.time_changed
        return "ticket/ticket.html", data, 409
    except TicketError as exc:
        return "ticket/ticket.html", _ticket_data(req, ticket, errors=_errors_of(exc)), 400
    return req.redirect(req.url_for("ticket", id=ticket.id))


def _export(ticket: Ticket, delimiter: str) -> Response:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    names = ["id"] + [f.name for f in ticket.fields]
    writer.writerow(names)
    row = [ticket.id] + [ticket[name] if ticket[name] is not None else "" for name in names[1:]]
    writer.writerow([str(v).replace("\r\n", "\n") if delimiter == "," else
                     str(v).replace("\t", " ").replace("\r\n", " ").replace("\n", " ") for v in row])
    kind = "text/csv" if delimiter == "," else "text/tab-separated-values"
    return Response("\ufeff" + out.getvalue(), content_type=f"{kind}; charset=utf-8",
                    headers={"Content-Disposition": f"attachment; filename=ticket-{ticket.id}."
                                                    f"{'csv' if delimiter == ',' else 'tsv'}"})


def _rss(req, ticket: Ticket) -> Response:
    url = req.absolute(req.url_for("ticket", id=ticket.id))
    items = []
    for group in reversed(_changes(req, ticket)):
        body = Markup("")
        if group["fields"]:
            body = Markup("<ul>%s</ul>") % Markup("").join(
                Markup("<li>%s %s</li>") % (f["name"], f["text"]) for f in group["fields"])
        if group["comment"]:
            body += group["comment"]
        link = url + (f"#{group['anchor']}" if group["anchor"] else "")
        items.append(FeedItem(f"{group['author'] or 'anonymous'} changed #{ticket.id}", link,
                              guid=f"{link}/{group['time']}", author=group["author"],
                              date=group["time"], description=str(body)))
    summary = ticket["summary"] or ""
    return rss_response(f"{req.env.project_name}: Ticket #{ticket.id}: {summary}", url, summary,
                        items)


# ---------------------------------------------------------------------------
# Hooks


@hookimpl
def web_routes():
    methods = ["GET", "HEAD", "POST"]
    return [(Rule("/newticket", endpoint="newticket", methods=methods), newticket),
            (Rule("/ticket/<id>", endpoint="ticket", methods=methods), ticket_page)]


@hookimpl
def navigation_items(req):
    if req.perm.has("TICKET_CREATE"):
        return [NavItem("mainnav", "newticket", "New Ticket", req.url_for("newticket"), order=50)]
    return []


@hookimpl
def start_pages():
    return {"TicketModule": "newticket"}
