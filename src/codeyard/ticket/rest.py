"""Tickets in the REST API: the query (``?q=`` in the ticket query language), a ticket
with its fields, changes, workflow actions and attachments; create, update (fields,
comment, workflow ``action`` with its inputs) and delete; milestones and components.

A ticket is written with the checks of the ticket form (``ticket.changes``) and in one
transaction. Its change stamp ``ts`` (also its ETag) is the form's ``view_time``: send it
back as ``If-Match`` or a ``ts`` field and an update of a ticket changed since is refused
with 409.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from typing import Any

from codeyard.core import hookimpl
from codeyard.perm import Resource
from codeyard.rest import attachments
from codeyard.rest.api import (
    INT,
    OPT_STR,
    STR,
    TIME,
    Call,
    Endpoint,
    Paged,
    Param,
    Reply,
    array,
    bad_request,
    conflict,
    iso,
    iso_datetime,
    not_found,
    obj,
    parse_time,
)
from codeyard.ticket import values as V
from codeyard.ticket import workflow
from codeyard.ticket.changes import (
    apply_changes,
    as_mapping,
    prepare_new_ticket,
    requested_changes,
)
from codeyard.ticket.model import Ticket, TicketCollision, TicketError, TicketNotFound
from codeyard.ticket.query import Query, QueryError

TAG = "tickets"
ID = Param("id", "path", {"type": "integer", "minimum": 1}, "The ticket's number.", True)
NAME = Param("name", "path", STR, "The name.", True)

TICKET_SCHEMA = obj({"id": INT, "created": TIME, "changed": TIME, "ts": STR,
                     "fields": {"type": "object"}}, ("id", "fields", "ts"))
FIELD_VALUES = {"type": "object", "description": "Field name → value (text; a checkbox takes "
                "true or false, a time field an ISO 8601 time).",
                "additionalProperties": {"type": ["string", "integer", "boolean", "null"]}}
WORKFLOW_INPUTS = {"^action_": {"type": "string"}}
CREATE_SCHEMA = obj({"fields": FIELD_VALUES, "action": STR}, ("fields",),
                    patternProperties=WORKFLOW_INPUTS)
UPDATE_SCHEMA = obj({"fields": FIELD_VALUES, "comment": STR, "action": STR, "ts": STR,
                     "replyto": STR}, patternProperties=WORKFLOW_INPUTS)
CHANGE_SCHEMA = obj({"time": TIME, "author": STR, "cnum": {"type": ["integer", "null"]},
                     "comment": STR, "fields": {"type": "object"}})
MILESTONE_SCHEMA = obj({"name": STR, "due": TIME, "completed": TIME, "description": STR})
MILESTONE_BODY = obj({"name": {"type": "string", "minLength": 1}, "due": TIME,
                      "completed": TIME, "description": OPT_STR})
COMPONENT_SCHEMA = obj({"name": STR, "owner": STR, "description": STR})
COMPONENT_BODY = obj({"name": {"type": "string", "minLength": 1}, "owner": OPT_STR,
                      "description": OPT_STR})


@hookimpl
def rest_endpoints():
    return [
        Endpoint("GET", "/tickets", "The tickets a query finds, in its order", list_tickets,
                 TAG, "TICKET_VIEW", [Param("q", "query", STR,
                                            "A ticket query (TracQuery syntax, e.g. "
                                            "status!=closed&owner=$USER&order=priority); by "
                                            "default status!=closed.")],
                 response_schema={"type": "object"}, paged=True),
        Endpoint("POST", "/tickets", "Create a ticket (the workflow action of creation may be "
                 "named, with its inputs)", create_ticket, TAG, "TICKET_CREATE",
                 request_schema=CREATE_SCHEMA, response_schema=TICKET_SCHEMA, status=201),
        Endpoint("GET", "/tickets/{id}", "A ticket with its fields and its change stamp",
                 get_ticket, TAG, "TICKET_VIEW", [ID], response_schema=TICKET_SCHEMA),
        Endpoint("PATCH", "/tickets/{id}", "Change fields, add a comment, take a workflow "
                 "action; If-Match (or ts) holds the stamp the change was based on",
                 update_ticket, TAG, "TICKET_MODIFY, TICKET_APPEND or TICKET_CHGPROP", [ID],
                 request_schema=UPDATE_SCHEMA, response_schema=TICKET_SCHEMA),
        Endpoint("DELETE", "/tickets/{id}", "Delete a ticket with its changes and attachments",
                 delete_ticket, TAG, "TICKET_ADMIN", [ID], status=204),
        Endpoint("GET", "/tickets/{id}/changes", "The changes of a ticket, oldest first",
                 ticket_changes, TAG, "TICKET_VIEW", [ID], response_schema=CHANGE_SCHEMA,
                 paged=True),
        Endpoint("GET", "/tickets/{id}/actions", "The workflow actions the caller may take, "
                 "with the inputs each needs", ticket_actions, TAG, "TICKET_VIEW", [ID],
                 response_schema=array({"type": "object"})),
        *attachments.endpoints("ticket", "/tickets/{id}", "ticket", TAG, ID, _existing),
        # Milestones, as the roadmap's pages
        Endpoint("GET", "/milestones", "The milestones, in the roadmap's order",
                 list_milestones, "milestones", "MILESTONE_VIEW",
                 response_schema=MILESTONE_SCHEMA, paged=True),
        Endpoint("POST", "/milestones", "Create a milestone", create_milestone, "milestones",
                 "MILESTONE_CREATE", request_schema=obj(MILESTONE_BODY["properties"], ("name",)),
                 response_schema=MILESTONE_SCHEMA, status=201),
        Endpoint("GET", "/milestones/{name:path}", "A milestone", get_milestone, "milestones",
                 "MILESTONE_VIEW", [NAME], response_schema=MILESTONE_SCHEMA),
        Endpoint("PATCH", "/milestones/{name:path}", "Change a milestone (a new name renames "
                 "it)", update_milestone, "milestones", "MILESTONE_MODIFY", [NAME],
                 request_schema=MILESTONE_BODY, response_schema=MILESTONE_SCHEMA),
        Endpoint("DELETE", "/milestones/{name:path}", "Delete a milestone", delete_milestone,
                 "milestones", "MILESTONE_DELETE", [NAME], status=204),
        # Components, as the admin panel
        Endpoint("GET", "/components", "The components", list_components, "components",
                 "TICKET_VIEW", response_schema=COMPONENT_SCHEMA, paged=True),
        Endpoint("POST", "/components", "Create a component", create_component, "components",
                 "TICKET_ADMIN", request_schema=obj(COMPONENT_BODY["properties"], ("name",)),
                 response_schema=COMPONENT_SCHEMA, status=201),
        Endpoint("GET", "/components/{name:path}", "A component", get_component, "components",
                 "TICKET_VIEW", [NAME], response_schema=COMPONENT_SCHEMA),
        Endpoint("PATCH", "/components/{name:path}", "Change a component (a new name renames "
                 "it)", update_component, "components", "TICKET_ADMIN", [NAME],
                 request_schema=COMPONENT_BODY, response_schema=COMPONENT_SCHEMA),
        Endpoint("DELETE", "/components/{name:path}", "Delete a component", delete_component,
                 "components", "TICKET_ADMIN", [NAME], status=204),
    ]


# ---------------------------------------------------------------------------
# Tickets

def _resource(tid: int | None = None) -> Resource:
    return Resource("ticket", tid)


def _load(call: Call, action: str = "TICKET_VIEW") -> Ticket:
    tid = call.args["id"]
    call.req.perm.require(action, _resource(tid))
    try:
        return Ticket(call.env, tid)
    except TicketNotFound:
        raise not_found(f"Ticket {tid} does not exist.") from None


def as_json(ticket: Ticket) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    kinds = {f.name: f.type for f in ticket.fields}
    for name, value in ticket.values.items():
        if name in ("time", "changetime"):
            continue
        if name in ticket.time_fields:
            fields[name] = iso(value) if isinstance(value, int) else (value or None)
        elif kinds.get(name) == "checkbox":
            fields[name] = str(value) in ("1", "true", "on")
        else:
            fields[name] = value if value is not None else ""
    return {"id": ticket.id, "created": iso(ticket.time_created),
            "changed": iso(ticket.time_changed), "ts": str(ticket.time_changed or 0),
            "fields": fields}


def _reply(call: Call, ticket: Ticket, status: int = 200) -> Reply:
    headers = [("ETag", f'"{ticket.time_changed or 0}"')]
    if status == 201:
        headers.append(("Location", call.req.absolute(
            call.req.url_for("rest.api", path=f"tickets/{ticket.id}"))))
    return Reply(as_json(ticket), status, headers)


def _field_values(ticket: Ticket, given: dict[str, Any]) -> dict[str, Any]:
    """The body's field values as the ticket stores them; unknown fields are refused."""
    known = {f.name: f for f in ticket.fields}
    out: dict[str, Any] = {}
    for name, value in given.items():
        f = known.get(name)
        if f is None or name in ("time", "changetime"):
            raise bad_request(f"fields: {name!r} is not a ticket field.")
        if f.type == "time":
            out[name] = parse_time(value, f"fields.{name}")
        elif isinstance(value, bool):
            out[name] = "1" if value else "0"
        elif value is None:
            out[name] = ""
        else:
            out[name] = str(value)
    return out


