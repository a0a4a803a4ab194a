"""Tickets and milestones in the timeline.

Filters: ``ticket`` ("Tickets opened and closed": created, closed, reopened),
``ticket_details`` ("Ticket updates": every other change or comment) and ``milestone``
("Milestones reached": completed milestones), as Trac names them.
"""

from __future__ import annotations

from collections.abc import Callable

from markupsafe import Markup, escape

from codeyard.core import hookimpl
from codeyard.perm import Resource
from codeyard.ticket.links import format_summary
from codeyard.timeline.api import TimelineEvent
from codeyard.timeline.events import from_us, to_us

_TICKET_PAGES = "codeyard.ticket.web"
_MILESTONE_PAGES = "codeyard.ticket.roadmap_web"


@hookimpl
def timeline_filters(req):
    found = []
    if req.env.is_enabled(_TICKET_PAGES) and req.perm.has("TICKET_VIEW"):
        found += [("ticket", "Tickets opened and closed", True),
                  ("ticket_details", "Ticket updates", False)]
    if req.env.is_enabled(_MILESTONE_PAGES) and req.perm.has("MILESTONE_VIEW"):
        found.append(("milestone", "Milestones reached", True))
    return found


def _ticket_title(tid: int, summary: str, verb: str) -> Markup:
    shown = escape(format_summary(summary))
    return Markup(f'Ticket <em title="{shown}">#{int(tid)}</em> ({shown}) {escape(verb)}')


def _changes(db, start_us: int, stop_us: int, details: bool,
             limit: int | None = None) -> tuple[list[dict], bool]:
    """The changes of the period, one per (ticket, time): author, fields, comment. Without
    ``details`` only those that changed the status (closed, reopened) are wanted. With a
    ``limit``, the period may begin later, at the ``limit``-th newest time of a change
    that can make an event; the flag says whether it did."""
    grouped: dict[tuple[int, int], dict] = {}
    if details:
        sql = ("SELECT ticket, time, author, field, oldvalue, newvalue FROM ticket_change "
               "WHERE time >= %s AND time < %s")
        times = "SELECT DISTINCT time FROM ticket_change WHERE time >= %s AND time < %s"
    else:
        sql = ("SELECT c.ticket, c.time, c.author, c.field, c.oldvalue, c.newvalue "
               "FROM ticket_change AS c WHERE c.time >= %s AND c.time < %s "
               "AND c.field IN ('status', 'resolution', 'comment') AND EXISTS ("
               "SELECT 1 FROM ticket_change AS s WHERE s.ticket=c.ticket AND s.time=c.time "
               "AND s.field='status') ORDER BY c.time")
        times = ("SELECT DISTINCT time FROM ticket_change WHERE time >= %s AND time < %s "
                 "AND field = 'status' AND (newvalue = 'closed' OR oldvalue = 'closed')")
    cut = False
    if limit or not details:
        newest = db(times + " ORDER BY time DESC" + (" LIMIT %s" if limit else ""),
                    (start_us, stop_us, *([limit] if limit else [])))
        if not details and not newest:
            return [], False  # no ticket closed or reopened in the period
        if limit and len(newest) == limit and int(newest[-1][0]) > start_us:
            start_us, cut = int(newest[-1][0]), True
        elif not details:  # none of the wanted changes is older than the oldest closing
            start_us = max(start_us, int(newest[-1][0]))
    if details:
        sql += " ORDER BY time"
    for tid, time, author, field, old, new in db(sql, (start_us, stop_us)):
        change = grouped.setdefault((int(tid), int(time)), {
            "ticket": int(tid), "time": int(time), "author": author or "", "fields": {},
            "comment": "", "cnum": None})
        if field == "comment":
            change["comment"] = new or ""
            change["cnum"] = (old or "").rsplit(".", 1)[-1] or None
        elif not field.startswith("_"):
            change["fields"][field] = (old or "", new or "")
    return list(grouped.values()), cut


