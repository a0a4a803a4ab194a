"""The ticket workflow: the ``[ticket-workflow]`` section a new project starts with.

The actions, their states, operations and permissions are Trac 1.6's default workflow, so a
project moved between Trac and codeyard keeps behaving the same.
"""

from __future__ import annotations

import sys

from codeyard.config import options_in
from codeyard.core import hookimpl

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


@hookimpl
def config_options():
    from codeyard.ticket import fields

    return options_in(fields, sys.modules[__name__])
