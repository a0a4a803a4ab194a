"""Batch modify (``TICKET_BATCH_MODIFY``): change fields, add a comment and take a workflow
action on several tickets of a query at once — all of them or none.

The form posts to ``/batchmodify`` with Trac's field names: ``selected_tickets`` (ids),
``batchmod_value_<field>``, ``batchmod_value_comment``, ``action`` (and the action's
``action_<action>_<operation>_<param>`` fields), ``query_href``.
"""

from __future__ import annotations

from werkzeug.routing import Rule

from codeyard.core import hookimpl
from codeyard.perm import Resource
from codeyard.ticket import workflow
from codeyard.ticket.fields import ticket_fields
from codeyard.ticket.model import Ticket, TicketError
from codeyard.web.api import HTTPBadRequest

# What a batch may change: select and text fields, never the workflow's own or the text.
EXCLUDED_FIELDS = ("summary", "description", "reporter", "owner", "status", "resolution",
                   "time", "changetime")


def batch_fields(env) -> list:
    return [f for f in ticket_fields(env) if f.name not in EXCLUDED_FIELDS
            and f.type in ("select", "radio", "text", "checkbox")]


def selected_ids(form) -> list[int]:
    ids: list[int] = []
    for raw in form.getlist("selected_tickets"):
        for part in raw.replace(",", " ").split():
            if not Ticket.id_is_valid(part):
                raise HTTPBadRequest(f"Invalid ticket number '{part}'.")
            if int(part) not in ids:
                ids.append(int(part))
    return ids


def batch_modify(req):
    """/batchmodify — POST the changes for the selected tickets, then back to the query."""
    req.perm.require("TICKET_BATCH_MODIFY")
    form = req.form
    ids = selected_ids(form)
    if not ids:
        raise HTTPBadRequest("No tickets selected.")
    fields = {f.name: f for f in batch_fields(req.env)}
    changes: dict[str, str] = {}
    for key in form:
        if key.startswith("batchmod_value_") and key != "batchmod_value_comment":
            name = key[len("batchmod_value_"):]
            if name not in fields:
                raise HTTPBadRequest(f"The field '{name}' cannot be changed in a batch.")
            if form.get(key, "") != "":  # an empty value leaves the field as it is
                changes[name] = form.get(key, "")
    comment = form.get("batchmod_value_comment", "")
    action = form.get("action") or ""
    errors: list[str] = []
    with req.env.db_transaction:  # all of them or none
        for tkt_id in ids:
            try:
                ticket = Ticket(req.env, tkt_id)
            except TicketError as exc:
                errors.append(f"#{tkt_id}: {exc}")
                continue
            perm = req.perm(Resource("ticket", tkt_id))
            if not perm.has("TICKET_VIEW"):
                errors.append(f"#{tkt_id}: you may not view this ticket.")
                continue
            ticket.populate(changes)
            values = {**ticket.values, "id": tkt_id}
            if action and any(a.name == action for a in workflow.available_actions(
                    req.env, values, perm, req.authname)):
                # As in Trac, the action applies to the tickets whose state allows it.
                try:
                    for name, value in workflow.apply_action(
                            req.env, action, values, form, req.authname, perm=perm,
                            changes=changes).items():
                        ticket[name] = value
                except workflow.WorkflowError as exc:
                    errors.append(f"#{tkt_id}: {exc}")
                    continue
            problems = ticket.validate(comment)
            if problems:
                errors.extend(f"#{tkt_id}: {name}: {message}" for name, message in problems)
                continue
            ticket.save_changes(req.authname, comment)
        if errors:
            raise BatchRefused(errors)
    req.add_notice(f"{len(ids)} ticket(s) changed.")
    back = form.get("query_href") or ""
    return req.redirect(back if back.startswith("/") and not back.startswith("//")
                        else req.url_for("query"))


class BatchRefused(HTTPBadRequest):
    """Nothing was saved: the list says which tickets refused which change."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("No ticket was changed: " + "; ".join(errors[:20])
                         + (f" (and {len(errors) - 20} more)" if len(errors) > 20 else ""),
                         title="Batch modify refused")


@hookimpl
def web_routes():
    return [(Rule("/batchmodify", endpoint="batchmodify", methods=["POST"]), batch_modify)]
