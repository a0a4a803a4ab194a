"""The commit-message ticket updater and the ``CommitTicketReference`` processor.

When a changeset enters the cache (a sync, a push, ``changeset added``), its message is
searched for commands naming tickets — ``fixes #1, #2``, ``refs #3 & #4``,
``closes ticket:5``, ``see issue 6`` — with the command words, envelope, permission check
and notification switch of Trac 1.6's ``[ticket] commit_ticket_update_*`` options. Each
named ticket gets one comment pointing at the changeset (``In [changeset:"rev/repo" r]:``
and the message in a ``{{{#!CommitTicketReference …}}}`` block, the text Trac writes), and
close commands resolve it as ``fixed`` through the workflow. A Bazaar changeset's
``bugs`` property (``brz commit --fixes``) counts as well: a bug of this project marked
``fixed`` is a close command, one marked ``related`` a reference.

A changeset seen again (a resync, a second push of the same revisions, Trac's own updater
having run first) never adds a second comment: the ticket's comments are searched for the
changeset's block, under the same check of the ticket's change time that protects two
editors from each other.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable

from markupsafe import Markup

from codeyard.config import BoolOption, Option, options_in
from codeyard.core import hookimpl
from codeyard.vcs.api import Changeset, Repository
from codeyard.wiki.api import WikiMacro

ENVELOPE = Option(
    "ticket", "commit_ticket_update_envelope", "",
    "Require commands to be enclosed in an envelope: empty, or two characters. With `[]`, "
    "commands must be written like `[closes #4]`.")
COMMANDS_CLOSE = Option(
    "ticket", "commit_ticket_update_commands.close", "close closed closes fix fixed fixes",
    "Commands that close tickets, as a space-separated list.")
COMMANDS_REFS = Option(
    "ticket", "commit_ticket_update_commands.refs", "addresses re references refs see",
    "Commands that add a reference to the changeset, as a space-separated list. The special "
    "value `<ALL>` makes every ticket the message names get a reference.")
CHECK_PERMS = BoolOption(
    "ticket", "commit_ticket_update_check_perms", True,
    "Check that the committer may do what the message asks on each ticket it names "
    "(TICKET_MODIFY to close, TICKET_APPEND to comment). The committer is the project user "
    "the changeset's author is, by user name or by the e-mail address of their settings.")
NOTIFY = BoolOption(
    "ticket", "commit_ticket_update_notify", True,
    "Send ticket change notifications when the updater changes a ticket.")

# The reference grammar of Trac 1.6: `#1`, `ticket:1`, `ticket 1`, `issue1`, `bug:1`, each
# maybe pointing at a comment; several joined by commas, spaces, `&` or `and`.
_PREFIX = r"(?:#|(?:ticket|issue|bug)[: ]?)"
_REFERENCE = _PREFIX + r"[0-9]+(?:#comment:(?:[0-9]+|description))?"
_REFERENCES = _REFERENCE + r"(?:(?:[, &]*|[ ]?and[ ]?)" + _REFERENCE + r")*"
_COMMAND = r"(?P<action>[A-Za-z]*)\s*.?\s*(?P<ticket>" + _REFERENCES + r")"
TICKET_ID_RE = re.compile(_PREFIX + r"([0-9]+)")

# A comment block this updater (or Trac's) wrote for a changeset.
_BLOCK_RE = re.compile(r"^\{\{\{#!CommitTicketReference(?P<args>[^\n]*)$", re.MULTILINE)
_ARG_RE = re.compile(r'(\w+)=(?:"([^"]*)"|(\S*))')

CLOSE = "close"
REFS = "refs"
ALL = "<ALL>"


def command_re(env) -> re.Pattern[str]:
    """The pattern of one command under this project's envelope."""
    envelope = ENVELOPE(env.config)
    return re.compile(re.escape(envelope[0:1]) + _COMMAND + re.escape(envelope[1:2]))


def _command_words(env) -> dict[str, str]:
    """command word (lowercase) -> CLOSE or REFS; a word in both lists closes."""
    words = {w.lower(): REFS for w in COMMANDS_REFS(env.config).split()}
    words.update({w.lower(): CLOSE for w in COMMANDS_CLOSE(env.config).split()})
    return words


def parse_message(env, message: str) -> dict[int, list[str]]:
    """ticket id -> the commands the message gives it, in the order they appear."""
    words = _command_words(env)
    refs_all = COMMANDS_REFS(env.config).strip() == ALL
    tickets: dict[int, list[str]] = {}
    for match in command_re(env).finditer(message or ""):
        command = words.get(match.group("action").lower())
        if command is None and refs_all:
            command = REFS
        if command is None:
            continue
        for number in TICKET_ID_RE.findall(match.group("ticket")):
            tickets.setdefault(int(number), []).append(command)
    return tickets


