"""``codeyard admin ENV notification send|list``: flush the queue now, show what it holds."""

from __future__ import annotations

from codeyard.admin.api import AdminCommand, AdminCommandError, AdminContext
from codeyard.core import hookimpl
from codeyard.notification import api, model, sender
from codeyard.util.timefmt import utc_text as _time


def _send(ctx: AdminContext) -> None:
    env = ctx.ready_env()
    if not api.SMTP_ENABLED(env.config):
        raise AdminCommandError("Notifications are off: set [notification] smtp_enabled = "
                                "enabled first.")
    sent, failed = sender.send_due(env, due_only=False)
    ctx.print(f"{sent} sent, {failed} failed.")


def _list(ctx: AdminContext, state: str = "") -> None:
    states = ("pending", "failed", "sent")
    if state and state not in states:
        raise AdminCommandError(f"The state is one of {', '.join(states)}.")
    rows = [(q.id, q.state, f"{q.realm}:{q.target}", q.category, _time(q.created), q.attempts,
             _time(q.next_try) if q.state == "pending" else "", ", ".join(q.recipients),
             q.last_error)
            for q in model.queued(ctx.ready_env(), (state,) if state else states)]
    ctx.print_table(rows, ["Id", "State", "Resource", "Event", "Queued", "Tries", "Next try",
                           "Recipients", "Last error"])


@hookimpl
def admin_commands():
    return [
        AdminCommand("notification send", "",
                     "Send the queued notifications now\n\n"
                     "Every pending message is tried once, also those waiting to be tried\n"
                     "again after a failure.", _send),
        AdminCommand("notification list", "[pending|failed|sent]",
                     "List the queued notifications, newest first", _list,
                     complete=lambda ctx, args: ["pending", "failed", "sent"]),
    ]
