"""/prefs: a user's name, e-mail, time zone, date format and language, as a plugin.

Values are stored as Trac's session attributes (``name``, ``email``, ``tz``, ``dateinfo``,
``date_format``, ``language``), so preferences carry over between Trac and codeyard.
"""

from __future__ import annotations

from werkzeug.routing import Rule

from codeyard.core import hookimpl
from codeyard.util.timefmt import time_zone_names
from codeyard.web.api import NavItem

FIELDS = ("name", "email", "tz", "dateinfo", "date_format", "language")
LANGUAGES = [("", "Default"), ("en_US", "English (United States)"), ("en_GB", "English (United Kingdom)"),
             ("de", "Deutsch"), ("es", "Español"), ("fr", "Français"), ("it", "Italiano"),
             ("ja", "日本語"), ("nl", "Nederlands"), ("pl", "Polski"), ("pt_BR", "Português (Brasil)"),
             ("ru", "Русский"), ("zh_CN", "简体中文")]


def _timezones() -> list[str]:
    return time_zone_names()


def _notice(req, arg: str, message: str) -> bool:
    """After the form's redirect (``?saved=1``): the message in the page's #notice box."""
    if req.args.get(arg) == "1":
        req.add_notice(message)
        return True
    return False


def preferences(req):
    """/prefs — edit the preferences of the current session (POST with the form token)."""
    from codeyard.web.auth import ALLOW_PASSWORD_CHANGE, password_file_path
    from codeyard.web.htpasswd import htpasswd_file

    session = req.session
    errors: list[str] = []
    zones = _timezones()
    path = password_file_path(req.env)
    can_change_password = bool(ALLOW_PASSWORD_CHANGE(req.env.config) and path and req.is_authenticated
                               and htpasswd_file(path).has_user(req.authname))
    if req.method == "POST":
        action = req.form.get("action", "save")
        if action == "change_password" and can_change_password:
            accounts = htpasswd_file(path)
            old, new, again = (req.form.get("old_password", ""), req.form.get("password", ""),
                               req.form.get("password_confirm", ""))
            if not accounts.check(req.authname, old):
                errors.append("The current password is wrong.")
            elif len(new) < 8:
                errors.append("Choose a new password of at least 8 characters.")
            elif new != again:
                errors.append("The two new passwords differ.")
            else:
                accounts.set_password(req.authname, new, create=False)
                return req.redirect(req.url_for("prefs", password_changed=1))
        else:
            # Only the fields the form sends change (Trac's panels each send a few).
            values = {name: req.form.get(name, "").strip() for name in FIELDS if name in req.form}
            if values.get("tz") and values["tz"] not in zones:
                errors.append(f"Unknown time zone {values['tz']!r}.")
            if values.get("dateinfo", "") not in ("", "relative", "absolute"):
                errors.append("Date display is relative or absolute.")
            if values.get("date_format", "") not in ("", "iso8601"):
                errors.append("The date format is iso8601 or the language's default.")
            if values.get("email") and ("@" not in values["email"] or " " in values["email"]):
                errors.append(f"{values['email']!r} is not an e-mail address.")
            if not errors:
                for name, value in values.items():
                    if value:
                        session[name] = value
                    else:
                        session.pop(name, None)
                return req.redirect(req.url_for("prefs", saved=1))
    return "prefs.html", {
        "values": {name: session.get(name, "") for name in FIELDS},
        "timezones": zones, "languages": LANGUAGES, "errors": errors,
        "saved": _notice(req, "saved", "Your preferences have been saved.") and not errors,
        "can_change_password": can_change_password,
        "password_changed": _notice(req, "password_changed", "Your password has been changed."),
        "panels": plugin_panels(req), "panel": "general",
    }


def plugin_panels(req) -> list[tuple[str, str, object]]:
    """The panels of the ``preference_panels`` hook, by name."""
    found: dict[str, tuple[str, str, object]] = {}
    for offered in req.env.hook.preference_panels(req=req):
        for name, label, handler in offered or ():
            found.setdefault(name, (name, label, handler))
    return [found[name] for name in sorted(found)]


@hookimpl
def start_pages():
    return {"PreferencesModule": "prefs"}


@hookimpl
def web_routes():
    return [(Rule("/prefs", endpoint="prefs", methods=["GET", "POST"]), preferences),
            (Rule("/prefs/<panel>", endpoint="prefs.panel", methods=["GET", "POST"]), preference_panel)]


def preference_panel(req, panel: str):
    """/prefs/<panel> — a plugin's panel, or Trac's built-in panel names (general,
    datetime, localization…), which all show the one page of built-in preferences."""
    for name, _label, handler in plugin_panels(req):
        if name == panel:
            return handler(req, panel)  # type: ignore[operator]
    return preferences(req)


@hookimpl
def navigation_items(req):
    return [NavItem("metanav", "prefs", "Preferences", req.url_for("prefs"), order=20)]
