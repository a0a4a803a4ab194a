"""The ``ticket.*`` RPC namespace as Trac's XmlRpcPlugin offers it: tickets (query, get,
create, update with ``_ts`` and the workflow ``action``, changeLog, attachments, fields)
and the ``ticket.component|milestone|version`` and enum families.

Tickets are written with the same checks as the web forms (editable fields, workflow,
field validation) and in one transaction: a refused call writes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from codeyard.core import hookimpl
from codeyard.perm import PermissionError_, Resource
from codeyard.rpc import attachments
from codeyard.rpc.api import NotFound, RpcError, RpcMethod, to_datetime, to_us, want
from codeyard.ticket import values as V
from codeyard.ticket import workflow
from codeyard.ticket.changes import apply_changes, prepare_new_ticket, requested_changes
from codeyard.ticket.model import (
    Ticket,
    TicketCollision,
    TicketError,
    TicketNotFound,
)
from codeyard.ticket.query import Query, QueryError

S, N, B, L, D = str, int, bool, list, dict
ENUMS = ("type", "priority", "severity", "resolution")


@hookimpl
def rpc_methods():
    methods = [
        RpcMethod("ticket.query", query, [[L], [L, S]]),
        RpcMethod("ticket.getRecentChanges", get_recent_changes, [[L, datetime]]),
        RpcMethod("ticket.getAvailableActions", get_available_actions, [[L, N]]),
        RpcMethod("ticket.getActions", get_actions, [[L, N]]),
        RpcMethod("ticket.get", get, [[L, N]]),
        RpcMethod("ticket.create", create, [[N, S, S], [N, S, S, D], [N, S, S, D, B],
                                            [N, S, S, D, B, datetime]], "TICKET_CREATE"),
        RpcMethod("ticket.update", update, [[L, N, S], [L, N, S, D], [L, N, S, D, B],
                                            [L, N, S, D, B, S], [L, N, S, D, B, S, datetime]]),
        RpcMethod("ticket.delete", delete, [[N, N]]),
        RpcMethod("ticket.changeLog", change_log, [[L, N], [L, N, datetime]]),
        RpcMethod("ticket.listAttachments", list_attachments, [[L, N]]),
        RpcMethod("ticket.getAttachment", get_attachment, [[bytes, N, S]]),
        RpcMethod("ticket.putAttachment", put_attachment,
                  [[S, N, S, S, bytes], [S, N, S, S, bytes, B]]),
        RpcMethod("ticket.deleteAttachment", delete_attachment, [[B, N, S]]),
        RpcMethod("ticket.getTicketFields", get_ticket_fields, [[L]], "TICKET_VIEW"),
        RpcMethod("ticket.status.getAll", status_get_all, [[L]], "TICKET_VIEW"),
    ]
    for kind in ("component", "milestone", "version"):
        methods += _model_family(kind)
    for kind in ENUMS:
        methods += _enum_family(kind)
    return methods


# ---------------------------------------------------------------------------
# Helpers

def _resource(tid: int | None = None) -> Resource:
    return Resource("ticket", tid)


def _load(req, tid, action: str = "TICKET_VIEW") -> Ticket:
    want(tid, int, "id")
    req.perm.require(action, _resource(tid))
    try:
        return Ticket(req.env, tid)
    except TicketNotFound:
        raise NotFound(f"Ticket {tid} does not exist.") from None


def _attributes(ticket: Ticket) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in ticket.values.items():
        if name in ticket.time_fields:
            out[name] = to_datetime(value) if value else ""
        else:
            out[name] = value
    out["_ts"] = str(ticket.time_changed or 0)
    return out


def _mapping(ticket: Ticket) -> dict[str, Any]:
    return {**ticket.values, "id": ticket.id}


def _as_field_value(ticket: Ticket, name: str, value: Any) -> Any:
    if name in ticket.time_fields:
        if value in ("", None):
            return None
        return to_us(value, name)
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float)):
        return str(value)
    if not isinstance(value, str):
        raise RpcError(f"{name} must be a string")
    return value


def _split_attributes(ticket: Ticket, attributes: dict) -> tuple[dict[str, Any], dict]:
    """(field values, the rest: ``action``, ``action_*`` inputs…); unknown names fail."""
    known = {f.name for f in ticket.fields}
    fields: dict[str, Any] = {}
    form: dict[str, Any] = {}
    for name, value in attributes.items():
        if name in known:
            fields[name] = _as_field_value(ticket, name, value)
        elif name == "action" or name.startswith(("action_", "_")):
            form[name] = value
        else:
            raise RpcError(f'"{name}" is not a ticket field')
    return fields, form


def _fail(errors: list[str]) -> None:
    if errors:
        raise RpcError(" ".join(errors))


# ---------------------------------------------------------------------------
# Tickets

def query(req, qstr="status!=closed"):
    """Runs a ticket query (TracQuery syntax, ``max=0`` for every result, ``page=n`` to
    page) and returns the ids of the tickets found."""
    want(qstr, str, "qstr")
    try:
        found = Query.from_string(req.env, qstr).execute(req.env, user=req.authname, tz=UTC)
    except QueryError as exc:
        raise RpcError(f"Invalid query: {exc}") from None
    return [int(t["id"]) for t in found if req.perm.has("TICKET_VIEW", _resource(int(t["id"])))]


def get_recent_changes(req, since):
    """Returns the ids of the tickets changed since the given date."""
    since_us = to_us(since)
    with req.env.db_query as db:
        rows = db("SELECT id FROM ticket WHERE changetime >= %s ORDER BY changetime, id",
                  (since_us,))
    return [int(r[0]) for r in rows if req.perm.has("TICKET_VIEW", _resource(int(r[0])))]


def get_available_actions(req, id):
    """Deprecated (use getActions): returns the names of the actions one may take."""
    return [action[0] for action in get_actions(req, id)]


def get_actions(req, id):
    """Returns the workflow actions the caller may take on the ticket, each
    ``[action, label, hints, [[name, value, [options]], …]]`` where the inner list names
    the inputs the action needs (its owner, its resolution)."""
    ticket = _load(req, id)
    values = _mapping(ticket)
    perm = req.perm(_resource(ticket.id))
    out = []
    for action in workflow.available_actions(req.env, values, perm, req.authname):
        control = workflow.action_controls(req.env, action, values, req.authname)
        inputs = [[i.name, i.value, list(i.options)] for i in control.inputs
                  if i.kind != "hidden" or i.options]
        out.append([action.name, control.label, control.hint, inputs])
    return out


def get(req, id):
    """Returns a ticket as ``[id, time_created, time_changed, attributes]``; the
    attributes carry ``_ts``, the change stamp ``update`` checks against."""
    ticket = _load(req, id)
    return [ticket.id, to_datetime(ticket.time_created), to_datetime(ticket.time_changed),
            _attributes(ticket)]


def create(req, summary, description, attributes=None, notify=False, when=None):
    """Creates a ticket and returns its number. ``attributes`` sets other fields (and may
    name the workflow ``action`` of creation); ``when`` (TICKET_ADMIN only) sets the
    creation time. Notifications go out as for a ticket created on the web, whatever
    ``notify`` says."""
    want(summary, str, "summary")
    want(description, str, "description")
    attributes = dict(want(attributes if attributes is not None else {}, dict, "attributes"))
    want(notify, (bool, int), "notify")
    perm = req.perm(_resource())
    fields, form = _split_attributes(Ticket(req.env), attributes)
    ticket, errors = prepare_new_ticket(req, {**fields, "summary": summary,
                                              "description": description}, form)
    _fail(errors)
    when_us = None
    if when is not None and perm.has("TICKET_ADMIN"):
        when_us = to_us(when, "when")
    try:
        return ticket.insert(when=when_us, author=req.authname)
    except TicketError as exc:
        raise RpcError(str(exc)) from None


def update(req, id, comment, attributes=None, notify=False, author="", when=None):
    """Changes a ticket and returns it as ``get`` does. ``attributes`` holds the fields to
    change, the workflow ``action`` (with its inputs, e.g.
    ``action_resolve_resolve_resolution``) and ``_ts`` from ``get``: when the ticket changed
    since, the update is refused. ``author`` and ``when`` need TICKET_ADMIN."""
    want(comment, str, "comment")
    attributes = dict(want(attributes if attributes is not None else {}, dict, "attributes"))
    want(notify, (bool, int), "notify")
    want(author, str, "author")
    ticket = _load(req, id)
    perm = req.perm(_resource(ticket.id))
    if not (perm.has("TICKET_MODIFY") or perm.has("TICKET_APPEND") or perm.has("TICKET_CHGPROP")):
        raise PermissionError_("TICKET_MODIFY", _resource(ticket.id))
    if author and not (req.authname == "anonymous" or perm.has("TICKET_ADMIN")):
        author = ""
    author = author or req.authname
    when_us = to_us(when, "when") if when is not None and perm.has("TICKET_ADMIN") else None
    for name in ("time", "changetime"):
        attributes.pop(name, None)
    stamp = attributes.pop("_ts", None)
    expected = None
    if stamp not in (None, ""):
        try:
            expected = int(stamp)
        except (TypeError, ValueError):
            raise RpcError(f"ticket.update: wrong '_ts' token in attributes ({stamp!r})") from None
    fields, form = _split_attributes(ticket, attributes)
    changes, errors = requested_changes(req, ticket, fields)
    if comment.strip() and not perm.has("TICKET_APPEND"):
        raise PermissionError_("TICKET_APPEND", _resource(ticket.id))
    errors += apply_changes(req, ticket, changes, comment, form)
    _fail(errors)
    try:
        ticket.save_changes(author, comment, when=when_us, expected_changetime=expected)
    except TicketCollision:
        raise RpcError(f"Ticket {ticket.id} has been updated since last get(): "
                       "get it again and repeat the update.") from None
    except TicketError as exc:
        raise RpcError(str(exc)) from None
    return get(req, ticket.id)


def delete(req, id):
    """Deletes a ticket with its changes and attachments (TICKET_ADMIN)."""
    ticket = _load(req, id, "TICKET_ADMIN")
    ticket.delete()
    return 0


def change_log(req, id, when=None):
    """Returns the changes of a ticket (or those made at the moment ``when``), each
    ``[time, author, field, oldvalue, newvalue, permanent]``."""
    ticket = _load(req, id)
    when_us = None
    if when not in (None, 0):
        when_us = to_us(when, "when")
    return [[to_datetime(t), author or "", field, old if old is not None else "",
             new if new is not None else "", permanent]
            for t, author, field, old, new, permanent in ticket.get_changelog(when_us)]


def _ticket_must_exist(req, tid) -> None:
    want(tid, int, "ticket")
    if not V.ticket_exists(req.env, tid):
        raise NotFound(f'Ticket "{tid}" does not exist')


def list_attachments(req, ticket):
    """Returns the attachments of a ticket, each
    ``[filename, description, size, time, author]``."""
    _ticket_must_exist(req, ticket)
    return [[a.filename, a.description, a.size, to_datetime(a.time), a.author]
            for a in attachments.listing(req, "ticket", str(ticket))]


def get_attachment(req, ticket, filename):
    """Returns the content of an attachment of a ticket."""
    _ticket_must_exist(req, ticket)
    want(filename, str, "filename")
    return attachments.content(req, "ticket", str(ticket), filename)


def put_attachment(req, ticket, filename, description, data, replace=True):
    """Attaches a file to a ticket (replacing one of that name unless ``replace`` is
    false); returns the name it was stored under."""
    _ticket_must_exist(req, ticket)
    want(replace, bool, "replace")
    return attachments.store(req, "ticket", str(ticket), filename, description, data, replace)


def delete_attachment(req, ticket, filename):
    """Deletes an attachment of a ticket. Returns true."""
    _ticket_must_exist(req, ticket)
    want(filename, str, "filename")
    return attachments.delete(req, "ticket", str(ticket), filename)


def get_ticket_fields(req):
    """Returns every ticket field as a struct: name, type, label, value (the default),
    options (select and radio fields), optional, order, custom, format."""
    out = []
    for f in Ticket(req.env).fields:
        item: dict[str, Any] = {"name": f.name, "type": f.type, "label": f.label,
                                "value": f.value or "", "order": f.order}
        if f.type in ("select", "radio"):
            item["options"] = list(f.options)
            item["optional"] = bool(f.optional)
        if f.custom:
            item["custom"] = True
        if f.type in ("text", "textarea"):
            item["format"] = f.format
        out.append(item)
    return out


def status_get_all(req):
    """Returns every ticket status the workflow knows."""
    return list(workflow.all_states(req.env))


# ---------------------------------------------------------------------------
# ticket.component / milestone / version

def _name(name) -> str:
    return want(name, str, "name")


def _model_error(exc: Exception) -> Exception:
    if isinstance(exc, V.ResourceNotFound):
        return NotFound(str(exc))
    return RpcError(str(exc))


def _date_or_zero(us: int | None) -> Any:
    return to_datetime(us) if us else 0


def _optional_us(value: Any, what: str) -> int | None:
    if value in (None, 0, ""):
        return None
    return to_us(value, what)


def _text(attributes: dict, key: str) -> str | None:
    value = attributes.get(key)
    if value is not None:
        want(value, str, key)
    return value


class _Family:
    """The five methods of ``ticket.<kind>`` over the ticket package's functions."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def get_all(self, req):
        if self.kind == "component":
            return [c.name for c in V.list_components(req.env)]
        if self.kind == "milestone":
            return [m.name for m in V.list_milestones(req.env)]
        return [v.name for v in V.list_versions(req.env)]

    def get(self, req, name):
        _name(name)
        try:
            if self.kind == "component":
                c = V.get_component(req.env, name)
                return {"name": c.name, "owner": c.owner or "", "description": c.description or ""}
            if self.kind == "milestone":
                m = V.get_milestone(req.env, name)
                return {"name": m.name, "due": _date_or_zero(m.due),
                        "completed": _date_or_zero(m.completed),
                        "description": m.description or ""}
            v = V.get_version(req.env, name)
            return {"name": v.name, "time": _date_or_zero(v.time),
                    "description": v.description or ""}
        except V.TicketModelError as exc:
            raise _model_error(exc) from None

    def delete(self, req, name):
        _name(name)
        remove = {"component": V.remove_component, "milestone": V.remove_milestone,
                  "version": V.remove_version}[self.kind]
        try:
            remove(req.env, name)
        except V.TicketModelError as exc:
            raise _model_error(exc) from None
        return 0

    def _check(self, attributes) -> dict:
        want(attributes, dict, "attributes")
        allowed = {"component": ("name", "owner", "description"),
                   "milestone": ("name", "due", "completed", "description"),
                   "version": ("name", "time", "description")}[self.kind]
        for key in attributes:
            if key not in allowed:
                raise RpcError(f'"{key}" is not an attribute of a {self.kind} '
                               f"({', '.join(allowed)})")
        return attributes

    def create(self, req, name, attributes):
        _name(name)
        attrs = self._check(attributes)
        env = req.env
        try:
            with env.db_transaction:
                if self.kind == "component":
                    V.add_component(env, name, _text(attrs, "owner"), _text(attrs, "description"))
                elif self.kind == "milestone":
                    V.add_milestone(env, name, _optional_us(attrs.get("due"), "due"),
                                    _optional_us(attrs.get("completed"), "completed"),
                                    _text(attrs, "description") or "")
                else:
                    V.add_version(env, name, _optional_us(attrs.get("time"), "time"),
                                  _text(attrs, "description"))
        except V.TicketModelError as exc:
            raise _model_error(exc) from None
        return 0

    def update(self, req, name, attributes):
        _name(name)
        attrs = self._check(attributes)
        env = req.env
        new_name = attrs.get("name")
        if new_name is not None:
            want(new_name, str, "name")
        try:
            with env.db_transaction:
                if self.kind == "component":
                    V.get_component(env, name)
                    if "owner" in attrs:
                        V.set_component_owner(env, name, _text(attrs, "owner"))
                    if "description" in attrs:
                        V.set_description(env, "component", name, _text(attrs, "description"))
                    if new_name and new_name != name:
                        V.rename_component(env, name, new_name)
                elif self.kind == "milestone":
                    V.get_milestone(env, name)
                    kw: dict[str, Any] = {}
                    if "due" in attrs:
                        kw["due"] = _optional_us(attrs["due"], "due")
                    if "completed" in attrs:
                        kw["completed"] = _optional_us(attrs["completed"], "completed")
                    if "description" in attrs:
                        kw["description"] = _text(attrs, "description")
                    if kw:
                        V.update_milestone(env, name, **kw)
                    if new_name and new_name != name:
                        V.rename_milestone(env, name, new_name, author=req.authname)
                else:
                    V.get_version(env, name)
                    if "time" in attrs:
                        V.set_version_time(env, name, _optional_us(attrs["time"], "time"))
                    if "description" in attrs:
                        V.set_description(env, "version", name, _text(attrs, "description"))
                    if new_name and new_name != name:
                        V.rename_version(env, name, new_name)
        except V.TicketModelError as exc:
            raise _model_error(exc) from None
        return 0


