"""Sending the queue: a worker thread per served project and process claims due messages
with a lease, sends them over SMTP, and backs off exponentially when sending fails
(``codeyard.util.outbox`` does the claiming, the leases and the backing off).

Nothing here runs inside a web request: a request only adds rows to the queue (and wakes
this process's sender), so a slow or unreachable mail server never delays or breaks a page.
"""

from __future__ import annotations

import logging
import smtplib

from codeyard.notification import api, model
from codeyard.util import outbox

LEASE_SECONDS = 120.0  # longer than any one SMTP conversation (the socket times out at 60 s)
SMTP_TIMEOUT = 60.0

_log = logging.getLogger("codeyard.notification")

retry_delay = outbox.retry_delay
sender_name = outbox.worker_name


def send_smtp(config, from_addr: str, recipients: list[str], message: str) -> None:
    """One message over SMTP with the ``[notification]`` server, TLS and login options."""
    data = message.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")
    server = smtplib.SMTP(api.SMTP_SERVER(config), api.SMTP_PORT(config), timeout=SMTP_TIMEOUT)
    try:
        if api.USE_TLS(config):
            server.ehlo()
            if not server.has_extn("starttls"):
                raise smtplib.SMTPException("TLS is enabled but the server does not offer it")
            server.starttls()
            server.ehlo()
        user = api.SMTP_USER(config)
        if user:
            server.login(user, api.SMTP_PASSWORD(config))
        server.sendmail(from_addr, recipients, data)
        try:
            server.quit()
        except (smtplib.SMTPException, OSError):
            pass
    finally:
        server.close()


def _send(env, message: model.QueuedMessage) -> outbox.Failure | None:
    try:
        send_smtp(env.config, message.from_addr, message.recipients, message.message)
    except (OSError, smtplib.SMTPException) as exc:
        return outbox.Failure(f"{type(exc).__name__}: {exc}")
    return None


def _label(message: model.QueuedMessage) -> str:
    return (f"notification {message.id} ({message.realm} {message.target}) to "
            f"{', '.join(message.recipients)}")


WORK = outbox.Work(model.OUTBOX, model.QUEUE_COLUMNS, model.queued_message, _send,
                   lambda env: api.SEND_RETRIES(env.config),
                   lambda env: api.SEND_RETRY_DELAY(env.config), _label, LEASE_SECONDS,
                   "codeyard.notification")


def send_due(env, owner: str | None = None, due_only: bool = True) -> tuple[int, int]:
    """Send what is due now (everything pending with ``due_only`` off): (sent, failed)."""
    if api.EMAIL_SENDER(env.config) != "SmtpEmailSender":
        getattr(env, "log", _log).error(
            "[notification] email_sender %r is not supported; only SmtpEmailSender",
            api.EMAIL_SENDER(env.config))
        return 0, 0
    return outbox.send_due(env, WORK, owner, due_only)


def _run_once(env, owner: str) -> bool:
    if not api.SMTP_ENABLED(env.config):
        return False
    send_due(env, owner)
    return True


_senders = outbox.Workers("notify-sender", _run_once, model.next_due)


def start_sender(env) -> outbox.Worker:
    """This process's sender of ``env`` (started once)."""
    return _senders.start(env)


def wake_sender(env) -> None:
    """Tell this process's sender of ``env``, if it runs, that a message waits."""
    _senders.wake(env)


def stop_sender(env) -> None:
    _senders.stop(env)
