"""Hooks of the attachment facility: which parents exist, and what changed."""

from __future__ import annotations

from codeyard.core import hookspec


@hookspec(firstresult=True)
def attachment_parent_exists(env, realm, id):
    """Return True or False when realm is yours and the resource realm:id exists or not; None otherwise."""


@hookspec
def attachment_changed(env, event, attachment, old_realm, old_id, old_filename):
    """An attachment was added, deleted or moved (event); for moved, the old_* arguments name where it was."""


@hookspec
def attachment_permission_map():
    """Return {realm: (view_action, create_action, delete_action)} for attachments of your realms."""
