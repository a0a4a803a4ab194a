"""What the ticket model tells its listeners when a change is removed or a comment edited
(through the model and through `codeyard admin ticket remove_comment`), comment edits that
arrive late, and who may edit which comment or description (DefaultTicketPolicy)."""

from __future__ import annotations

import io

import pytest

from codeyard.admin.api import AdminContext
from codeyard.admin.console import run_command
from codeyard.core import hookimpl
from codeyard.perm import PermissionCache, PermissionSystem, Resource
from codeyard.ticket.model import Ticket, TicketCollision, TicketNotFound

pytestmark = pytest.mark.db


class Listener:
    def __init__(self):
        self.deleted = []
        self.edited = []

    @hookimpl
    def ticket_change_deleted(self, env, ticket, cnum, cdate, changes, when):
        self.deleted.append((ticket.id, cnum, cdate, dict(changes), when, ticket["priority"]))

    @hookimpl
    def ticket_comment_changed(self, env, ticket, cnum, old_text, new_text, author, when):
        self.edited.append((ticket.id, cnum, old_text, new_text, author))


@pytest.fixture
def listener(env):
    found = Listener()
    env.plugins.register(found)
    return found


def ticket_with_changes(env) -> Ticket:
    ticket = Ticket(env)
    ticket.populate({"summary": "Hooks", "reporter": "alice", "priority": "major"})
    ticket.insert(when=1_000_000)
    ticket["priority"] = "minor"
    ticket.save_changes("bob", "Less urgent", when=2_000_000)
    ticket.save_changes("alice", "Just a note", when=3_000_000)
    return ticket


def test_delete_change_tells_the_listeners_what_went(env, listener):
    ticket = ticket_with_changes(env)
    ticket.delete_change(cnum=1, when=5_000_000)
    assert listener.deleted == [(ticket.id, 1, 2_000_000, {"priority": ("major", "minor")},
                                 5_000_000, "major")]
    ticket.delete_change(cdate=3_000_000, when=6_000_000)
    assert listener.deleted[-1][:4] == (ticket.id, 2, 3_000_000, {})
    with pytest.raises(TicketNotFound):
        ticket.delete_change(cnum=9)
    assert len(listener.deleted) == 2


def test_remove_comment_from_the_admin_command_tells_the_listeners(env, listener):
    ticket = ticket_with_changes(env)
    ctx = AdminContext(env.path, out=io.StringIO(), err=io.StringIO())
    ctx._env = env  # the environment the listener is registered with
    assert run_command(ctx, ["ticket", "remove_comment", str(ticket.id), "1"]) == 0
    assert [(d[0], d[1], d[3]) for d in listener.deleted] == [
        (ticket.id, 1, {"priority": ("major", "minor")})]
    assert Ticket(env, ticket.id)["priority"] == "major"


def test_comment_edits_are_told_and_late_ones_refused(env, listener):
    ticket = ticket_with_changes(env)
    ticket.modify_comment(None, "carol", "Not urgent at all", cnum=1, expected_version=0)
    assert listener.edited == [(ticket.id, 1, "Less urgent", "Not urgent at all", "carol")]
    with pytest.raises(TicketCollision):
        ticket.modify_comment(None, "dave", "Too late", cnum=1, expected_version=0)
    assert [v[3] for v in ticket.get_comment_history(cnum=1)] == ["Less urgent",
                                                                "Not urgent at all"]
    assert len(listener.edited) == 1


def test_authors_may_edit_their_own_comments_and_descriptions(env):
    ticket = ticket_with_changes(env)
    perms = PermissionSystem(env)
    perms.revoke("authenticated", "TICKET_MODIFY")
    for user in ("alice", "bob"):
        perms.grant(user, "TICKET_APPEND")
    perms.grant("carol", "TICKET_EDIT_COMMENT")
    comment = Resource("comment", 1, None, Resource("ticket", ticket.id))  # bob's
    own = {user: PermissionCache(env, user).has("TICKET_EDIT_COMMENT", comment)
           for user in ("alice", "bob", "carol", "dave", "anonymous")}
    assert own == {"alice": False, "bob": True, "carol": True, "dave": False,
                   "anonymous": False}
    description = Resource("ticket", ticket.id)
    assert PermissionCache(env, "alice").has("TICKET_EDIT_DESCRIPTION", description)
    assert not PermissionCache(env, "bob").has("TICKET_EDIT_DESCRIPTION", description)
    assert not PermissionCache(env, "bob").has(
        "TICKET_EDIT_COMMENT", Resource("comment", 9, None, Resource("ticket", ticket.id)))
    assert not PermissionCache(env, "bob").has(
        "TICKET_EDIT_COMMENT", Resource("comment", 1, None, Resource("ticket", "x")))