# -- Bazaar's bug property

_TICKET_URL_RE = re.compile(r"^(?P<base>.*)/ticket/(?P<id>[0-9]+)/?$")
_BUG_ID_RE = re.compile(r"^(?:#|ticket:)?(?P<id>[0-9]+)$")
_BUG_STATUS = {"fixed": CLOSE, "related": REFS}


def _same_base(url: str, base: str) -> bool:
    def key(text: str) -> str:
        scheme, sep, rest = text.rstrip("/").partition("://")
        if not sep:
            return text.rstrip("/")
        host, slash, path = rest.partition("/")
        return host.lower() + slash + path
    return key(url) == key(base)


def parse_bugs(env, bugs: str | None) -> dict[int, list[str]]:
    """ticket id -> commands from a Bazaar ``bugs`` property (``URL fixed`` a line).

    A bug counts when it is ``#N`` / ``ticket:N`` or a ``…/ticket/N`` URL of this project
    (under ``[trac] base_url`` when that is set)."""
    from codeyard.env import BASE_URL

    base = BASE_URL(env.config)
    tickets: dict[int, list[str]] = {}
    for line in (bugs or "").splitlines():
        parts = line.split()
        if not parts:
            continue
        command = _BUG_STATUS.get(parts[1].lower() if len(parts) > 1 else "fixed")
        if command is None:
            continue
        match = _BUG_ID_RE.match(parts[0])
        if match is None:
            match = _TICKET_URL_RE.match(parts[0])
            if match is None or (base and not _same_base(match.group("base"), base)):
                continue
        tickets.setdefault(int(match.group("id")), []).append(command)
    return tickets


def ticket_commands(env, changeset: Changeset) -> dict[int, list[str]]:
    """Every ticket the changeset names, with its commands (message first, then bugs)."""
    tickets = parse_message(env, changeset.message)
    for tkt_id, commands in parse_bugs(env, changeset.properties.get("bugs")).items():
        known = tickets.setdefault(tkt_id, [])
        known.extend(c for c in commands if c not in known)
    return tickets


# -- the comment

def ticket_comment(repos: Repository, changeset: Changeset) -> str:
    """The comment a ticket gets, as Trac 1.6 writes it."""
    rev = str(changeset.rev)
    target, label = rev, str(repos.short_rev(rev))
    if repos.name:
        target += "/" + repos.name
        label += "/" + repos.name
    return (f'In [changeset:"{target}" {label}]:\n'
            f'{{{{{{#!CommitTicketReference repository="{repos.name}" revision="{rev}"\n'
            f"{changeset.message.strip()}\n"
            "}}}")


def _block_args(text: str) -> Iterable[dict[str, str]]:
    for match in _BLOCK_RE.finditer(text or ""):
        yield {m.group(1): m.group(2) if m.group(2) is not None else m.group(3)
               for m in _ARG_RE.finditer(match.group("args"))}


def has_reference(env, tkt_id: int, reponame: str, rev: str) -> bool:
    """Whether a comment of the ticket already carries the changeset's block."""
    with env.db_query as db:
        rows = db("SELECT newvalue FROM ticket_change WHERE ticket=%s AND field='comment' "
                  "AND newvalue LIKE %s", (tkt_id, "%CommitTicketReference%"))
    for (text,) in rows:
        for args in _block_args(text):
            if (args.get("repository") or "") == reponame and args.get("revision") == rev:
                return True
    return False


# -- who committed

def committer(env, author: str) -> str:
    """The project user a changeset author is: a known user name, the user whose e-mail
    address the author carries (``Name <mail@host>`` or a bare address), or the user named
    before the address; otherwise the author as written (lowercased under
    ``[trac] ignore_auth_case``, as Trac does)."""
    from codeyard.sessions import known_users
    from codeyard.web.auth import IGNORE_AUTH_CASE

    author = (author or "").strip()
    ignore_case = IGNORE_AUTH_CASE(env.config)
    users = known_users(env)
    names = {sid: sid for sid, _name, _email in users}
    if ignore_case:
        names.update({sid.lower(): sid for sid in list(names)})
    found = names.get(author.lower() if ignore_case else author)
    if found is None:
        name, _, rest = author.rpartition("<")
        address = rest.split(">", 1)[0].strip() if rest and "<" in author else (
            author if "@" in author else "")
        if address:
            for sid, _name, email in users:
                if email and email.strip().lower() == address.lower():
                    found = sid
                    break
        if found is None and "<" in author and name.strip():
            found = names.get(name.strip().lower() if ignore_case else name.strip())
    result = found or author
    return result.lower() if ignore_case else result


