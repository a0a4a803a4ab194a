"""The Webhooks panel of /admin (``/admin/general/webhooks``): the hooks (those of trac.ini
read-only), adding, editing, disabling and deleting the others, the last deliveries with a
button to deliver one again, and a ``ping`` to try a hook; and ``codeyard admin ENV
webhook list|deliveries|send-due|ping``."""

from __future__ import annotations

from codeyard.admin.api import AdminCommand, AdminCommandError, AdminContext
from codeyard.core import hookimpl
from codeyard.db.api import row_id
from codeyard.util.timefmt import utc_text as _time
from codeyard.web.api import AdminPanel, HTTPBadRequest, HTTPNotFound
from codeyard.webhooks import api, events, model, sender
from codeyard.webhooks.api import WebhookError

CATEGORY, PANEL = "general", "webhooks"
SHOWN_DELIVERIES = 50
DONE_MESSAGES = {
    "added": "The webhook has been added.",
    "saved": "Your changes have been saved.",
    "removed": "The selected webhooks have been removed.",
    "ping": "A ping has been queued; it is delivered in a moment (see the deliveries).",
    "redeliver": "The delivery has been queued again.",
}
STATUSES = ("pending", "delivered", "failed")


def _form_events(form) -> list[str]:
    chosen = form.getlist("events")
    if not chosen and form.get("events_text"):
        chosen = [form.get("events_text")]
    return api.parse_events(",".join(chosen))


def _id(text: str | None) -> int:
    try:
        return row_id(text)
    except ValueError:
        raise HTTPBadRequest(f"{text!r} is not the number of a webhook or a delivery.") from None


def _act(req, form) -> str:
    env = req.env
    action = form.get("action", "")
    if action == "add":
        model.add_hook(env, form.get("name", ""), form.get("url", ""), form.get("secret", ""),
                       _form_events(form), bool(form.get("active")))
        return "added"
    if action == "remove":
        selected = form.getlist("sel")
        if not selected:
            raise WebhookError("No webhooks were selected.")
        for hook_id in selected:
            model.delete_hook(env, _id(hook_id))
        return "removed"
    if action == "ping":
        hook = model.find_hook(env, form.get("hook", ""))
        if hook is None:
            raise WebhookError(f"There is no webhook {form.get('hook', '')!r}.")
        events.ping(env, hook, req.authname)
        return "ping"
    if action == "redeliver":
        model.redeliver(env, _id(form.get("delivery")))
        events.wake(env)
        return "redeliver"
    raise HTTPBadRequest(f"Unknown action {action!r}.")


def webhooks_panel(req, category: str, panel: str, path_info: str | None):
    """/admin/general/webhooks[/<id>] — the hooks and the last deliveries, or one hook."""
    req.perm.require("TRAC_ADMIN")
    env = req.env
    here = req.url_for("admin.panel", category=category, panel=panel)
    errors: list[str] = []
    form = req.form if req.method == "POST" else None
    if path_info:
        try:
            hook = model.get_db_hook(env, _id(path_info))
        except WebhookError as exc:
            raise HTTPNotFound(str(exc)) from None
        if form is not None:
            if form.get("cancel"):
                return req.redirect(here)
            try:
                secret = form.get("secret", "")
                model.update_hook(env, hook.id or 0, form.get("name", ""), form.get("url", ""),
                                  None if not secret and not form.get("clear_secret")
                                  else secret, _form_events(form), bool(form.get("active")))
                return req.redirect(req.url_for("admin.panel", category=category, panel=panel,
                                                done="saved"))
            except WebhookError as exc:
                errors.append(str(exc))
        values = {"name": hook.name, "url": hook.url, "events": hook.events,
                  "active": hook.active}
        if form is not None:
            values = {"name": form.get("name", ""), "url": form.get("url", ""),
                      "events": form.getlist("events"), "active": bool(form.get("active"))}
        return ("admin/webhook.html",
                {"hook": hook, "values": values, "errors": errors, "back": here,
                 "all_events": api.EVENTS},
                400 if errors else 200)
    if form is not None:
        try:
            done = _act(req, form)
            return req.redirect(req.url_for("admin.panel", category=category, panel=panel,
                                            done=done))
        except WebhookError as exc:
            errors.append(str(exc))
    _ini, problems = api.ini_hooks(env.config)
    rows = [{"id": d.id, "event": d.event, "hook": d.hook, "status": d.status,
             "attempts": d.attempts, "code": d.response_code, "error": d.last_error,
             "created": _time(d.created), "delivered": _time(d.delivered),
             "next": _time(d.next_attempt) if d.status == "pending" else "",
             "delivery": d.delivery}
            for d in model.deliveries(env, SHOWN_DELIVERIES)]
    add = {"name": "", "url": "", "events": ["*"], "active": True}
    if form is not None and form.get("action") == "add":
        add = {"name": form.get("name", ""), "url": form.get("url", ""),
               "events": form.getlist("events"), "active": bool(form.get("active"))}
    return ("admin/webhooks.html",
            {"hooks": model.all_hooks(env), "problems": problems, "deliveries": rows,
             "errors": errors, "here": here, "add": add, "all_events": api.EVENTS,
             "notice": DONE_MESSAGES.get(req.args.get("done", ""))},
            400 if errors else 200)


