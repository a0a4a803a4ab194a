"""Ticket field values kept in their own tables: enums, components, milestones, versions;
and the removal of tickets and ticket changes (with their attachments).

Every function runs in one transaction: it checks its input first and raises a
``TicketModelError`` subclass with a one-line message before writing anything. Renaming a
value also renames it in the tickets that use it, in the same transaction. Times are
microseconds since the epoch; like Trac, "no date" is stored as 0 and read back as None.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from codeyard import cachekeys
from codeyard.attachment import model as attachments

__all__ = [
    "ENUM_TYPES", "FIELDS_CACHE_KEY", "MILESTONES_CACHE_KEY", "TICKET_COLUMNS",
    "TicketModelError", "ResourceNotFound", "ResourceExists", "InvalidName", "EnumValue", "Component", "Milestone", "Version",
    "list_enum", "get_enum", "add_enum", "set_enum_value", "rename_enum", "remove_enum", "move_enum",
    "list_components", "get_component", "add_component", "rename_component",
    "set_component_owner", "remove_component",
    "list_milestones", "get_milestone", "add_milestone", "rename_milestone",
    "update_milestone", "remove_milestone",
    "list_versions", "get_version", "add_version", "rename_version", "set_version_time",
    "remove_version",
    "ticket_exists", "remove_ticket", "find_comment_time", "remove_ticket_change",
    "next_comment_number", "order_enum", "set_description",
    "invalidate_ticket_fields", "natural_key",
]

FIELDS_CACHE_KEY = cachekeys.TICKET_FIELDS
"""Cache key of anything derived from these tables (field options); invalidated on change
(Trac's key: a Trac site on the same environment rereads its ticket fields)."""

MILESTONES_CACHE_KEY = cachekeys.MILESTONES

# enum.type -> (ticket column, label)
ENUM_TYPES: dict[str, tuple[str, str]] = {
    "priority": ("priority", "Priority"),
    "severity": ("severity", "Severity"),
    "resolution": ("resolution", "Resolution"),
    "ticket_type": ("type", "Ticket Type"),
}

TICKET_COLUMNS = ("type", "time", "changetime", "component", "severity", "priority", "owner",
                  "reporter", "cc", "version", "milestone", "status", "resolution", "summary",
                  "description", "keywords")


class TicketModelError(ValueError):
    """Bad input for a ticket model operation; nothing was written."""


class ResourceNotFound(TicketModelError):
    """The named value, ticket or comment does not exist."""


class ResourceExists(TicketModelError):
    """A value with that name already exists."""


class InvalidName(TicketModelError):
    """An empty (or blank) name."""


def _clean_name(name: str | None, label: str) -> str:
    cleaned = " ".join((name or "").split())
    if not cleaned:
        raise InvalidName(f"Invalid {label.lower()} name.")
    return cleaned


def natural_key(text: str) -> list:
    """Sort key ordering embedded numbers by value: 1.9 < 1.10, milestone2 < milestone10."""
    parts: list = re.split(r"(\d+)", text or "")
    parts[1::2] = [int(p) for p in parts[1::2]]
    return parts


def _ts(value: int | None) -> int | None:
    return int(value) if value else None


def invalidate_ticket_fields(env) -> None:
    """Tell every process that the ticket field options changed."""
    env.invalidate(FIELDS_CACHE_KEY)


# ---------------------------------------------------------------------------
# Enums: priority, severity, resolution, ticket_type. ``value`` is the order, as text.


@dataclass
class EnumValue:
    type: str
    name: str
    value: str
    description: str | None = None


def _enum_type(enum_type: str) -> tuple[str, str]:
    try:
        return ENUM_TYPES[enum_type]
    except KeyError:
        raise TicketModelError(f"Unknown enum type {enum_type!r}") from None


def _order(value: str | None) -> float:
    try:
        return float(value or "")
    except ValueError:
        return float("inf")


def list_enum(env, enum_type: str) -> list[EnumValue]:
    """The values of one enum, in their order."""
    _enum_type(enum_type)
    with env.db_query as db:
        rows = db("SELECT name, value, description FROM enum WHERE type=%s", (enum_type,))
    values = [EnumValue(enum_type, name, value, description) for name, value, description in rows]
    values.sort(key=lambda e: (_order(e.value), e.name))
    return values


def get_enum(env, enum_type: str, name: str) -> EnumValue:
    label = _enum_type(enum_type)[1]
    for item in list_enum(env, enum_type):
        if item.name == name:
            return item
    raise ResourceNotFound(f"{label} {name} does not exist.")


def add_enum(env, enum_type: str, name: str, description: str | None = None) -> EnumValue:
    """Append a value at the end of the order."""
    label = _enum_type(enum_type)[1]
    name = _clean_name(name, label)
    with env.db_transaction as db:
        existing = list_enum(env, enum_type)
        orders = [int(_order(e.value)) for e in existing if _order(e.value) != float("inf")]
        value = str(max(orders, default=0) + 1)
        with db.unique(ResourceExists(f'{label} value "{name}" already exists.')):
            db("INSERT INTO enum (type, name, value, description) VALUES (%s, %s, %s, %s)",
               (enum_type, name, value, description))
        invalidate_ticket_fields(env)
    return EnumValue(enum_type, name, value, description)


def set_enum_value(env, enum_type: str, name: str, value: str) -> None:
    """Give an existing enum value the stored ``value`` (its place in the order)."""
    with env.db_transaction as db:
        get_enum(env, enum_type, name)
        db("UPDATE enum SET value=%s WHERE type=%s AND name=%s", (value, enum_type, name))
        invalidate_ticket_fields(env)


def rename_enum(env, enum_type: str, name: str, new_name: str) -> None:
    """Rename a value, and the tickets using it."""
    column, label = _enum_type(enum_type)
    with env.db_transaction as db:
        get_enum(env, enum_type, name)
        new_name = _clean_name(new_name, label)
        if new_name == name:
            return
        with db.unique(ResourceExists(f'{label} value "{new_name}" already exists.')):
            db("UPDATE enum SET name=%s WHERE type=%s AND name=%s", (new_name, enum_type, name))
        db(f"UPDATE ticket SET {column}=%s WHERE {column}=%s", (new_name, name))
        invalidate_ticket_fields(env)


def remove_enum(env, enum_type: str, name: str) -> None:
    """Remove a value and close the gap in the order (tickets keep their text)."""
    with env.db_transaction as db:
        removed = get_enum(env, enum_type, name)
        db("DELETE FROM enum WHERE type=%s AND name=%s", (enum_type, name))
        gone = _order(removed.value)
        if gone != float("inf"):
            for item in list_enum(env, enum_type):
                order = _order(item.value)
                if order != float("inf") and order > gone:
                    db("UPDATE enum SET value=%s WHERE type=%s AND name=%s",
                       (str(int(order) - 1), enum_type, item.name))
        invalidate_ticket_fields(env)


def move_enum(env, enum_type: str, name: str, direction: str) -> bool:
    """Swap a value with its neighbour above ('up') or below ('down'); False at an end."""
    if direction not in ("up", "down"):
        raise TicketModelError(f"Invalid up/down value: {direction}")
    step = -1 if direction == "up" else 1
    with env.db_transaction as db:
        item = get_enum(env, enum_type, name)
        if _order(item.value) == float("inf"):
            return False
        target = int(_order(item.value)) + step
        for other in list_enum(env, enum_type):
            if other.name != name and _order(other.value) != float("inf") \
                    and int(_order(other.value)) == target:
                break
        else:
            return False
        db("UPDATE enum SET value=%s WHERE type=%s AND name=%s", (str(target), enum_type, name))
        db("UPDATE enum SET value=%s WHERE type=%s AND name=%s",
           (str(target - step), enum_type, other.name))
        invalidate_ticket_fields(env)
    return True


# ---------------------------------------------------------------------------
# Components


@dataclass
class Component:
    name: str
    owner: str | None = None
    description: str | None = None


def list_components(env) -> list[Component]:
    with env.db_query as db:
        rows = db("SELECT name, owner, description FROM component")
    return sorted((Component(*row) for row in rows), key=lambda c: c.name)


def get_component(env, name: str) -> Component:
    with env.db_query as db:
        rows = db("SELECT name, owner, description FROM component WHERE name=%s", (name,))
    if not rows:
        raise ResourceNotFound(f"Component {name} does not exist.")
    return Component(*rows[0])


def add_component(env, name: str, owner: str | None = None,
                  description: str | None = None) -> Component:
    name = _clean_name(name, "component")
    owner = " ".join(owner.split()) if owner else None
    with env.db_transaction as db:
        with db.unique(ResourceExists(f'Component "{name}" already exists.')):
            db("INSERT INTO component (name, owner, description) VALUES (%s, %s, %s)",
               (name, owner or None, description))
        invalidate_ticket_fields(env)
    return Component(name, owner, description)


def _rename_with_tickets(env, field: str, label: str, get, name: str, new_name: str) -> None:
    """Rename a component or version (table and ticket column share the name) and its tickets."""
    with env.db_transaction as db:
        get(env, name)
        new_name = _clean_name(new_name, field)
        if new_name == name:
            return
        with db.unique(ResourceExists(f'{label} "{new_name}" already exists.')):
            db(f"UPDATE {field} SET name=%s WHERE name=%s", (new_name, name))
        db(f"UPDATE ticket SET {field}=%s WHERE {field}=%s", (new_name, name))
        invalidate_ticket_fields(env)


def rename_component(env, name: str, new_name: str) -> None:
    _rename_with_tickets(env, "component", "Component", get_component, name, new_name)


def set_component_owner(env, name: str, owner: str | None) -> None:
    owner = " ".join(owner.split()) if owner else None
    with env.db_transaction as db:
        get_component(env, name)
        db("UPDATE component SET owner=%s WHERE name=%s", (owner or None, name))
        invalidate_ticket_fields(env)


def remove_component(env, name: str) -> None:
    with env.db_transaction as db:
        get_component(env, name)
        db("DELETE FROM component WHERE name=%s", (name,))
        invalidate_ticket_fields(env)


# ---------------------------------------------------------------------------
# Milestones


@dataclass
class Milestone:
    name: str
    due: int | None = None
    completed: int | None = None
    description: str | None = None


def _milestone_order(m: Milestone):
    # Completed ones first (oldest first), then by due date, then the rest by name.
    never = float("inf")
    return (m.completed or never, m.due or never, natural_key(m.name))


def list_milestones(env, include_completed: bool = True) -> list[Milestone]:
    with env.db_query as db:
        rows = db("SELECT name, due, completed, description FROM milestone")
    items = [Milestone(name, _ts(due), _ts(done), descr) for name, due, done, descr in rows]
    if not include_completed:
        items = [m for m in items if m.completed is None]
    return sorted(items, key=_milestone_order)


def get_milestone(env, name: str) -> Milestone:
    with env.db_query as db:
        rows = db("SELECT name, due, completed, description FROM milestone WHERE name=%s",
                  (name,))
    if not rows:
        raise ResourceNotFound(f"Milestone {name} does not exist.")
    name, due, completed, description = rows[0]
    return Milestone(name, _ts(due), _ts(completed), description)


def add_milestone(env, name: str, due: int | None = None, completed: int | None = None,
                  description: str = "") -> Milestone:
    name = _clean_name(name, "milestone")
    with env.db_transaction as db:
        with db.unique(ResourceExists(f'Milestone "{name}" already exists.')):
            db("INSERT INTO milestone (name, due, completed, description) "
               "VALUES (%s, %s, %s, %s)", (name, due or 0, completed or 0, description))
        _milestones_changed(env, "created", name)
    return Milestone(name, due, completed, description)


_UNSET = object()


def update_milestone(env, name: str, due=_UNSET, completed=_UNSET, description=_UNSET) -> None:
    """Change the due date, completion date or description (None clears a date)."""
    with env.db_transaction as db:
        current = get_milestone(env, name)
        previous = replace(current)
        if due is not _UNSET:
            current.due = due
        if completed is not _UNSET:
            current.completed = completed
        if description is not _UNSET:
            current.description = description
        db("UPDATE milestone SET due=%s, completed=%s, description=%s WHERE name=%s",
           (current.due or 0, current.completed or 0, current.description, name))
        _milestones_changed(env, "changed", name, previous=previous)


def rename_milestone(env, name: str, new_name: str, author: str | None = None,
                     when: int | None = None) -> list[int]:
    """Rename a milestone; its tickets move along with a "Milestone renamed" change, as in
    Trac, and its attachments follow. Returns the ids of the tickets changed."""
    with env.db_transaction as db:
        previous = get_milestone(env, name)
        new_name = _clean_name(new_name, "milestone")
        if new_name == name:
            return []
        with db.unique(ResourceExists(f'Milestone "{new_name}" already exists.')):
            db("UPDATE milestone SET name=%s WHERE name=%s", (new_name, name))
        when = when or _now()
        ids = [row[0] for row in db("SELECT id FROM ticket WHERE milestone=%s ORDER BY id",
                                    (name,))]
        for ticket_id in ids:
            cnum = next_comment_number(db, ticket_id)
            db("UPDATE ticket SET milestone=%s, changetime=%s WHERE id=%s",
               (new_name, when, ticket_id))
            db("INSERT INTO ticket_change (ticket, time, author, field, oldvalue, newvalue) "
               "VALUES (%s, %s, %s, 'milestone', %s, %s)", (ticket_id, when, author, name, new_name))
            db("INSERT INTO ticket_change (ticket, time, author, field, oldvalue, newvalue) "
               "VALUES (%s, %s, %s, 'comment', %s, %s)",
               (ticket_id, when, author, str(cnum), "Milestone renamed"))
        attachments.reparent_all(env, "milestone", name, "milestone", new_name)
        _milestones_changed(env, "renamed", new_name, name, previous)
    return ids


def remove_milestone(env, name: str) -> None:
    """Remove a milestone and its attachments (tickets keep the name, as in Trac)."""
    with env.db_transaction as db:
        previous = get_milestone(env, name)
        db("DELETE FROM milestone WHERE name=%s", (name,))
        attachments.delete_all(env, "milestone", name)
        _milestones_changed(env, "deleted", name, previous=previous)


def _milestones_changed(env, event: str, name: str, old_name: str | None = None,
                        previous: Milestone | None = None) -> None:
    env.invalidate(MILESTONES_CACHE_KEY)
    invalidate_ticket_fields(env)
    env.hook.milestone_changed(env=env, event=event, name=name, old_name=old_name,
                               previous=previous)


# ---------------------------------------------------------------------------
# Versions


@dataclass
class Version:
    name: str
    time: int | None = None
    description: str | None = None


def list_versions(env) -> list[Version]:
    """Versions without a date first, then the newest first (names in natural order)."""
    with env.db_query as db:
        rows = db("SELECT name, time, description FROM version")
    items = [Version(name, _ts(time), descr) for name, time, descr in rows]
    return sorted(items, key=lambda v: (v.time or float("inf"), natural_key(v.name)),
                  reverse=True)


def get_version(env, name: str) -> Version:
    with env.db_query as db:
        rows = db("SELECT name, time, description FROM version WHERE name=%s", (name,))
    if not rows:
        raise ResourceNotFound(f"Version {name} does not exist.")
    name, time, description = rows[0]
    return Version(name, _ts(time), description)


def add_version(env, name: str, time: int | None = None,
                description: str | None = None) -> Version:
    name = _clean_name(name, "version")
    with env.db_transaction as db:
        with db.unique(ResourceExists(f'Version "{name}" already exists.')):
            db("INSERT INTO version (name, time, description) VALUES (%s, %s, %s)",
               (name, time or 0, description))
        invalidate_ticket_fields(env)
    return Version(name, time, description)


def rename_version(env, name: str, new_name: str) -> None:
    _rename_with_tickets(env, "version", "Version", get_version, name, new_name)


def set_version_time(env, name: str, time: int | None) -> None:
    with env.db_transaction as db:
        get_version(env, name)
        db("UPDATE version SET time=%s WHERE name=%s", (time or 0, name))
        invalidate_ticket_fields(env)


def remove_version(env, name: str) -> None:
    with env.db_transaction as db:
        get_version(env, name)
        db("DELETE FROM version WHERE name=%s", (name,))
        invalidate_ticket_fields(env)


# ---------------------------------------------------------------------------
# Tickets: removal of a whole ticket or of one change


def _now() -> int:
    delta = datetime.now(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def ticket_exists(env, ticket_id: int) -> bool:
    with env.db_query as db:
        return bool(db("SELECT 1 FROM ticket WHERE id=%s", (ticket_id,)))


def _require_ticket(env, ticket_id: int) -> None:
    if not ticket_exists(env, ticket_id):
        raise ResourceNotFound(f"Ticket {ticket_id} does not exist.")


def remove_ticket(env, ticket_id: int) -> None:
    """Remove a ticket with its changes, custom field values and attachments."""
    with env.db_transaction as db:
        _require_ticket(env, ticket_id)
        db("DELETE FROM ticket WHERE id=%s", (ticket_id,))
        db("DELETE FROM ticket_change WHERE ticket=%s", (ticket_id,))
        db("DELETE FROM ticket_custom WHERE ticket=%s", (ticket_id,))
        attachments.delete_all(env, "ticket", str(ticket_id))


def _comment_number(oldvalue: str | None) -> int | None:
    """The number in a comment row's oldvalue: '3', or '2.3' for a reply to comment 2."""
    try:
        return int((oldvalue or "").rsplit(".", 1)[-1])
    except ValueError:
        return None


def _change_times(db, ticket_id: int) -> list[tuple[int, str]]:
    """(time, comment oldvalue or '') of every change of a ticket, oldest first."""
    return db(
        "SELECT DISTINCT tc1.time, COALESCE(tc2.oldvalue, '') FROM ticket_change tc1 "
        "LEFT OUTER JOIN ticket_change tc2 ON tc2.ticket=%s AND tc2.time=tc1.time "
        "AND tc2.field='comment' WHERE tc1.ticket=%s ORDER BY tc1.time",
        (ticket_id, ticket_id))


def next_comment_number(db, ticket_id: int) -> int:
    count = 0
    for _time, old in reversed(_change_times(db, ticket_id)):
        number = _comment_number(old)
        if number is not None:
            return count + number + 1
        count += 1
    return count + 1


def find_comment_time(env, ticket_id: int, cnum: int) -> int | None:
    """The time of the change carrying comment number ``cnum``, or None."""
    with env.db_query as db:
        rows = db("SELECT time FROM ticket_change WHERE ticket=%s AND field='comment' "
                  f"AND (oldvalue=%s OR oldvalue {db.prefix_match()})",
                  (ticket_id, str(cnum), "%" + db.like_escape("." + str(cnum))))
        if rows:
            return rows[0][0]
        # Old data without numbers in oldvalue: count the changes instead.
        number = 0
        for time, old in _change_times(db, ticket_id):
            found = _comment_number(old)
            number = found if found is not None else number + 1
            if number == cnum:
                return time
    return None


def remove_ticket_change(env, ticket_id: int, cnum: int, when: int | None = None) -> None:
    """Remove the change holding comment ``cnum``, as Trac does: every row of that change
    (field changes, the comment and its ``_comment<n>`` edit history) goes, and each field
    it changed is given back its previous value."""
    with env.db_transaction as db:
        _require_ticket(env, ticket_id)
        ts = find_comment_time(env, ticket_id, cnum)
        if ts is None:
            raise ResourceNotFound(f"Comment {cnum} not found")
        rows = db("SELECT field, oldvalue, newvalue FROM ticket_change "
                  "WHERE ticket=%s AND time=%s", (ticket_id, ts))
        for field, oldvalue, newvalue in rows:
            if field == "comment" or field.startswith("_"):
                continue
            later = db("SELECT time FROM ticket_change WHERE ticket=%s AND time>%s AND field=%s "
                       "ORDER BY time LIMIT 1", (ticket_id, ts, field))
            if later:
                # The next change of this field now starts from the value before this one.
                db("UPDATE ticket_change SET oldvalue=%s WHERE ticket=%s AND time=%s "
                   "AND field=%s AND oldvalue=%s", (oldvalue, ticket_id, later[0][0], field, newvalue))
            elif field in TICKET_COLUMNS:
                db(f"UPDATE ticket SET {field}=%s WHERE id=%s", (oldvalue, ticket_id))
            else:
                db("UPDATE ticket_custom SET value=%s WHERE ticket=%s AND name=%s",
                   (oldvalue, ticket_id, field))
        db("DELETE FROM ticket_change WHERE ticket=%s AND time=%s", (ticket_id, ts))
        db("UPDATE ticket SET changetime=%s WHERE id=%s", (when or _now(), ticket_id))
        env.invalidate(cachekeys.TICKET_REWRITES)


def order_enum(env, enum_type: str, names: list[str]) -> None:
    """Give the values of an enum the order of ``names`` (all of its values, each once)."""
    label = _enum_type(enum_type)[1]
    with env.db_transaction as db:
        current = {e.name for e in list_enum(env, enum_type)}
        if sorted(names) != sorted(current):
            raise TicketModelError(f"The new order must list every {label.lower()} value once.")
        for position, name in enumerate(names, 1):
            db("UPDATE enum SET value=%s WHERE type=%s AND name=%s", (str(position), enum_type, name))
        invalidate_ticket_fields(env)


def set_description(env, kind: str, name: str, description: str | None) -> None:
    """The description of a component, version or enum value (``kind``: the table, or an
    enum type)."""
    with env.db_transaction as db:
        if kind in ("component", "version"):
            count = db.execute_rowcount(f"UPDATE {kind} SET description=%s WHERE name=%s",
                                        (description or None, name))
        else:
            _enum_type(kind)
            count = db.execute_rowcount("UPDATE enum SET description=%s WHERE type=%s AND name=%s",
                                        (description or None, kind, name))
        if not count:
            raise ResourceNotFound(f"{kind.capitalize()} {name} does not exist.")
        invalidate_ticket_fields(env)
