"""The Ticket System panels of /admin: Components, Milestones, Versions, Priorities,
Resolutions, Severities and Ticket Types — add, rename, remove, order, set the default.

Forms use Trac's field names (``name``, ``owner``, ``sel`` with ``remove``, ``default`` with
``apply``, ``value_<name>`` for the order) so scripts written against Trac's panels work.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from werkzeug.datastructures import MultiDict

from codeyard.core import hookimpl
from codeyard.ticket import values
from codeyard.ticket.roadmap_web import parse_date
from codeyard.web.api import AdminPanel, HTTPNotFound
from codeyard.web.chrome import MINUTES, format_datetime


@dataclass(frozen=True)
class Kind:
    """One kind of value a panel manages."""

    panel: str  # the URL's panel name, as Trac's
    label: str  # the panel's title
    singular: str
    default_option: str  # [ticket] option naming the default
    enum_type: str | None = None  # for the enum panels
    action: str = "TICKET_ADMIN"

    @property
    def form_ids(self) -> tuple[str, str]:
        """Trac's ids of the panel's add form and its table form (site scripts find them)."""
        if self.enum_type:
            return "addenum", "enumtable"
        base = self.panel[:-1]
        return "add" + base, base + "_table"


KINDS = {kind.panel: kind for kind in (
    Kind("components", "Components", "Component", "default_component"),
    Kind("milestones", "Milestones", "Milestone", "default_milestone", action="MILESTONE_ADMIN"),
    Kind("versions", "Versions", "Version", "default_version"),
    Kind("priority", "Priorities", "Priority", "default_priority", "priority"),
    Kind("resolution", "Resolutions", "Resolution", "default_resolution", "resolution"),
    Kind("severity", "Severities", "Severity", "default_severity", "severity"),
    Kind("type", "Ticket Types", "Ticket Type", "default_type", "ticket_type"),
)}


def _items(env, kind: Kind) -> list[dict[str, Any]]:
    if kind.enum_type:
        return [{"name": e.name, "value": e.value, "description": e.description or ""}
                for e in values.list_enum(env, kind.enum_type)]
    if kind.panel == "components":
        return [{"name": c.name, "owner": c.owner or "", "description": c.description or ""}
                for c in values.list_components(env)]
    if kind.panel == "milestones":
        return [{"name": m.name, "due": m.due, "completed": m.completed,
                 "description": m.description or ""} for m in values.list_milestones(env)]
    return [{"name": v.name, "time": v.time, "description": v.description or ""}
            for v in values.list_versions(env)]


def _date(text: str, what: str) -> int | None:
    return parse_date(text, what) if text.strip() else None


def _add(env, kind: Kind, form) -> str:
    name = form.get("name", "")
    if kind.enum_type:
        return values.add_enum(env, kind.enum_type, name).name
    if kind.panel == "components":
        return values.add_component(env, name, form.get("owner") or None).name
    if kind.panel == "milestones":
        return values.add_milestone(env, name, _date(form.get("duedate", ""), "due date")).name
    return values.add_version(env, name, _date(form.get("time", ""), "release date")).name


def _remove(env, kind: Kind, name: str) -> None:
    if kind.enum_type:
        values.remove_enum(env, kind.enum_type, name)
    elif kind.panel == "components":
        values.remove_component(env, name)
    elif kind.panel == "milestones":
        values.remove_milestone(env, name)
    else:
        values.remove_version(env, name)


def _save_detail(env, kind: Kind, name: str, form) -> str:
    new_name = (form.get("name") or "").strip()
    description = form.get("description", "")
    with env.db_transaction:
        if kind.enum_type:
            values.rename_enum(env, kind.enum_type, name, new_name)
            values.set_description(env, kind.enum_type, new_name, description)
        elif kind.panel == "components":
            values.rename_component(env, name, new_name)
            values.set_component_owner(env, new_name, form.get("owner") or None)
            values.set_description(env, "component", new_name, description)
        elif kind.panel == "milestones":
            if new_name != name:
                values.rename_milestone(env, name, new_name)
            values.update_milestone(env, new_name, due=_date(form.get("duedate", ""), "due date"),
                                    completed=_date(form.get("completeddate", ""), "completion date"),
                                    description=description)
        else:
            values.rename_version(env, name, new_name)
            values.set_version_time(env, new_name, _date(form.get("time", ""), "release date"))
            values.set_description(env, "version", new_name, description)
    return new_name


def ticket_panel(req, category: str, panel: str, path_info: str | None):
    """A Ticket System panel: the list with the add form, or one value's page."""
    kind = KINDS[panel]
    req.perm.require(kind.action)
    env = req.env
    here = req.url_for("admin.panel", category=category, panel=panel)
    errors: list[str] = []
    form = req.form if req.method == "POST" else MultiDict()
    if path_info:
        names = {item["name"] for item in _items(env, kind)}
        if path_info not in names:
            raise HTTPNotFound(f"{kind.singular} {path_info} does not exist.")
        if req.method == "POST":
            if form.get("cancel"):
                return req.redirect(here)
            try:
                _save_detail(env, kind, path_info, form)
                return req.redirect(req.url_for("admin.panel", category=category, panel=panel,
                                                saved=1))
            except (values.TicketModelError, ValueError) as exc:
                errors.append(str(exc))
        item = next(i for i in _items(env, kind) if i["name"] == path_info)
        if form:
            item = {**item, **{k: form.get(k, "") for k in ("name", "owner", "description")}}
        return ("admin/ticket_value.html",
                {"kind": kind, "item": item, "errors": errors, "back": here, "form": form,
                 "dates": {"duedate": form.get("duedate", format_datetime(item.get("due"), fmt=MINUTES)),
                           "completeddate": form.get("completeddate", format_datetime(item.get("completed"), fmt=MINUTES)),
                           "time": form.get("time", format_datetime(item.get("time"), fmt=MINUTES))}},
                400 if errors else 200)
    if req.method == "POST":
        try:
            if "add" in form:
                _add(env, kind, form)
            elif "remove" in form:
                selected = form.getlist("sel")
                if not selected:
                    raise values.TicketModelError(f"No {kind.singular.lower()} selected.")
                with env.db_transaction:
                    for name in selected:
                        _remove(env, kind, name)
            elif "apply" in form:
                _apply(env, kind, form)
            return req.redirect(req.url_for("admin.panel", category=category, panel=panel, saved=1))
        except (values.TicketModelError, ValueError) as exc:
            errors.append(str(exc))
    items = _items(env, kind)
    return ("admin/ticket_values.html",
            {"kind": kind, "items": items, "errors": errors, "form": form,
             "default": env.config.get("ticket", kind.default_option, ""),
             "here": here, "saved": req.args.get("saved") == "1"},
            400 if errors else 200)


def _apply(env, kind: Kind, form) -> None:
    """The default value and, for enums, the order (``value_<name>`` = position)."""
    names = {item["name"] for item in _items(env, kind)}
    default = form.get("default", "")
    if default and default not in names:
        raise values.TicketModelError(f"{kind.singular} {default} does not exist.")
    if kind.enum_type:
        positions = {}
        for name in names:
            raw = form.get(f"value_{name}", "")
            try:
                positions[name] = int(raw)
            except ValueError:
                raise values.TicketModelError(f"The position of {name} is not a number: {raw!r}.") from None
        ordered = sorted(names, key=lambda n: (positions[n], n))
        values.order_enum(env, kind.enum_type, ordered)
    env.config.set("ticket", kind.default_option, default)
    env.config.save()


@hookimpl
def admin_panels(req):
    panels = []
    for order, kind in enumerate(KINDS.values()):
        if req.perm.has(kind.action):
            panels.append(AdminPanel("ticket", "Ticket System", kind.panel, kind.label,
                                     ticket_panel, order))
    return panels
