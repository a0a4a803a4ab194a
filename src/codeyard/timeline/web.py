"""``/timeline``: the events of every feature over a period, newest first, by day; its
RSS feed; the ``timeline:`` TracLinks namespace."""

from __future__ import annotations

import re
import sys
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from markupsafe import Markup, escape
from werkzeug.routing import Rule

from codeyard.config import BoolOption, IntOption, options_in
from codeyard.core import hookimpl
from codeyard.perm import Resource
from codeyard.timeline.api import TimelineEvent
from codeyard.timeline.events import render_texts, to_us
from codeyard.util.timefmt import from_utimestamp
from codeyard.web.api import HTTPBadRequest, NavItem, offered_choices
from codeyard.web.feeds import FeedItem, rss_response
from codeyard.web.session import cookie_first
from codeyard.wiki import syntax as S

DEFAULT_DAYSBACK = IntOption("timeline", "default_daysback", 30,
                             "How many days the timeline shows unless the reader asks for another number.")
MAX_DAYSBACK = IntOption("timeline", "max_daysback", 90,
                         "The most days the timeline shows at once (-1: no limit).")

ABBREVIATED_MESSAGES = BoolOption(
    "timeline", "abbreviated_messages", True,
    "Whether comments and commit messages in the timeline are cut to their first line "
    "(the feed always carries them whole).")

MAX_EVENTS = IntOption(
    "timeline", "max_events", 500,
    "The most events one timeline page shows; a link leads to the earlier ones of the "
    "period (0: the whole period on one page, as Trac shows it).")

