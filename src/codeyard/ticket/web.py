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
from urllib.parse import urlencode

from markupsafe import Markup, escape
from werkzeug.routing import Rule
from werkzeug.wrappers import Response

from codeyard.core import hookimpl
from codeyard.perm import PermissionCache, Resource
from codeyard.ticket import workflow
from codeyard.ticket.changes import SYSTEM_FIELDS, apply_changes, as_mapping, editable_fields
from codeyard.ticket.history_web import PAGES as HISTORY_PAGES
from codeyard.ticket.history_web import changelog_groups
from codeyard.ticket.model import (
    Ticket,
    TicketCollision,
    TicketError,
    TicketNotFound,
    TicketValidationError,
    find_change,
    type_defaults,
)
from codeyard.web.api import HTTPBadRequest, HTTPNotFound, NavItem
from codeyard.web.chrome import MINUTES, format_datetime
from codeyard.web.feeds import FeedItem, rss_response
from codeyard.wiki.api import format_context
from codeyard.wiki.formatter import format_to_html, format_to_oneliner
from codeyard.wiki.render_cache import render_texts_html


def _perm_for(req, ticket: Ticket):
    return req.perm(Resource("ticket", ticket.id))


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


_as_mapping = as_mapping


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


class _PageTexts:
    """The wiki texts a ticket's page shows (its description and comments), rendered
    together through the rendered-text cache: viewing the ticket again renders nothing
    while nothing the texts depend on changed. Texts not given up front are rendered on
    their own."""

    def __init__(self, req, ticket: Ticket, texts: list[str]) -> None:
        self.req, self.ticket = req, ticket
        ctx = format_context(req, Resource("ticket", ticket.id))
        unique = list(dict.fromkeys(text for text in texts if text))
        html = render_texts_html(ctx, "ticket", unique,
                                 lambda: [format_to_html(ctx, text) for text in unique])
        self.html = dict(zip(unique, html, strict=True))

    def __call__(self, text: str) -> Markup:
        found = self.html.get(text)
        return found if found is not None else _render(self.req, self.ticket, text)


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


def _box_html(rows: list[dict]) -> Markup:
    """The fields box's table rows, two fields a row: some thirty fields, written here
    rather than in the template's loop (a tenth of the page's time there)."""
    out = []
    for index, row in enumerate(rows):
        name = escape(row["field"].name)
        if index % 2 == 0:
            out.append("<tr>")
        out.append(f'    <th id="h_{name}" scope="row">{escape(row["field"].label)}:</th>'
                   f'<td headers="h_{name}">{escape(row["value"])}</td>\n')
        if index % 2 == 1 or index == len(rows) - 1:
            out.append("</tr>")
    return Markup("".join(out))


def _comment_resource(ticket: Ticket, cnum: int) -> Resource:
    return Resource("comment", cnum, None, Resource("ticket", ticket.id))


def _may_edit_comment(req, ticket: Ticket, cnum: int) -> bool:
    return req.perm.has("TICKET_EDIT_COMMENT", _comment_resource(ticket, cnum))


class _TicketHref:
    """URLs of one ticket's page with arguments: its route is built once per page, not
    once for each of its many links."""

    def __init__(self, req, ticket: Ticket) -> None:
        self.base = req.url_for("ticket", id=ticket.id)

    def __call__(self, anchor: str = "", **args: Any) -> str:
        query = urlencode([(k, v) for k, v in args.items() if v is not None])
        return self.base + ("?" + query if query else "") + (f"#{anchor}" if anchor else "")


def _field_change_text(href: _TicketHref, ticket: Ticket, group: dict, name: str, old: str,
                       new: str) -> Markup:
    f = ticket._by_name.get(name)
    if f is not None and f.type == "textarea":
        if not group["cnum"]:
            return Markup("modified")
        return Markup('modified (<a href="%s">diff</a>)') % href(action="diff",
                                                                 version=group["cnum"])
    if f is not None and f.type == "checkbox":
        return Markup("set") if new in ("1", "true", "on") else Markup("unset")
    if old and new:
        return Markup("changed from <em>%s</em> to <em>%s</em>") % (old, new)
    if new:
        return Markup("set to <em>%s</em>") % new
    return Markup("<em>%s</em> deleted") % old


