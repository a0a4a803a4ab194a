"""Ticket system administration: the default data of a new project and the
``component``, ``milestone``, ``version``, enum (``priority``, ``severity``, ``resolution``,
``ticket_type``) and ``ticket`` admin commands."""

from __future__ import annotations

import getpass

from codeyard.admin.api import (
    AdminCommand,
    AdminCommandError,
    AdminContext,
    format_date,
    format_datetime,
    parse_date,
)
from codeyard.core import hookimpl
from codeyard.ticket import values
from codeyard.ticket.default_reports import default_reports
from codeyard.ticket.model import Ticket

# ---------------------------------------------------------------------------
# Default data of a new environment (the same rows Trac's initenv writes)

DEFAULT_ENUMS = {
    "priority": ["blocker", "critical", "major", "minor", "trivial"],
    "resolution": ["fixed", "invalid", "wontfix", "duplicate", "worksforme"],
    "ticket_type": ["defect", "enhancement", "task"],
}
DEFAULT_COMPONENTS = [("component1", "somebody"), ("component2", "somebody")]
DEFAULT_MILESTONES = ["milestone1", "milestone2", "milestone3", "milestone4"]
DEFAULT_VERSIONS = ["1.0", "2.0"]


@hookimpl
def environment_created(env, db):
    db.executemany("INSERT INTO enum (type, name, value) VALUES (%s, %s, %s)",
                   [(kind, name, str(n)) for kind, names in DEFAULT_ENUMS.items()
                    for n, name in enumerate(names, 1)])
    db.executemany("INSERT INTO component (name, owner) VALUES (%s, %s)", DEFAULT_COMPONENTS)
    db.executemany("INSERT INTO milestone (name, due, completed) VALUES (%s, 0, 0)",
                   [(name,) for name in DEFAULT_MILESTONES])
    db.executemany("INSERT INTO version (name, time) VALUES (%s, 0)",
                   [(name,) for name in DEFAULT_VERSIONS])
    db.executemany("INSERT INTO report (author, title, query, description) VALUES (%s, %s, %s, %s)",
                   [(None, title, query, description)
                    for title, description, query in default_reports(db)])


# ---------------------------------------------------------------------------
# Commands


def _model_call(function, *args, **kwargs):
    """Run a model function, turning its input errors into command errors."""
    try:
        return function(*args, **kwargs)
    except values.TicketModelError as exc:
        raise AdminCommandError(str(exc)) from None


def _date_arg(text: str) -> int | None:
    """A date argument; the empty string clears the date."""
    return parse_date(text) if text.strip() else None


def _first_arg(names):
    def complete(ctx: AdminContext, args: list[str]) -> list[str]:
        return names(ctx) if len(args) <= 1 else []
    return complete


# -- components

def _component_names(ctx):
    return [c.name for c in values.list_components(ctx.env)]


def _component_list(ctx: AdminContext) -> None:
    ctx.print_table([(c.name, c.owner) for c in values.list_components(ctx.ready_env())],
                    ["Name", "Owner"])


def _component_add(ctx: AdminContext, name: str, owner: str | None = None) -> None:
    _model_call(values.add_component, ctx.ready_env(), name, owner)


def _component_rename(ctx: AdminContext, name: str, new_name: str) -> None:
    _model_call(values.rename_component, ctx.ready_env(), name, new_name)


def _component_remove(ctx: AdminContext, name: str) -> None:
    _model_call(values.remove_component, ctx.ready_env(), name)


def _component_chown(ctx: AdminContext, name: str, owner: str) -> None:
    _model_call(values.set_component_owner, ctx.ready_env(), name, owner)


# -- milestones

def _milestone_names(ctx):
    return [m.name for m in values.list_milestones(ctx.env)]


def _milestone_list(ctx: AdminContext) -> None:
    rows = [(m.name, format_date(m.due) if m.due else None,
             format_datetime(m.completed) if m.completed else None)
            for m in values.list_milestones(ctx.ready_env())]
    ctx.print_table(rows, ["Name", "Due", "Completed"])


