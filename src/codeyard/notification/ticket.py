"""Ticket notifications as a plugin: a ticket's change adds a message to the queue; the
project's sender thread starts when the project is first served in a process."""

from __future__ import annotations

from codeyard.config import options_in
from codeyard.core import hookimpl
from codeyard.notification import api, mail, model, sender
from codeyard.notification.api import NotificationEvent


def ticket_event(event: str, ticket, old_values, comment, author, when) -> NotificationEvent:
    changes = {name: (old, ticket[name]) for name, old in (old_values or {}).items()
               if (old or "") != (ticket[name] or "")}
    return NotificationEvent("ticket", event, ticket, int(when or 0), author, comment, changes)


def queue_ticket_event(env, event: NotificationEvent) -> bool:
    """Work out the recipients and the message of a ticket event and queue it; False when
    nobody is to be told."""
    chosen = api.resolve(api.event_rules(env, event))
    cc, bcc = mail.addresses_for(env, chosen)
    if not cc and not bcc:
        return False
    from_addr, recipients, message = mail.build_message(env, event, cc, bcc)
    model.enqueue(env, "ticket", str(event.target.id), event.category, from_addr, recipients,
                  message)
    return True


@hookimpl
def ticket_changed(env, event, ticket, old_values, comment, author, when):
    if event not in ("created", "changed") or not api.SMTP_ENABLED(env.config):
        return
    try:
        queued = queue_ticket_event(env, ticket_event(event, ticket, old_values, comment,
                                                      author, when))
    except Exception:
        # A notification that cannot be prepared must not undo or fail the change.
        env.log.exception("could not queue the notification of ticket #%s", ticket.id)
        return
    if queued:
        sender.wake_sender(env)


@hookimpl
def environment_checks(env):
    config = env.config
    if not api.SMTP_ENABLED(config):
        return []
    found = []
    if api.EMAIL_SENDER(config) != "SmtpEmailSender":
        found.append(("FAIL", "notification",
                      f"[notification] email_sender = {api.EMAIL_SENDER(config)} is not "
                      "supported: set it to SmtpEmailSender"))
    if not (api.SMTP_FROM(config) or api.SMTP_REPLYTO(config)):
        found.append(("FAIL", "notification", "neither [notification] smtp_from nor "
                      "smtp_replyto is set: set one of them"))
    failed = model.queued(env, ("failed",), limit=1)
    if failed:
        found.append(("warn", "notification", "some notifications were given up (see "
                      "`codeyard admin ENV notification list failed`); last error: "
                      f"{failed[0].last_error}"))
    return found or [("ok", "notification", "e-mail notifications through "
                      f"{api.SMTP_SERVER(config)}:{api.SMTP_PORT(config)}")]


@hookimpl
def environment_served(env):
    sender.start_sender(env)


@hookimpl
def database_tables():
    return model.tables()


@hookimpl
def new_environment_config(config):
    # Trac's defaults for a new project (its TicketNotificationSystem writes the same).
    if config.options("notification-subscriber"):
        return
    for key, value in api.DEFAULT_RULES.items():
        config.set("notification-subscriber", key, value)


@hookimpl
def config_options():
    return options_in(api)