def _shown_version(group: dict, shown: dict) -> int:
    """Which version of a change's comment the page shows (the latest unless asked)."""
    cnum = group["cnum"]
    latest = len(group["history"]) - 1
    return shown["cversion"] if cnum and cnum == shown.get("cnum_hist") else latest


def _changes(req, ticket: Ticket, shown: dict | None = None, groups: list[dict] | None = None,
             render=None) -> list[dict]:
    """The ticket's history as its page shows it, one entry per change.

    ``shown`` may say ``cnum_hist``/``cversion`` (show that version of that comment) and
    ``cnum_edit``/``edited_comment``/``edit_preview`` (the comment being edited).
    ``groups`` are the ticket's ``changelog_groups`` when already read, ``render`` what
    renders a comment (a ``_PageTexts``)."""
    shown = shown or {}
    out: list[dict] = []
    href = _TicketHref(req, ticket)
    can_append = req.perm.has("TICKET_APPEND", Resource("ticket", ticket.id))
    render = render or (lambda text: _render(req, ticket, text))
    for group in changelog_groups(ticket) if groups is None else groups:
        cnum = group["cnum"]
        fields = [{"name": "attachment", "text": Markup("<em>%s</em> added") % name}
                  for name in group["attachments"]]
        if group["attachment_note"]:
            fields.append({"name": "attachment", "text": Markup(escape(group["attachment_note"]))})
        for name, (old, new) in group["fields"].items():
            fields.append({"name": name,
                           "text": _field_change_text(href, ticket, group, name, old, new)})
        history = group["history"]
        latest = len(history) - 1
        version = _shown_version(group, shown)
        text = history[version]["text"]
        editing = bool(cnum) and cnum == shown.get("cnum_edit")
        entry = {
            "time": group["time"], "date": format_datetime(group["time"], fmt=MINUTES),
            "author": group["author"], "fields": fields, "cnum": cnum,
            "anchor": f"comment:{cnum}" if cnum else None, "replyto": group["replyto"],
            "comment": render(text) if text else None, "text": text,
            "version": version, "latest": latest, "history": history,
            "editing": editing,
            "can_edit": bool(cnum) and group["permanent"] and _may_edit_comment(req, ticket, cnum),
            "can_reply": bool(cnum) and group["permanent"] and can_append,
        }
        if editing:
            edited = shown.get("edited_comment")
            entry["edited_comment"] = text if edited is None else edited
            entry["edit_preview"] = shown.get("edit_preview")
        if latest:
            last = history[version]  # who wrote the version shown, and when
            entry["edited_by"] = last["author"]
            entry["edited_date"] = format_datetime(last["time"], fmt=MINUTES)
            anchor = f"comment:{cnum}"
            entry["links"] = {
                "previous": (href(anchor, cnum_hist=cnum, cversion=version - 1)
                             if version > 0 else None),
                "next": ((href(anchor, cnum_hist=cnum, cversion=version + 1)
                          if version + 1 < latest else href(anchor))
                         if version < latest else None),
                "diff": (href(action="comment-diff", cnum=cnum, version=version)
                         if version > 0 else None),
                "history": href(action="comment-history", cnum=cnum),
            }
        out.append(entry)
    return out