def _milestone_add(ctx: AdminContext, name: str, due: str | None = None) -> None:
    env = ctx.ready_env()
    when = _date_arg(due) if due is not None else None
    _model_call(values.add_milestone, env, name, due=when)


def _milestone_rename(ctx: AdminContext, name: str, new_name: str) -> None:
    _model_call(values.rename_milestone, ctx.ready_env(), name, new_name, author=getpass.getuser())


def _milestone_due(ctx: AdminContext, name: str, due: str) -> None:
    env = ctx.ready_env()
    _model_call(values.get_milestone, env, name)
    _model_call(values.update_milestone, env, name, due=_date_arg(due))


def _milestone_completed(ctx: AdminContext, name: str, completed: str) -> None:
    env = ctx.ready_env()
    _model_call(values.get_milestone, env, name)
    _model_call(values.update_milestone, env, name, completed=_date_arg(completed))


def _milestone_remove(ctx: AdminContext, name: str) -> None:
    _model_call(values.remove_milestone, ctx.ready_env(), name)


# -- versions

def _version_names(ctx):
    return [v.name for v in values.list_versions(ctx.env)]


def _version_list(ctx: AdminContext) -> None:
    rows = [(v.name, format_date(v.time) if v.time else None)
            for v in values.list_versions(ctx.ready_env())]
    ctx.print_table(rows, ["Name", "Time"])


def _version_add(ctx: AdminContext, name: str, time: str | None = None) -> None:
    env = ctx.ready_env()
    when = _date_arg(time) if time else None
    _model_call(values.add_version, env, name, when)


def _version_rename(ctx: AdminContext, name: str, new_name: str) -> None:
    _model_call(values.rename_version, ctx.ready_env(), name, new_name)


def _version_remove(ctx: AdminContext, name: str) -> None:
    _model_call(values.remove_version, ctx.ready_env(), name)


def _version_time(ctx: AdminContext, name: str, time: str) -> None:
    env = ctx.ready_env()
    _model_call(values.get_version, env, name)
    _model_call(values.set_version_time, env, name, _date_arg(time))


# -- enums

ENUM_COMMANDS = [
    # (command word, enum type, singular, plural)
    ("priority", "priority", "priority", "priorities"),
    ("resolution", "resolution", "resolution", "resolutions"),
    ("severity", "severity", "severity", "severities"),
    ("ticket_type", "ticket_type", "ticket type", "ticket types"),
]


def _enum_commands(word: str, enum_type: str, singular: str, plural: str) -> list[AdminCommand]:
    def names(ctx):
        return [e.name for e in values.list_enum(ctx.env, enum_type)]

    def do_list(ctx: AdminContext) -> None:
        ctx.print_table([(e.name,) for e in values.list_enum(ctx.ready_env(), enum_type)],
                        ["Possible Values"])

    def do_add(ctx: AdminContext, value: str) -> None:
        _model_call(values.add_enum, ctx.ready_env(), enum_type, value)

    def do_change(ctx: AdminContext, value: str, new_value: str) -> None:
        _model_call(values.rename_enum, ctx.ready_env(), enum_type, value, new_value)

    def do_remove(ctx: AdminContext, value: str) -> None:
        _model_call(values.remove_enum, ctx.ready_env(), enum_type, value)

    def do_order(ctx: AdminContext, value: str, direction: str) -> None:
        if direction not in ("up", "down"):
            raise AdminCommandError(f"Invalid up/down value: {direction}")
        _model_call(values.move_enum, ctx.ready_env(), enum_type, value, direction)

    def complete_order(ctx: AdminContext, args: list[str]) -> list[str]:
        if len(args) <= 1:
            return names(ctx)
        return ["up", "down"] if len(args) == 2 else []

    return [
        AdminCommand(f"{word} list", "", f"Show the possible {plural}", do_list),
        AdminCommand(f"{word} add", "<value>", f"Add a {singular} at the end of the list",
                     do_add),
        AdminCommand(f"{word} change", "<value> <newvalue>",
                     f"Rename a {singular} (tickets using it are updated)", do_change,
                     complete=_first_arg(names)),
        AdminCommand(f"{word} remove", "<value>", f"Remove a {singular}", do_remove,
                     complete=_first_arg(names)),
        AdminCommand(f"{word} order", "<value> up|down",
                     f"Move a {singular} one place up or down in the list", do_order,
                     complete=complete_order),
    ]


