"""The ticket workflow: the ``[ticket-workflow]`` section and what it allows.

The section is read as Trac 1.6's ConfigurableTicketWorkflow reads it: ``name = old1,old2 ->
new`` (``*`` any state, ``<none>`` a ticket being created) with ``name.operations``,
``.permissions`` (any of them; none means everyone), ``.default`` (the order: highest first),
``.label`` (or the older ``.name``), ``.set_owner`` (users, groups, permissions, or
``authenticated``) and ``.set_resolution``. A project moved between Trac and codeyard keeps
behaving the same, and the ticket forms use Trac's field names
(``action_<name>_reassign_owner``, ``action_<name>_resolve_resolution``).

A ticket is a plain mapping here (``status``, ``owner``, ``resolution``, ``component``, ``id``):
``available_actions`` lists what a user may do, ``action_controls`` describes the form of one
action, ``apply_action`` turns a submitted form into field changes.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from codeyard.config import BoolOption, ConfigSection, as_list, options_in
from codeyard.core import hookimpl
from codeyard.ticket.model import DEFAULT_OWNER, DEFAULT_RESOLUTION

TICKET_WORKFLOW_SECTION = ConfigSection(
    "ticket-workflow",
    "The ticket workflow: `action = old,states -> new` (`*` any state, `<none>` a new "
    "ticket), with `action.operations` (set_owner, set_owner_to_self, may_set_owner, "
    "del_owner, set_resolution, del_resolution, leave_status, reset_workflow), "
    "`action.permissions` (any one of them suffices; none: everyone), `action.default` "
    "(higher comes first), `action.label`, `action.set_owner` (users, groups or permissions "
    "to choose the owner from) and `action.set_resolution` (the resolutions offered). "
    "See TracWorkflow.")

RESTRICT_OWNER = BoolOption(
    "ticket", "restrict_owner", False,
    "Offer the owner of a ticket as a drop-down list of the users holding TICKET_MODIFY "
    "(users who have logged in at least once) instead of a text field.")
# The defaults of a new ticket's owner and resolution are the ticket model's options.
DEFAULT_WORKFLOW = {
    "accept": "new,assigned,accepted,reopened -> accepted",
    "accept.operations": "set_owner_to_self",
    "accept.permissions": "TICKET_MODIFY",
    "create": "<none> -> new",
    "create.default": "1",
    "create_and_assign": "<none> -> assigned",
    "create_and_assign.label": "assign",
    "create_and_assign.operations": "may_set_owner",
    "create_and_assign.permissions": "TICKET_MODIFY",
    "leave": "* -> *",
    "leave.default": "1",
    "leave.operations": "leave_status",
    "reassign": "new,assigned,accepted,reopened -> assigned",
    "reassign.operations": "set_owner",
    "reassign.permissions": "TICKET_MODIFY",
    "reopen": "closed -> reopened",
    "reopen.operations": "del_resolution",
    "reopen.permissions": "TICKET_CREATE",
    "resolve": "new,assigned,accepted,reopened -> closed",
    "resolve.operations": "set_resolution",
    "resolve.permissions": "TICKET_MODIFY",
}


@hookimpl
def new_environment_config(config):
    # An inherited file that defines a workflow keeps it for every project that shares it.
    if config.options("ticket-workflow"):
        return
    for key, value in DEFAULT_WORKFLOW.items():
        config.set("ticket-workflow", key, value)


def _actions(config) -> dict[str, dict[str, str]]:
    """action -> its ``[ticket-workflow]`` settings ("" key: ``old,states -> new``)."""
    actions: dict[str, dict[str, str]] = {}
    for key, value in config.options("ticket-workflow"):
        name, _, attribute = key.partition(".")
        actions.setdefault(name, {})[attribute] = value
    return actions


def all_states(env) -> list[str]:
    """Every status a ticket can have under this project's workflow, in the order the
    workflow first names them (``closed`` always among them, as in Trac)."""
    states: list[str] = []
    for settings in _actions(env.config).values():
        transition = settings.get("", "")
        if "->" not in transition:
            continue
        old, new = transition.split("->", 1)
        for state in [s.strip() for s in old.split(",")] + [new.strip()]:
            if state and state not in ("*", "<none>") and state not in states:
                states.append(state)
    if "closed" not in states:
        states.append("closed")
    return states


# ---------------------------------------------------------------------------
# Reading the section

OPERATIONS = ("del_owner", "set_owner", "set_owner_to_self", "may_set_owner",
              "set_resolution", "del_resolution", "leave_status", "reset_workflow")
CREATING = "<none>"  # the "old state" of a ticket being created
ANY = "*"
_LIST_ATTRIBUTES = ("operations", "permissions", "set_owner", "set_resolution")
_KNOWN_ATTRIBUTES = ("", "default", "label", "name") + _LIST_ATTRIBUTES


class WorkflowError(ValueError):
    """A workflow action that cannot be applied: the message is meant for the user."""


@dataclass(frozen=True)
class Action:
    """One ``[ticket-workflow]`` action. ``oldstates`` may hold ``*`` (any state of an
    existing ticket) and ``<none>`` (a ticket being created); ``newstate`` ``*`` keeps the
    status. ``set_owner`` / ``set_resolution`` are None when the action does not limit them."""

    name: str
    label: str
    oldstates: tuple[str, ...]
    newstate: str
    operations: tuple[str, ...] = ()
    permissions: tuple[str, ...] = ()
    default: int = 0
    set_owner: tuple[str, ...] | None = None
    set_resolution: tuple[str, ...] | None = None

    def applies_to(self, status: str | None) -> bool:
        """Whether the action starts from ``status`` (None: a ticket being created)."""
        if status is None:
            return CREATING in self.oldstates
        return list(self.oldstates) == [ANY] or status in self.oldstates


@dataclass
class ParsedWorkflow:
    actions: dict[str, Action]
    problems: list[str]


def parse_workflow(options: Iterable[tuple[str, str]]) -> ParsedWorkflow:
    """Read ``[ticket-workflow]`` options into actions, in the order they are first named.

    What Trac would skip or stumble on is skipped here too, with a readable line in
    ``problems``: a transition without ``->``, an action with settings but no transition,
    an unknown operation, a ``.default`` that is not a number."""
    raw: dict[str, dict[str, str]] = {}
    for key, value in options:
        name, _, attribute = key.strip().partition(".")
        raw.setdefault(name, {})[attribute] = value
    actions: dict[str, Action] = {}
    problems: list[str] = []
    for name, settings in raw.items():
        transition = settings.get("")
        if transition is None:
            problems.append(f"[ticket-workflow] action '{name}' has settings but no transition "
                            f"('{name} = old,states -> new'); ignored.")
            continue
        parts = transition.split("->")
        if len(parts) != 2 or not parts[1].strip():
            problems.append(f"[ticket-workflow] {name} = {transition}: not a transition "
                            "('old,states -> new'); the action is ignored.")
            continue
        oldstates = tuple(CREATING if s.replace(" ", "") == CREATING else s
                          for s in as_list(parts[0]))
        operations = []
        for operation in as_list(settings.get("operations", "")):
            if operation in OPERATIONS:
                operations.append(operation)
            else:
                problems.append(f"[ticket-workflow] {name}.operations: unknown operation "
                                f"'{operation}' (known: {', '.join(OPERATIONS)}); ignored.")
        try:
            default = int(settings.get("default", "0").strip() or 0)
        except ValueError:
            problems.append(f"[ticket-workflow] {name}.default = {settings['default']}: not a "
                            "number; 0 is used.")
            default = 0
        label = settings.get("label") or settings.get("name") or name.replace("_", " ").strip()
        for attribute in settings:
            if attribute not in _KNOWN_ATTRIBUTES:
                # Other controllers (plugins) may read their own attributes: not an error.
                problems.append(f"[ticket-workflow] {name}.{attribute}: not a setting the "
                                "workflow knows; ignored.")
        actions[name] = Action(
            name=name, label=label, oldstates=oldstates, newstate=parts[1].strip(),
            operations=tuple(operations),
            permissions=tuple(as_list(settings.get("permissions", ""))),
            default=default,
            set_owner=(tuple(as_list(settings["set_owner"]))
                       if "set_owner" in settings else None),
            set_resolution=(tuple(as_list(settings["set_resolution"]))
                            if "set_resolution" in settings else None))
    if any("new" in (a.newstate, *a.oldstates) for a in actions.values()) \
            and "_reset" not in actions:
        # As in Trac: lets an administrator move a ticket out of a status the workflow no
        # longer has (no other action starts from it).
        actions["_reset"] = Action("_reset", "reset", (), "new", ("reset_workflow",),
                                   ("TICKET_ADMIN",), 0)
    return ParsedWorkflow(actions, problems)


class Workflow:
    """The workflow of one environment, read once per configuration."""

    def __init__(self, env) -> None:
        self.env = env
        self._parsed: ParsedWorkflow = env.memo("ticket.workflow", self._read)

    def _read(self) -> ParsedWorkflow:
        parsed = parse_workflow(self.env.config.options("ticket-workflow"))
        for problem in parsed.problems:
            self.env.log.warning("%s", problem)
        return parsed

    def actions(self) -> list[Action]:
        return list(self._parsed.actions.values())

    def action(self, name: str) -> Action | None:
        return self._parsed.actions.get(name)

    @property
    def problems(self) -> list[str]:
        return list(self._parsed.problems)


def _resolve_action(env, action: Action | str) -> Action:
    if isinstance(action, Action):
        return action
    found = Workflow(env).action(str(action))
    if found is None:
        raise WorkflowError(f"No such ticket action: '{action}'.")
    return found


# ---------------------------------------------------------------------------
# What a user may do

def _status(ticket: Mapping, creating: bool | None) -> str | None:
    if creating is None:
        creating = ticket.get("status") is None and ticket.get("id") is None
    return None if creating else (ticket.get("status") or "")


def _resource(ticket: Mapping):
    from codeyard.perm import Resource

    return Resource("ticket", ticket.get("id"))


def _allowed(action: Action, perm, ticket: Mapping) -> bool:
    if not action.permissions or perm is None:
        return True
    resource = _resource(ticket)
    return any(perm.has(p, resource) for p in action.permissions)


def _candidates(env, ticket: Mapping, authname: str, status: str | None) -> list[Action]:
    """The actions that start from the ticket's status, before permissions."""
    owner = ticket.get("owner")
    states = set(all_states(env))
    found = []
    for action in Workflow(env).actions():
        if action.name == "_reset":
            if status is not None and status not in states:
                found.append(action)
            continue
        if action.newstate == ANY and "leave_status" not in action.operations:
            continue  # another controller's business, as in Trac
        if (action.operations == ("set_owner_to_self",) and owner == authname
                and status == action.newstate):
            continue  # accepting a ticket one already has accepted changes nothing
        if action.applies_to(status):
            found.append(action)
    return found


