"""From an event to an e-mail: who gets it (addresses), and the message itself (subject,
Trac's headers, the plain-text body of ``ticket_notify_email.txt``)."""

from __future__ import annotations

import hashlib
import os
import re
import textwrap
import unicodedata
from email.charset import BASE64, QP, SHORTEST, Charset
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate
from typing import Any

import jinja2

from codeyard.env import BASE_URL, PROJECT_DESCR, PROJECT_URL
from codeyard.notification import api
from codeyard.notification.api import NotificationEvent
from codeyard.sessions import known_users

COLS = 75
TEMPLATES = os.path.join(os.path.dirname(__file__), "templates", "notification")
_LOCAL = r"[a-zA-Z0-9.'+_=!#$%&*/?^`{|}~-]+"
_DOMAIN = r"(?:[a-zA-Z0-9_-]+\.)+[a-zA-Z](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?"
NODOMAIN_RE = re.compile(r"^[-A-Za-z0-9!*+/=_.]+$")


def split_addresses(values) -> list[str]:
    """Items of a list option or a cc field, split at commas, semicolons and blanks."""
    found: list[str] = []
    for value in values or ():
        found.extend(a for a in re.split(r"[;,\s]+", value) if a)
    return found


class RecipientMatcher:
    """User names and e-mail addresses to (sid, authenticated, address), as Trac matches
    them: a known user's address is the e-mail of their preferences."""

    def __init__(self, env) -> None:
        self.env = env
        config = env.config
        domains = [_DOMAIN, *(re.escape(d) for d in api.ADMIT_DOMAINS(config))]
        address = rf"{_LOCAL}@(?:{'|'.join(domains)})"
        self.short_re = re.compile(rf"<?({address})>?$", re.I)
        self.long_re = re.compile(rf"(.*)\s+<\s*({address})\s*>$", re.I)
        self.ignore_domains = {d.lower() for d in api.IGNORE_DOMAINS(config)}
        self.use_short_addr = api.USE_SHORT_ADDR(config)
        self.default_domain = api.SMTP_DEFAULT_DOMAIN(config)
        self._users: dict[str, tuple[str | None, str | None]] | None = None

    @property
    def users(self) -> dict[str, tuple[str | None, str | None]]:
        if self._users is None:
            self._users = {sid: (name, email) for sid, name, email in known_users(self.env)}
        return self._users

    def is_email(self, address: str | None) -> bool:
        if not address or not self.short_re.match(address):
            return False
        return address[address.find("@") + 1:].lower().rstrip(">") not in self.ignore_domains

    def match_recipient(self, text: str | None) -> tuple[str | None, int, str] | None:
        if not text or text == "anonymous":
            return None
        text = text.strip()
        if text in self.users:
            sid: str | None = text
            auth = 1
            address = (self.users[text][1] or "").strip() or text
        else:
            sid, auth, address = None, 0, text
        if NODOMAIN_RE.match(address):
            if self.use_short_addr:
                return sid, auth, address
            if self.default_domain:
                return sid, auth, f"{address}@{self.default_domain}"
            return None
        match = self.short_re.match(address) or self.long_re.match(address)
        if match:
            address = match.group(match.lastindex or 1)
        if not self.is_email(address):
            return None
        return sid, auth, address

    def from_author(self, author: str | None) -> tuple[str | None, str] | None:
        found = self.match_recipient(author)
        if not found or not found[2]:
            return None
        sid, auth, address = found
        name = self.users[sid][0] if sid and auth and sid in self.users else None
        if not name and author:
            match = self.long_re.match(author.strip())
            name = match.group(1) if match else None
        return name, address

    def session_address(self, sid: str, auth: int) -> str | None:
        """The address of a session, by ``email_address_resolvers``."""
        address = None
        if "SessionEmailResolver" in api.EMAIL_ADDRESS_RESOLVERS(self.env.config):
            if auth and sid in self.users:
                address = self.users[sid][1]
            elif not auth:
                with self.env.db_query as db:
                    rows = db("SELECT value FROM session_attribute WHERE sid=%s "
                              "AND authenticated=0 AND name='email'", (sid,))
                address = rows[0][0] if rows else None
        if not address and auth:
            address = sid
        if address and self.default_domain and not self.use_short_addr \
                and NODOMAIN_RE.match(address):
            address = f"{address}@{self.default_domain}"
        return address or None

    def usable(self, address: str) -> bool:
        return self.is_email(address) or bool(self.use_short_addr and NODOMAIN_RE.match(address))