# -- tickets

def _number(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise AdminCommandError(f"{what} must be a number") from None


def _ticket_remove(ctx: AdminContext, number: str) -> None:
    ticket_id = _number(number, "<ticket#>")
    env = ctx.ready_env()
    _model_call(lambda: Ticket(env, ticket_id).delete())
    ctx.print(f"Ticket #{ticket_id} and all associated data removed.")


def _ticket_remove_comment(ctx: AdminContext, number: str, comment: str) -> None:
    ticket_id = _number(number, "<ticket#>")
    cnum = _number(comment, "<comment#>")
    env = ctx.ready_env()
    _model_call(lambda: Ticket(env, ticket_id).delete_change(cnum))
    ctx.print(f"The ticket comment {cnum} on ticket #{ticket_id} has been deleted.")


DATE_HELP = (
    'Dates are written "YYYY-MM-DD", "YYYY-MM-DD hh:mm[:ss]" or in ISO 8601 with a zone\n'
    '("YYYY-MM-DDThh:mm:ss+hh:mm"); "now", "today", "3 days ago" and the like work too.\n'
    'An empty string ("") removes the date.'
)


@hookimpl
def admin_commands():
    component_names = _first_arg(_component_names)
    milestone_names = _first_arg(_milestone_names)
    version_names = _first_arg(_version_names)
    commands = [
        AdminCommand("component list", "", "Show the components and their owners",
                     _component_list),
        AdminCommand("component add", "<name> [owner]", "Add a component", _component_add),
        AdminCommand("component rename", "<name> <newname>",
                     "Rename a component (tickets using it are updated)", _component_rename,
                     complete=component_names),
        AdminCommand("component remove", "<name>", "Remove a component", _component_remove,
                     complete=component_names),
        AdminCommand("component chown", "<name> <owner>", "Give a component a new owner",
                     _component_chown, complete=component_names),
        AdminCommand("milestone list", "", "Show the milestones with their dates",
                     _milestone_list),
        AdminCommand("milestone add", "<name> [due]", "Add a milestone\n\n" + DATE_HELP,
                     _milestone_add),
        AdminCommand("milestone rename", "<name> <newname>",
                     "Rename a milestone (its tickets follow, with a change in their history)",
                     _milestone_rename, complete=milestone_names),
        AdminCommand("milestone due", "<name> <due>",
                     "Set or clear the due date of a milestone\n\n" + DATE_HELP,
                     _milestone_due, complete=milestone_names),
        AdminCommand("milestone completed", "<name> <completed>",
                     "Set or clear the completion date of a milestone\n\n" + DATE_HELP,
                     _milestone_completed, complete=milestone_names),
        AdminCommand("milestone remove", "<name>", "Remove a milestone", _milestone_remove,
                     complete=milestone_names),
        AdminCommand("version list", "", "Show the versions with their dates", _version_list),
        AdminCommand("version add", "<name> [time]", "Add a version\n\n" + DATE_HELP,
                     _version_add),
        AdminCommand("version rename", "<name> <newname>",
                     "Rename a version (tickets using it are updated)", _version_rename,
                     complete=version_names),
        AdminCommand("version remove", "<name>", "Remove a version", _version_remove,
                     complete=version_names),
        AdminCommand("version time", "<name> <time>",
                     "Set or clear the date of a version\n\n" + DATE_HELP, _version_time,
                     complete=version_names),
        AdminCommand("ticket remove", "<ticket#>",
                     "Remove a ticket with its history and attachments", _ticket_remove),
        AdminCommand("ticket remove_comment", "<ticket#> <comment#>",
                     "Remove the change holding a ticket comment\n\n"
                     "The fields that change modified get their previous values back.",
                     _ticket_remove_comment),
    ]
    for word, enum_type, singular, plural in ENUM_COMMANDS:
        commands.extend(_enum_commands(word, enum_type, singular, plural))
    return commands
