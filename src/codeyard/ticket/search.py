"""Tickets (source ``ticket``: summary, keywords, description, comments, custom text
fields) and milestones (source ``milestone``: name and description) in the search."""

from __future__ import annotations

import zlib

from codeyard.core import hookimpl
from codeyard.perm import Resource
from codeyard.search.api import SearchDocument
from codeyard.search.index import reindex
from codeyard.ticket.fields import custom_fields

_TICKET_PAGES = "codeyard.ticket.web"
_MILESTONE_PAGES = "codeyard.ticket.roadmap_web"


def ticket_documents(env, since: int | None = None, ids=None) -> list[SearchDocument]:
    """The documents of the tickets changed since ``since`` (µs), or of ``ids``."""
    text_fields = [f.name for f in custom_fields(env) if f.type in ("text", "textarea")]
    where, params = "", []
    if since is not None:
        where, params = " WHERE changetime >= %s", [since]
    with env.db_query as db:
        if ids is not None:
            rows = []
            for tid in ids:
                rows += db("SELECT id, summary, keywords, description, reporter, changetime "
                           "FROM ticket WHERE id = %s", (int(tid),))
        else:
            rows = db("SELECT id, summary, keywords, description, reporter, changetime "
                      "FROM ticket" + where, params)
        wanted = {int(r[0]) for r in rows}
        extra: dict[int, list[str]] = {}
        comment_sql = ("SELECT ticket, newvalue FROM ticket_change WHERE field = 'comment' "
                       "AND newvalue != ''")
        custom_sql = "SELECT ticket, name, value FROM ticket_custom"
        if ids is not None or since is not None:
            for tid in sorted(wanted):
                for _t, text in db(comment_sql + " AND ticket = %s ORDER BY time", (tid,)):
                    extra.setdefault(tid, []).append(text)
                if text_fields:
                    for _t, name, value in db(custom_sql + " WHERE ticket = %s", (tid,)):
                        if name in text_fields and value:
                            extra.setdefault(tid, []).append(value)
        else:
            for tid, text in db(comment_sql + " ORDER BY ticket, time"):
                extra.setdefault(int(tid), []).append(text)
            if text_fields:
                for tid, name, value in db(custom_sql):
                    if name in text_fields and value:
                        extra.setdefault(int(tid), []).append(value)
    docs = []
    for tid, summary, keywords, description, reporter, changetime in rows:
        body = "\n".join([keywords or "", description or "", *extra.get(int(tid), [])])
        docs.append(SearchDocument("ticket", str(tid), summary or "", body, reporter or "",
                                   int(changetime or 0)))
    return docs


def milestone_documents(env, name: str | None = None) -> list[SearchDocument]:
    with env.db_query as db:
        if name is None:
            rows = db("SELECT name, description, due, completed FROM milestone")
        else:
            rows = db("SELECT name, description, due, completed FROM milestone WHERE name = %s",
                      (name,))
    return [SearchDocument("milestone", name, name, description or "", "",
                           int(completed or due or 0))
            for name, description, due, completed in rows]


@hookimpl
def search_sources(req):
    found = []
    if req.env.is_enabled(_TICKET_PAGES) and req.perm.has("TICKET_VIEW"):
        found.append(("ticket", "Tickets", True))
    if req.env.is_enabled(_MILESTONE_PAGES) and req.perm.has("MILESTONE_VIEW"):
        found.append(("milestone", "Milestones", True))
    return found


@hookimpl
def search_stamps(env, db):
    # From indexes only (every search reads it): a ticket's changetime is its creation or
    # its newest change, and each change writes a ticket_change row.
    count, created, changed = db("SELECT (SELECT COUNT(*) FROM ticket), (SELECT MAX(time) "
                                 "FROM ticket), (SELECT MAX(time) FROM ticket_change)")[0]
    newest = max(created or 0, changed or 0)
    # Milestones carry no change time: their stamp is a checksum of what is indexed
    # (there are few of them).
    rows = db("SELECT name, description FROM milestone ORDER BY name")
    digest = zlib.crc32("\x00".join(f"{n}\x01{d or ''}" for n, d in rows).encode())
    return {"ticket": (count, newest), "milestone": (len(rows), digest)}


@hookimpl
def search_documents(env, source, since):
    if source == "ticket":
        return ticket_documents(env, since)
    if source == "milestone":
        return milestone_documents(env)  # always whole: ``since`` is a checksum here
    return None


@hookimpl
def search_visible(req, hits):
    return [*req.perm.allowed("TICKET_VIEW", (hit for hit in hits if hit.source == "ticket"),
                              lambda hit: Resource("ticket", int(hit.id))),
            *req.perm.allowed("MILESTONE_VIEW",
                              (hit for hit in hits if hit.source == "milestone"),
                              lambda hit: Resource("milestone", hit.id))]


@hookimpl
def search_results(req, hits):
    found = []
    for hit in hits:
        if hit.source == "ticket":
            tid = int(hit.id)
            found.append((hit, req.url_for("ticket", id=tid), f"#{tid}: {hit.title}"))
        elif hit.source == "milestone":
            found.append((hit, req.url_for("milestone", name=hit.id), f"Milestone {hit.id}"))
    return found


def _refresh(env, tid) -> None:
    docs = ticket_documents(env, ids=[tid])
    reindex(env, docs, [] if docs else [("ticket", "", str(tid))])


@hookimpl
def ticket_changed(env, event, ticket, old_values, comment, author, when):
    _refresh(env, ticket.id)


@hookimpl
def ticket_comment_changed(env, ticket, cnum, old_text, new_text, author, when):
    _refresh(env, ticket.id)


@hookimpl
def ticket_change_deleted(env, ticket, cnum, cdate, changes, when):
    _refresh(env, ticket.id)


@hookimpl
def milestone_changed(env, event, name, old_name):
    removed = [("milestone", "", old_name)] if old_name else []
    docs = milestone_documents(env, name)
    if not docs:
        removed.append(("milestone", "", name))
    reindex(env, docs, removed)