def _documented(func, doc: str):
    def method(req, *args):
        return func(req, *args)

    import inspect

    method.__signature__ = inspect.signature(func)  # type: ignore[attr-defined]
    method.__doc__ = doc
    method.__name__ = func.__name__
    return method


def _model_family(kind: str) -> list[RpcMethod]:
    f = _Family(kind)
    prefix = f"ticket.{kind}."
    return [
        RpcMethod(prefix + "getAll", _documented(f.get_all, f"Returns the names of every {kind}."),
                  [[L]], "TICKET_VIEW"),
        RpcMethod(prefix + "get", _documented(f.get, f"Returns the attributes of a {kind}."),
                  [[D, S]], "TICKET_VIEW"),
        RpcMethod(prefix + "delete", _documented(f.delete, f"Deletes a {kind}."),
                  [[N, S]], "TICKET_ADMIN"),
        RpcMethod(prefix + "create", _documented(
            f.create, f"Creates a {kind} with the given attributes."), [[N, S, D]], "TICKET_ADMIN"),
        RpcMethod(prefix + "update", _documented(
            f.update, f"Changes the attributes of a {kind} (``name`` renames it)."),
            [[N, S, D]], "TICKET_ADMIN"),
    ]


# ---------------------------------------------------------------------------
# ticket.type / priority / severity / resolution