def _ticket_data(req, ticket: Ticket, shown: dict | None = None, **more) -> dict:
    perm = _perm_for(req, ticket)
    creating = not ticket.exists
    form = req.form if req.method == "POST" else {}
    editing = bool(shown and shown.get("cnum_edit"))
    groups = changelog_groups(ticket) if ticket.exists else []
    texts = _PageTexts(req, ticket, [ticket["description"], *(
        group["history"][_shown_version(group, shown or {})]["text"] for group in groups)]) \
        if ticket.exists else None
    data = {
        "ticket": ticket, "creating": creating,
        "fields": editable_fields(req, ticket, creating),
        "box_html": _box_html(_box(req, ticket)) if ticket.exists else Markup(),
        "changes": _changes(req, ticket, shown, groups, texts) if ticket.exists else [],
        "description_html": texts(ticket["description"]) if texts else "",
        "actions": _workflow_data(req, ticket, creating, form.get("action"),
                                  {} if editing else form),
        "can": {"append": creating or perm.has("TICKET_APPEND"),
                "chgprop": creating or perm.has("TICKET_CHGPROP"),
                "create": perm.has("TICKET_CREATE"),
                "attach_on_create": creating and _may_attach_on_create(req)},
        "comment": form.get("comment", ""), "replyto": form.get("replyto") or req.args.get("replyto", ""),
        "view_time": form.get("view_time") or (ticket.time_changed or ""),
        "start_time": form.get("start_time") or (ticket.time_changed or ""),
        "errors": [], "preview": None, "collision": False,
        "created": format_datetime(ticket.time_created, fmt=MINUTES),
        "modified": format_datetime(ticket.time_changed, fmt=MINUTES),
        "attachments": _attachments(req, ticket),
        "links": _navigation(req, ticket) if ticket.exists else {},
        "ticket_href": req.url_for("ticket", id=ticket.id) if ticket.exists else "",
        "with_attachment": "attachment" in form,
        "type_defaults": creating and bool(req.env.config.options("ticket-type-defaults")),
        "title": f"#{ticket.id} ({ticket['summary']})" if ticket.exists else "New Ticket",
    }
    replyto = data["replyto"]
    if ticket.exists and replyto and "comment" not in req.form and not data["comment"]:
        data["comment"] = _quoted_reply(ticket, replyto, data["changes"])
    if ticket.exists and data["can"]["create"]:
        data["clone_fields"] = _clone_fields(ticket)
    if ticket.exists and data["description_html"]:
        described = [c for c in data["changes"]
                     if c["cnum"] and "description" in (f["name"] for f in c["fields"])]
        if described:
            last = described[-1]
            data["description_change"] = {
                "author": last["author"], "date": last["date"],
                "diff": req.url_for("ticket", id=ticket.id, action="diff",
                                    version=last["cnum"])}
    data.update(more)
    return data


def _quoted_reply(ticket: Ticket, replyto: str, changes: list[dict]) -> str:
    """The comment box's first text when replying, as Trac: a link to what is answered, its
    author, and its text quoted."""
    if replyto == "description":
        link, author, text = f"ticket:{ticket.id}", ticket["reporter"], ticket["description"] or ""
    else:
        found = [c for c in changes if c["cnum"] and str(c["cnum"]) == replyto]
        if not found:
            return ""
        link, author, text = f"comment:{replyto}", found[0]["author"], found[0]["text"] or ""
    lines = [f"Replying to [{link} {author or 'anonymous'}]:"]
    lines += ["> " + line for line in text.splitlines()]
    return "\n".join(lines) + "\n"


_NOT_CLONED = frozenset(("id", "summary", "description", "status", "resolution", "reporter"))


def _clone_fields(ticket: Ticket) -> list[tuple[str, str]]:
    """The hidden fields of the Clone form: a new ticket previewed with this one's values
    (the fields Trac's ticket clone carries over, and its summary and description wording)."""
    values = [("field_" + f.name, str(ticket[f.name] or "")) for f in ticket.fields
              if f.name not in _NOT_CLONED and f.type != "time"]
    quoted = "\n".join("> " + line for line in (ticket["description"] or "").splitlines())
    values.append(("field_summary", f"{ticket['summary']} (cloned)"))
    values.append(("field_description", f"Copied from [ticket:{ticket.id}]:\n{quoted}"))
    return values


def _may_attach_on_create(req) -> bool:
    """Whether the creator of a new ticket may attach files to it (Trac's checkbox)."""
    if not req.env.is_enabled("codeyard.attachment.web"):
        return False
    return req.perm.has("ATTACHMENT_CREATE",
                        Resource("attachment", None, None, Resource("ticket")))


def _query_href(value: str | None) -> str | None:
    """The URL of the query the ticket was reached from, when it is one of ours."""
    if not value:
        return None
    if value.startswith("/") and not value.startswith("//"):
        return value
    if value.startswith(("http://", "https://")):
        return value
    return None


