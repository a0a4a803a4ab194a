"""The roadmap's figures: tickets of each milestone counted in the ``[milestone-groups]``
groups (closed, in progress, …) for the progress bars, as Trac 1.6 counts them; moving a
milestone's tickets to another one; and the iCalendar export.

The counts of every milestone come from one ``GROUP BY`` query, not one per milestone.
"""

from __future__ import annotations

import time as time_module
from dataclasses import dataclass, field
from datetime import UTC, datetime

from codeyard.config import ConfigSection, as_bool
from codeyard.ticket import values
from codeyard.ticket.model import kept_while_tickets_unchanged
from codeyard.ticket.workflow import all_states

__all__ = ["GroupStats", "Interval", "MilestoneGroupsError", "milestone_groups", "stats_by_milestone",
           "stats_by_field", "move_tickets", "icalendar"]

MILESTONE_GROUPS_SECTION = ConfigSection(
    "milestone-groups",
    "How the roadmap's progress bars group ticket states: `name = state1,state2` (`*` for every "
    "state no other group takes), `name.order`, `name.label`, `name.css_class` (new, open, closed "
    "or your own), `name.query_args` (added to the group's query link), and "
    "`name.overall_completion = true` for the groups that count as done.")

# Trac's groups when the section is absent.
DEFAULT_GROUPS = [
    {"name": "closed", "status": "closed", "query_args": "group=resolution",
     "overall_completion": "true"},
    {"name": "active", "status": "*", "css_class": "open"},
]


class MilestoneGroupsError(ValueError):
    """``[milestone-groups]`` cannot be used (two catch-all groups, a state in two groups)."""


@dataclass
class Interval:
    """One part of a progress bar."""

    title: str
    count: int
    query_args: dict[str, list[str]]
    css_class: str
    overall_completion: bool
    percent: int = 0


@dataclass
class GroupStats:
    """The progress of a set of tickets, in groups of states."""

    intervals: list[Interval] = field(default_factory=list)
    count: int = 0
    done_percent: int = 0
    done_count: int = 0

    def add(self, interval: Interval) -> None:
        self.intervals.append(interval)
        self.count += interval.count

    def finish(self) -> None:
        if self.count < 1:
            return
        total = 0
        for interval in self.intervals:
            interval.percent = round(interval.count / self.count * 100)
            total += interval.percent
            if interval.overall_completion:
                self.done_percent += interval.percent
                self.done_count += interval.count
        # Rounded parts must still fill the bar: adjust one part, as Trac does.
        if self.done_count and total != 100:
            fudge = 100 - total
            candidates = sorted((i for i in self.intervals if i.percent),
                                key=lambda i: i.percent, reverse=fudge < 0)
            if candidates:
                candidates[0].percent += fudge
                if candidates[0].overall_completion:
                    self.done_percent += fudge


def milestone_groups(env) -> list[dict[str, str]]:
    """The groups of ``[milestone-groups]`` (or Trac's defaults), in their order."""
    options = env.config.options("milestone-groups")
    if not options:
        return [dict(g) for g in DEFAULT_GROUPS]
    groups: dict[str, dict[str, str]] = {}
    order = 0
    for key, value in options:
        name, _, qualifier = key.partition(".")
        group = groups.setdefault(name, {"name": name, "order": str(order)})
        group[qualifier or "status"] = value
        try:
            order = max(order, int(group["order"])) + 1
        except ValueError:
            raise MilestoneGroupsError(
                f"[milestone-groups] {name}.order: {group['order']!r} is not a number") from None
    return sorted(groups.values(), key=lambda g: int(g["order"]))


def _group_statuses(env) -> list[tuple[dict[str, str], set[str]]]:
    states = set(all_states(env))
    remaining = set(states)
    groups = milestone_groups(env)
    catch_all = None
    out: list[tuple[dict[str, str], set[str]]] = []
    for group in groups:
        spec = group.get("status", "").strip()
        if spec == "*":
            if catch_all is not None:
                raise MilestoneGroupsError(
                    f"[milestone-groups]: '{catch_all['name']}' and '{group['name']}' are both "
                    "catch-all (*) groups")
            catch_all = group
            out.append((group, set()))
            continue
        mine = {s.strip() for s in spec.split(",") if s.strip()} & states
        taken = mine - remaining
        if taken:
            raise MilestoneGroupsError(
                f"[milestone-groups] {group['name']}: the state {', '.join(sorted(taken))} "
                "already belongs to another group")
        remaining -= mine
        out.append((group, mine))
    return [(g, remaining if g is catch_all else s) for g, s in out]


def _stats(groups, counts: dict[str, int]) -> GroupStats:
    stats = GroupStats()
    for group, statuses in groups:
        query_args: dict[str, list[str]] = {}
        present = sorted(s for s in counts if s in statuses)
        if present:
            query_args["status"] = present
        for pair in group.get("query_args", "").split(","):
            if "=" in pair:
                key, value = (part.strip() for part in pair.split("=", 1))
                query_args.setdefault(key, []).append(value)
        stats.add(Interval(group.get("label", group["name"]),
                           sum(counts.get(s, 0) for s in statuses), query_args,
                           group.get("css_class", group["name"]),
                           as_bool(group.get("overall_completion"))))
    stats.finish()
    return stats