@hookimpl
def admin_panels(req):
    if req.perm.has("TRAC_ADMIN"):
        return [AdminPanel(CATEGORY, "General", PANEL, "Webhooks", webhooks_panel, 60)]
    return []


# -- codeyard admin ENV webhook …

def _list(ctx: AdminContext) -> None:
    env = ctx.ready_env()
    rows = [(h.name, h.source, "yes" if h.active else "no", ",".join(h.events), h.url,
             "yes" if h.secret else "no") for h in model.all_hooks(env)]
    ctx.print_table(rows, ["Name", "From", "Active", "Events", "URL", "Signed"])
    for problem in api.ini_hooks(env.config)[1]:
        ctx.print(f"Left out: {problem}")


def _deliveries(ctx: AdminContext, status: str = "") -> None:
    if status and status not in STATUSES:
        raise AdminCommandError(f"The status is one of {', '.join(STATUSES)}.")
    rows = [(d.id, d.status, d.event, d.hook, _time(d.created), d.attempts,
             "" if d.response_code is None else d.response_code, _time(d.delivered),
             d.last_error)
            for d in model.deliveries(ctx.ready_env(), 200, status or None)]
    ctx.print_table(rows, ["Id", "Status", "Event", "Hook", "Queued", "Tries", "Code",
                           "Delivered", "Last error"])


def _send_due(ctx: AdminContext) -> None:
    sent, failed = sender.send_due(ctx.ready_env(), due_only=False)
    ctx.print(f"{sent} delivered, {failed} failed.")


def _ping(ctx: AdminContext, name: str) -> None:
    env = ctx.ready_env()
    hook = model.find_hook(env, name)
    if hook is None:
        raise AdminCommandError(f"There is no webhook {name!r}.")
    delivery = events.ping(env, hook, None)
    ctx.print(f"Ping queued as delivery {delivery}.")


@hookimpl
def admin_commands():
    return [
        AdminCommand("webhook list", "", "List the webhooks (of trac.ini and the database)",
                     _list),
        AdminCommand("webhook deliveries", "[pending|delivered|failed]",
                     "List the webhook deliveries, newest first", _deliveries,
                     complete=lambda ctx, args: list(STATUSES)),
        AdminCommand("webhook send-due", "",
                     "Deliver the queued webhook deliveries now\n\n"
                     "Every pending delivery is tried once, also those waiting to be tried\n"
                     "again after a failure.", _send_due),
        AdminCommand("webhook ping", "<name>", "Queue a ping to a webhook", _ping,
                     complete=lambda ctx, args: [h.name for h in model.all_hooks(
                         ctx.ready_env())]),
    ]
