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
def timeline_events(req, start, stop, filters, limit):
    if "wiki" not in filters:
        return []
    sql = ("SELECT name, version, time, author, comment FROM wiki "
           "WHERE time >= %s AND time < %s ORDER BY time DESC")
    params: list = [to_us(start), to_us(stop)]
    if limit and req.perm.uniform("WIKI_VIEW"):  # nothing is left out after the LIMIT
        sql += " LIMIT %s"
        params.append(limit)
    with req.env.db_query as db:
        rows = db(sql, params)
    rows = req.perm.allowed("WIKI_VIEW", rows, lambda row: Resource("wiki", row[0], int(row[1])))
    events = []
    pages: dict[str, tuple[str, str]] = {}  # a busy month edits some pages many times
    page_url = req.url_builder("wiki", "page")
    for name, version, time, author, comment in rows:
        version = int(version)
        resource = Resource("wiki", name, version)
        known = pages.get(name)
        if known is None:
            known = pages[name] = (page_url(name) + "?version=",
                                   f"<em>{escape(name)}</em> ")
        href, title = known
        events.append(TimelineEvent(
            kind="wiki", date=from_us(time), author=author or "",
            title=Markup(title + ("created" if version == 1 else "edited")),
            href=f"{href}{version}", filter="wiki", text=comment or "", resource=resource))
    return events