def _workflow_form(body: dict) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k == "action" or k.startswith("action_")}


def list_tickets(call: Call) -> Paged:
    req = call.req
    req.perm.require("TICKET_VIEW")
    text = call.args.get("q") or "status!=closed"
    try:
        query = Query.from_string(call.env, text)
        # The API's paging, whatever max= and page= the query text holds.
        query.max, query.page, query.offset = call.per_page, call.page, call.offset
        total = query.count(call.env, user=req.authname)
        found = [] if call.offset >= total else query.execute(call.env, user=req.authname, tz=UTC)
    except QueryError as exc:
        raise bad_request(f"Invalid query: {exc}") from None
    items = []
    for row in found:
        if not req.perm.has("TICKET_VIEW", _resource(int(row["id"]))):
            continue
        items.append({k: iso_datetime(v) if hasattr(v, "tzinfo") else v for k, v in row.items()})
    return Paged(items, total)


def get_ticket(call: Call) -> Reply:
    return _reply(call, _load(call))


def create_ticket(call: Call) -> Reply:
    req = call.req
    req.perm.require("TICKET_CREATE", _resource())
    body = call.body
    values = _field_values(Ticket(call.env), body["fields"])
    ticket, errors = prepare_new_ticket(req, values, _workflow_form(body))
    if errors:
        raise bad_request(" ".join(errors))
    try:
        ticket.insert(author=req.authname)
    except TicketError as exc:
        raise bad_request(str(exc)) from None
    return _reply(call, Ticket(call.env, ticket.id), 201)


