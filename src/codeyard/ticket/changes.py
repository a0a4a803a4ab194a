"""One way to change a ticket, shared by the ticket form, the RPC interface and the REST
API: which fields a user may set, the field changes a caller asks for, the workflow action
with its inputs, and the validation — all before anything is written.

Trac's form names the workflow's inputs ``action_<action>_<operation>_<param>`` (for
example ``action_resolve_resolve_resolution``); the callers pass them in ``form``, a
mapping that also holds ``action``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from codeyard.perm import PermissionError_, Resource
from codeyard.ticket import workflow
from codeyard.ticket.model import Ticket, type_defaults

# Fields no caller sets directly (the workflow or the clock sets them).
SYSTEM_FIELDS = ("status", "resolution", "time", "changetime")
# What the workflow reads as the ticket's state before the change.
_STORED = ("status", "owner", "resolution", "component")


def _perm(req, ticket: Ticket):
    return req.perm(Resource("ticket", ticket.id))


def as_mapping(ticket: Ticket) -> dict[str, Any]:
    """The ticket as the workflow reads it."""
    return {**ticket.values, "id": ticket.id}


def editable_fields(req, ticket: Ticket, creating: bool) -> list:
    """The fields this user may set on a new ticket (``creating``) or change on this one."""
    perm = _perm(req, ticket)
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


def same_value(ticket: Ticket, name: str, value: Any) -> bool:
    return (ticket[name] or "") == (value or "")


def requested_changes(req, ticket: Ticket, values: Mapping[str, Any]) -> tuple[dict, list[str]]:
    """The changes among ``values`` (field name → new value) a caller names explicitly,
    with the errors: a value equal to the stored one is no change; the status, resolution
    and owner change only through a workflow action; a field the user may not change
    raises PermissionError_ (TICKET_CHGPROP)."""
    editable = {f.name for f in editable_fields(req, ticket, False)}
    changes: dict[str, Any] = {}
    errors: list[str] = []
    for name, value in values.items():
        if same_value(ticket, name, value):
            continue
        if name in SYSTEM_FIELDS or name == "owner":
            errors.append(f"{name} is changed through a workflow action, not directly.")
        elif name not in editable:
            raise PermissionError_("TICKET_CHGPROP", Resource("ticket", ticket.id),
                                   f"You may not change the {name} of ticket {ticket.id}.")
        else:
            changes[name] = value
    return changes, errors


def apply_changes(req, ticket: Ticket, changes: dict[str, Any], comment: str,
                  form: Mapping[str, Any]) -> list[str]:
    """Set ``changes`` on ``ticket`` (not saved), then the workflow action ``form``
    names with its inputs, and validate the result with ``comment``. Returns the
    errors; none means the ticket may be saved."""
    perm = _perm(req, ticket)
    stored = {name: ticket[name] for name in _STORED}
    errors: list[str] = []
    if (comment or "").strip() and not perm.has("TICKET_APPEND"):
        errors.append("You may not add comments to this ticket (TICKET_APPEND).")
    ticket.populate(changes)
    action = form.get("action") or ""
    if action:
        try:
            moved = workflow.apply_action(req.env, action, {**as_mapping(ticket), **stored}, form,
                                          req.authname, perm=perm, changes=changes)
            for name, value in moved.items():
                ticket[name] = value
        except workflow.WorkflowError as exc:
            errors.append(str(exc))
    errors += [f"{name}: {message}" for name, message in ticket.validate(comment)]
    return errors


def prepare_new_ticket(req, values: Mapping[str, Any], form: Mapping[str, Any]
                       ) -> tuple[Ticket, list[str]]:
    """A new ticket (not inserted) from the field ``values`` a caller names, the defaults
    of its type and the creating workflow action (``form["action"]``, else the first one
    available), with the errors. A field the user may not set raises PermissionError_."""
    ticket = Ticket(req.env)
    perm = _perm(req, ticket)
    allowed = {f.name for f in editable_fields(req, ticket, True)}
    errors: list[str] = []
    for name, value in values.items():
        if name not in allowed and not same_value(ticket, name, value):
            if name in SYSTEM_FIELDS:
                errors.append(f"{name} is set by the workflow, not by the caller.")
            else:
                raise PermissionError_("TICKET_ADMIN", Resource("ticket"),
                                       f"You may not set the {name} of a new ticket.")
    # The defaults of the ticket's type ([ticket-type-defaults]), then the caller's values.
    ticket_type = str(values.get("type") or ticket["type"] or "")
    defaults = ticket.defaults_for_type(ticket_type)
    for name in type_defaults(req.env, ticket_type):
        if name in defaults and name not in values:
            ticket[name] = defaults[name]
    ticket.populate({n: v for n, v in values.items() if n in allowed})
    if not ticket["reporter"] or "reporter" not in allowed:
        ticket["reporter"] = req.authname
    actions = workflow.available_actions(req.env, as_mapping(ticket), perm, req.authname,
                                         creating=True)
    action = form.get("action") or (actions[0].name if actions else "")
    try:
        moved = workflow.apply_action(req.env, action, as_mapping(ticket), form, req.authname,
                                      perm=perm, creating=True)
        for name, value in moved.items():
            ticket[name] = value
    except workflow.WorkflowError as exc:
        errors.append(str(exc))
    errors += [f"{name}: {message}" for name, message in ticket.validate()]
    if not (ticket["summary"] or "").strip() \
            and "Tickets must contain a summary." not in " ".join(errors):
        errors.append("Tickets must contain a summary.")
    return ticket, errors
