"""The ticket: its fields, its changes and comments, as Trac 1.6 stores them.

``Ticket(env, id)`` loads a ticket (``Ticket(env)`` starts a new one from the ``[ticket]
default_*`` options); ``ticket[field] = value`` records the change; ``insert()`` and
``save_changes()`` write it in one transaction each, after checking every field (nothing is
written when a check fails). The storage follows Trac: empty values are NULL in ``ticket``
and ``ticket_custom``, each changed field is one ``ticket_change`` row and every save adds a
``comment`` row whose ``oldvalue`` is the comment number ("3", or "2.3" for a reply to 2);
an edited comment keeps its earlier texts in ``_comment<N>`` rows. Times are microseconds
since the epoch.

The ``ticket_changed`` hook is called after each write is committed, and
``ticket_comment_changed`` after a comment was edited.
"""

from __future__ import annotations

import re
import sys
from typing import Any

from codeyard.config import ConfigSection, IntOption, Option, options_in
from codeyard.core import hookimpl
from codeyard.ticket import values as ticket_values
from codeyard.ticket.fields import TicketField, ticket_fields

__all__ = [
    "Ticket", "TicketError", "TicketNotFound", "TicketValidationError", "TicketCollision",
    "fixup_cc_list", "cc_list", "DEFAULT_OWNER_KEYWORD",
]

# ---------------------------------------------------------------------------
# Options (Trac's names and defaults)

DEFAULT_OWNER_KEYWORD = "< default >"

TICKETS_STAMP = ("SELECT (SELECT COUNT(*) FROM ticket), (SELECT MAX(id) FROM ticket), "
                 "(SELECT MAX(time) FROM ticket_change)")
"""A stamp of the tickets, from indexes only: it changes when a ticket is created or
deleted and with every change (Trac and codeyard record each in ``ticket_change``), so
what was read from the tickets is current while it holds — whoever wrote them."""


def tickets_stamp(env, db) -> tuple:
    """``TICKETS_STAMP`` with the generations of what else a ticket list depends on (the
    fields' values and order, milestones, changes removed): results read from the ticket
    tables may be kept while it holds."""
    from codeyard.cachekeys import MILESTONES, TICKET_FIELDS, TICKET_REWRITES

    return (*db(TICKETS_STAMP)[0], *(env.database.generation(db, key)
                                     for key in (TICKET_FIELDS, MILESTONES, TICKET_REWRITES)))


KEPT_TICKET_READS = 128  # results a process keeps under the tickets' stamp


def kept_while_tickets_unchanged(env, db, key, compute):
    """``compute()`` — something read from the ticket tables only (a query's rows, counts
    by milestone) — kept per process under ``key`` while ``tickets_stamp`` holds."""
    from codeyard.util.lru import BoundedCache

    cache = env.memo("ticket.kept_reads", lambda: BoundedCache(KEPT_TICKET_READS))
    stamp = tickets_stamp(env, db)
    hit = cache.get(key)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    value = compute()
    cache.put(key, (stamp, value))
    return value

DEFAULT_TYPE = Option("ticket", "default_type", "defect",
                      "Type of a new ticket.")
DEFAULT_PRIORITY = Option("ticket", "default_priority", "major",
                          "Priority of a new ticket.")
DEFAULT_MILESTONE = Option("ticket", "default_milestone", "",
                           "Milestone of a new ticket.")
DEFAULT_COMPONENT = Option("ticket", "default_component", "",
                           "Component of a new ticket.")
DEFAULT_VERSION = Option("ticket", "default_version", "",
                         "Version of a new ticket.")
DEFAULT_SEVERITY = Option("ticket", "default_severity", "",
                          "Severity of a new ticket.")
DEFAULT_OWNER = Option("ticket", "default_owner", DEFAULT_OWNER_KEYWORD,
                       "Owner of a new ticket; `< default >` stands for the owner of the "
                       "ticket's component.")
DEFAULT_CC = Option("ticket", "default_cc", "",
                    "Cc list of a new ticket.")
DEFAULT_KEYWORDS = Option("ticket", "default_keywords", "",
                          "Keywords of a new ticket.")
DEFAULT_SUMMARY = Option("ticket", "default_summary", "",
                         "Summary (title) a new ticket starts with.")
