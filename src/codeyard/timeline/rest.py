"""Timeline events in the REST API: the events of ``daysback`` days up to ``from`` for
the picked filters, from the same providers as ``/timeline`` (TIMELINE_VIEW)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from markupsafe import Markup

from codeyard.core import hookimpl
from codeyard.perm import Resource
from codeyard.rest.api import (
    STR,
    TIME,
    Call,
    Endpoint,
    Paged,
    Param,
    array,
    bad_request,
    iso_datetime,
    obj,
)
from codeyard.timeline.events import render_texts
from codeyard.timeline.web import (
    DEFAULT_DAYSBACK,
    MAX_DAYSBACK,
    _available_filters,
    _day_end,
    gather_events,
    parse_authors,
    parse_moment,
)

EVENT_SCHEMA = obj({"kind": STR, "filter": STR, "date": TIME, "author": STR, "title": STR,
                    "url": STR, "description": STR})


@hookimpl
def rest_endpoints():
    return [
        Endpoint("GET", "/timeline", "The events of a period, newest first", timeline_events,
                 "timeline", "TIMELINE_VIEW", [
                     Param("from", "query", STR, "The last day (ISO 8601 date or time; "
                                                 "by default today)."),
                     Param("daysback", "query", {"type": "integer", "minimum": 0},
                           "Days before `from` to include."),
                     Param("filters", "query", array(STR), "The kinds of event (e.g. "
                           "ticket,wiki,changeset), comma-separated; by default those "
                           "/timeline checks."),
                     Param("authors", "query", STR, "Only these authors (space-separated; "
                                                    "-name leaves one out)."),
                 ], response_schema=EVENT_SCHEMA, paged=True),
        Endpoint("GET", "/timeline/filters", "The kinds of event one may ask for",
                 timeline_filters, "timeline", "TIMELINE_VIEW",
                 response_schema=array(obj({"name": STR, "label": STR,
                                            "default": {"type": "boolean"}}))),
    ]


def timeline_filters(call: Call) -> list[dict]:
    call.req.perm.require("TIMELINE_VIEW", Resource("timeline"))
    return [{"name": n, "label": str(label), "default": checked}
            for n, label, checked in _available_filters(call.req)]


def _text(value) -> str:
    return Markup(value).striptags() if value else ""


def timeline_events(call: Call) -> Paged:
    req = call.req
    req.perm.require("TIMELINE_VIEW", Resource("timeline"))
    tz = req.tz
    day = datetime.now(tz).date()
    raw = (call.args.get("from") or "").strip()
    if raw:
        try:
            day = parse_moment(raw, tz).astimezone(tz).date()
        except ValueError as exc:
            raise bad_request(f"from: {exc}") from None
    daysback = call.args.get("daysback")
    if daysback is None:
        daysback = DEFAULT_DAYSBACK(call.env.config)
    limit = MAX_DAYSBACK(call.env.config)
    if limit >= 0:
        daysback = min(daysback, max(1, limit))
    available = _available_filters(req)
    names = [name for name, _label, _checked in available]
    picked = call.args.get("filters")
    if picked is None:
        picked = [name for name, _label, checked in available if checked]
    unknown = [name for name in picked if name not in names]
    if unknown:
        raise bad_request(f"filters: unknown filter {unknown[0]!r} (known: {', '.join(names)})")
    include, exclude = parse_authors(call.args.get("authors") or "")
    try:
        stop = _day_end(day, tz)
        start = datetime.combine(day - timedelta(days=daysback), time(0), tzinfo=tz)
    except OverflowError:
        raise bad_request(f"from: {raw!r} is out of range.") from None
    events = gather_events(req, start, stop, picked, include, exclude)
    page = call.page_of(events)
    render_texts(req, page.items, full=True, shorten=False)
    return Paged([{"kind": e.kind, "filter": e.filter, "date": iso_datetime(e.date),
                   "author": e.author or "", "title": _text(e.title),
                   "url": req.absolute(e.href) if e.href else "",
                   "description": _text(e.description)} for e in page.items], page.total)
