"""Hooks of the ticket system: what other features hear about tickets, and what they add."""

from __future__ import annotations

from codeyard.core import hookspec


@hookspec
def ticket_changed(env, event, ticket, old_values, comment, author, when):
    """A ticket was created, changed or deleted (event): old_values maps each changed field to its former value; comment is the new comment text or None."""


@hookspec
def ticket_comment_changed(env, ticket, cnum, old_text, new_text, author, when):
    """A comment of a ticket was edited (cnum its number, as in comment:cnum:ticket:N)."""


@hookspec
def ticket_change_deleted(env, ticket, cnum, cdate, changes, when):
    """A change of a ticket was removed (cnum its number, cdate its time): changes maps each field it had changed to (old value, new value); the ticket is as reloaded after."""


@hookspec
def milestone_changed(env, event, name, old_name, previous):
    """A milestone was created, changed, renamed (old_name set) or deleted (event), inside the writing transaction; previous is the Milestone as it was before (None when created)."""
