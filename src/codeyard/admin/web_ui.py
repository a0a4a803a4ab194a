"""The administration pages under /admin, and the General panels, as a plugin.

Panels come from every enabled plugin's ``admin_panels`` hook; this module adds Basic
Settings, Logging, Permissions and Plugins (Trac's General category).
"""

from __future__ import annotations

import base64

from werkzeug.routing import Rule

from codeyard.config import ConfigError
from codeyard.core import hookimpl, known_plugins
from codeyard.env import LOG_FILE, LOG_LEVEL, LOG_TYPE
from codeyard.perm import PermissionAdminError, PermissionError_, PermissionSystem, is_group_name
from codeyard.util.timefmt import is_time_zone, time_zone_names
from codeyard.web.api import AdminPanel, HTTPNotFound, NavItem

# Plugins the Plugins panel will not switch off: the site would lose its way back.
REQUIRED_PLUGINS = {"codeyard.admin.web_ui", "codeyard.web.auth", "codeyard.web.pages",
                    "codeyard.env_setup", "codeyard.perm_setup"}
LOG_TYPES = ("none", "file", "stderr", "syslog")
LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")


def _panels(req) -> list[AdminPanel]:
    panels: list[AdminPanel] = []
    for result in req.env.hook.admin_panels(req=req):
        panels.extend(result or ())
    panels.sort(key=lambda p: (p.category != "general", p.category_label, p.order, p.panel_label))
    return panels


def admin(req, category: str | None = None, panel: str | None = None, path_info: str | None = None):
    """/admin[/<category>/<panel>[/<path_info>]] — the administration pages."""
    panels = _panels(req)
    if not panels:
        raise PermissionError_("TRAC_ADMIN")
    if category is None or panel is None:
        first = panels[0]
        return req.redirect(req.url_for("admin.panel", category=first.category, panel=first.panel))
    chosen = next((p for p in panels if p.category == category and p.panel == panel), None)
    if chosen is None:
        raise HTTPNotFound(f"No administration panel {category}/{panel}.")
    result = chosen.handler(req, category, panel, path_info)
    if isinstance(result, tuple):
        template, data = result[0], dict(result[1])
        data.update(admin_panels=panels, active_category=category, active_panel=panel)
        return (template, data, *result[2:])
    return result


# ---------------------------------------------------------------------------
# General panels


def basics_panel(req, category, panel, path_info):
    """Basic Settings: the project's name, description, URL, default time zone and date format."""
    req.perm.require("TRAC_ADMIN")
    config = req.env.config
    fields = [("project", "name"), ("project", "descr"), ("project", "url"),
              ("trac", "default_timezone"), ("trac", "default_date_format"),
              ("trac", "default_dateinfo_format"), ("trac", "default_language")]
    errors = []
    if req.method == "POST":
        values = {f"{s}_{n}": req.form.get(n, "").strip() for s, n in fields}
        if values["trac_default_date_format"] not in ("", "iso8601"):
            errors.append("The date format is iso8601 or empty.")
        if values["trac_default_dateinfo_format"] not in ("", "relative", "absolute"):
            errors.append("Date display is relative or absolute.")
        if values["trac_default_timezone"]:
            if not is_time_zone(values["trac_default_timezone"]):
                errors.append(f"Unknown time zone {values['trac_default_timezone']!r}.")
        if not errors:
            for section, name in fields:
                config.set(section, name, values[f"{section}_{name}"])
            _save(req)
            return req.redirect(req.url_for("admin.panel", category=category, panel=panel, saved=1))
    return "admin/basics.html", {
        "values": {name: config.get(section, name, "") for section, name in fields},
        "timezones": time_zone_names(), "errors": errors,
        "saved": _saved_notice(req)}


def logging_panel(req, category, panel, path_info):
    """Logging: where the project's log goes and how much it says."""
    req.perm.require("TRAC_ADMIN")
    config = req.env.config
    errors = []
    if req.method == "POST":
        log_type = req.form.get("log_type", "")
        level = req.form.get("log_level", "")
        log_file = req.form.get("log_file", "").strip()
        if log_type not in LOG_TYPES:
            errors.append("Choose a log type from the list.")
        if level not in LOG_LEVELS:
            errors.append("Choose a log level from the list.")
        if log_type == "file" and (not log_file or "/" in log_file or log_file.startswith(".")):
            errors.append("The log file is a file name inside the project's log directory.")
        if not errors:
            config.set("logging", "log_type", log_type)
            config.set("logging", "log_level", level)
            if log_file:
                config.set("logging", "log_file", log_file)
            _save(req)
            return req.redirect(req.url_for("admin.panel", category=category, panel=panel, saved=1))
    try:
        current = {"log_type": LOG_TYPE(config), "log_level": LOG_LEVEL(config), "log_file": LOG_FILE(config)}
    except ConfigError:
        current = {"log_type": config.get("logging", "log_type"), "log_level": config.get("logging", "log_level"),
                   "log_file": config.get("logging", "log_file")}
    return "admin/logging.html", {"values": current, "types": LOG_TYPES, "levels": LOG_LEVELS,
                                  "errors": errors, "saved": _saved_notice(req)}