class _Enum:
    def __init__(self, kind: str) -> None:
        self.kind = "ticket_type" if kind == "type" else kind  # the enum table's type

    def get_all(self, req):
        return [e.name for e in V.list_enum(req.env, self.kind)]

    def get(self, req, name):
        _name(name)
        try:
            return V.get_enum(req.env, self.kind, name).value
        except V.TicketModelError as exc:
            raise _model_error(exc) from None

    def delete(self, req, name):
        _name(name)
        try:
            V.remove_enum(req.env, self.kind, name)
        except V.TicketModelError as exc:
            raise _model_error(exc) from None
        return 0

    def create(self, req, name, value):
        _name(name)
        value = _enum_value(value)
        env = req.env
        try:
            with env.db_transaction:
                V.add_enum(env, self.kind, name)
                if value:
                    V.set_enum_value(env, self.kind, name, value)
        except V.TicketModelError as exc:
            raise _model_error(exc) from None
        return 0

    def update(self, req, name, value):
        _name(name)
        value = _enum_value(value)
        env = req.env
        try:
            V.set_enum_value(env, self.kind, name, value)
        except V.TicketModelError as exc:
            raise _model_error(exc) from None
        return 0


def _enum_value(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return want(value, str, "value")


def _enum_family(kind: str) -> list[RpcMethod]:
    e = _Enum(kind)
    prefix = f"ticket.{kind}."
    return [
        RpcMethod(prefix + "getAll", _documented(e.get_all, f"Returns the names of every ticket {kind}."),
                  [[L]], "TICKET_VIEW"),
        RpcMethod(prefix + "get", _documented(e.get, f"Returns the value (the order) of a ticket {kind}."),
                  [[S, S]], "TICKET_VIEW"),
        RpcMethod(prefix + "delete", _documented(e.delete, f"Deletes a ticket {kind}."),
                  [[N, S]], "TICKET_ADMIN"),
        RpcMethod(prefix + "create", _documented(
            e.create, f"Creates a ticket {kind} with the given value."), [[N, S, S]], "TICKET_ADMIN"),
        RpcMethod(prefix + "update", _documented(
            e.update, f"Changes the value of a ticket {kind}."), [[N, S, S]], "TICKET_ADMIN"),
    ]