# -- updating the tickets

def _closing(env, ticket, authname: str) -> None:
    """Close as fixed: by the workflow's action into ``closed`` that sets a resolution when
    one starts from the ticket's status (``resolve`` first), else directly, as Trac's updater
    always does (a ticket closed as wontfix becomes fixed); an ownerless ticket goes to the
    committer."""
    from codeyard.ticket.workflow import Workflow, WorkflowError, apply_action, resolution_field

    values = {"id": ticket.id, **ticket.values}
    actions = sorted((a for a in Workflow(env).actions()
                      if a.newstate == "closed" and "set_resolution" in a.operations
                      and a.applies_to(values.get("status") or "")),
                     key=lambda a: a.name != "resolve")
    changes: dict[str, str] = {}
    for action in actions:
        try:
            changes = apply_action(env, action, values, {resolution_field(action): "fixed"},
                                   authname)
            break
        except WorkflowError as exc:
            env.log.debug("Commit updater: workflow action %s not usable for #%s: %s",
                          action.name, ticket.id, exc)
    if changes.get("status") != "closed" or changes.get("resolution") != "fixed":
        changes = {"status": "closed", "resolution": "fixed"}
    for name, value in changes.items():
        ticket[name] = value
    if not ticket["owner"]:
        ticket["owner"] = authname


def _apply(env, ticket, commands: list[str], authname: str, perm, check: bool) -> bool:
    """Apply the commands to the loaded ticket; False when none of them may be carried out."""
    from codeyard.perm import Resource

    resource = Resource("ticket", ticket.id)
    save = False
    for command in commands:
        if command == CLOSE:
            if check and not perm.has("TICKET_MODIFY", resource):
                env.log.info("%s doesn't have TICKET_MODIFY permission for #%d",
                             authname, ticket.id)
                continue
            _closing(env, ticket, authname)
            save = True
        else:
            if check and not perm.has("TICKET_APPEND", resource):
                env.log.info("%s doesn't have TICKET_APPEND permission for #%d",
                             authname, ticket.id)
                continue
            save = True
    return save


_ATTEMPTS = 5


def update_ticket(env, tkt_id: int, commands: list[str], repos: Repository,
                  changeset: Changeset, comment: str, authname: str, perm) -> int | None:
    """Comment on (and maybe close) one ticket; the new comment's number, or None when the
    ticket already refers to the changeset or nothing was allowed."""
    from codeyard.ticket.model import Ticket, TicketCollision

    check = CHECK_PERMS(env.config)
    for _attempt in range(_ATTEMPTS):
        ticket = Ticket(env, tkt_id)
        if has_reference(env, tkt_id, repos.name, str(changeset.rev)):
            env.log.debug("Ticket #%d already refers to changeset %s", tkt_id, changeset.rev)
            return None
        if not _apply(env, ticket, commands, authname, perm, check):
            return None
        try:
            # Refused when anyone changed the ticket since it was read (maybe another
            # process adding this very comment): read it again and look again.
            cnum = ticket.save_changes(authname, comment,
                                       expected_changetime=ticket.time_changed)
        except TicketCollision:
            continue
        return int(cnum) if cnum else None
    env.log.error("Commit updater: ticket #%d kept changing; changeset %s not recorded",
                  tkt_id, changeset.rev)
    return None


def update_tickets(env, repos: Repository, changeset: Changeset,
                   tickets: dict[int, list[str]], pusher: str | None = None) -> dict[int, int]:
    """Update each ticket; {ticket id: comment number} of those that got a comment. A
    problem with one ticket (it does not exist, a field is invalid) is logged, never raised:
    it must not fail the push or the sync that brought the changeset."""
    from codeyard.perm import PermissionCache

    if not tickets:
        return {}
    # A push through codeyard's hosting knows who pushed; anything else only has the name
    # the commit claims.
    authname = pusher or committer(env, changeset.author)
    perm = PermissionCache(env, authname)
    comment = ticket_comment(repos, changeset)
    done: dict[int, int] = {}
    for tkt_id, commands in tickets.items():
        env.log.debug("Updating ticket #%d", tkt_id)
        try:
            cnum = update_ticket(env, tkt_id, commands, repos, changeset, comment, authname,
                                 perm)
        except Exception as exc:  # noqa: BLE001 - one ticket's problem, logged
            env.log.error("Unexpected error while processing ticket #%s: %s", tkt_id, exc)
            continue
        if cnum is not None:
            done[tkt_id] = cnum
    return done