def available_actions(env, ticket: Mapping, perm, authname: str,
                      creating: bool = False) -> list[Action]:
    """The actions ``authname`` may take on ``ticket``, in Trac's order: by ``.default``,
    highest first, then by name (reversed, as Trac sorts them: leave, resolve, reassign,
    accept). ``perm`` answers ``perm.has(action, resource)``; None allows everything."""
    status = _status(ticket, creating or None)
    found = [a for a in _candidates(env, ticket, authname, status) if _allowed(a, perm, ticket)]
    return sorted(found, key=lambda a: (a.default, a.name), reverse=True)


# ---------------------------------------------------------------------------
# Owners and resolutions

def _known_users(env) -> list[str]:
    from codeyard.sessions import known_users

    return [row[0] for row in known_users(env)]


def _users_with(env, action: str, ticket: Mapping) -> set[str]:
    from codeyard.perm import PermissionCache

    resource = _resource(ticket)
    return {u for u in _known_users(env) if PermissionCache(env, u).has(action, resource)}


def _expand_owners(env, entries: Iterable[str], ticket: Mapping) -> list[str]:
    """Users named by ``.set_owner``: user names, groups (their members, recursively),
    permission names (the known users holding it) and ``authenticated`` (every known user)."""
    from codeyard.perm import PermissionSystem, is_group_name

    members: dict[str, list[str]] = {}
    for subject, group in PermissionSystem(env).all_grants():
        if is_group_name(group):
            members.setdefault(group, []).append(subject)
    owners: set[str] = set()
    seen: set[str] = set()
    todo = list(entries)
    while todo:
        entry = todo.pop(0)
        if entry in seen:
            continue
        seen.add(entry)
        if entry == "authenticated":
            owners.update(_known_users(env))
        elif entry.isupper():
            owners.update(_users_with(env, entry, ticket))
        elif entry in members:
            todo.extend(members[entry])
        else:
            owners.add(entry)
    return sorted(owners)


