"""The notification system: Trac's ``[notification]`` options, the subscriber hook and the
resolution of subscription rules into recipients.

A subscriber (``Subscriber``) names the users an event concerns (the ticket's owner, its
reporter, …). Each such user then gets the rules that apply to them: the defaults of the
``[notification-subscriber]`` section and their own rules (``notify_subscription``); for
each user and transport the rule of the smallest priority decides, ``always`` or ``never``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from codeyard.config import (
    BoolOption,
    ConfigSection,
    IntOption,
    ListOption,
    Option,
)
from codeyard.core import hookspec

SMTP_ENABLED = BoolOption("notification", "smtp_enabled", False, "Send e-mail notifications.")
SMTP_SERVER = Option("notification", "smtp_server", "localhost",
                     "Host name of the SMTP server notifications go through.")
SMTP_PORT = IntOption("notification", "smtp_port", 25, "Port of the SMTP server.")
SMTP_USER = Option("notification", "smtp_user", "",
                   "User name to log in to the SMTP server with (empty: no login).")
SMTP_PASSWORD = Option("notification", "smtp_password", "",
                       "Password to log in to the SMTP server with.")
USE_TLS = BoolOption("notification", "use_tls", False,
                     "Switch the SMTP connection to TLS (STARTTLS) before sending.")
SMTP_FROM = Option("notification", "smtp_from", "trac@localhost",
                   "Sender address of notification e-mails (smtp_from or smtp_replyto must "
                   "be set).")
SMTP_FROM_NAME = Option("notification", "smtp_from_name", "",
                        "Sender name of notification e-mails (empty: the project's name).")
SMTP_FROM_AUTHOR = BoolOption(
    "notification", "smtp_from_author", False,
    "Send as the author of the change (the reporter of a new ticket, the author of a "
    "comment) when their address is known, instead of smtp_from.")
SMTP_REPLYTO = Option("notification", "smtp_replyto", "trac@localhost",
                      "Reply-To address of notification e-mails.")
SMTP_ALWAYS_CC = ListOption("notification", "smtp_always_cc", (),
                            "Addresses that get every notification, visible to all recipients.")
SMTP_ALWAYS_BCC = ListOption("notification", "smtp_always_bcc", (),
                             "Addresses that get every notification, hidden (Bcc).")
SMTP_DEFAULT_DOMAIN = Option(
    "notification", "smtp_default_domain", "",
    "Domain added to user names and addresses that have none.")
IGNORE_DOMAINS = ListOption(
    "notification", "ignore_domains", (),
    "Domains that are not part of e-mail addresses (user names with Kerberos realms).")
ADMIT_DOMAINS = ListOption(
    "notification", "admit_domains", (),
    "Domains accepted in e-mail addresses although they look invalid (localdomain).")
MIME_ENCODING = Option(
    "notification", "mime_encoding", "none",
    "Transfer encoding of the message text: none (8bit when needed), base64 or qp.")
USE_PUBLIC_CC = BoolOption(
    "notification", "use_public_cc", False,
    "Show the recipients in To and Cc; otherwise they are hidden (Bcc).")
USE_SHORT_ADDR = BoolOption(
    "notification", "use_short_addr", False,
    "Accept addresses without a domain (the SMTP server completes them).")
SMTP_SUBJECT_PREFIX = Option(
    "notification", "smtp_subject_prefix", "__default__",
    "Text before the subject of notification e-mails; __default__ is the project's name "
    "in brackets, empty for none.")
MESSAGE_ID_HASH = Option("notification", "message_id_hash", "md5",
                         "Hash algorithm of the Message-ID header.")
EMAIL_SENDER = Option("notification", "email_sender", "SmtpEmailSender",
                      "How e-mail is sent; SmtpEmailSender (SMTP) is the one codeyard has.")
EMAIL_ADDRESS_RESOLVERS = ListOption(
    "notification", "email_address_resolvers", ("SessionEmailResolver",),
    "How a user's address is found: SessionEmailResolver (the e-mail of their "
    "preferences), then the user name at smtp_default_domain when that is set.")
DEFAULT_FORMAT_EMAIL = Option("notification", "default_format.email", "text/plain",
                              "Format of e-mail notifications unless a user picks another.")
TICKET_SUBJECT_TEMPLATE = Option(
    "notification", "ticket_subject_template", "${prefix} #${ticket.id}: ${summary}",
    "Jinja2 text snippet making the subject of a ticket notification (prefix, summary, "
    "ticket, changes, env).")
AMBIGUOUS_CHAR_WIDTH = Option(
    "notification", "ambiguous_char_width", "single",
    "Width of East Asian ambiguous characters in the table of fields: single or double.")
SEND_RETRIES = IntOption(
    "notification", "send_retries", 10,
    "How often a message that could not be sent is tried again before it is given up.")
SEND_RETRY_DELAY = IntOption(
    "notification", "send_retry_delay", 30,
    "Seconds before a message that could not be sent is tried again; the wait doubles "
    "with every further failure (up to six hours).")

SUBSCRIBER_SECTION = ConfigSection(
    "notification-subscriber",
    "Default subscription rules: `name = SubscriberClass` with optional `name.distributor` "
    "(email), `name.priority` (100), `name.adverb` (always or never) and `name.format`. "
    "The subscribers: [[SubscriberList]]")

DEFAULT_RULES = {
    "always_notify_cc": "CarbonCopySubscriber",
    "always_notify_updater": "TicketUpdaterSubscriber",
    "always_notify_previous_updater": "TicketPreviousUpdatersSubscriber",
}


@hookspec
def notification_subscribers():
    """Subscriber objects (``notification.api.Subscriber``): who an event concerns, by rule name."""


@dataclass
class NotificationEvent:
    """Something to tell people about: ``realm`` and ``category`` (created, changed),
    ``target`` (a Ticket), ``time`` in microseconds, ``author``, ``comment``, and
    ``changes`` (field -> (old, new))."""

    realm: str
    category: str
    target: Any
    time: int
    author: str | None
    comment: str | None = None
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)


# (class, distributor, sid, authenticated, address, format, priority, adverb)
Rule = tuple[str, str, str | None, int, str | None, str | None, int, str]


@dataclass
class Subscriber:
    """``name`` is the rule class (Trac's component name, as written in trac.ini and the
    ``notify_subscription`` table); ``candidates(env, event)`` the user names or addresses
    the event concerns; ``description`` what the rule means to a user."""

    name: str
    description: str
    candidates: Callable[[Any, NotificationEvent], Iterable[str]]
    requires_authentication: bool = True
    # For subscribers made of users' own rules only (no candidates): which events they
    # apply to.
    own_rules_for: Callable[[NotificationEvent], bool] | None = None


def subscribers(env) -> dict[str, Subscriber]:
    found: dict[str, Subscriber] = {}
    for offered in env.hook.notification_subscribers():
        for sub in offered or ():
            found.setdefault(sub.name, sub)
    return {name: found[name] for name in sorted(found)}


def default_rules(config) -> dict[str, list[dict[str, Any]]]:
    """The ``[notification-subscriber]`` rules by class, each sorted by (priority, name)."""
    by_name: dict[str, dict[str, Any]] = {}
    for key, value in config.options("notification-subscriber"):
        name, _, attribute = key.partition(".")
        entry = by_name.setdefault(name, {"name": name})
        if not attribute:
            entry["class"] = value.strip()
        elif attribute == "priority":
            try:
                entry["priority"] = int(value)
            except ValueError:
                entry["priority"] = 100
        else:
            entry[attribute] = value.strip()
    by_class: dict[str, list[dict[str, Any]]] = {}
    for entry in by_name.values():
        if "class" not in entry:
            continue
        entry.setdefault("distributor", "email")
        entry.setdefault("priority", 100)
        entry.setdefault("adverb", "always")
        entry.setdefault("format", None)
        by_class.setdefault(entry["class"], []).append(entry)
    for rules in by_class.values():
        rules.sort(key=lambda e: (e["priority"], e["name"]))
    return by_class


def event_rules(env, event: NotificationEvent) -> Iterator[Rule]:
    """Every rule that applies to someone the event concerns."""
    from codeyard.notification import model
    from codeyard.notification.mail import RecipientMatcher

    defaults = default_rules(env.config)
    matcher = RecipientMatcher(env)
    for sub in subscribers(env).values():
        if sub.own_rules_for is not None:
            if sub.own_rules_for(event):
                yield from model.rules_of_class(env, sub.name)
            continue
        sids: set[tuple[str, int]] = set()
        for candidate in sub.candidates(env, event) or ():
            found = matcher.match_recipient(candidate)
            if not found:
                continue
            sid, auth, addr = found
            for d in defaults.get(sub.name, ()):
                yield (sub.name, d["distributor"], sid, auth, addr, d["format"] or None,
                       d["priority"], d["adverb"])
            if sid:
                sids.add((sid, auth))
        if sids:
            yield from model.rules_of_sessions(env, sub.name, sids)


def resolve(rules: Iterable[Rule]) -> list[tuple[str | None, int, str | None, str, str | None]]:
    """(sid, authenticated, address, transport, format) of those to notify: per user and
    transport the rule of the smallest priority decides; rules for bare addresses (no
    session) each stand alone."""
    ordered = sorted(rules, key=lambda r: (r[1], r[2] or "", r[3], r[6]))
    decided: set[tuple[str, str, int]] = set()
    chosen = []
    for _klass, transport, sid, auth, addr, fmt, _prio, adverb in ordered:
        if sid and (transport, sid, auth) in decided:
            continue
        if adverb == "always":
            chosen.append((sid, auth, addr, transport, fmt))
        if sid:
            decided.add((transport, sid, auth))
    return chosen