def addresses_for(env, chosen) -> tuple[list[str], list[str]]:
    """(cc, bcc) addresses of resolved recipients, with the always-cc and -bcc lists."""
    config = env.config
    matcher = RecipientMatcher(env)
    always_cc = set(split_addresses(api.SMTP_ALWAYS_CC(config)))
    public = api.USE_PUBLIC_CC(config)
    found: set[str] = set()
    for sid, auth, addr, transport, _fmt in chosen:
        if transport != "email":
            continue
        if sid and not addr:
            addr = matcher.session_address(sid, auth)
        if not addr or not matcher.usable(addr):
            continue
        found.add(addr)
        if sid and auth and sid in always_cc:
            always_cc.discard(sid)
            always_cc.add(addr)
        elif public:
            always_cc.add(addr)
    for extra in (*always_cc, *split_addresses(api.SMTP_ALWAYS_BCC(config))):
        if matcher.usable(extra):
            found.add(extra)
    return sorted(found & always_cc), sorted(found - always_cc)


# -- text templates

def text_template_env(env) -> jinja2.Environment:
    """Jinja2 for Trac's text templates (``${var}``, ``# if`` lines): the project's
    templates directory first, then the shared one, then ours."""
    from codeyard.web.chrome import INHERIT_TEMPLATES

    def build() -> jinja2.Environment:
        dirs = [env.templates_dir, INHERIT_TEMPLATES(env.config), TEMPLATES]
        return jinja2.Environment(
            loader=jinja2.FileSystemLoader([d for d in dirs if d]), autoescape=False,
            variable_start_string="${", variable_end_string="}",
            line_statement_prefix="#", line_comment_prefix="##", trim_blocks=True,
            keep_trailing_newline=True, auto_reload=True)

    # Rebuilt when a template is added to the project's directory (it then shadows ours).
    try:
        stamp = os.stat(env.templates_dir).st_mtime_ns
    except OSError:
        stamp = 0
    return env.memo_stamped("notification.text_templates", stamp, build)


def _gettext(text: str, **kw: Any) -> str:
    return text % kw if kw else text


def _snippet(text: str, **data: Any) -> str:
    return jinja2.Environment(variable_start_string="${", variable_end_string="}",
                              autoescape=False).from_string(text).render(**data)


# -- the body

def _width(text: str, ambiwidth: int) -> int:
    width = 0
    for ch in text:
        kind = unicodedata.east_asian_width(ch)
        width += 2 if kind in "WF" or (kind == "A" and ambiwidth == 2) else 1
    return width


def _wrap(text: str, indent: str = " ", cols: int = COLS) -> str:
    lines = []
    for line in (text or "").splitlines() or [""]:
        lines.extend(textwrap.wrap(line, cols, initial_indent=indent, subsequent_indent=indent,
                                   break_long_words=False, break_on_hyphens=False) or [""])
    return "\n".join(lines)


def _author(env, name: str | None) -> str:
    # Addresses are shown as in Trac's mails to people without EMAIL_VIEW: the user part.
    if not name:
        return ""
    if "@" in name and not api.USE_SHORT_ADDR(env.config):
        return name.split("@", 1)[0].split("<")[-1]
    return name