def allowed_owners(env, action: Action, ticket: Mapping) -> list[str] | None:
    """The users the action may give the ticket to, or None when any name will do."""
    if action.set_owner is not None:
        return _expand_owners(env, action.set_owner, ticket)
    if RESTRICT_OWNER(env.config):
        return sorted(_users_with(env, "TICKET_MODIFY", ticket))
    return None


def _resolutions(env) -> list[str]:
    from codeyard.ticket.fields import ticket_fields

    for f in ticket_fields(env):
        if f.name == "resolution":
            return list(f.options)
    return []


def _action_resolutions(env, action: Action) -> list[str]:
    """The resolutions the action offers; WorkflowError when the configuration is unusable."""
    defined = _resolutions(env)
    resolutions = list(action.set_resolution) if action.set_resolution is not None else defined
    if any(r not in defined for r in resolutions):
        unknown = ", ".join(r for r in resolutions if r not in defined)
        raise WorkflowError(f"The workflow action '{action.name}' sets resolutions that are not "
                            f"defined ({unknown}): a configuration problem for the project's "
                            "administrator.")
    if not resolutions:
        raise WorkflowError(f"The workflow action '{action.name}' sets a resolution but none is "
                            "defined: a configuration problem for the project's administrator.")
    return resolutions


def _component_owner(env, component: str | None) -> str:
    if not component:
        return ""
    with env.db_query as db:
        rows = db("SELECT owner FROM component WHERE name=%s", (component,))
    return (rows[0][0] or "") if rows else ""


