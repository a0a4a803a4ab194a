"""Sending the queue: a thread per served project and process claims due messages with a
lease, sends them over SMTP, and backs off exponentially when sending fails.

Nothing here runs inside a web request: a request only adds rows to the queue (and wakes
this process's sender), so a slow or unreachable mail server never delays or breaks a page.
"""

from __future__ import annotations

import logging
import os
import smtplib
import socket
import threading
import uuid
import weakref

from codeyard.notification import api, model

LEASE_SECONDS = 120.0  # longer than any one SMTP conversation (the socket times out at 60 s)
LONGEST_RETRY = 6 * 3600.0
POLL_SECONDS = 15.0  # how often a sender looks for rows other processes added
SMTP_TIMEOUT = 60.0

_log = logging.getLogger("codeyard.notification")


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


def retry_delay(first: float, attempts: int) -> float:
    """Seconds before the next try after ``attempts`` failed ones: first, twice that, …"""
    return min(first * (2 ** max(attempts - 1, 0)), LONGEST_RETRY)


def sender_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def send_due(env, owner: str | None = None, due_only: bool = True) -> tuple[int, int]:
    """Send what is due now (everything pending with ``due_only`` off): (sent, failed)."""
    owner = owner or sender_name()
    log = getattr(env, "log", _log)
    sent = failed = 0
    if api.EMAIL_SENDER(env.config) != "SmtpEmailSender":
        log.error("[notification] email_sender %r is not supported; only SmtpEmailSender",
                  api.EMAIL_SENDER(env.config))
        return 0, 0
    while True:
        batch = model.claim(env, owner, LEASE_SECONDS, due_only=due_only)
        if not batch:
            return sent, failed
        for row in batch:
            try:
                send_smtp(env.config, row.from_addr, row.recipients, row.message)
            except (OSError, smtplib.SMTPException) as exc:
                failed += 1
                attempts = row.attempts + 1
                give_up = attempts > api.SEND_RETRIES(env.config)
                first = api.SEND_RETRY_DELAY(env.config)
                delay = None if give_up else retry_delay(first, attempts)
                error = f"{type(exc).__name__}: {exc}"
                model.mark_failed(env, row.id, owner, error, delay)
                if give_up:
                    log.error("notification %s (%s %s) given up after %d tries: %s", row.id,
                              row.realm, row.target, attempts, error)
                else:
                    log.warning("notification %s (%s %s) not sent (try %d), again in %.0f s: "
                                "%s", row.id, row.realm, row.target, attempts, delay, error)
            else:
                sent += 1
                model.mark_sent(env, row.id, owner)
                log.info("notification %s (%s %s) sent to %s", row.id, row.realm, row.target,
                         ", ".join(row.recipients))
        if not due_only:
            # A flush sends each row once at most, even those that failed just now.
            due_only = True


class Sender:
    """The sending thread of one project in this process."""

    def __init__(self, env) -> None:
        self._env = weakref.ref(env)
        self.name = sender_name()
        self.wake = threading.Event()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"notify-sender {env.path}",
                                       daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        self.wake.set()

    def _wait_seconds(self, env) -> float:
        due = model.next_due(env)
        if due is None:
            return POLL_SECONDS
        return max(0.0, min(POLL_SECONDS, (due - model.now_us()) / 1_000_000))

    def _run(self) -> None:
        while not self.stopped.is_set():
            env = self._env()
            if env is None:
                return
            wait = POLL_SECONDS
            try:
                if api.SMTP_ENABLED(env.config):
                    send_due(env, self.name)
                    wait = self._wait_seconds(env)
            except Exception:  # the thread must live on: log, wait, try again
                try:
                    env.log.exception("the notification sender failed")
                except Exception:
                    pass
            del env
            self.wake.wait(wait)
            self.wake.clear()


_senders: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_senders_lock = threading.Lock()


def start_sender(env) -> Sender:
    """This process's sender of ``env`` (started once)."""
    with _senders_lock:
        sender = _senders.get(env)
        if sender is None or not sender.thread.is_alive():
            sender = _senders[env] = Sender(env)
            sender.start()
        return sender


def wake_sender(env) -> None:
    """Tell this process's sender of ``env``, if it runs, that a message waits."""
    sender = _senders.get(env)
    if sender is not None:
        sender.wake.set()


def stop_sender(env) -> None:
    with _senders_lock:
        sender = _senders.pop(env, None)
    if sender is not None:
        sender.stop()
        sender.thread.join(timeout=10)