def perm_panel(req, category, panel, path_info):
    """Permissions: grant and revoke actions, add and remove group members."""
    if not (req.perm.has("PERMISSION_GRANT") or req.perm.has("PERMISSION_REVOKE")):
        raise PermissionError_("PERMISSION_GRANT")
    system = PermissionSystem(req.env)
    errors = []
    if req.method == "POST":
        # Trac's field names: `subject` + `action` or `group` with `add`; `sel` with `remove`.
        form = req.form
        subject = form.get("subject", "").strip()
        try:
            if "add" in form and form.get("group", "").strip():
                req.perm.require("PERMISSION_GRANT")
                group = form.get("group", "").strip()
                if not is_group_name(group):
                    raise PermissionAdminError("A group name is not written in capitals.")
                held = system.user_actions(group)
                if not req.perm.has("TRAC_ADMIN") and any(not req.perm.has(a) for a in held):
                    raise PermissionAdminError(f"You cannot add members to {group}: it holds actions you do not.")
                system.grant(subject, group)
            elif "add" in form:
                req.perm.require("PERMISSION_GRANT")
                perm = form.get("action", "").strip()
                if perm not in system.action_tree():
                    raise PermissionAdminError(f"{perm or 'Nothing'} is not a valid action.")
                if not req.perm.has(perm):
                    raise PermissionAdminError(f"You cannot grant {perm}: you do not hold it yourself.")
                system.grant(subject, perm)
            elif "remove" in form:
                req.perm.require("PERMISSION_REVOKE")
                selected = [decode_selection(item) for item in form.getlist("sel")]
                if not selected:
                    raise PermissionAdminError("Select the grants to remove.")
                grants = set(system.all_grants())
                for pair in selected:
                    if pair in grants:
                        system.revoke(*pair)
            else:
                raise PermissionAdminError("Choose what to do: add or remove.")
        except PermissionAdminError as exc:
            errors.append(str(exc))
        else:
            return req.redirect(req.url_for("admin.panel", category=category, panel=panel))
    grants = sorted(system.all_grants())
    return "admin/perm.html", {
        "encode": encode_selection,
        "actions": [(s, a) for s, a in grants if not is_group_name(a)],
        "groups": [(s, a) for s, a in grants if is_group_name(a)],
        "all_actions": system.all_actions(), "errors": errors,
        "can_grant": req.perm.has("PERMISSION_GRANT"), "can_revoke": req.perm.has("PERMISSION_REVOKE")}


def encode_selection(subject: str, action: str) -> str:
    """A grant as Trac's permission panel names it in `sel`: base64 of each part."""
    def b64(text: str) -> str:
        return base64.b64encode(text.encode("utf-8")).decode("ascii")

    return f"{b64(subject)}:{b64(action)}"


def decode_selection(value: str) -> tuple[str, str]:
    subject, _, action = value.partition(":")
    try:
        return (base64.b64decode(subject, validate=True).decode("utf-8"),
                base64.b64decode(action, validate=True).decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise PermissionAdminError("The selection could not be read.") from None


def plugin_panel(req, category, panel, path_info):
    """Plugins: enable or disable each known plugin for this project (``[components]``)."""
    req.perm.require("TRAC_ADMIN")
    env = req.env
    plugins = known_plugins()
    if req.method == "POST":
        # As Trac's form: `component` lists the plugins shown, `enable` the checked ones.
        shown = set(req.form.getlist("component"))
        wanted = set(req.form.getlist("enable"))
        changed = False
        for name, _builtin in plugins:
            if name in REQUIRED_PLUGINS or name not in shown:
                continue
            enable = name in wanted
            if enable != env.is_enabled(name):
                env.config.set("components", name, "enabled" if enable else "disabled")
                changed = True
        if changed:
            _save(req)
        return req.redirect(req.url_for("admin.panel", category=category, panel=panel,
                                        saved=1 if changed else None))
    rows = [{"name": name, "builtin": builtin, "enabled": env.is_enabled(name),
             "required": name in REQUIRED_PLUGINS,
             "doc": _plugin_doc(name)} for name, builtin in plugins]
    return "admin/plugins.html", {"plugins": rows, "saved": _saved_notice(req)}


def _plugin_doc(name: str) -> str:
    import importlib

    try:
        module = importlib.import_module(name)
    except Exception:
        return ""
    doc = (module.__doc__ or "").strip()
    return doc.split("\n\n")[0].replace("\n", " ")


def _saved_notice(req) -> bool:
    """After a panel's redirect (``?saved=1``): Trac's notice, in the page's #notice box."""
    if req.args.get("saved") == "1":
        req.add_notice("Your changes have been saved.")
        return True
    return False


def _save(req) -> None:
    """Write trac.ini; the change is picked up at once by this and every other process."""
    req.env.config.save()


# ---------------------------------------------------------------------------
# Hooks


@hookimpl
def start_pages():
    return {"AdminModule": "admin"}


@hookimpl
def web_routes():
    return [
        (Rule("/admin", endpoint="admin", methods=["GET"]), admin),
        (Rule("/admin/<category>/<panel>", endpoint="admin.panel", methods=["GET", "POST"]), admin),
        (Rule("/admin/<category>/<panel>/<path:path_info>", endpoint="admin.panel_path",
              methods=["GET", "POST"]), admin),
    ]


@hookimpl
def admin_panels(req):
    panels = []
    if req.perm.has("TRAC_ADMIN"):
        panels += [AdminPanel("general", "General", "basics", "Basic Settings", basics_panel, 10),
                   AdminPanel("general", "General", "logging", "Logging", logging_panel, 20),
                   AdminPanel("general", "General", "plugin", "Plugins", plugin_panel, 40)]
    if req.perm.has("PERMISSION_GRANT") or req.perm.has("PERMISSION_REVOKE"):
        panels.append(AdminPanel("general", "General", "perm", "Permissions", perm_panel, 30))
    return panels


@hookimpl
def navigation_items(req):
    if req.perm.has("TRAC_ADMIN") or req.perm.has("PERMISSION_GRANT") or req.perm.has("PERMISSION_REVOKE"):
        return [NavItem("mainnav", "admin", "Admin", req.url_for("admin"), order=100)]
    return []