def _sub_owner(env, owner: str | None, ticket: Mapping) -> str:
    """``< default >`` stands for the owner of the ticket's component."""
    if owner is not None and owner.replace(" ", "") == "<default>":
        return _component_owner(env, ticket.get("component"))
    return owner or ""


def owner_field(action: Action) -> str:
    return f"action_{action.name}_reassign_owner"


def resolution_field(action: Action) -> str:
    return f"action_{action.name}_resolve_resolution"


# ---------------------------------------------------------------------------
# The form of one action

@dataclass
class ActionInput:
    """One input of an action's form: ``kind`` text, select or hidden (one fixed choice)."""

    name: str
    kind: str
    value: str
    options: list[str] = field(default_factory=list)
    operation: str = ""


@dataclass
class ControlPart:
    """A piece of the action's line: words ("to", "as", "as new") and maybe an input."""

    text: str
    input: ActionInput | None = None


@dataclass
class ActionControl:
    """What the ticket form shows for one action: ``label``, the pieces after the radio
    button, and the hint sentences (``hint`` joins them as Trac does). ``error`` is set when
    the action's configuration is unusable; the action is then best shown disabled."""

    name: str
    label: str
    parts: list[ControlPart] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)
    error: str = ""

    @property
    def inputs(self) -> list[ActionInput]:
        return [p.input for p in self.parts if p.input is not None]

    @property
    def hint(self) -> str:
        return ". ".join(self.hints) + "." if self.hints else ""


def _shown(user: str | None) -> str:
    return user if user else "(none)"


def action_controls(env, action: Action | str, ticket: Mapping, authname: str,
                    form: Mapping | None = None, creating: bool | None = None) -> ActionControl:
    """Describe the form of ``action`` for ``ticket`` (with ``form``'s values kept)."""
    action = _resolve_action(env, action)
    form = form or {}
    status = _status(ticket, creating)
    exists = status is not None
    owner = ticket.get("owner")
    has_owner = exists and owner is not None
    ops = action.operations
    control = ActionControl(action.name, action.label)
    parts, hints = control.parts, control.hints

    if "reset_workflow" in ops:
        parts.append(ControlPart("from invalid state"))
        hints.append("Current state no longer exists")
    if "del_owner" in ops:
        hints.append("The ticket will be disowned")
    if "set_owner" in ops or "may_set_owner" in ops:
        owners = allowed_owners(env, action, ticket)
        default: str | None
        if "set_owner" in ops:
            default = authname
        elif not exists:
            default = DEFAULT_OWNER(env.config)
        else:
            default = owner or None
        if owners is not None and "may_set_owner" in ops and "set_owner" not in ops \
                and default not in owners:
            owners.insert(0, default or "")
        name = owner_field(action)
        if not owners:
            parts.append(ControlPart("to", ActionInput(
                name, "text", str(form.get(name, default or "")), operation="set_owner")))
            hints.append("The owner will be the specified user" if not has_owner else
                         f"The owner will be changed from {_shown(owner)} to the specified user")
        elif len(owners) == 1:
            parts.append(ControlPart(f"to {owners[0]}", ActionInput(
                name, "hidden", owners[0], list(owners), operation="set_owner")))
            if not has_owner:
                hints.append(f"The owner will be {owners[0]}")
            elif owner != owners[0]:
                hints.append(f"The owner will be changed from {_shown(owner)} to {owners[0]}")
        else:
            parts.append(ControlPart("to", ActionInput(
                name, "select", str(form.get(name, default or "")), sorted(owners),
                operation="set_owner")))
            hints.append("The owner will be the selected user" if not has_owner else
                         f"The owner will be changed from {_shown(owner)} to the selected user")
    elif "set_owner_to_self" in ops:
        if not has_owner:
            hints.append(f"The owner will be {authname}")
        elif owner != authname:
            hints.append(f"The owner will be changed from {_shown(owner)} to {authname}")
        elif status != action.newstate:
            hints.append(f"The owner will remain {_shown(owner)}")
    if "set_resolution" in ops:
        try:
            resolutions = _action_resolutions(env, action)
        except WorkflowError as exc:
            control.error = str(exc)
            resolutions = []
        name = resolution_field(action)
        if len(resolutions) == 1:
            parts.append(ControlPart(f"as {resolutions[0]}", ActionInput(
                name, "hidden", resolutions[0], resolutions, operation="set_resolution")))
            hints.append(f"The resolution will be set to {resolutions[0]}")
        elif resolutions:
            parts.append(ControlPart("as", ActionInput(
                name, "select", str(form.get(name, DEFAULT_RESOLUTION(env.config))),
                resolutions, operation="set_resolution")))
            hints.append("The resolution will be set")
    if "del_resolution" in ops:
        hints.append("The resolution will be deleted")
    if "leave_status" in ops:
        if len(ops) == 1:
            parts.append(ControlPart(f"as {status or ''}".rstrip()))
            hints.append(f"The owner will remain {owner}" if owner else
                         "The ticket will remain with no owner")
    elif not exists:
        hints.append(f"The status will be '{action.newstate}'")
    elif action.newstate != status:
        hints.append(f"Next status will be '{action.newstate}'")
    return control