def _expected_stamp(call: Call) -> int | None:
    given = call.if_match or call.body.get("ts")
    if given in (None, "", "*"):
        return None
    try:
        return int(given)
    except ValueError:
        raise bad_request(f"The change stamp {given!r} (If-Match or ts) is not a ticket's ts."
                          ) from None


def update_ticket(call: Call) -> Reply:
    req = call.req
    ticket = _load(call)
    perm = req.perm(_resource(ticket.id))
    if not (perm.has("TICKET_MODIFY") or perm.has("TICKET_APPEND") or perm.has("TICKET_CHGPROP")):
        req.perm.require("TICKET_MODIFY", _resource(ticket.id))
    body = call.body
    expected = _expected_stamp(call)
    comment = body.get("comment") or ""
    if comment.strip():
        perm.require("TICKET_APPEND")
    changes, errors = requested_changes(req, ticket, _field_values(ticket, body.get("fields") or {}))
    errors += apply_changes(req, ticket, changes, comment, _workflow_form(body))
    if errors:
        raise bad_request(" ".join(errors))
    try:
        ticket.save_changes(req.authname, comment, replyto=body.get("replyto") or None,
                            expected_changetime=expected)
    except TicketCollision:
        raise conflict(f"Ticket {ticket.id} has been changed since the version you edited "
                       "(its ts differs): get it again and repeat the change.") from None
    except TicketError as exc:
        raise bad_request(str(exc)) from None
    return _reply(call, Ticket(call.env, ticket.id))


def delete_ticket(call: Call) -> None:
    _load(call, "TICKET_ADMIN").delete()


def ticket_changes(call: Call) -> Paged:
    ticket = _load(call)
    groups: dict[tuple, dict[str, Any]] = {}
    for ts, author, field, old, new, permanent in ticket.get_changelog():
        if not permanent:  # an attachment: shown by /attachments
            continue
        group = groups.setdefault((ts, author), {"time": iso(ts), "author": author or "",
                                                 "cnum": None, "comment": "", "fields": {}})
        if field == "comment":
            group["comment"] = new or ""
            number = str(old or "").rsplit(".", 1)[-1]
            group["cnum"] = int(number) if number.isdigit() else None
        elif not field.startswith("_"):
            group["fields"][field] = {"old": old, "new": new}
    return call.page_of(list(groups.values()))


def ticket_actions(call: Call) -> list[dict]:
    req = call.req
    ticket = _load(call)
    values = as_mapping(ticket)
    perm = req.perm(_resource(ticket.id))
    out = []
    for action in workflow.available_actions(call.env, values, perm, req.authname):
        control = workflow.action_controls(call.env, action, values, req.authname)
        out.append({"action": action.name, "label": control.label, "hint": control.hint,
                    "inputs": [{"name": i.name, "value": i.value, "options": list(i.options)}
                               for i in control.inputs if i.kind != "hidden" or i.options]})
    return out