def stats_by_milestone(env, names: list[str]) -> dict[str, GroupStats]:
    """The progress of each milestone named, from one query."""
    groups = _group_statuses(env)
    counts: dict[str, dict[str, int]] = {name: {} for name in names}
    if names:
        with env.db_query as db:
            if len(names) == 1:  # one milestone's page: count only its tickets
                rows = kept_while_tickets_unchanged(env, db, ("milestone stats", names[0]), lambda: [
                    (names[0], status, count) for status, count in db(
                        "SELECT status, COUNT(*) FROM ticket WHERE milestone=%s GROUP BY status",
                        (names[0],))])
            else:
                rows = kept_while_tickets_unchanged(env, db, ("milestone stats",), lambda: db(
                    "SELECT milestone, status, COUNT(*) FROM ticket "
                    "WHERE milestone IS NOT NULL AND milestone != '' GROUP BY milestone, status"))
            for milestone, status, count in rows:
                if milestone in counts:
                    counts[milestone][status or ""] = int(count)
    return {name: _stats(groups, counts[name]) for name in names}


def stats_by_field(env, milestone: str, field_name: str
                   ) -> tuple[GroupStats, list[tuple[str, GroupStats]]]:
    """A milestone's progress, and its breakdown by the values of a select field (component…),
    from one query."""
    groups = _group_statuses(env)
    with env.db_query as db:
        if field_name in values.TICKET_COLUMNS:
            sql = (f"SELECT {db.quote(field_name)}, status, COUNT(*) FROM ticket "
                   "WHERE milestone=%s GROUP BY 1, 2")
            params: tuple = (milestone,)
        else:
            sql = ("SELECT c.value, t.status, COUNT(*) FROM ticket t LEFT OUTER JOIN "
                   "ticket_custom c ON c.ticket=t.id AND c.name=%s WHERE t.milestone=%s "
                   "GROUP BY 1, 2")
            params = (field_name, milestone)
        rows = kept_while_tickets_unchanged(env, db, ("milestone by field", sql, params),
                                            lambda: db(sql, params))
    by_value: dict[str, dict[str, int]] = {}
    total: dict[str, int] = {}
    for value, status, count in rows:
        by_value.setdefault(value or "", {})[status or ""] = int(count)
        total[status or ""] = total.get(status or "", 0) + int(count)
    breakdown = [(value, _stats(groups, counts))
                 for value, counts in sorted(by_value.items(), key=lambda kv: values.natural_key(kv[0]))]
    return _stats(groups, total), breakdown


def move_tickets(env, name: str, target: str | None, author: str, comment: str = "",
                 only_open: bool = True, when: int | None = None) -> list[int]:
    """Move the (open) tickets of milestone ``name`` to ``target`` (None: no milestone), each
    saved through the ticket model with the comment (so its listeners hear of it), all in
    one transaction."""
    from codeyard.ticket.model import Ticket

    when = when or int(time_module.time() * 1_000_000)
    with env.db_transaction as db:
        sql = "SELECT id FROM ticket WHERE milestone=%s" + (" AND status != 'closed'" if only_open else "")
        ids = [row[0] for row in db(sql + " ORDER BY id", (name,))]
        for ticket_id in ids:
            ticket = Ticket(env, ticket_id)
            ticket["milestone"] = target or ""
            ticket.save_changes(author, comment, when=when)
    return ids


# ---------------------------------------------------------------------------
# iCalendar (RFC 5545)


def _ics_text(text: str) -> str:
    return (text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n"))


def _fold(line: str) -> str:
    """Lines of at most 75 octets, continued with a space (never splitting a character)."""
    out: list[str] = []
    current = b""
    for char in line:
        encoded = char.encode("utf-8")
        if len(current) + len(encoded) > (75 if not out else 74):
            out.append(current.decode("utf-8"))
            current = b""
        current += encoded
    out.append(current.decode("utf-8"))
    return "\r\n ".join(out)


def _ics_time(us: int) -> str:
    return datetime.fromtimestamp(us / 1_000_000, UTC).strftime("%Y%m%dT%H%M%SZ")


def icalendar(milestones, project_name: str, url_of, host: str, now: int | None = None) -> str:
    """A calendar with one event per milestone that has a due date."""
    now = now or int(time_module.time() * 1_000_000)
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//codeyard//Roadmap//EN",
             "METHOD:PUBLISH", "X-WR-CALNAME:" + _ics_text(f"{project_name} - Roadmap")]
    for m in milestones:
        if not m.due:
            continue
        lines += ["BEGIN:VEVENT",
                  "UID:" + _ics_text(f"<{url_of(m.name)}@{host}>"),
                  "DTSTAMP:" + _ics_time(now),
                  "DTSTART;VALUE=DATE:" + datetime.fromtimestamp(m.due / 1_000_000, UTC).strftime("%Y%m%d"),
                  "SUMMARY:" + _ics_text(f"Milestone {m.name}"),
                  "URL:" + url_of(m.name)]
        if m.description:
            lines.append("DESCRIPTION:" + _ics_text(m.description))
        if m.completed:
            lines.append("STATUS:CONFIRMED")
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return "".join(_fold(line) + "\r\n" for line in lines)