DEFAULT_DESCRIPTION = Option("ticket", "default_description", "",
                             "Description a new ticket starts with.")
DEFAULT_RESOLUTION = Option("ticket", "default_resolution", "fixed",
                            "Resolution offered first when a ticket is resolved.")
MAX_DESCRIPTION_SIZE = IntOption("ticket", "max_description_size", 262144,
                                 "Longest ticket description accepted, in characters.")
MAX_SUMMARY_SIZE = IntOption("ticket", "max_summary_size", 262144,
                             "Longest ticket summary accepted, in characters.")
MAX_COMMENT_SIZE = IntOption("ticket", "max_comment_size", 262144,
                             "Longest ticket comment accepted, in characters.")

TYPE_DEFAULTS_SECTION = ConfigSection(
    "ticket-type-defaults",
    "Defaults of a new ticket by its type, over the `[ticket] default_<field>` ones: "
    "`<type>.<field> = value`, e.g. `task.priority = minor`, `task.component = planning`, "
    "`defect.description = …` (a description template; indented lines continue it). "
    "The new-ticket form starts with the defaults of its type; when the user picks another "
    "type and previews, the fields they have not changed take the new type's defaults.")

# What a type's defaults may not set: the workflow's fields, the reporter, the type itself.
_NOT_TYPE_DEFAULTS = frozenset({"type", "reporter", "id", "status", "resolution", "time",
                                "changetime"})

# The defaults of a new ticket, by field (resolution is the workflow's, not a new ticket's).
_FIELD_DEFAULTS = {
    "type": DEFAULT_TYPE, "priority": DEFAULT_PRIORITY, "milestone": DEFAULT_MILESTONE,
    "component": DEFAULT_COMPONENT, "version": DEFAULT_VERSION, "severity": DEFAULT_SEVERITY,
    "owner": DEFAULT_OWNER, "cc": DEFAULT_CC, "keywords": DEFAULT_KEYWORDS,
    "summary": DEFAULT_SUMMARY, "description": DEFAULT_DESCRIPTION,
}


@hookimpl
def config_options():
    return options_in(sys.modules[__name__])


def type_defaults(env, ticket_type: str | None) -> dict[str, str]:
    """The ``[ticket-type-defaults]`` of one type: field name -> value."""
    if not ticket_type:
        return {}
    out = {}
    for key, value in env.config.options("ticket-type-defaults"):
        kind, _, name = key.rpartition(".")
        if kind == ticket_type and name and name not in _NOT_TYPE_DEFAULTS:
            out[name] = value
    return out


# ---------------------------------------------------------------------------
# Errors


class TicketError(ticket_values.TicketModelError):
    """A ticket operation refused; nothing was written."""


class TicketNotFound(ticket_values.ResourceNotFound, TicketError):
    """No ticket with that number (or no such comment)."""


