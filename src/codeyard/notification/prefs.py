"""``/prefs/notification``: a user's own subscription rules (Trac's panel and form names),
kept in Trac's ``notify_subscription`` table."""

from __future__ import annotations

from codeyard.core import hookimpl
from codeyard.notification import api, model
from codeyard.web.api import HTTPBadRequest

ADVERBS = ("always", "never")
ADVERB_LABELS = {"always": "Notify", "never": "Never notify"}
TRANSPORTS = ("email",)


def _offered(req) -> dict[str, api.Subscriber]:
    return {name: sub for name, sub in api.subscribers(req.env).items()
            if sub.description and (req.session.authenticated or not sub.requires_authentication)}


def _checked(req, offered, klass: str, adverb: str) -> tuple[str, str]:
    if klass not in offered:
        raise HTTPBadRequest(f"There is no notification rule {klass!r}.")
    if adverb not in ADVERBS:
        raise HTTPBadRequest("A rule says always or never.")
    return klass, adverb


def _post(req, offered) -> None:
    session = req.session
    action, _, arg = req.form.get("action", "").partition("_")
    if action == "add-rule" and arg in TRANSPORTS:
        klass, adverb = _checked(req, offered, req.form.get(f"new-rule-{arg}", ""),
                                 req.form.get(f"new-adverb-{arg}", ""))
        model.add_rule(req.env, session.sid, session.authenticated, arg, klass, adverb,
                       req.form.get(f"format-{arg}", ""))
    elif action == "delete-rule" and arg.isdigit():
        model.delete_rule(req.env, int(arg), session.sid, session.authenticated)
    elif action == "replace":
        for transport in TRANSPORTS:
            classes = req.form.getlist(f"class-{transport}")
            adverbs = req.form.getlist(f"adverb-{transport}")
            rules = [_checked(req, offered, k, a) for k, a in zip(classes, adverbs, strict=False)]
            model.replace_rules(req.env, session.sid, session.authenticated, transport, rules)
    else:
        raise HTTPBadRequest("Unknown action on the notification preferences.")


def _saved(req) -> bool:
    """After the panel's redirect (``?saved=1``): the notice in the page's #notice box."""
    if req.args.get("saved") == "1":
        req.add_notice("Your preferences have been saved.")
        return True
    return False


def notification_panel(req, panel: str):
    """/prefs/notification — the user's subscription rules (POST: add, delete, replace)."""
    offered = _offered(req)
    if req.method == "POST":
        _post(req, offered)
        return req.redirect(req.url_for("prefs.panel", panel="notification", saved=1))
    session = req.session
    defaults = api.default_rules(req.env.config)
    rules = {t: [r for r in model.session_rules(req.env, session.sid, session.authenticated, t)
                 if r.klass in offered] for t in TRANSPORTS}
    default_rules = sorted(
        ((d["priority"], d["adverb"], offered[klass].description)
         for klass, entries in defaults.items() if klass in offered for d in entries),
        key=lambda r: r[0])
    from codeyard.prefs.web import plugin_panels

    return "notification/prefs_notification.html", {
        "rules": rules, "subscribers": offered, "default_rules": default_rules,
        "adverbs": ADVERBS, "adverb_labels": ADVERB_LABELS,
        "saved": _saved(req),
        "panels": plugin_panels(req), "panel": "notification",
    }


@hookimpl
def preference_panels(req):
    return [("notification", "Notifications", notification_panel)]