RSS_MAX_EVENTS = 50
_AUTHORS_RE = re.compile(r"""(-)?(?:"([^"]*)"|'([^']*)'|(\S+))""")
_MOMENT_RE = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:[T ](\d{1,2})(?::?(\d{2})(?::?(\d{2})(?:\.\d+)?)?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?$", re.I)
_PRECISIONS = {"second": timedelta(seconds=1), "minute": timedelta(minutes=1),
               "hour": timedelta(hours=1)}


def parse_moment(text: str, tz: tzinfo) -> datetime:
    """``2008-01-29``, ``2008-01-29T15:48Z``, ``2008-01-29 16:48:10+01:00``: a moment, read
    in ``tz`` when it names no offset. Raises ValueError with a readable message."""
    match = _MOMENT_RE.match(text.strip())
    if not match:
        raise ValueError(f'"{text}" is not a date: write it as YYYY-MM-DD, optionally '
                         "followed by THH:MM[:SS] and Z or an offset (+01:00).")
    year, month, day, hour, minute, second = (int(g) if g else 0 for g in match.groups()[:6])
    offset = match.group(7)
    try:
        naive = datetime(year, month, day, hour, minute, second)
    except ValueError as exc:
        raise ValueError(f'"{text}" is not a date: {exc}.') from None
    if offset is None:
        return _localize(naive, tz)
    if offset.upper() == "Z":
        return naive.replace(tzinfo=UTC)
    digits = offset[1:].replace(":", "")
    delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    if delta >= timedelta(hours=24):
        raise ValueError(f'"{text}" is not a date: the offset {offset} is too large.')
    from datetime import timezone

    return naive.replace(tzinfo=timezone(delta if offset[0] == "+" else -delta))


def _localize(naive: datetime, tz: tzinfo) -> datetime:
    return naive.replace(tzinfo=tz)


def iso8601(moment: datetime, tz: tzinfo) -> str:
    """A moment as Trac writes it in timeline URLs (``2008-01-29T15:48:00Z``, ``…+01:00``)."""
    text = moment.astimezone(tz).replace(microsecond=0).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def parse_authors(text: str) -> tuple[set[str], set[str]]:
    """``alice "bob smith" -carol``: (included, excluded) names, lower-cased."""
    include: set[str] = set()
    exclude: set[str] = set()
    for match in _AUTHORS_RE.finditer(text):
        name = (match.group(2) or match.group(3) or match.group(4) or "").lower()
        (exclude if match.group(1) else include).add(name)
    return include, exclude


def _as_int(text: str | None, default: int) -> int:
    try:
        return int(str(text).strip())
    except (TypeError, ValueError):
        return default


def _day_end(day: date, tz: tzinfo) -> datetime:
    """The first moment after ``day`` in ``tz``, as an aware datetime."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)


def _available_filters(req) -> list[tuple[str, str, bool]]:
    return offered_choices(req.env.hook.timeline_filters(req=req))


def _picked_filters(req, available, rss: bool) -> list[str]:
    names = [f[0] for f in available]
    picked = [n for n in names if n in req.args]
    if not picked and not rss:
        picked = [n for n in names if req.session.get(f"timeline.filter.{n}") == "1"]
    if not picked:
        picked = [n for n, _label, checked in available if checked]
    if "update" in req.args and not rss and not cookie_first(req.session):
        for name in names:
            key = f"timeline.filter.{name}"
            if name in req.args:
                req.session[key] = "1"
            else:
                req.session.pop(key, None)
    return picked


def _remember(req, key: str, value: str, default: str) -> None:
    """Keep the reader's choice in the session; a visitor without a session cookie (a
    crawler, a load tool) is offered one, and its choices wait until it comes back with it:
    no session row per request for what is only a convenience."""
    if value == default:
        req.session.pop(key, None)
    elif req.session.get(key) != value and not cookie_first(req.session):
        req.session[key] = value


def gather_events(req, start: datetime, stop: datetime, filters: list[str],
                  include: set[str], exclude: set[str],
                  limit: int | None = None) -> list[TimelineEvent]:
    """The events of [start, stop) for the picked filters, by the authors asked, newest
    first; with a ``limit``, at least the newest ``limit`` of them (or all)."""
    events: list[TimelineEvent] = []
    if include or exclude:
        limit = None  # the providers' newest events might all be by other authors
    if not limit:
        for found in req.env.hook.timeline_events(req=req, start=start.astimezone(UTC),
                                                   stop=stop.astimezone(UTC),
                                                   filters=filters, limit=None):
            for event in found or ():
                author = (event.author or "").lower()
                if (include and author not in include) or author in exclude:
                    continue
                events.append(event)
        events.sort(key=_newest_first, reverse=True)
        return events
    # One provider after the other, the one that gave the most events last time first:
    # once the page is full, the next ones are asked only for the events newer than its
    # last (a month of tickets need not be read when a busy hour of wiki edits fills it).
    providers = _providers(req.env)
    lower = start
    for name, caller in sorted(providers["callers"],
                               key=lambda item: -providers["counts"].get(item[0], 0)):
        given = 0
        for found in caller(req=req, start=lower.astimezone(UTC), stop=stop.astimezone(UTC),
                            filters=filters, limit=limit):
            for event in found or ():
                given += 1
                events.append(event)
        providers["counts"][name] = given
        if len(events) >= limit:
            events.sort(key=_newest_first, reverse=True)
            del events[limit:]
            lower = max(lower, events[-1].date)
    events.sort(key=_newest_first, reverse=True)
    return events


def _newest_first(event) -> tuple:
    """The order of the timeline (reversed): by time, then one fixed order for events of
    one moment, whichever provider gave them first (so that pages do not overlap)."""
    return (event.date, event.kind, event.href)


def _providers(env) -> dict:
    """Each plugin giving timeline events as a caller of its own, and how many events each
    gave last (kept while the plugins are the same)."""
    manager = env.plugins
    impls = manager.hook.timeline_events.get_hookimpls()
    stamp = tuple(impl.plugin_name for impl in impls)

    def make() -> dict:
        plugins = [impl.plugin for impl in impls]
        callers = [(impl.plugin_name, manager.subset_hook_caller(
            "timeline_events", [p for p in plugins if p is not impl.plugin])) for impl in impls]
        return {"callers": callers, "counts": {}}
    return env.memo_stamped("timeline.providers", (id(manager), stamp), make)


def gather_newest(req, start: datetime, stop: datetime, filters: list[str],
                  include: set[str], exclude: set[str], want: int) -> list[TimelineEvent]:
    """At least ``want`` of the newest events of [start, stop) when there are that many
    (all of them otherwise), newest first. The providers are asked for windows reaching
    further back each time, so a busy period's page reads about what it shows rather
    than a month of events."""
    if want <= 0:
        return gather_events(req, start, stop, filters, include, exclude)
    events: list[TimelineEvent] = []
    upper, span = stop, timedelta(hours=6)
    # The first window ends at the period's end but reaches back from now: a period
    # ending today holds no events after now.
    newest = min(stop, max(start, datetime.now(UTC)))
    whole = (stop - start).total_seconds() + 1
    while upper > start and len(events) < want:
        reach = min(upper, newest) - start
        lower = start if span >= reach else min(upper, newest) - span
        # Every window before this one is complete: the rest of the page is this window's
        # newest events, so no provider needs to give more of them.
        events += gather_events(req, lower, upper, filters, include, exclude,
                                want - len(events))
        if events:  # reach back about as far as the rate so far says the rest needs
            rate = len(events) / max(1.0, (newest - lower).total_seconds())
            span = timedelta(seconds=min(whole, max(3600.0, 1.25 * (want - len(events)) / rate)))
        else:
            span = timedelta(seconds=min(whole, span.total_seconds() * 4))
        upper = lower
    return events


def group_days(events: list, tz: tzinfo, today: date, lastvisit: int = 0,
               precise: datetime | None = None, precision: timedelta | None = None,
               markup: bool = False) -> list[dict]:
    """Events (newest first) by day in ``tz``, Trac's headings, unread ones in groups of
    their own; ``items`` of a day give each event its local time and marks. With
    ``markup``, each group also has its ``<dt>``/``<dd>`` lines ready as ``html``: a month
    of events is some hundreds of them, and writing them here costs a fraction of the
    template's loop."""
    days: list[dict] = []
    yesterday = today - timedelta(days=1)
    # exact microseconds, as the stored times are (a float's rounding could mark the last
    # visit's own event unread)
    unread_after = from_utimestamp(lastvisit) if lastvisit else None
    day: date | None = None
    groups: list[dict] = []
    items: list = []  # the group's item dicts, or with ``markup`` its lines
    unread_now: bool | None = None
    kinds: dict[tuple, str] = {}
    window = precise is not None and precision is not None
    for event in events:
        local = event.date.astimezone(tz)
        if local.date() != day:
            day = local.date()
            label = day.isoformat() + ":"
            if day == today:
                label += " Today"
            elif day == yesterday:
                label += " Yesterday"
            groups = []
            days.append({"date": day, "heading": label, "groups": groups})
            unread_now = None
        highlight = window and timedelta(0) <= event.date - precise < precision  # type: ignore[operator]
        unread = unread_after is not None and event.date > unread_after
        if unread is not unread_now:
            items = []
            groups.append({"unread": unread, "events": items})
            unread_now = unread
        moment = f"{local.hour:02d}:{local.minute:02d}"
        if markup:
            items.append(_event_lines(event, moment, highlight, unread, kinds))
        else:
            items.append({"event": event, "time": moment, "highlight": highlight,
                          "unread": unread})
    if markup:
        for day_ in days:
            for group in day_["groups"]:
                group["html"] = Markup("".join(group.pop("events")))
    return days