class TicketValidationError(TicketError):
    """One or more fields have values the ticket cannot take."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{name}: {message}" for name, message in errors))


class TicketCollision(TicketError):
    """The ticket was changed by someone else since it was read."""


# ---------------------------------------------------------------------------
# Helpers


def cc_list(text: str | None) -> list[str]:
    """The addresses of a Cc field (separated by commas, semicolons or spaces), no duplicates."""
    out: list[str] = []
    for item in re.split(r"[;,\s]+", text or ""):
        if item and item not in out:
            out.append(item)
    return out


def fixup_cc_list(text: str | None) -> str:
    """A Cc field as Trac writes it: ``a, b, c``."""
    return ", ".join(cc_list(text))


def _now() -> int:
    return ticket_values._now()


def _to_null(value: Any) -> Any:
    return value if value else None


def _custom_time_text(value: int | None) -> str | None:
    """A custom time field as Trac stores it: zero-padded microseconds (sortable as text)."""
    if value is None or value == "":
        return None
    ts = int(value)
    return "%018d" % ts if ts >= 0 else "%+017d" % ts


def _time_value(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _comment_number(oldvalue: str | None) -> int | None:
    try:
        return int((oldvalue or "").rsplit(".", 1)[-1])
    except ValueError:
        return None


def _change_author(db, ticket_id: int, ts: int) -> str | None:
    rows = db("SELECT author FROM ticket_change WHERE ticket=%s AND time=%s "
              f"AND NOT field {db.prefix_match()} LIMIT 1",
              (ticket_id, ts, db.prefix_match_value("_")))
    return rows[0][0] if rows else None


def find_change(env, ticket_id: int, cnum: int | str) -> tuple[int, str | None, str] | None:
    """(time, author, comment text) of change ``cnum`` of a ticket, or None."""
    text = str(cnum)
    with env.db_query as db:
        rows = db("SELECT time, author, newvalue FROM ticket_change "
                  f"WHERE ticket=%s AND field='comment' AND (oldvalue=%s OR oldvalue {db.like()})",
                  (ticket_id, text, "%" + db.like_escape("." + text)))
        if rows:
            ts, author, comment = rows[0]
            return int(ts), author, comment
        # Old data without numbers in oldvalue: count the changes.
        number = 0
        found = None
        for ts, old, author, comment in db(
                "SELECT DISTINCT tc1.time, COALESCE(tc2.oldvalue, ''), tc2.author, "
                "COALESCE(tc2.newvalue, '') FROM ticket_change tc1 "
                "LEFT OUTER JOIN ticket_change tc2 ON tc2.ticket=%s AND tc2.time=tc1.time "
                "AND tc2.field='comment' WHERE tc1.ticket=%s ORDER BY tc1.time",
                (ticket_id, ticket_id)):
            explicit = _comment_number(old)
            number = explicit if explicit is not None else number + 1
            if str(number) == text:
                found = (int(ts), author, comment)
                break
        if found is None:
            return None
        if found[1] is None:
            found = (found[0], _change_author(db, ticket_id, found[0]), found[2])
        return found


# ---------------------------------------------------------------------------
# The ticket


class Ticket:
    """One ticket (``exists`` is False until it is inserted)."""

    realm = "ticket"
    # Changed by the workflow only: never taken from the defaults of a new ticket.
    protected_fields = ("resolution", "status", "time", "changetime")

    @staticmethod
    def id_is_valid(num: Any) -> bool:
        try:
            return 0 < int(num) <= 1 << 31
        except (TypeError, ValueError):
            return False

    def __init__(self, env, tkt_id: int | str | None = None) -> None:
        self.env = env
        self.fields: list[TicketField] = ticket_fields(env)
        self._by_name = {f.name: f for f in self.fields}
        self.std_fields = [f.name for f in self.fields if not f.custom]
        self.custom_fields = [f.name for f in self.fields if f.custom]
        self.time_fields = [f.name for f in self.fields if f.type == "time"]
        self.values: dict[str, Any] = {}
        self._old: dict[str, Any] = {}
        self.id: int | None = None
        if tkt_id is not None:
            self._fetch(tkt_id)
        else:
            self._init_defaults()

    def __repr__(self) -> str:
        return f"<Ticket {self.id!r}>"

    @property
    def exists(self) -> bool:
        return self.id is not None

    @property
    def time_created(self) -> int | None:
        return self.values.get("time")

    @property
    def time_changed(self) -> int | None:
        return self.values.get("changetime")

    # -- loading

    def _option_default(self, name: str) -> str:
        option = _FIELD_DEFAULTS.get(name)
        if option is not None:
            return option(self.env.config)
        return self.env.config.get("ticket", "default_" + name, "")

    def _custom_default(self, f: TicketField) -> Any:
        default: Any = f.value
        if default and f.options and default not in f.options:
            try:  # Trac also accepts the index of an option
                default = f.options[int(default)]
            except (ValueError, IndexError):
                self.env.log.warning("Invalid default value %r for custom field %r",
                                     default, f.name)
        if default and f.type == "time":
            default = _time_value(default)
        return default

    def defaults_for_type(self, ticket_type: str | None) -> dict[str, Any]:
        """The value every settable field of a new ticket of ``ticket_type`` starts with
        ("" when none): that type's ``[ticket-type-defaults]``, else the ``[ticket]`` and
        ``[ticket-custom]`` defaults."""
        out: dict[str, Any] = {}
        for f in self.fields:
            if f.name in self.protected_fields:
                continue
            out[f.name] = (self._custom_default(f) if f.custom
                           else self._option_default(f.name)) or ""
        for name, value in type_defaults(self.env, ticket_type).items():
            if name in out:
                out[name] = value
            else:
                self.env.log.warning("[ticket-type-defaults] %s.%s: no such ticket field; "
                                     "ignored", ticket_type, name)
        return out

    def _init_defaults(self) -> None:
        for f in self.fields:
            if f.name in self.protected_fields:
                continue
            default = self._custom_default(f) if f.custom else self._option_default(f.name)
            if default:
                self.values.setdefault(f.name, default)

    def _fetch(self, tkt_id: int | str) -> None:
        row = None
        if self.id_is_valid(tkt_id):
            tkt_id = int(tkt_id)
            columns = ",".join(self.std_fields)
            with self.env.db_query as db:
                rows = db(f"SELECT {columns} FROM ticket WHERE id=%s", (tkt_id,))
                row = rows[0] if rows else None
                custom = db("SELECT name, value FROM ticket_custom WHERE ticket=%s", (tkt_id,))
        if row is None:
            raise TicketNotFound(f"Ticket {tkt_id} does not exist.")
        self.id = int(tkt_id)
        self.values = {}
        self._old = {}
        for name, value in zip(self.std_fields, row, strict=True):
            if name in self.time_fields:
                self.values[name] = _time_value(value)
            else:
                self.values[name] = "" if value is None else value
        for name, value in custom:
            if name not in self.custom_fields:
                continue
            if name in self.time_fields:
                self.values[name] = _time_value(value)
            else:
                self.values[name] = "" if value is None else value
        # Custom fields added after the ticket was written start at their default.
        for f in self.fields:
            if f.custom and f.name not in self.values:
                default = self._custom_default(f)
                if default:
                    self[f.name] = default

    # -- values

    def __getitem__(self, name: str) -> Any:
        return self.values.get(name)

    def __setitem__(self, name: str, value: Any) -> None:
        if value and name not in self.time_fields:
            if isinstance(value, list | tuple):
                raise TicketError(f"{name}: a field holds one value, not a list")
            f = self._by_name.get(name)
            if f is None or f.type != "textarea":
                value = str(value).strip()
        if name in self.values and self.values[name] == value:
            return
        if name not in self._old:
            self._old[name] = self.values.get(name)
        elif self._old[name] == value:  # changed back
            del self._old[name]
        self.values[name] = value

    def __contains__(self, name: str) -> bool:
        return name in self.values

    def populate(self, values: dict[str, Any]) -> None:
        """Set the fields named in ``values`` (form-style: ``checkbox_<name>`` without a
        ``<name>`` means an unchecked checkbox)."""
        for name, value in values.items():
            if name in self._by_name:
                self[name] = value
        for name in values:
            if name.startswith("checkbox_") and name[9:] in self._by_name \
                    and name[9:] not in values:
                self[name[9:]] = "0"

    @property
    def changed_fields(self) -> dict[str, Any]:
        """Fields changed since loading (name -> value before)."""
        return dict(self._old)

    # -- Cc

    @property
    def cc_list(self) -> list[str]:
        return cc_list(self["cc"])

    def add_cc(self, address: str) -> bool:
        """Add an address to the Cc field; False when it was there already."""
        current = self.cc_list
        if not address.strip() or address.strip() in current:
            return False
        self["cc"] = fixup_cc_list(", ".join([*current, address.strip()]))
        return True

    def remove_cc(self, address: str) -> bool:
        """Remove an address from the Cc field; False when it was not there."""
        current = self.cc_list
        if address.strip() not in current:
            return False
        self["cc"] = ", ".join(a for a in current if a != address.strip())
        return True

    # -- checks

    def validate(self, comment: str | None = None) -> list[tuple[str, str]]:
        """The problems that would stop this ticket from being written: (field, message)."""
        errors: list[tuple[str, str]] = []
        known = set(self._by_name)
        for name in sorted(set(self.values) | set(self._old)):
            if name not in known:
                errors.append((name, "no such ticket field"))
        for f in self.fields:
            if f.type not in ("select", "radio") or f.name == "status" or f.name not in self._old:
                continue
            value = self.values.get(f.name)
            if value:
                if value not in f.options:
                    errors.append((f.name, f'"{value}" is not a valid value'))
            elif not (f.optional or f.name == "resolution"):
                errors.append((f.name, "field cannot be empty"))
        config = self.env.config
        max_description = MAX_DESCRIPTION_SIZE(config)
        if len(self["description"] or "") > max_description:
            errors.append(("description",
                           f"Must be less than or equal to {max_description} characters"))
        max_summary = MAX_SUMMARY_SIZE(config)
        if not self["summary"]:
            errors.append(("summary", "Tickets must contain a summary."))
        elif len(self["summary"]) > max_summary:
            errors.append(("summary", f"Must be less than or equal to {max_summary} characters"))
        for name in self.custom_fields:
            f = self._by_name[name]
            if f.type in ("text", "textarea") and 0 < f.max_size < len(self[name] or ""):
                errors.append((name, f"Must be less than or equal to {f.max_size} characters"))
        max_comment = MAX_COMMENT_SIZE(config)
        if len(comment or "") > max_comment:
            errors.append(("comment", f"Must be less than or equal to {max_comment} characters"))
        return errors

    def _check(self, comment: str | None = None) -> None:
        errors = self.validate(comment)
        if errors:
            raise TicketValidationError(errors)

    def _db_values(self, values: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for name, value in values.items():
            if name in self.time_fields:
                out[name] = _custom_time_text(value) if name in self.custom_fields \
                    else _time_value(value)
            else:
                out[name] = _to_null(value)
        return out

    # -- writing

    def insert(self, when: int | None = None, author: str | None = None) -> int:
        """Write a new ticket (and its custom fields) in one transaction; returns its id.
        ``author`` becomes the reporter when none is set."""
        if self.exists:
            raise TicketError(f"Ticket {self.id} exists already")
        if author and not self["reporter"]:
            self["reporter"] = author
        if "cc" in self.values:
            self["cc"] = fixup_cc_list(self.values["cc"])
        self._check()
        when = _now() if when is None else int(when)
        with self.env.db_transaction as db:
            if self.values.get("owner") == DEFAULT_OWNER_KEYWORD:
                # What Trac's workflow does on creation: the component's owner, if any.
                owner = ""
                if self["component"]:
                    rows = db("SELECT owner FROM component WHERE name=%s", (self["component"],))
                    owner = (rows[0][0] or "") if rows else ""
                self.values["owner"] = owner
            self.values["time"] = self.values["changetime"] = when
            db_values = self._db_values(self.values)
            std = [n for n in self.std_fields if n in self.values]
            custom = [n for n in self.custom_fields if n in self.values]
            db(f"INSERT INTO ticket ({','.join(std)}) VALUES ({','.join(['%s'] * len(std))})",
               [db_values[n] for n in std])
            tkt_id = int(db.last_id("ticket"))
            db.executemany("INSERT INTO ticket_custom (ticket, name, value) VALUES (%s, %s, %s)",
                           [(tkt_id, n, db_values[n]) for n in custom])
        self.id = tkt_id
        self._old = {}
        self.env.hook.ticket_changed(env=self.env, event="created", ticket=self, old_values={},
                                     comment=None, author=self["reporter"] or author, when=when)
        return tkt_id

    def save_changes(self, author: str | None = None, comment: str | None = None,
                     when: int | None = None, cnum: str = "", replyto: str | int | None = None,
                     expected_changetime: int | None = None) -> int | bool:
        """Write the changed fields and the comment in one transaction.

        Returns the new comment's number, or False when there was nothing to save.
        ``replyto`` numbers the comment as a reply ("2.3"); ``cnum`` forces the number.
        With ``expected_changetime`` (the ``changetime`` the editor saw) the save is refused
        with ``TicketCollision`` when the ticket changed since."""
        tkt_id = self.id
        if tkt_id is None:
            raise TicketError("Cannot save the changes of a ticket that was never inserted")
        if "cc" in self.values:
            self["cc"] = fixup_cc_list(self.values["cc"])
        unchanged = all(self.values.get(k) == v for k, v in self._old.items())
        if not (comment or "").strip() and unchanged:
            return False
        self._check(comment)
        with self.env.db_transaction as db:
            # Touching the row first locks it: concurrent saves of one ticket run one after
            # the other, each seeing the comments of the one before (and the check of the
            # changetime the editor saw is decided by the database, not before).
            if expected_changetime is None:
                count = db.execute_rowcount(
                    "UPDATE ticket SET changetime=changetime WHERE id=%s", (self.id,))
            else:
                count = db.execute_rowcount(
                    "UPDATE ticket SET changetime=changetime WHERE id=%s AND changetime=%s",
                    (self.id, int(expected_changetime)))
            if not count:
                if db("SELECT 1 FROM ticket WHERE id=%s", (self.id,)):
                    raise TicketCollision(
                        f"Ticket {self.id} has been modified by someone else since you "
                        "started; your changes were not saved.")
                raise TicketNotFound(f"Ticket {self.id} does not exist.")
            if when is None:
                # Taken under the lock, after the previous change: changes stay in order.
                latest = db("SELECT MAX(time) FROM ticket_change WHERE ticket=%s",
                            (self.id,))[0][0]
                when = max(_now(), int(latest or 0) + 1)
            when = int(when)
            db_values = self._db_values({**self.values, "changetime": when})
            old_db_values = self._db_values(self._old)
            db("UPDATE ticket SET changetime=%s WHERE id=%s", (when, self.id))
            number = str(cnum) if cnum else str(ticket_values.next_comment_number(db, tkt_id))
            if replyto:
                number = f"{replyto}.{number}"
            for name in self._old:
                value, old = db_values.get(name), old_db_values.get(name)
                if name in self.custom_fields:
                    if db("SELECT 1 FROM ticket_custom WHERE ticket=%s AND name=%s",
                          (self.id, name)):
                        db("UPDATE ticket_custom SET value=%s WHERE ticket=%s AND name=%s",
                           (value, self.id, name))
                    else:
                        db("INSERT INTO ticket_custom (ticket, name, value) VALUES (%s, %s, %s)",
                           (self.id, name, value))
                        # A field added after the ticket was written, now at its default:
                        # no change to show.
                        if old is None and self.values.get(name) == \
                                self._custom_default(self._by_name[name]):
                            continue
                else:
                    db(f"UPDATE ticket SET {name}=%s WHERE id=%s", (value, self.id))
                db("INSERT INTO ticket_change (ticket, time, author, field, oldvalue, newvalue) "
                   "VALUES (%s, %s, %s, %s, %s, %s)", (self.id, when, author, name, old, value))
            # Every save has a comment row (maybe empty): it carries the change's number.
            db("INSERT INTO ticket_change (ticket, time, author, field, oldvalue, newvalue) "
               "VALUES (%s, %s, %s, 'comment', %s, %s)", (self.id, when, author, number, comment))
        old_values = self._old
        self._old = {}
        self.values["changetime"] = when
        self.env.hook.ticket_changed(env=self.env, event="changed", ticket=self,
                                     old_values=old_values, comment=comment, author=author,
                                     when=when)
        return _comment_number(number) or 0

    def delete(self) -> None:
        """Remove the ticket with its custom values, changes and attachments."""
        tkt_id = self.id
        if tkt_id is None:
            raise TicketError("Cannot delete a ticket that was never inserted")
        ticket_values.remove_ticket(self.env, tkt_id)
        self.env.hook.ticket_changed(env=self.env, event="deleted", ticket=self,
                                     old_values={}, comment=None, author=None, when=_now())

    def delete_change(self, cnum: int | None = None, cdate: int | None = None,
                      when: int | None = None) -> None:
        """Remove one change (by comment number or time), giving its fields back their
        earlier values; then reload and tell the ``ticket_change_deleted`` hook."""
        assert self.id is not None
        if cnum is None:
            if cdate is None:
                raise TicketError("delete_change needs a comment number or a time")
            cnum = self.get_comment_number(cdate)
            if cnum is None:
                raise TicketNotFound(f"No change at {cdate} on ticket {self.id}")
        when = _now() if when is None else int(when)
        with self.env.db_transaction as db:
            found = self._find_change(cnum)
            if found is None:
                raise TicketNotFound(f"Comment {cnum} not found")
            cdate = found[0]
            changes = {field: (old, new) for field, old, new in db(
                "SELECT field, oldvalue, newvalue FROM ticket_change WHERE ticket=%s AND time=%s",
                (self.id, cdate)) if field != "comment" and not field.startswith("_")}
            ticket_values.remove_ticket_change(self.env, self.id, int(cnum), when)
        self._fetch(self.id)
        self.env.hook.ticket_change_deleted(env=self.env, ticket=self, cnum=int(cnum),
                                            cdate=cdate, changes=changes, when=when)

    # -- comments

    def get_comment_number(self, cdate: int) -> int | None:
        """The number of the comment made at ``cdate``."""
        with self.env.db_query as db:
            rows = db("SELECT oldvalue FROM ticket_change "
                      "WHERE ticket=%s AND time=%s AND field='comment'", (self.id, int(cdate)))
        return _comment_number(rows[0][0]) if rows else None

    def _find_change(self, cnum: int | str) -> tuple[int, str | None, str] | None:
        """(time, author, text) of comment ``cnum``."""
        assert self.id is not None
        return find_change(self.env, self.id, cnum)

    def _change_author(self, db, ts: int) -> str | None:
        assert self.id is not None
        return _change_author(db, self.id, ts)

    def get_change(self, cnum: int | None = None, cdate: int | None = None) -> dict | None:
        """One change: {'date', 'author', 'fields': {name: {'author', 'old', 'new'}}}."""
        if cdate is None:
            found = self._find_change(cnum) if cnum is not None else None
            if not found:
                return None
            cdate = found[0]
        fields: dict[str, dict] = {}
        change: dict[str, Any] = {"date": int(cdate), "fields": fields}
        with self.env.db_query as db:
            rows = db("SELECT field, author, oldvalue, newvalue FROM ticket_change "
                      "WHERE ticket=%s AND time=%s", (self.id, int(cdate)))
        for name, author, old, new in rows:
            fields[name] = {"author": author, "old": old, "new": new}
            if name == "comment":
                change["author"] = author
            elif not name.startswith("_"):
                change.setdefault("author", author)
        return change if fields else None

    def modify_comment(self, cdate: int | None, author: str | None, comment: str,
                       when: int | None = None, cnum: int | None = None,
                       expected_version: int | None = None) -> None:
        """Replace the text of the comment made at ``cdate`` (or numbered ``cnum``),
        keeping the earlier text in a ``_comment<N>`` row (oldvalue: that text, newvalue:
        the time of this edit), as Trac does.

        With ``expected_version`` (the comment's latest version the editor saw: 0 for a
        comment never edited) the edit is refused with ``TicketCollision`` when someone
        edited the comment since."""
        assert self.id is not None
        if cdate is None:
            found = self._find_change(cnum) if cnum is not None else None
            if not found:
                raise TicketNotFound(f"Comment {cnum} not found")
            cdate = found[0]
        ts = int(cdate)
        when = _now() if when is None else int(when)
        errors = [] if len(comment or "") <= MAX_COMMENT_SIZE(self.env.config) else \
            [("comment", f"Must be less than or equal to {MAX_COMMENT_SIZE(self.env.config)} "
                         "characters")]
        if errors:
            raise TicketValidationError(errors)
        with self.env.db_transaction as db:
            # Lock the ticket's row first: two edits of one comment run one after the other,
            # the second seeing the history row of the first.
            if not db.execute_rowcount("UPDATE ticket SET changetime=changetime WHERE id=%s",
                                       (self.id,)):
                raise TicketNotFound(f"Ticket {self.id} does not exist.")
            if not db("SELECT 1 FROM ticket_change WHERE ticket=%s AND time=%s LIMIT 1",
                      (self.id, ts)):
                raise TicketNotFound(f"No change at {ts} on ticket {self.id}")
            rows = db("SELECT newvalue FROM ticket_change "
                      "WHERE ticket=%s AND time=%s AND field='comment'", (self.id, ts))
            had_row = bool(rows)
            old_comment = (rows[0][0] or "") if rows else ""
            edits = db("SELECT field FROM ticket_change WHERE ticket=%s AND time=%s "
                       f"AND field {db.prefix_match()}",
                       (self.id, ts, db.prefix_match_value("_comment")))
            numbers = [int(f[8:]) for f, in edits if f[8:].isdigit()]
            rev = max(numbers) + 1 if numbers else 0
            if expected_version is not None and int(expected_version) != rev:
                raise TicketCollision(
                    "This comment has been edited by someone else since you started; "
                    "your text was not saved.")
            if comment == old_comment:
                return
            db("INSERT INTO ticket_change (ticket, time, author, field, oldvalue, newvalue) "
               "VALUES (%s, %s, %s, %s, %s, %s)",
               (self.id, ts, author, f"_comment{rev}", old_comment, str(when)))
            if had_row:
                db("UPDATE ticket_change SET newvalue=%s "
                   "WHERE ticket=%s AND time=%s AND field='comment'", (comment, self.id, ts))
            else:
                original = self._change_author(db, ts)
                db("INSERT INTO ticket_change (ticket, time, author, field, oldvalue, newvalue) "
                   "VALUES (%s, %s, %s, 'comment', '', %s)", (self.id, ts, original, comment))
            db("UPDATE ticket SET changetime=%s WHERE id=%s", (when, self.id))
            number = self.get_comment_number(ts)
        self.values["changetime"] = when
        self.env.hook.ticket_comment_changed(env=self.env, ticket=self, cnum=number,
                                             old_text=old_comment, new_text=comment,
                                             author=author, when=when)

    def get_comment_history(self, cnum: int | None = None, cdate: int | None = None
                            ) -> list[tuple[int, int, str | None, str]] | None:
        """Every version of a comment, oldest first: (revision, time, author, text)."""
        if cdate is None:
            found = self._find_change(cnum) if cnum is not None else None
            if not found:
                return None
            ts0, author0, last = found
        else:
            ts0, author0, last = int(cdate), None, None
        with self.env.db_query as db:
            if last is None:
                last = ""
                rows = db("SELECT author, newvalue FROM ticket_change "
                          "WHERE ticket=%s AND time=%s AND field='comment'", (self.id, ts0))
                if rows:
                    author0, last = rows[0]
            if author0 is None:
                rows = db("SELECT author, newvalue FROM ticket_change WHERE ticket=%s "
                          f"AND time=%s AND NOT field {db.prefix_match()} LIMIT 1",
                          (self.id, ts0, db.prefix_match_value("_")))
                if not rows:
                    return None
                author0, last = rows[0]
            edits = db("SELECT field, author, oldvalue, newvalue FROM ticket_change "
                       f"WHERE ticket=%s AND time=%s AND field {db.prefix_match()}",
                       (self.id, ts0, db.prefix_match_value("_comment")))
        history: list[tuple[int, int, str | None, str]] = []
        start, by = ts0, author0
        for rev, editor, text, edited in sorted(
                (int(f[8:]), a, o, n) for f, a, o, n in edits if f[8:].isdigit()):
            history.append((rev, int(start), by, text or ""))
            start, by = int(edited), editor
        rev = history[-1][0] + 1 if history else 0
        history.append((rev, int(start), by, last or ""))
        return history

    # -- history

    def get_changelog(self, when: int | None = None) -> list[tuple[int, str, str, Any, Any, int]]:
        """Every change, as Trac gives it: (time, author, field, oldvalue, newvalue,
        permanent), attachments included (permanent 0), ordered by time."""
        sid = str(self.id)
        when_clause, attach_clause = "", ""
        args: list[Any] = [self.id]
        if when:
            when_clause, attach_clause = " AND time=%s", " AND time=%s"
            args = [self.id, int(when), sid, int(when), sid, int(when)]
        else:
            args = [self.id, sid, sid]
        sql = ("SELECT time, author, field, oldvalue, newvalue, 1 AS permanent "
               f"FROM ticket_change WHERE ticket=%s{when_clause} "
               "UNION SELECT time, author, 'attachment', null, filename, 0 AS permanent "
               f"FROM attachment WHERE type='ticket' AND id=%s{attach_clause} "
               "UNION SELECT time, author, 'comment', null, description, 0 AS permanent "
               f"FROM attachment WHERE type='ticket' AND id=%s{attach_clause} "
               "ORDER BY time, permanent, author, field")
        with self.env.db_query as db:
            rows = db(sql, args)
        log = []
        for ts, author, field, old, new, permanent in rows:
            if field in self.time_fields:
                old, new = _time_value(old), _time_value(new)
            log.append((int(ts), author, field, old or "", new or "", int(permanent)))
        return log