def _navigation(req, ticket: Ticket) -> dict[str, str]:
    """Links to the previous and next ticket — of the user's last query when the ticket is
    one of its results (with the query itself as ``up``), else by number."""
    links: dict[str, str] = {}
    session = req.session
    tickets = (session.get("query_tickets") or "").split() if session is not None else []
    tid = str(ticket.id)
    if tid in tickets:
        index = tickets.index(tid)
        if index > 0:
            links["first"] = req.url_for("ticket", id=tickets[0])
            links["prev"] = req.url_for("ticket", id=tickets[index - 1])
        if index < len(tickets) - 1:
            links["next"] = req.url_for("ticket", id=tickets[index + 1])
            links["last"] = req.url_for("ticket", id=tickets[-1])
        up = _query_href(session.get("query_href"))
        if up:
            links["up"] = up
        return links
    with req.env.db_query as db:
        # Each extreme in its own subquery: SQLite answers a lone MIN or MAX of the key
        # from the index, but scans the whole table for MIN and MAX side by side.
        row = db("SELECT (SELECT MAX(id) FROM ticket WHERE id < %s), "
                 "(SELECT MIN(id) FROM ticket WHERE id > %s), (SELECT MIN(id) FROM ticket), "
                 "(SELECT MAX(id) FROM ticket)", (ticket.id, ticket.id))[0]
    before, after, lowest, highest = row
    if before is not None:
        links["first"] = req.url_for("ticket", id=lowest)
        links["prev"] = req.url_for("ticket", id=before)
    if after is not None:
        links["next"] = req.url_for("ticket", id=after)
        links["last"] = req.url_for("ticket", id=highest)
    return links


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


def _same_text(a: Any, b: Any) -> bool:
    """Form text and configured text compare equal whatever their line ends."""
    def norm(v: Any) -> str:
        return str(v if v is not None else "").replace("\r\n", "\n").strip()
    return norm(a) == norm(b)


def _start_new_ticket(req, ticket: Ticket, fields: list) -> str:
    """Give a new ticket the defaults of its type and the values of the form, as the form
    is shown or posted; returns the type whose defaults the form now holds.

    Fields named in the URL (``/newticket?type=task&summary=…``) or posted count as the
    user's own. When a posted form held the defaults of another type (``defaults_type``),
    the fields still holding that type's defaults take the new type's."""
    presets = {name: value for name, value in req.args.items()
               if name in ticket._by_name and name not in SYSTEM_FIELDS}
    posted = _form_values(req, fields) if req.method == "POST" else {}
    ticket_type = posted.get("type") or presets.get("type") or ticket["type"] or ""
    defaults = ticket.defaults_for_type(ticket_type)
    for name in type_defaults(req.env, ticket_type):
        if name in defaults and name not in presets and name not in posted:
            ticket[name] = defaults[name]
    for name, value in presets.items():
        ticket[name] = value
    ticket.populate(posted)
    before = req.form.get("defaults_type") if req.method == "POST" else None
    if before is not None and before != ticket_type:
        previous = ticket.defaults_for_type(before)
        for name, value in posted.items():
            if name != "type" and previous.get(name) != defaults.get(name) \
                    and _same_text(value, _as_shown(ticket, name, previous.get(name))):
                ticket[name] = defaults[name]
    return ticket_type


def _as_shown(ticket: Ticket, name: str, value: Any) -> Any:
    """A field's value as its input shows it: a list that cannot stay empty shows (and
    posts) its first option."""
    f = ticket._by_name.get(name)
    if f is not None and f.type == "select" and not f.optional and f.options \
            and value not in f.options:
        return f.options[0]
    return value


def newticket(req):
    """/newticket — the form for a new ticket; POST previews or creates it."""
    req.perm.require("TICKET_CREATE", Resource("ticket"))
    _stylesheets(req)
    ticket = Ticket(req.env)
    fields = editable_fields(req, ticket, True)
    defaults_type = _start_new_ticket(req, ticket, fields)
    if req.method != "POST":
        return "ticket/newticket.html", _ticket_data(req, ticket, defaults_type=defaults_type)
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
        return ("ticket/newticket.html",
                _ticket_data(req, ticket, errors=errors, preview=preview,
                             defaults_type=defaults_type),
                400 if errors else 200)
    try:
        number = ticket.insert(author=req.authname if req.is_authenticated else ticket["reporter"])
    except TicketError as exc:
        return ("ticket/newticket.html",
                _ticket_data(req, ticket, errors=_errors_of(exc), defaults_type=defaults_type), 400)
    if "attachment" in req.form and _may_attach_on_create(req):
        # Trac's flow: the upload form of the new ticket comes next.
        return req.redirect(req.url_for("attachment", realm="ticket", path=f"{number}/",
                                        action="new"))
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