def _event_lines(event, moment: str, highlight: bool, unread: bool,
                 kinds: dict[tuple, str]) -> str:
    """An event's ``<dt>`` (and ``<dd>`` when it has a description) on the page; ``kinds``
    keeps the class attributes already written."""
    key = (event.kind, highlight)
    kind = kinds.get(key)
    if kind is None:
        kind = kinds[key] = str(escape(event.kind)) + (" highlight" if highlight else "")
    author = (f' by <span class="trac-author">{escape(event.author)}</span>'
              if event.author else "")
    title = event.title
    line = (f'  <dt class="{kind}{" unread" if unread else ""}"><a href="{escape(event.href)}">'
            f'<span class="time">{moment}</span> '
            f'{title if type(title) is Markup else escape(title)}{author}</a></dt>\n')
    description = event.description
    if description:
        if type(description) is not Markup:
            description = escape(description)
        line += f'  <dd class="{kind}">{description}</dd>\n'
    return line


def timeline_page(req):
    """/timeline — events of the last ``daysback`` days up to ``from``; ``?format=rss``."""
    req.perm.require("TIMELINE_VIEW", Resource("timeline"))
    rss = req.args.get("format") == "rss"
    if not rss:
        cookie_first(req.session)  # a new visitor is offered the cookie its choices need
    maxrows = max(0, _as_int(req.args.get("max"), RSS_MAX_EVENTS if rss else 0))
    # Events newer than the last visit are marked unread; a reader adjusting the form keeps
    # the marks of the visit they started from (Trac's session keys).
    lastvisit = _as_int(req.session.get("timeline.lastvisit"), 0)
    revisit = any(name in req.args for name in ("update", "from", "daysback", "authors"))
    if revisit:
        lastvisit = _as_int(req.session.get("timeline.nextlastvisit"), lastvisit)
    tz = req.tz
    now = datetime.now(tz)
    today = now.date()
    precise = precision = None
    from_day = today
    raw_from = (req.args.get("from") or "").strip()
    if raw_from:
        try:
            precise = parse_moment(raw_from, tz)
        except ValueError as exc:
            raise HTTPBadRequest(str(exc), title="Invalid date") from None
        from_day = precise.astimezone(tz).date()
        precision = _PRECISIONS.get((req.args.get("precision") or "").rstrip("s"))
    default_days = DEFAULT_DAYSBACK(req.env.config)
    max_days = MAX_DAYSBACK(req.env.config)
    remembered = _as_int(req.session.get("timeline.daysback"), default_days)
    daysback = _as_int(req.args.get("daysback"), 90 if rss else remembered)
    daysback = max(1, daysback)
    if max_days >= 0:
        daysback = min(daysback, max(1, max_days))
    try:
        stop = _day_end(from_day, tz)
        start = datetime.combine(from_day - timedelta(days=daysback), time(0), tzinfo=tz)
    except OverflowError:
        raise HTTPBadRequest(f'"{raw_from}" is out of range.', title="Invalid date") from None
    authors = req.args.get("authors")
    if authors is None and not rss:
        authors = req.session.get("timeline.authors", "")
    authors = (authors or "").strip()
    include, exclude = parse_authors(authors)

    available = _available_filters(req)
    filters = _picked_filters(req, available, rss)
    page_size = maxrows or max(0, MAX_EVENTS(req.env.config))
    page = max(1, _as_int(req.args.get("page"), 1)) if page_size else 1
    page = min(page, 10_000)
    events = gather_newest(req, start, stop, filters, include, exclude,
                           page * page_size + 1 if page_size else 0)
    more = bool(page_size) and len(events) > page * page_size
    if page_size:
        events = events[(page - 1) * page_size:page * page_size]
    render_texts(req, events, full=rss, shorten=ABBREVIATED_MESSAGES(req.env.config))
    if rss:
        return _rss(req, events)
    _remember(req, "timeline.daysback", str(daysback), str(default_days))
    _remember(req, "timeline.authors", authors, "")
    # Anonymous visitors are tracked once they have a session of their own: a crawler's
    # every request would otherwise leave one behind.
    if events and not revisit and (req.session.authenticated or req.session.stored):
        newest = to_us(events[0].date)
        if newest > lastvisit or req.session.get("timeline.nextlastvisit") != str(lastvisit):
            req.session["timeline.lastvisit"] = str(max(lastvisit, newest))
            req.session["timeline.nextlastvisit"] = str(lastvisit)

    days = group_days(events, tz, today, lastvisit, precise, precision, markup=True)
    rss_args = {name: "on" for name in filters}
    previous_from = (from_day - timedelta(days=daysback + 1)).isoformat()
    next_from = (from_day + timedelta(days=daysback + 1)).isoformat() if from_day < today else None
    req.chrome["stylesheets"].append(req.url_for("chrome", prefix="common", path="css/timeline.css"))
    page_args = {"from": from_day.isoformat(), "daysback": daysback, "authors": authors or None,
                 "max": maxrows or None, **{name: "on" for name in filters}}
    return "timeline/timeline.html", {
        "earlier_href": req.url_for("timeline", page=page + 1, **page_args) if more else None,
        "later_href": (req.url_for("timeline", page=page - 1 if page > 2 else None, **page_args)
                       if page > 1 else None),
        "title": "Timeline",
        "from_day": from_day.isoformat(), "daysback": daysback, "authors": authors,
        "filters": [{"name": n, "label": label, "enabled": n in filters}
                    for n, label, _checked in available],
        "days": days,
        "rss_href": req.url_for("timeline", format="rss", daysback=90, max=RSS_MAX_EVENTS,
                                authors=authors or None, **rss_args),
        "previous_href": req.url_for("timeline", daysback=daysback, authors=authors or None,
                                     **{"from": previous_from}),
        "next_href": req.url_for("timeline", daysback=daysback, authors=authors or None,
                                 **{"from": next_from}) if next_from else None,
    }