def fields_table(env, ticket, ambiwidth: int = 1) -> str:
    """Trac's table of a ticket's fields: two columns of ``Label:  value``, then the
    fields of several lines below it."""
    shown = []
    big = []
    for f in ticket.fields:
        if f.name in ("summary", "cc", "time", "changetime", "description"):
            continue
        value = ticket[f.name]
        if f.type == "time":
            from codeyard.web.chrome import format_datetime

            value = format_datetime(value) if value else ""
        value = "" if value is None else str(value)
        if f.name in ("owner", "reporter"):
            value = _author(env, value)
        if f.type == "textarea" or "\n" in value:
            big.append((f.label, value))
        else:
            shown.append((f.label, value))
    left, right = shown[0::2], shown[1::2]
    label_l = max((_width(lbl, ambiwidth) for lbl, _ in left), default=0)
    label_r = max((_width(lbl, ambiwidth) for lbl, _ in right), default=0)
    value_l = max((_width(v, ambiwidth) for _, v in left), default=0)
    width_l = min(label_l + value_l + 5, (COLS - 1) * 2 // 3)
    width_r = COLS - width_l - 1
    sep = "-" * width_l + "+" + "-" * width_r
    rows = [sep]
    for i, (lbl, value) in enumerate(left):
        cell_l = " " * (label_l - _width(lbl, ambiwidth) + 1) + f"{lbl}:  {value}"
        cell_r = ""
        if i < len(right):
            rlbl, rvalue = right[i]
            cell_r = " " * (label_r - _width(rlbl, ambiwidth) + 2) + f"{rlbl}:  {rvalue}"
        pad = max(width_l - _width(cell_l, ambiwidth), 0)
        rows.append(f"{cell_l}{' ' * pad}|{cell_r}")
    text = "\n".join(rows) + "\n"
    if big:
        text += sep
        for lbl, value in big:
            text += f"\n{lbl}:\n{value}\n\n"
    return text + sep


def changes_text(env, ticket, changes: dict[str, tuple[Any, Any]]) -> tuple[str, str]:
    """(`` * field:  old => new`` lines, the description's change) of a change."""
    body = ""
    descr = ""
    for name, (old, new) in changes.items():
        old = "" if old is None else str(old)
        new = "" if new is None else str(new)
        if name == "description":
            quoted = "\n".join("> " + line if line else ">" for line in old.splitlines())
            descr = (f"\nOld description:\n\n{quoted}\n\nNew description:\n\n"
                     f"{_wrap(new)}\n")
            continue
        if name == "cc":
            before = split_addresses([old])
            after = split_addresses([new])
            removed = [_author(env, a) for a in before if a not in after]
            added = [_author(env, a) for a in after if a not in before]
            if removed:
                body += _wrap(f"* cc: {', '.join(removed)} (removed)") + "\n"
            if added:
                body += _wrap(f"* cc: {', '.join(added)} (added)") + "\n"
            continue
        if name in ("owner", "reporter"):
            old, new = _author(env, old), _author(env, new)
        line = f"* {name}:  {old} => {new}"
        if len(line) + 1 > COLS:
            indent = " " * 5
            line = f"* {name}:\n{indent}{old}\n{indent}=>\n{indent}{new}"
        body += " " + line + "\n"
    return body, descr


def project_url(env) -> str:
    return PROJECT_URL(env.config) or BASE_URL(env.config).rstrip("/")


def ticket_url(env, ticket_id: int) -> str:
    return f"{BASE_URL(env.config).rstrip('/')}/ticket/{ticket_id}"


def format_body(env, event: NotificationEvent) -> str:
    ticket = event.target
    ambiwidth = 2 if api.AMBIGUOUS_CHAR_WIDTH(env.config) == "double" else 1
    new = event.category == "created"
    link = ticket_url(env, ticket.id)
    change: dict[str, Any] = {"author": _author(env, event.author), "comment": ""}
    body, descr = "", ""
    if not new:
        cnum = ticket.get_comment_number(event.time)
        if cnum is not None:
            link += f"#comment:{cnum}"
        change["comment"] = _wrap(event.comment or "") if event.comment else ""
        body, descr = changes_text(env, ticket, event.changes)
    values = dict(ticket.values)
    values.update(id=ticket.id, new=new, link=link,
                  description=_wrap(ticket["description"] or ""))
    header = "\n".join(textwrap.wrap(f"#{ticket.id}: {ticket['summary']}", COLS,
                                     break_long_words=False)) or f"#{ticket.id}:"
    data = {
        "ticket_body_hdr": header, "ticket_props": fields_table(env, ticket, ambiwidth),
        "ticket": values, "changes_body": body, "changes_descr": descr, "change": change,
        "project": {"name": env.project_name, "descr": PROJECT_DESCR(env.config),
                    "url": project_url(env)},
        "abs_href": lambda: BASE_URL(env.config) or "", "_": _gettext, "CRLF": "\r\n",
        "env": env,
    }
    template = text_template_env(env).get_template("ticket_notify_email.txt")
    return template.render(**data)


def format_subject(env, event: NotificationEvent) -> str:
    ticket = event.target
    summary = ticket["summary"]
    if "summary" in event.changes:
        old, new = event.changes["summary"]
        summary = f"{new} (was: {old})"
    prefix = api.SMTP_SUBJECT_PREFIX(env.config)
    if prefix == "__default__":
        prefix = f"[{env.project_name}]"
    subject = _snippet(api.TICKET_SUBJECT_TEMPLATE(env.config), prefix=prefix,
                       summary=summary, ticket=ticket, changes=event.changes, env=env).strip()
    subject = " ".join(subject.split())
    return subject if event.category == "created" else "Re: " + subject


def message_id(env, target_id: str, from_email: str, when: int | None,
               more: str | None = None) -> str:
    """Trac's predictable Message-ID: a hash of the project URL, the target, the time and
    ``more``, at the sender's domain."""
    items = [project_url(env).encode("utf-8"), target_id.encode("utf-8"),
             str(int(when or 0)).encode("utf-8")]
    if more is not None:
        items.append(more.encode("ascii", "ignore"))
    source = b".".join(items)
    try:
        digest = hashlib.new(api.MESSAGE_ID_HASH(env.config) or "md5", source).hexdigest()
    except ValueError:
        digest = hashlib.md5(source).hexdigest()
    host = from_email[from_email.find("@") + 1:]
    return f"<{len(source):03d}.{digest}@{host}>"


def sender_addresses(env, author: str | None) -> tuple[str | None, str, str]:
    """(From name, From address, Reply-To address)."""
    config = env.config
    smtp_from = api.SMTP_FROM(config)
    replyto = api.SMTP_REPLYTO(config)
    domain = api.SMTP_DEFAULT_DOMAIN(config)
    if domain and not api.USE_SHORT_ADDR(config):
        if smtp_from and "@" not in smtp_from:
            smtp_from = f"{smtp_from}@{domain}"
        if replyto and "@" not in replyto:
            replyto = f"{replyto}@{domain}"
    name = api.SMTP_FROM_NAME(config) or env.project_name
    if author and api.SMTP_FROM_AUTHOR(config):
        found = RecipientMatcher(env).from_author(author)
        if found:
            return found[0], found[1], replyto
    return name, smtp_from or replyto, replyto


def _charset(env) -> Charset:
    charset = Charset("utf-8")
    encoding = (api.MIME_ENCODING(env.config) or "none").lower()
    if encoding == "base64":
        charset.header_encoding = charset.body_encoding = BASE64
    elif encoding in ("qp", "quoted-printable"):
        charset.header_encoding = charset.body_encoding = QP
    else:
        charset.header_encoding = SHORTEST
        charset.body_encoding = None  # type: ignore[assignment]
    return charset


def build_message(env, event: NotificationEvent, cc: list[str],
                  bcc: list[str]) -> tuple[str, list[str], str]:
    """(envelope sender, envelope recipients, message text) of a ticket event."""
    ticket = event.target
    from_name, from_addr, replyto = sender_addresses(env, event.author)
    body = format_body(env, event)
    message = MIMEText(body, "plain", _charset(env))  # type: ignore[arg-type]
    target = f"{int(ticket.id):08d}"
    root = message_id(env, target, from_addr, None, ticket["reporter"] or "")
    url = ticket_url(env, ticket.id)
    if event.category == "created":
        message["Message-ID"] = root
    else:
        message["Message-ID"] = message_id(env, target, from_addr, event.time,
                                           ticket["reporter"] or "")
        message["In-Reply-To"] = root
        message["References"] = root
        cnum = ticket.get_comment_number(event.time)
        if cnum is not None:
            url += f"#comment:{cnum}"
    message["X-Mailer"] = "codeyard"
    message["X-Trac-Project"] = env.project_name
    message["X-URL"] = project_url(env)
    message["X-Trac-Realm"] = "ticket"
    message["X-Trac-Ticket-ID"] = str(ticket.id)
    message["X-Trac-Ticket-URL"] = url
    message["Precedence"] = "bulk"
    message["Auto-Submitted"] = "auto-generated"
    message["Date"] = formatdate()
    message["Subject"] = format_subject(env, event)
    message["From"] = formataddr((from_name, from_addr)) if from_name else from_addr
    to: list[str] = []
    if api.USE_PUBLIC_CC(env.config):
        # The owner, the reporter and the updater are addressed, the others copied.
        matcher = RecipientMatcher(env)
        for who in (ticket["owner"], ticket["reporter"], event.author):
            found = matcher.match_recipient(who)
            if found and found[2] in cc and found[2] not in to:
                to.append(found[2])
    message["To"] = ", ".join(to) if to else "undisclosed-recipients: ;"
    public_cc = [a for a in cc if a not in to]
    if public_cc:
        message["Cc"] = ", ".join(public_cc)
    if replyto:
        message["Reply-To"] = replyto
    recipients = sorted(set(cc) | set(bcc))
    return from_addr, recipients, message.as_string()