def _number_arg(args, name: str) -> int | None:
    raw = args.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise HTTPBadRequest(f"The parameter {name} must be a number, not '{raw}'.") from None


def _shown(req, ticket: Ticket) -> dict:
    """What the page shows besides the ticket: an old version of a comment
    (``cnum_hist``, ``cversion``), or the editor of one (``cnum_edit``)."""
    args = req.form if req.method == "POST" else req.args
    shown: dict[str, Any] = {}
    cnum_hist = _number_arg(req.args, "cnum_hist")
    cversion = _number_arg(req.args, "cversion")
    if cnum_hist is not None:
        history = ticket.get_comment_history(cnum=cnum_hist) if cnum_hist > 0 else None
        if not history:
            raise HTTPNotFound(f"Ticket #{ticket.id} has no comment {cnum_hist}.",
                               title="No such comment")
        version = len(history) - 1 if cversion is None else cversion
        if not 0 <= version < len(history):
            raise HTTPNotFound(f"Comment {cnum_hist} of ticket #{ticket.id} has no version "
                               f"{version} (versions 0 to {len(history) - 1}).",
                               title="No such version")
        shown.update(cnum_hist=cnum_hist, cversion=version)
    cnum_edit = _number_arg(args, "cnum_edit")
    if cnum_edit is not None:
        assert ticket.id is not None
        if cnum_edit <= 0 or find_change(req.env, ticket.id, cnum_edit) is None:
            raise HTTPNotFound(f"Ticket #{ticket.id} has no comment {cnum_edit}.",
                               title="No such comment")
        req.perm.require("TICKET_EDIT_COMMENT", _comment_resource(ticket, cnum_edit))
        shown.update(cnum_edit=cnum_edit, edited_comment=args.get("edited_comment"))
    return shown


def ticket_page(req, id: str):
    """/ticket/<n> — a ticket; POST a comment, field changes and a workflow action, or the
    edit of a comment (``edit_comment``, ``preview_comment``, ``cancel_comment``).
    ``?action=history|diff|comment-history|comment-diff`` are the pages of its history."""
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
    action = req.args.get("action")
    if req.method != "POST" and action:
        page = HISTORY_PAGES.get(action)
        if page is None:
            raise HTTPBadRequest(f"Unknown action '{action}': history, diff, comment-history "
                                 "or comment-diff.")
        return page(req, ticket)
    _stylesheets(req)
    if req.method == "POST":
        form = req.form
        if "cancel_comment" in form or "edit_comment" in form or "preview_comment" in form:
            return _edit_comment(req, ticket)
        return _save(req, ticket)
    with req.env.db_query:  # one read transaction for the history, texts and links
        data = _ticket_data(req, ticket, _shown(req, ticket))
    return "ticket/ticket.html", data