def _existing(call: Call) -> str:
    tid = call.args["id"]
    if not V.ticket_exists(call.env, tid):
        raise not_found(f"Ticket {tid} does not exist.")
    return str(tid)






# ---------------------------------------------------------------------------
# Milestones and components: the admin commands' functions (ticket.values)

@contextmanager
def _model_errors() -> Iterator[None]:
    """The ticket model's refusals as the API's errors: 404, 409 or 400."""
    try:
        yield
    except V.ResourceNotFound as exc:
        raise not_found(str(exc)) from None
    except V.ResourceExists as exc:
        raise conflict(str(exc)) from None
    except V.TicketModelError as exc:
        raise bad_request(str(exc)) from None


def _milestone_json(m: V.Milestone) -> dict:
    return {"name": m.name, "due": iso(m.due), "completed": iso(m.completed),
            "description": m.description or ""}


def list_milestones(call: Call) -> Paged:
    perm = call.req.perm
    perm.require("MILESTONE_VIEW")
    return call.page_of([_milestone_json(m) for m in V.list_milestones(call.env)
                         if perm.has("MILESTONE_VIEW", Resource("milestone", m.name))])


def _milestone(call: Call, action: str) -> V.Milestone:
    name = call.args["name"]
    call.req.perm.require(action, Resource("milestone", name))
    with _model_errors():
        return V.get_milestone(call.env, name)


def get_milestone(call: Call) -> dict:
    return _milestone_json(_milestone(call, "MILESTONE_VIEW"))


def create_milestone(call: Call) -> Reply:
    body = call.body
    call.req.perm.require("MILESTONE_CREATE", Resource("milestone"))
    with _model_errors():
        with call.env.db_transaction:
            V.add_milestone(call.env, body["name"], parse_time(body.get("due"), "due"),
                            parse_time(body.get("completed"), "completed"),
                            body.get("description") or "")
        created = V.get_milestone(call.env, body["name"])
    return Reply(_milestone_json(created), 201)


def update_milestone(call: Call) -> dict:
    milestone = _milestone(call, "MILESTONE_MODIFY")
    body = call.body
    changes: dict[str, Any] = {}
    for key in ("due", "completed"):
        if key in body:
            changes[key] = parse_time(body[key], key)
    if "description" in body:
        changes["description"] = body["description"] or ""
    new_name = body.get("name") or milestone.name
    with _model_errors():
        with call.env.db_transaction:
            if changes:
                V.update_milestone(call.env, milestone.name, **changes)
            if new_name != milestone.name:
                V.rename_milestone(call.env, milestone.name, new_name, author=call.req.authname)
        return _milestone_json(V.get_milestone(call.env, new_name))


def delete_milestone(call: Call) -> None:
    milestone = _milestone(call, "MILESTONE_DELETE")
    with _model_errors():
        V.remove_milestone(call.env, milestone.name)


def _component_json(c: V.Component) -> dict:
    return {"name": c.name, "owner": c.owner or "", "description": c.description or ""}


def list_components(call: Call) -> Paged:
    call.req.perm.require("TICKET_VIEW")
    return call.page_of([_component_json(c) for c in V.list_components(call.env)])


def _component(call: Call, action: str) -> V.Component:
    call.req.perm.require(action)
    with _model_errors():
        return V.get_component(call.env, call.args["name"])


def get_component(call: Call) -> dict:
    return _component_json(_component(call, "TICKET_VIEW"))


def create_component(call: Call) -> Reply:
    call.req.perm.require("TICKET_ADMIN")
    body = call.body
    with _model_errors():
        with call.env.db_transaction:
            V.add_component(call.env, body["name"], body.get("owner"), body.get("description"))
        return Reply(_component_json(V.get_component(call.env, body["name"])), 201)


def update_component(call: Call) -> dict:
    component = _component(call, "TICKET_ADMIN")
    body = call.body
    new_name = body.get("name") or component.name
    with _model_errors():
        with call.env.db_transaction:
            if "owner" in body:
                V.set_component_owner(call.env, component.name, body["owner"] or None)
            if "description" in body:
                V.set_description(call.env, "component", component.name, body["description"])
            if new_name != component.name:
                V.rename_component(call.env, component.name, new_name)
        return _component_json(V.get_component(call.env, new_name))


def delete_component(call: Call) -> None:
    component = _component(call, "TICKET_ADMIN")
    with _model_errors():
        V.remove_component(call.env, component.name)