def _feed_items(events: list[TimelineEvent], absolute, with_project: bool = False) -> list[FeedItem]:
    """Feed entries of events; ``absolute`` makes a site-relative link absolute."""
    items = []
    for e in events:
        title = Markup(e.title).striptags()
        link = absolute(e.href)
        items.append(FeedItem(title=f"{e.project}: {title}" if with_project else title, link=link,
                              guid=f"{link}/{int(e.date.timestamp() * 1_000_000)}",
                              author=e.author or None, date=e.date, description=str(e.description)))
    return items


def _rss(req, events: list[TimelineEvent]):
    items = _feed_items(events, req.absolute)
    return rss_response(f"{req.env.project_name}: Timeline",
                        req.absolute(req.url_for("timeline")),
                        "Recent changes in the project", items)


# ---------------------------------------------------------------------------
# timeline: links


def timeline_link(fmt, ns, target, label, link=None) -> Markup:
    path, query, fragment = S.split_url(target)
    precision = None
    _day, sep, clock = path.partition("T")
    if sep:
        clock = re.split(r"[Z+-]", clock, maxsplit=1)[0].replace(":", "")
        precision = ("seconds" if len(clock) >= 6 else "minutes" if len(clock) >= 4
                     else "hours" if len(clock) >= 2 else None)
    req = getattr(fmt.ctx, "req", None)
    tz = req.tz if req is not None else UTC
    try:
        moment = parse_moment(path, UTC)
    except ValueError:
        # The title as Trac words it (the golden data compares link output with Trac's).
        why = (f'"{path}" is an invalid date, or the date format is not known. '
               'Try "YYYY-MM-DDThh:mm:ss\u00b1hh:mm" instead.')
        return Markup('<a class="timeline missing" title="%s">%s</a>') % (why, Markup(label))
    iso = iso8601(moment, tz)
    href = fmt.href("timeline", **{"from": iso, "precision": precision})
    if query:
        href += ("&" + query[1:]) if "?" in href else query
    return (Markup('<a class="timeline" href="%s" title="%s">%s</a>')
            % (href + fragment, f"See timeline at {iso}", Markup(label)))