def _edit_comment(req, ticket: Ticket):
    """POST of a comment's editor: save (``edit_comment``), preview or cancel."""
    form = req.form
    if "cnum_edit" not in form or not form.get("cnum_edit"):
        raise HTTPBadRequest("Which comment? The field cnum_edit is missing.")
    cnum = _number_arg(form, "cnum_edit")
    assert cnum is not None
    anchor = f"#comment:{cnum}"
    if "cancel_comment" in form:
        return req.redirect(req.url_for("ticket", id=ticket.id) + anchor)
    shown = _shown(req, ticket)  # the comment exists and the user may edit it
    text = form.get("edited_comment", "")
    if "preview_comment" in form:
        shown["edit_preview"] = _render(req, ticket, text) if text else Markup("")
        return "ticket/ticket.html", _ticket_data(req, ticket, shown)
    try:
        expected = _number_arg(form, "comment_version")
        ticket.modify_comment(None, req.authname, text, cnum=cnum, expected_version=expected)
    except TicketCollision:
        data = _ticket_data(req, ticket, shown, errors=[
            "Sorry, can not save your changes: this comment has been edited by someone else "
            "since you started. Your text is kept in the editor below; compare it with the "
            "comment's history and save again."])
        return "ticket/ticket.html", data, 409
    except TicketNotFound:
        raise HTTPNotFound(f"Ticket #{ticket.id} has no comment {cnum}.",
                           title="No such comment") from None
    except TicketError as exc:
        return "ticket/ticket.html", _ticket_data(req, ticket, shown, errors=_errors_of(exc)), 400
    return req.redirect(req.url_for("ticket", id=ticket.id) + anchor)


def _save(req, ticket: Ticket):
    form = req.form
    comment = form.get("comment", "")
    changes = _form_values(req, editable_fields(req, ticket, False))
    errors = apply_changes(req, ticket, changes, comment, form)
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


def _comment_authors(env, ticket_id: int) -> dict[int, str | None]:
    """Comment number -> author, for the comments that carry their number."""
    with env.db_query as db:
        rows = db("SELECT oldvalue, author FROM ticket_change WHERE ticket=%s "
                  "AND field='comment'", (ticket_id,))
    authors: dict[int, str | None] = {}
    for old, author in rows:
        try:
            authors[int((old or "").rpartition(".")[2])] = author
        except ValueError:
            continue
    return authors


def default_ticket_policy(env, action, username, resource, perm):
    """As Trac's DefaultTicketPolicy: a logged-in user with ``TICKET_APPEND`` may edit their
    own comments (``TICKET_EDIT_COMMENT`` on ``comment:N`` of the ticket), and with
    ``TICKET_APPEND`` or ``TICKET_CHGPROP`` the description of a ticket they reported."""
    if username == "anonymous" or resource is None or perm is None:
        return None
    if action not in ("TICKET_EDIT_COMMENT", "TICKET_EDIT_DESCRIPTION"):
        return None
    if isinstance(perm, PermissionCache) and perm.username == username \
            and action in perm.granted_actions():
        return None  # granted outright: the grant decides, no need to look
    if action == "TICKET_EDIT_COMMENT":
        parent = resource.parent
        if resource.realm != "comment" or resource.id is None or parent is None \
                or parent.realm != "ticket" or not Ticket.id_is_valid(parent.id):
            return None
        if not perm.has("TICKET_APPEND", Resource("ticket", parent.id)):
            return None
        tid = int(parent.id)
        authors = (perm.cached(("ticket comment authors", tid), lambda: _comment_authors(env, tid))
                   if isinstance(perm, PermissionCache) else _comment_authors(env, tid))
        try:
            cnum = int(resource.id)
        except (TypeError, ValueError):
            return None
        if cnum not in authors:  # old data without numbers in the comment rows
            found = find_change(env, tid, cnum)
            authors[cnum] = found[1] if found is not None else None
        return True if authors[cnum] == username else None
    if resource.realm != "ticket" or not Ticket.id_is_valid(resource.id):
        return None
    ticket_resource = Resource("ticket", resource.id)
    if not (perm.has("TICKET_APPEND", ticket_resource)
            or perm.has("TICKET_CHGPROP", ticket_resource)):
        return None
    with env.db_query as db:
        rows = db("SELECT reporter FROM ticket WHERE id=%s", (int(resource.id),))
    return True if rows and rows[0][0] == username else None


default_ticket_policy.actions = frozenset(  # type: ignore[attr-defined]
    {"TICKET_EDIT_COMMENT", "TICKET_EDIT_DESCRIPTION"})


@hookimpl
def permission_policies():
    return {"DefaultTicketPolicy": default_ticket_policy}


@hookimpl
def navigation_items(req):
    if req.perm.has("TICKET_CREATE"):
        return [NavItem("mainnav", "newticket", "New Ticket", req.url_for("newticket"), order=50)]
    return []


@hookimpl
def start_pages():
    return {"TicketModule": "newticket"}
