"""Wiki page versions in the timeline (filter ``wiki``, "Wiki changes")."""

from __future__ import annotations

from markupsafe import Markup, escape

from codeyard.core import hookimpl
from codeyard.perm import Resource
from codeyard.timeline.api import TimelineEvent
from codeyard.timeline.events import from_us, to_us


@hookimpl
def timeline_filters(req):
    if req.perm.has("WIKI_VIEW"):
        return [("wiki", "Wiki changes", True)]
    return []


@hookimpl
def timeline_events(req, start, stop, filters):
    if "wiki" not in filters:
        return []
    with req.env.db_query as db:
        rows = db("SELECT name, version, time, author, comment FROM wiki "
                  "WHERE time >= %s AND time < %s ORDER BY time DESC",
                  (to_us(start), to_us(stop)))
    rows = [r for r in rows if req.perm.has("WIKI_VIEW", Resource("wiki", r[0], r[1]))]
    events = []
    for name, version, time, author, comment in rows:
        verb = "created" if int(version) == 1 else "edited"
        events.append(TimelineEvent(
            kind="wiki", date=from_us(time), author=author or "",
            title=Markup(f"<em>{escape(name)}</em> {verb}"),
            href=req.url_for("wiki", page=name, version=version),
            filter="wiki", text=comment or "", resource=Resource("wiki", name, version)))
    return events