# ---------------------------------------------------------------------------
# The site's combined timeline (``/?view=timeline`` in parent-dir mode)

SITE_MAX_EVENTS = 500


def site_timeline(site):
    """The events of every project the visitor may see, in one timeline; ``format=rss``."""
    rss = site.args.get("format") == "rss"
    visits = [v for v in site.visit(__name__)
              if v.req.perm.has("TIMELINE_VIEW", Resource("timeline"))]
    tz = visits[0].req.tz if visits else UTC
    today = datetime.now(tz).date()
    raw_from = (site.args.get("from") or "").strip()
    from_day = today
    if raw_from:
        try:
            from_day = parse_moment(raw_from, tz).astimezone(tz).date()
        except ValueError as exc:
            raise HTTPBadRequest(str(exc), title="Invalid date") from None
    daysback = max(1, min(_as_int(site.args.get("daysback"), 7), 90))
    try:
        stop = _day_end(from_day, tz)
        start = datetime.combine(from_day - timedelta(days=daysback), time(0), tzinfo=tz)
    except OverflowError:
        raise HTTPBadRequest(f'"{raw_from}" is out of range.', title="Invalid date") from None
    authors = (site.args.get("authors") or "").strip()
    include, exclude = parse_authors(authors)
    wanted = set(filter(None, site.args.getlist("project")))
    maximum = _as_int(site.args.get("max"), RSS_MAX_EVENTS if rss else SITE_MAX_EVENTS)
    maximum = max(1, min(maximum, SITE_MAX_EVENTS))
    labels: dict[str, str] = {}
    picked_any = False
    tagged: list[tuple[TimelineEvent, object]] = []
    for visit in visits:
        if wanted and visit.info["dirname"] not in wanted:
            continue
        available = _available_filters(visit.req)
        for name, label, _checked in available:
            labels.setdefault(name, label)
        picked = [n for n, _label, _c in available if n in site.args]
        picked_any = picked_any or bool(picked)
        if not picked:
            picked = [n for n, _label, checked in available if checked]
        for event in gather_newest(visit.req, start, stop, picked, include, exclude, maximum):
            tagged.append((event, visit))
    tagged.sort(key=lambda pair: pair[0].date, reverse=True)
    tagged = tagged[:maximum]
    by_project: dict[int, list[TimelineEvent]] = {}
    for event, visit in tagged:
        by_project.setdefault(id(visit), []).append(event)
    for visit in visits:
        if id(visit) in by_project:
            render_texts(visit.req, by_project[id(visit)], full=rss,
                         shorten=ABBREVIATED_MESSAGES(visit.req.env.config))
    for event, visit in tagged:
        event.project = visit.info["name"]
    events = [event for event, _visit in tagged]
    if rss:
        base = site.host_url.rstrip("/") + site.script_root.rstrip("/")
        items = _feed_items(events, lambda href: site.host_url.rstrip("/") + href,
                            with_project=True)
        return rss_response("Timeline of all projects", base + "/?view=timeline",
                            "Recent changes in every project", items)
    chosen = [n for n in labels if n in site.args] if picked_any else []
    return "timeline/site_timeline.html", {
        "title": "Timeline of all projects",
        "days": group_days(events, tz, today),
        "from_day": from_day.isoformat(), "daysback": daysback, "authors": authors,
        "filters": [{"name": n, "label": label, "enabled": not chosen or n in chosen}
                    for n, label in labels.items()],
        "projects": [{"dirname": v.info["dirname"], "name": v.info["name"],
                      "enabled": not wanted or v.info["dirname"] in wanted} for v in visits],
        "truncated": len(tagged) >= SITE_MAX_EVENTS, "shown": len(tagged),
    }


# ---------------------------------------------------------------------------
# Hooks


@hookimpl
def web_routes():
    return [(Rule("/timeline", endpoint="timeline"), timeline_page)]


@hookimpl
def navigation_items(req):
    if req.perm.has("TIMELINE_VIEW", Resource("timeline")):
        return [NavItem("mainnav", "timeline", "Timeline", req.url_for("timeline"), order=20)]
    return []


@hookimpl
def site_views():
    from codeyard.web.site_views import SiteView, template_dir_of

    return [SiteView("timeline", "Timeline", site_timeline, plugin=__name__,
                     template_dir=template_dir_of(__file__))]


@hookimpl
def start_pages():
    return {"TimelineModule": "timeline"}


@hookimpl
def wiki_link_resolvers():
    return {"timeline": timeline_link}


@hookimpl
def config_options():
    return options_in(sys.modules[__name__])