def _ticket_events(req, start, stop, filters, limit=None) -> list[TimelineEvent]:
    """The ticket events of the period; with a ``limit`` (heeded only when the ticket
    permissions give one answer for all tickets), at least the newest ``limit`` of the
    tickets created and of their changes."""
    start_us, stop_us = to_us(start), to_us(stop)
    if limit and not req.perm.uniform("TICKET_VIEW"):
        limit = None  # tickets left out after the limit would leave the page short
    details = "ticket_details" in filters
    href_of = _href_maker(req)
    with req.env.db_query as db:
        created = db("SELECT id, time, reporter, summary, description FROM ticket "
                     "WHERE time >= %s AND time < %s ORDER BY time DESC"
                     + (" LIMIT %s" if limit else ""),
                     (start_us, stop_us, *([limit] if limit else []))) \
            if "ticket" in filters else []
        summaries: dict[int, str] = {int(r[0]): r[3] or "" for r in created}
        changes, cut = _changes(db, start_us, stop_us, details, limit)
        while True:
            listed = sorted({c["ticket"] for c in changes} - set(summaries))
            for i in range(0, len(listed), 500):
                chunk = listed[i:i + 500]
                marks = ",".join(["%s"] * len(chunk))
                for tid, summary in db(f"SELECT id, summary FROM ticket WHERE id IN ({marks})",
                                       tuple(chunk)):
                    summaries[int(tid)] = summary or ""
            visible = set(req.perm.allowed("TICKET_VIEW", summaries,
                                           lambda tid: Resource("ticket", tid)))
            made = _change_events(href_of, changes, filters, summaries, visible)
            if not cut or len(made) >= (limit or 0):
                break
            # Some of the newest change times made no event (a comment's edit alone, a
            # status change of a deleted ticket): the whole period, then.
            changes, cut = _changes(db, start_us, stop_us, details)
    events: list[TimelineEvent] = []
    for tid, time, reporter, summary, description in created:
        tid = int(tid)
        if tid in visible:
            events.append(TimelineEvent(
                kind="newticket", date=from_us(time), author=reporter or "",
                title=_ticket_title(tid, summary or "", "created"),
                href=href_of(tid), filter="ticket",
                text=description or "", resource=Resource("ticket", tid)))
    return events + made


def _href_maker(req) -> Callable[[int], str]:
    """A ticket's URL, each built once (a busy month names a ticket many times)."""
    hrefs: dict[int, str] = {}
    ticket_url = req.url_builder("ticket", "id")

    def href_of(tid: int) -> str:
        found = hrefs.get(tid)
        if found is None:
            found = hrefs[tid] = ticket_url(tid)
        return found
    return href_of


def _change_events(href_of, changes: list[dict], filters, summaries: dict[int, str],
                   visible: set[int]) -> list[TimelineEvent]:
    events: list[TimelineEvent] = []
    for change in changes:
        tid = change["ticket"]
        if tid not in visible or tid not in summaries:
            continue
        status = change["fields"].get("status")
        if status and status[1] == "closed":
            kind, verb, wanted = "closedticket", "closed", "ticket"
        elif status and status[0] == "closed":
            kind, verb, wanted = "reopenedticket", "reopened", "ticket"
        elif change["fields"] or change["comment"]:
            kind, verb, wanted = "editedticket", "updated", "ticket_details"
        else:
            continue
        if wanted not in filters:
            continue
        href = href_of(tid)
        if change["cnum"]:
            href += f"#comment:{change['cnum']}"
        prefix = Markup()
        if kind == "closedticket":
            resolution = change["fields"].get("resolution", ("", ""))[1]
            if resolution:
                prefix = Markup("<i>%s</i>") % resolution
        events.append(TimelineEvent(
            kind=kind, date=from_us(change["time"]), author=change["author"],
            title=_ticket_title(tid, summaries[tid], verb), href=href, filter=wanted,
            text=change["comment"] or "", resource=Resource("ticket", tid), prefix=prefix))
    return events


def _milestone_events(req, start, stop) -> list[TimelineEvent]:
    with req.env.db_query as db:
        rows = db("SELECT name, completed, description FROM milestone "
                  "WHERE completed >= %s AND completed < %s", (to_us(start), to_us(stop)))
    rows = [r for r in rows if req.perm.has("MILESTONE_VIEW", Resource("milestone", r[0]))]
    return [TimelineEvent(kind="milestone", date=from_us(completed), author="",
                          title=Markup("Milestone <em>%s</em> completed") % name,
                          href=req.url_for("milestone", name=name), filter="milestone",
                          text=description or "", resource=Resource("milestone", name))
            for name, completed, description in rows]


@hookimpl
def timeline_events(req, start, stop, filters, limit):
    events: list[TimelineEvent] = []
    if req.env.is_enabled(_TICKET_PAGES) and ({"ticket", "ticket_details"} & set(filters)):
        events += _ticket_events(req, start, stop, filters, limit)
    if "milestone" in filters and req.env.is_enabled(_MILESTONE_PAGES):
        events += _milestone_events(req, start, stop)
    return events
