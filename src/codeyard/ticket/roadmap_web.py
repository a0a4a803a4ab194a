"""The roadmap and milestone pages: ``/roadmap`` (progress of each milestone, iCalendar
export) and ``/milestone/<name>`` (view, new, edit, complete, delete with retargeting)."""

from __future__ import annotations

import re
import sys
import time as time_module
from datetime import UTC, datetime

from markupsafe import Markup
from werkzeug.routing import Rule
from werkzeug.wrappers import Response

from codeyard.config import Option
from codeyard.core import hookimpl
from codeyard.perm import Resource
from codeyard.ticket import roadmap, values
from codeyard.ticket.fields import ticket_fields
from codeyard.web.api import HTTPBadRequest, HTTPNotFound, NavItem
from codeyard.web.chrome import MINUTES, format_datetime
from codeyard.web.routing import router
from codeyard.wiki.api import format_context
from codeyard.wiki.formatter import format_to_html
from codeyard.wiki.render_cache import render_texts_html

DEFAULT_GROUP_BY = Option(
    "milestone", "default_group_by", "component",
    "The ticket field a milestone's page breaks its progress down by, unless the reader picks another.")

_DATE_RE = re.compile(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?\s*$")


def parse_date(text: str, what: str) -> int:
    """``YYYY-MM-DD[ HH:MM[:SS]]`` (UTC) as microseconds, or a readable 400."""
    match = _DATE_RE.match(text or "")
    if not match:
        raise ValueError(f'"{text}" is not a valid {what}: write it as YYYY-MM-DD or '
                         "YYYY-MM-DD HH:MM.")
    parts = [int(p) if p else 0 for p in match.groups()]
    try:
        moment = datetime(parts[0], parts[1], parts[2], parts[3], parts[4], parts[5], tzinfo=UTC)
    except ValueError as exc:
        raise ValueError(f'"{text}" is not a valid {what}: {exc}.') from None
    return int(moment.timestamp() * 1_000_000)


def _when(us: int | None, now: float) -> dict:
    """What the page says about a date: the date, and how far it is from now."""
    if not us:
        return {"date": "", "relative": "", "late": False}
    delta = us / 1_000_000 - now
    days = int(abs(delta) // 86400)
    span = f"{days} day{'s' if days != 1 else ''}" if days else "less than a day"
    return {"date": format_datetime(us, fmt=MINUTES),
            "relative": f"in {span}" if delta >= 0 else f"{span} ago",
            "late": delta < 0, "span": span}


def _milestone_data(req, milestone, stats, now, description="") -> dict:
    has_query = "query" in router(req.env).handlers
    return {
        "milestone": milestone,
        "href": req.url_for("milestone", name=milestone.name),
        "due": _when(milestone.due, now),
        "completed": _when(milestone.completed, now),
        "stats": stats,
        "intervals": [{"interval": i,
                       "href": req.url_for("query", milestone=milestone.name, **i.query_args)
                       if has_query else None} for i in stats.intervals],
        "description": description,
    }


def _descriptions_html(req, milestones) -> dict[str, Markup]:
    """The listed milestones' descriptions as HTML, rendered together through the
    rendered-text cache (keyed by the texts and their milestones, so an edit is a new entry;
    links to pages and tickets stay current as for pages), each in its milestone's context."""
    described = [m for m in milestones if m.description]
    if not described:
        return {}
    resources = [Resource("milestone", m.name) for m in described]
    first = format_context(req, resources[0])
    texts = [m.description for m in described]

    def render() -> list[Markup]:  # the contexts are made only when something is rendered
        contexts = [first, *(format_context(req, r) for r in resources[1:])]
        return [format_to_html(ctx, text) for ctx, text in zip(contexts, texts, strict=True)]

    html = render_texts_html(first, "milestone", texts, render, resources=resources)
    return {m.name: shown for m, shown in zip(described, html, strict=True)}


def _stylesheet(req) -> None:
    req.chrome["stylesheets"].append(req.url_for("chrome", prefix="common", path="css/roadmap.css"))


PROGRESS_BARS = 256  # progress bars a process keeps


def progress_bar(req, m: dict) -> Markup:
    """The milestone's progress bar and counts (``_progress.html``'s ``bar``), kept per
    process by what they show: a roadmap draws one per milestone."""
    from codeyard.util.lru import BoundedCache
    from codeyard.web.chrome import template_env

    jenv = template_env(req.env)
    stats = m["stats"]
    key = (id(jenv), stats.count, stats.done_percent,
           tuple((i["interval"].title, i["interval"].count, i["interval"].percent,
                  i["interval"].css_class, i["href"]) for i in m["intervals"]))
    cache = req.env.memo("ticket.progress_bars", lambda: BoundedCache(PROGRESS_BARS))
    html = cache.get(key)
    if html is None:
        macro = jenv.get_template("ticket/_progress.html").module.bar  # type: ignore[attr-defined]
        html = Markup(macro(m))
        cache.put(key, html)
    return html


def roadmap_page(req):
    """/roadmap — the milestones with their progress; ``?format=ics`` as iCalendar."""
    req.perm.require("ROADMAP_VIEW")
    shown = req.args.getlist("show")
    show_completed = "completed" in shown
    hide_no_due = "noduedate" in shown
    milestones = [m for m in values.list_milestones(req.env)
                  if req.perm.has("MILESTONE_VIEW", Resource("milestone", m.name))]
    if req.args.get("format") == "ics":
        return _icalendar(req, milestones)
    listed = [m for m in milestones if (show_completed or not m.completed)
              and (not hide_no_due or m.due)]
    try:
        stats = roadmap.stats_by_milestone(req.env, [m.name for m in listed])
    except roadmap.MilestoneGroupsError as exc:
        raise HTTPBadRequest(str(exc), title="Configuration error") from None
    now = time_module.time()
    _stylesheet(req)
    with req.env.db_query:  # one read transaction for every milestone's description
        descriptions = _descriptions_html(req, listed)
        shown_milestones = [_milestone_data(req, m, stats[m.name], now,
                                            descriptions.get(m.name, "")) for m in listed]
    for m in shown_milestones:
        if m["stats"].count:
            m["bar_html"] = progress_bar(req, m)
    return "ticket/roadmap.html", {
        "title": "Roadmap",
        "milestones": shown_milestones,
        "show_completed": show_completed, "hide_no_due": hide_no_due,
        "can_create": req.perm.has("MILESTONE_CREATE"),
        "ics_href": req.url_for("roadmap", format="ics"),
    }


def _icalendar(req, milestones) -> Response:
    body = roadmap.icalendar(milestones, req.env.project_name,
                             lambda name: req.absolute(req.url_for("milestone", name=name)),
                             req.public_host)
    return Response(body, content_type="text/calendar; charset=utf-8",
                    headers={"Content-Disposition": "attachment; filename=roadmap.ics"})


def milestone_page(req, name: str = ""):
    """/milestone/<name> — a milestone; ``?action=new|edit|delete``, POST to save."""
    args = req.form if req.method == "POST" else req.args
    action = args.get("action", "view")
    if not name:
        if action != "new":
            return req.redirect(req.url_for("roadmap"))
        req.perm.require("MILESTONE_CREATE", Resource("milestone"))
        if req.method == "POST":
            return _save(req, None)
        return _edit_form(req, None)
    resource = Resource("milestone", name)
    req.perm.require("MILESTONE_VIEW", resource)
    try:
        milestone = values.get_milestone(req.env, name)
    except values.ResourceNotFound:
        raise HTTPNotFound(f"Milestone {name} does not exist.", title="Invalid milestone") from None
    posted = req.method == "POST"
    if posted and args.get("cancel"):
        return req.redirect(req.url_for("milestone", name=name))
    if action in _ACTIONS:
        permission, show, save = _ACTIONS[action]
        req.perm.require(permission, resource)
        return (save if posted else show)(req, milestone)
    if posted:
        raise HTTPBadRequest(f"Unknown action '{action}'")
    return _view(req, milestone)


def _grouping_fields(env) -> list:
    return [f for f in ticket_fields(env) if f.type in ("select", "radio")
            and f.name not in ("milestone", "status", "resolution")]


def _view(req, milestone):
    from codeyard.attachment.model import select as attachments_of

    resource = Resource("milestone", milestone.name)
    fields = _grouping_fields(req.env)
    names = [f.name for f in fields]
    default = DEFAULT_GROUP_BY(req.env.config)
    by = req.args.get("by") or (default if default in names else (names[0] if names else ""))
    if by and by not in {f.name for f in fields}:
        raise HTTPBadRequest(f"Cannot group the tickets of a milestone by '{by}'.")
    try:
        if by:
            stats, breakdown = roadmap.stats_by_field(req.env, milestone.name, by)
        else:
            stats, breakdown = roadmap.stats_by_milestone(req.env, [milestone.name])[milestone.name], []
    except roadmap.MilestoneGroupsError as exc:
        raise HTTPBadRequest(str(exc), title="Configuration error") from None
    perm = req.perm(resource)
    _stylesheet(req)
    return "ticket/milestone_view.html", {
        "title": f"Milestone {milestone.name}",
        "m": _milestone_data(req, milestone, stats, time_module.time()),
        "by": by, "fields": fields,
        "breakdown": [(value, s, [i.percent for i in s.intervals]) for value, s in breakdown],
        "attachments": attachments_of(req.env, "milestone", milestone.name),
        "can": {"modify": perm.has("MILESTONE_MODIFY"), "delete": perm.has("MILESTONE_DELETE"),
                "attach": perm.has("MILESTONE_MODIFY")},
    }


def _other_milestones(env, name: str | None) -> list:
    return [m for m in values.list_milestones(env) if m.name != name and not m.completed]


def _edit_form(req, milestone, errors=(), form=None):
    form = form or {}
    data = {
        "title": f"Edit milestone {milestone.name}" if milestone else "New milestone",
        "milestone": milestone, "errors": list(errors),
        "name": form.get("name", milestone.name if milestone else ""),
        "due": form.get("due", "1" if milestone and milestone.due else ""),
        "duedate": form.get("duedate", format_datetime(milestone.due, fmt=MINUTES)
                            if milestone else ""),
        "completed": form.get("completed", "1" if milestone and milestone.completed else ""),
        "completeddate": form.get("completeddate", format_datetime(
            milestone.completed if milestone else datetime.now(UTC), fmt=MINUTES)),
        "description": form.get("description", milestone.description if milestone else ""),
        "target": form.get("target", ""),
        "retarget": _other_milestones(req.env, milestone.name if milestone else None),
        "action_href": req.url_for("milestone", name=milestone.name) if milestone
        else req.url_for("milestone", action=None),
    }
    status = 400 if errors else 200
    return "ticket/milestone_edit.html", data, status


def _save(req, milestone):
    form = req.form
    name = (form.get("name") or "").strip()
    errors = []
    due = completed = None
    try:
        if form.get("due"):
            due = parse_date(form.get("duedate", ""), "due date")
        if form.get("completed"):
            completed = parse_date(form.get("completeddate", ""), "completion date")
            if completed > int(time_module.time() * 1_000_000) + 60_000_000:
                errors.append("The completion date cannot be in the future.")
    except ValueError as exc:
        errors.append(str(exc))
    if not name:
        errors.append("You must provide a name for the milestone.")
    target = form.get("target") or None
    if target and target not in {m.name for m in _other_milestones(req.env, milestone.name if milestone else None)}:
        errors.append(f"There is no open milestone named {target} to move the tickets to.")
    if errors:
        return _edit_form(req, milestone, errors, form)
    description = form.get("description", "")
    try:
        if milestone is None:
            values.add_milestone(req.env, name, due, completed, description)
        else:
            with req.env.db_transaction:
                if name != milestone.name:
                    values.rename_milestone(req.env, milestone.name, name, author=req.authname)
                values.update_milestone(req.env, name, due=due, completed=completed,
                                        description=description)
                if completed and not milestone.completed and target is not None:
                    roadmap.move_tickets(req.env, name, target, req.authname,
                                         "Ticket retargeted after milestone closed")
    except values.TicketModelError as exc:
        return _edit_form(req, milestone, [str(exc)], form)
    req.add_notice("Your changes have been saved.")
    return req.redirect(req.url_for("milestone", name=name))


def _delete_form(req, milestone):
    return "ticket/milestone_delete.html", {
        "title": f"Delete milestone {milestone.name}", "milestone": milestone,
        "retarget": _other_milestones(req.env, milestone.name),
        "open_tickets": _ticket_count(req.env, milestone.name),
    }


def _ticket_count(env, name: str) -> int:
    with env.db_query as db:
        return int(db("SELECT COUNT(*) FROM ticket WHERE milestone=%s", (name,))[0][0])


def _delete(req, milestone):
    target = req.form.get("target") or None
    if target and target not in {m.name for m in _other_milestones(req.env, milestone.name)}:
        raise HTTPBadRequest(f"There is no open milestone named {target}.")
    with req.env.db_transaction:
        roadmap.move_tickets(req.env, milestone.name, target, req.authname,
                             "Ticket retargeted after milestone deleted", only_open=False)
        values.remove_milestone(req.env, milestone.name)
    req.add_notice(f'The milestone "{milestone.name}" has been deleted.')
    return req.redirect(req.url_for("roadmap"))


# action -> (the permission it needs, its form, what a POST of the form does)
_ACTIONS = {"edit": ("MILESTONE_MODIFY", _edit_form, _save),
            "delete": ("MILESTONE_DELETE", _delete_form, _delete)}


# ---------------------------------------------------------------------------
# Hooks


@hookimpl
def web_routes():
    methods = ["GET", "HEAD", "POST"]
    return [
        (Rule("/roadmap", endpoint="roadmap"), roadmap_page),
        (Rule("/milestone", endpoint="milestone", methods=methods), milestone_page),
        (Rule("/milestone/<path:name>", endpoint="milestone", methods=methods), milestone_page),
    ]


@hookimpl
def navigation_items(req):
    if req.perm.has("ROADMAP_VIEW"):
        return [NavItem("mainnav", "roadmap", "Roadmap", req.url_for("roadmap"), order=30)]
    return []


@hookimpl
def start_pages():
    return {"RoadmapModule": "roadmap", "MilestoneModule": "milestone"}


@hookimpl
def config_options():
    from codeyard.config import options_in

    return options_in(roadmap, sys.modules[__name__])
