"""The ticket subscribers (Trac's rule classes): the owner, the reporter, the updater, the
earlier updaters, the people in Cc, and everyone for new tickets."""

from __future__ import annotations

from codeyard.core import hookimpl
from codeyard.notification.api import NotificationEvent, Subscriber
from codeyard.ticket.model import cc_list

TICKET_EVENTS = ("created", "changed")


def _is_ticket_change(event: NotificationEvent) -> bool:
    return event.realm == "ticket" and event.category in TICKET_EVENTS


def _owners(env, event):
    if not _is_ticket_change(event):
        return []
    found = [event.target["owner"]]
    if "owner" in event.changes:
        found.append(event.changes["owner"][0])
    return found


def _reporter(env, event):
    return [event.target["reporter"]] if _is_ticket_change(event) else []


def _updater(env, event):
    return [event.author] if _is_ticket_change(event) else []


def _previous_updaters(env, event):
    if not _is_ticket_change(event):
        return []
    with env.db_query as db:
        rows = db("SELECT DISTINCT author FROM ticket_change WHERE ticket=%s",
                  (event.target.id,))
    return sorted(a for (a,) in rows if a and a != event.author)


def _carbon_copies(env, event):
    if not _is_ticket_change(event):
        return []
    from codeyard.perm import PermissionSystem, is_group_name

    found = set(cc_list(event.target["cc"] or ""))
    if "cc" in event.changes:
        found.update(cc_list(event.changes["cc"][0] or ""))
    # A group in Cc stands for its members (Trac's get_groups_dict).
    groups: dict[str, list[str]] = {}
    for subject, action in PermissionSystem(env).all_grants():
        if is_group_name(action):
            groups.setdefault(action, []).append(subject)
    for name in sorted(found):
        if name in groups:
            found.discard(name)
            found.update(groups[name])
    return sorted(found)


SUBSCRIBERS = [
    Subscriber("CarbonCopySubscriber", "Ticket that I'm listed in the CC field is modified",
               _carbon_copies),
    Subscriber("NewTicketSubscriber", "Any ticket is created",
               lambda env, event: [], requires_authentication=False,
               own_rules_for=lambda event: event.realm == "ticket"
               and event.category == "created"),
    Subscriber("TicketOwnerSubscriber", "Ticket that I own is created or modified", _owners),
    Subscriber("TicketPreviousUpdatersSubscriber",
               "Ticket that I previously updated is modified", _previous_updaters),
    Subscriber("TicketReporterSubscriber", "Ticket that I reported is modified", _reporter),
    Subscriber("TicketUpdaterSubscriber", "I update a ticket", _updater),
]


@hookimpl
def notification_subscribers():
    return SUBSCRIBERS
