"""The ``session`` admin commands: add, delete, list, purge, set."""

from __future__ import annotations

from codeyard import sessions as model
from codeyard.admin.api import (
    AdminCommand,
    AdminCommandError,
    AdminContext,
    format_date,
    parse_date,
)
from codeyard.core import hookimpl
from codeyard.web.api import start_page_endpoints

SID_HELP = ("A sid ending in ':0' names an anonymous session, one ending in ':1' (the default)\n"
            "an authenticated one.")


def _list(ctx: AdminContext, *sids: str) -> None:
    selectors = set(sids or ["*"])
    everyone = "*" in selectors
    all_anonymous = everyone or "anonymous" in selectors
    all_authenticated = everyone or "authenticated" in selectors
    wanted = {model.split_sid(s) for s in selectors if s not in ("*", "anonymous", "authenticated")}
    rows = []
    for sid, auth, last_visit, name, email, handler in model.list_sessions(ctx.ready_env()):
        if (all_anonymous and not auth) or (all_authenticated and auth) \
                or (sid, bool(auth)) in wanted:
            rows.append((sid, auth, format_date(last_visit * 1_000_000), name, email, handler))
    ctx.print_table(rows, ["SID", "Auth", "Last Visit", "Name", "Email", "Default Handler"])


def _add(ctx: AdminContext, sid: str, name: str | None = None, email: str | None = None) -> None:
    sid, authenticated = model.split_sid(sid)
    try:
        model.create_session(ctx.ready_env(), sid, authenticated, {"name": name, "email": email})
    except model.SessionError as exc:
        raise AdminCommandError(str(exc)) from None


def _set(ctx: AdminContext, attribute: str, sid: str, value: str) -> None:
    if attribute not in model.ADMIN_ATTRIBUTES:
        raise AdminCommandError(f"Invalid attribute '{attribute}'")
    if attribute == "default_handler" and value and value not in start_page_endpoints(ctx.ready_env()):
        raise AdminCommandError(f"Invalid default_handler '{value}'")
    sid, authenticated = model.split_sid(sid)
    try:
        model.set_attribute(ctx.ready_env(), sid, authenticated, attribute, value)
    except model.SessionError as exc:
        raise AdminCommandError(str(exc)) from None


def _delete(ctx: AdminContext, *sids: str) -> None:
    env = ctx.ready_env()
    with env.db_transaction:
        for text in sids:
            sid, authenticated = model.split_sid(text)
            if sid == "anonymous":
                model.delete_anonymous(env)
            else:
                model.delete_session(env, sid, authenticated)


def _purge(ctx: AdminContext, age: str) -> None:
    before = parse_date(age) // 1_000_000
    model.purge_anonymous(ctx.ready_env(), before)


def _all_sids(ctx: AdminContext) -> list[str]:
    return [f"{sid}:{auth}" for sid, auth, *_ in model.list_sessions(ctx.env)]


def _complete_list(ctx: AdminContext, args: list[str]) -> list[str]:
    return sorted(set(_all_sids(ctx) + ["*", "anonymous", "authenticated"]) - set(args[:-1]))


def _complete_delete(ctx: AdminContext, args: list[str]) -> list[str]:
    return sorted(set(_all_sids(ctx) + ["anonymous"]) - set(args[:-1]))


def _complete_set(ctx: AdminContext, args: list[str]) -> list[str]:
    if len(args) <= 1:
        return list(model.ADMIN_ATTRIBUTES)
    if len(args) == 2:
        return _all_sids(ctx)
    if len(args) == 3 and args[0] == "default_handler":
        return sorted(start_page_endpoints(ctx.env))
    return []


@hookimpl
def admin_commands():
    return [
        AdminCommand("session list", "[sid[:0|1]] [...]",
                     "List the name and email of the given sessions\n\n"
                     "'anonymous' selects every unauthenticated session, 'authenticated' every\n"
                     "authenticated one and '*' (the default) all of them.\n" + SID_HELP,
                     _list, complete=_complete_list),
        AdminCommand("session add", "<sid[:0|1]> [name] [email]",
                     "Create a session, with its name and email if given\n\n" + SID_HELP,
                     _add),
        AdminCommand("session set", "<name|email|default_handler> <sid[:0|1]> <value>",
                     "Set the name, email or default handler of a session\n\n"
                     "An empty value removes the attribute.\n" + SID_HELP,
                     _set, complete=_complete_set),
        AdminCommand("session delete", "<sid[:0|1]> [...]",
                     "Delete the given sessions\n\n"
                     "'anonymous' deletes every unauthenticated session.\n" + SID_HELP,
                     _delete, complete=_complete_delete),
        AdminCommand("session purge", "<age>",
                     "Purge anonymous sessions last seen before the given date\n\n"
                     'The date is "YYYY-MM-DD", ISO 8601, or relative like "90 days ago".',
                     _purge),
    ]