@hookimpl
def changeset_added(env, repos, changeset, pusher):
    update_tickets(env, repos, changeset, ticket_commands(env, changeset), pusher)


@hookimpl
def changeset_modified(env, repos, changeset, old_changeset):
    tickets = ticket_commands(env, changeset)
    if old_changeset is not None:
        old = ticket_commands(env, old_changeset)
        tickets = {k: v for k, v in tickets.items() if k not in old}
    update_tickets(env, repos, changeset, tickets)


# -- the CommitTicketReference processor

def _cached_message(env, reponame: str, rev: str) -> str | None:
    """The message of a changeset in the cache (``revision``), or None. A revision number
    is also looked for as Trac stores Subversion's (zero-padded to ten digits)."""
    padded = f"{int(rev):010d}" if rev.isdigit() else rev
    with env.db_query as db:
        rows = db("SELECT r.message FROM repository p JOIN revision r ON r.repos = p.id "
                  "WHERE p.name='name' AND p.value=%s AND r.rev IN (%s, %s)",
                  (reponame, rev, padded))
    return rows[0][0] if rows else None


def _repository_params(env, reponame: str, depth: int = 0) -> dict[str, str]:
    """A repository's settings: its ``repository`` rows, then ``[repositories]``; an alias
    gives the settings of the repository it names."""
    params: dict[str, str] = {}
    with env.db_query as db:
        rows = db("SELECT name, value FROM repository WHERE id IN "
                  "(SELECT id FROM repository WHERE name='name' AND value=%s)", (reponame,))
    params.update({name: value or "" for name, value in rows})
    prefix = reponame + "."
    for key, value in env.config.options("repositories"):
        if key.startswith(prefix) and "." not in key[len(prefix):]:
            params[key[len(prefix):]] = value
    if params.get("alias") and params["alias"] != reponame and depth < 3:
        return _repository_params(env, params["alias"], depth + 1)
    return params


def _stored_message(env, reponame: str, rev: str) -> str | None:
    """The changeset's message: from the cache, else from the repository itself."""
    message = _cached_message(env, reponame, rev)
    if message is not None:
        return message
    params = _repository_params(env, reponame)
    directory, kind = params.get("dir"), params.get("type")
    if not directory or not kind:
        return None
    connectors: dict[str, Callable] = {}
    for found in env.hook.repository_connectors():
        connectors.update(found or {})
    opener = connectors.get(kind)
    if opener is None:
        return None
    repos = opener(env, reponame, directory, params)
    try:
        return repos.get_changeset(repos.normalize_rev(rev)).message
    finally:
        repos.close()


def commit_ticket_reference(fmt, name, content, args) -> Markup:
    """The changeset's message as wiki text (its current one: edited since, it shows as it
    is now); on a ticket whose number the message no longer names, a hint instead."""
    from codeyard.perm import Resource

    args = args or {}
    reponame = args.get("repository") or ""
    rev = args.get("revision") or ""
    env = fmt.env
    message: str | None = None
    try:
        message = _stored_message(env, reponame, rev) if rev else None
    except Exception as exc:  # noqa: BLE001 - a vanished repository shows the stored text
        env.log.debug("CommitTicketReference: changeset %s of %r not read: %s",
                      rev, reponame, exc)
    if message is None:
        message = content or ""
        if message.endswith("\n"):
            message = message[:-1]
    resource = fmt.ctx.resource
    if getattr(resource, "realm", None) == "ticket":
        try:
            tkt_id = int(resource.id)
        except (TypeError, ValueError):
            tkt_id = 0
        if not tkt_id or not any(int(n) == tkt_id for n in TICKET_ID_RE.findall(message)):
            return Markup('<p class="hint">(The changeset message doesn\'t reference this '
                          'ticket)</p>')
    if env.config.getbool("changeset", "wiki_format_messages", True):
        ctx = fmt.ctx.child(Resource("changeset", rev, parent=Resource("repository", reponame)))
        return Markup('<div class="message">%s</div>') % fmt.to_html(
            message, ctx=ctx, escape_newlines=True)
    return Markup('<pre class="message">%s</pre>') % message


COMMIT_TICKET_REFERENCE = WikiMacro(
    "CommitTicketReference", commit_ticket_reference,
    "Show a changeset's message (used by the comments the commit updater writes): "
    '`{{{#!CommitTicketReference repository="reponame" revision="rev"` … `}}}`, where '
    "`repository` names the repository (empty: the default one) and `revision` the "
    "changeset; the block's text is shown when the changeset cannot be read.")


@hookimpl
def wiki_processors():
    return {"CommitTicketReference": COMMIT_TICKET_REFERENCE}


@hookimpl
def config_options():
    return options_in(sys.modules[__name__])