# ---------------------------------------------------------------------------
# Applying an action

def apply_action(env, action: Action | str, ticket: Mapping, form: Mapping | None,
                 authname: str, perm=None, creating: bool | None = None,
                 changes: Mapping | None = None) -> dict[str, str]:
    """The field changes (``status``, ``owner``, ``resolution``) of taking ``action``.

    ``ticket`` holds the stored values (for a new ticket: the values entered), ``form`` the
    submitted fields, ``changes`` the other fields the same request changes (a new
    ``component`` of a ``new`` ticket brings its owner along, as in Trac). Raises
    WorkflowError when the action does not apply to the ticket's status, the user lacks
    its permission, or the owner or resolution is missing or not one offered."""
    action = _resolve_action(env, action)
    form = form or {}
    status = _status(ticket, creating)
    if action not in _candidates(env, ticket, authname, status):
        where = "a new ticket" if status is None else f"a ticket in status '{status}'"
        raise WorkflowError(f"The action '{action.label}' is not available for {where}.")
    if not _allowed(action, perm, ticket):
        raise WorkflowError(f"The action '{action.label}' needs "
                            f"{' or '.join(action.permissions)}.")
    updated: dict[str, str] = {}
    if action.newstate != ANY:
        updated["status"] = action.newstate
    for operation in action.operations:
        if operation == "del_owner":
            updated["owner"] = ""
        elif operation in ("set_owner", "may_set_owner"):
            name = owner_field(action)
            fallback = action.set_owner[0] if action.set_owner else ""
            value = form.get(name, fallback)
            value = (value[0] if value else "") if isinstance(value, list) else str(value or "")
            value = value.strip()
            owners = allowed_owners(env, action, ticket)
            if operation == "set_owner" and not value:
                raise WorkflowError(f"The action '{action.label}' needs an owner.")
            if owners is not None and value and value not in owners and not (
                    operation == "may_set_owner" and value == (
                        ticket.get("owner") if status is not None
                        else DEFAULT_OWNER(env.config))):
                raise WorkflowError(f"'{value}' is not an owner the action "
                                    f"'{action.label}' can assign.")
            updated["owner"] = _sub_owner(env, value, ticket)
        elif operation == "set_owner_to_self":
            updated["owner"] = authname
        elif operation == "del_resolution":
            updated["resolution"] = ""
        elif operation == "set_resolution":
            resolutions = _action_resolutions(env, action)
            fallback = action.set_resolution[0] if action.set_resolution else ""
            value = str(form.get(resolution_field(action), fallback) or "").strip()
            if not value:
                raise WorkflowError(f"The action '{action.label}' needs a resolution.")
            if value not in resolutions:
                raise WorkflowError(f"'{value}' is not a resolution the action "
                                    f"'{action.label}' can set (choose one of "
                                    f"{', '.join(resolutions)}).")
            updated["resolution"] = value
    changes = changes or {}
    if status is None and "owner" not in updated:
        updated["owner"] = _sub_owner(env, ticket.get("owner"), ticket)
    elif (status == "new" and "owner" not in updated and "component" in changes
            and changes["component"] != ticket.get("component")):
        old_owner = _component_owner(env, ticket.get("component"))
        new_owner = _component_owner(env, changes["component"])
        if old_owner == (ticket.get("owner") or "") and new_owner:
            updated["owner"] = new_owner
    return updated


@hookimpl
def config_options():
    from codeyard.ticket import fields

    return options_in(fields, sys.modules[__name__])
