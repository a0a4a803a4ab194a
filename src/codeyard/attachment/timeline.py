"""Attachments added, in the timeline under the filter of their parent's realm (a page's
under "wiki", a ticket's under "ticket", a milestone's under "milestone")."""

from __future__ import annotations

from markupsafe import Markup, escape

from codeyard.core import hookimpl
from codeyard.perm import Resource
from codeyard.timeline.api import TimelineEvent
from codeyard.timeline.events import from_us, to_us

# The filter each parent realm's attachments are shown under.
REALM_FILTERS = {"wiki": "wiki", "ticket": "ticket", "milestone": "milestone"}


def _parent_label(realm: str, parent_id: str) -> Markup:
    if realm == "ticket":
        return Markup("<em>#%s</em>") % parent_id
    if realm == "milestone":
        return Markup("milestone <em>%s</em>") % parent_id
    return Markup("<em>%s</em>") % parent_id


@hookimpl
def timeline_events(req, start, stop, filters):
    realms = [realm for realm, name in REALM_FILTERS.items() if name in filters]
    if not realms:
        return []
    marks = ",".join(["%s"] * len(realms))
    with req.env.db_query as db:
        rows = db("SELECT type, id, filename, time, description, author FROM attachment "
                  f"WHERE time >= %s AND time < %s AND type IN ({marks}) ORDER BY time DESC",
                  (to_us(start), to_us(stop), *realms))
    rows = [r for r in rows if req.perm.has(
        "ATTACHMENT_VIEW", Resource("attachment", r[2], parent=Resource(r[0], r[1])))]
    events = []
    for realm, parent_id, filename, time, description, author in rows:
        events.append(TimelineEvent(
            kind="attachment", date=from_us(time), author=author or "",
            title=Markup("<em>%s</em> attached to %s") % (escape(filename),
                                                         _parent_label(realm, parent_id)),
            href=req.url_for("attachment", realm=realm, path=f"{parent_id}/{filename}"),
            filter=REALM_FILTERS[realm], text=description or "",
            resource=Resource(realm, parent_id)))
    return events
