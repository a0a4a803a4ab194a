"""The ``permission`` admin commands: list, add, remove, export, import."""

from __future__ import annotations

import csv
import io
import os
import sys
import textwrap

from codeyard.admin.api import AdminCommand, AdminCommandError, AdminContext
from codeyard.core import hookimpl
from codeyard.perm import PermissionAdminError, PermissionExistsError, PermissionSystem


def _list(ctx: AdminContext, user: str | None = None) -> None:
    system = PermissionSystem(ctx.ready_env())
    if user:
        rows = [(user, action) for action in system.user_actions(user)]
    else:
        rows = list(system.all_grants())
    ctx.print_table(sorted(rows), ["User", "Action"])
    ctx.print()
    ctx.print("Available actions:")
    ctx.print(textwrap.fill(", ".join(system.all_actions()), width=75, initial_indent=" ",
                            subsequent_indent=" ", break_long_words=False,
                            break_on_hyphens=False))
    ctx.print()


def _add(ctx: AdminContext, user: str, *actions: str) -> None:
    system = PermissionSystem(ctx.ready_env())
    # Check everything first: one bad action grants nothing.
    for action in actions:
        try:
            system.check_grant(user, action)
        except PermissionAdminError as exc:
            raise AdminCommandError(str(exc)) from None
    with ctx.env.db_transaction:
        for action in dict.fromkeys(actions):
            try:
                system.grant(user, action)
            except PermissionExistsError as exc:
                ctx.print(exc)  # already there: say so and go on, as trac-admin does


def _remove(ctx: AdminContext, user: str, *actions: str) -> None:
    system = PermissionSystem(ctx.ready_env())
    grants = system.all_grants()
    to_revoke: list[tuple[str, str]] = []
    for action in actions:
        matched = [(u, a) for u, a in grants if user in (u, "*") and action in (a, "*")]
        if not matched:
            if user in {u for u, _ in grants} and action in system.user_actions(user):
                message = (f"Cannot remove permission {action} for user {user}. The permission "
                           "is granted through a meta-permission or group.")
            elif action in system.action_tree():
                message = (f"Cannot remove permission {action} for user {user}. The user has "
                           "not been granted the permission.")
            else:
                message = f"{action} is not a valid action."
            raise AdminCommandError(message)
        to_revoke.extend(m for m in matched if m not in to_revoke)
    with ctx.env.db_transaction:
        for subject, action in to_revoke:
            system.revoke(subject, action)


def _export(ctx: AdminContext, filename: str | None = None) -> None:
    system = PermissionSystem(ctx.ready_env())
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for subject in sorted({s for s, _ in system.all_grants()}):
        writer.writerow([subject, *system.user_grants(subject)])
    if filename is None or filename == "-":
        ctx.out.write(buffer.getvalue())
        ctx.out.flush()
        return
    try:
        with open(filename, "w", encoding="utf-8", newline="") as fh:
            fh.write(buffer.getvalue().replace("\n", os.linesep))
    except OSError as exc:
        raise AdminCommandError(f"Cannot export to {filename}: {exc.strerror}") from None


def _import(ctx: AdminContext, filename: str | None = None) -> None:
    system = PermissionSystem(ctx.ready_env())
    source = filename or "stdin"
    try:
        if filename is None or filename == "-":
            text = sys.stdin.read()
        else:
            with open(filename, encoding="utf-8", newline="") as fh:
                text = fh.read()
    except OSError as exc:
        raise AdminCommandError(f"Cannot import from {source}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise AdminCommandError(f"Cannot import from {source}: {exc}") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    wanted: list[tuple[str, str]] = []
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            line = reader.line_num
            if len(row) < 2:
                raise AdminCommandError(
                    f"Invalid row {line}. Expected <user>, <action>, [action], [...]")
            user, actions = row[0].strip(), [a.strip() for a in row[1:] if a.strip()]
            if user.isupper():
                raise AdminCommandError(f"Invalid user {user} on line {line}: All upper-cased "
                                        "tokens are reserved for permission names.")
            for action in actions:
                try:
                    system.check_grant(user, action)
                except PermissionAdminError as exc:
                    raise AdminCommandError(f"Line {line}: {exc}") from None
                if (user, action) not in wanted:
                    wanted.append((user, action))
    except csv.Error as exc:
        raise AdminCommandError(
            f"Cannot import from {source} line {reader.line_num}: {exc}") from None
    existing = set(system.all_grants())
    with ctx.env.db_transaction:
        for user, action in wanted:
            if (user, action) not in existing:
                system.grant(user, action)


def _subjects(ctx: AdminContext) -> list[str]:
    return sorted({s for s, _ in PermissionSystem(ctx.env).all_grants()})


def _complete_list(ctx: AdminContext, args: list[str]) -> list[str]:
    return _subjects(ctx) if len(args) <= 1 else []


def _complete_add(ctx: AdminContext, args: list[str]) -> list[str]:
    if len(args) <= 1:
        return _subjects(ctx)
    system = PermissionSystem(ctx.env)
    return sorted(set(system.all_actions()) - set(system.user_grants(args[0])) - set(args[1:-1]))


def _complete_remove(ctx: AdminContext, args: list[str]) -> list[str]:
    if len(args) <= 1:
        return _subjects(ctx)
    return sorted(set(PermissionSystem(ctx.env).user_grants(args[0])) - set(args[1:-1]))


def _complete_file(ctx: AdminContext, args: list[str]) -> list[str]:
    if len(args) > 1:
        return []
    prefix = args[0] if args else ""
    directory = os.path.dirname(prefix) or "."
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    base = "" if directory == "." else directory.rstrip("/") + "/"
    return sorted(base + n + ("/" if os.path.isdir(os.path.join(directory, n)) else "")
                  for n in names)


@hookimpl
def admin_commands():
    return [
        AdminCommand("permission list", "[user]",
                     "List permission rules\n\n"
                     "Without a user, shows every stored rule; with one, every action that user\n"
                     "holds, through groups and meta-permissions included.",
                     _list, complete=_complete_list),
        AdminCommand("permission add", "<user> <action> [action] [...]",
                     "Add a new permission rule\n\n"
                     "An all lower- or mixed-case <action> makes <user> a member of that group.\n"
                     "Nothing is granted when one of the actions is not valid.",
                     _add, complete=_complete_add),
        AdminCommand("permission remove", "<user> <action> [action] [...]",
                     "Remove a permission rule\n\n"
                     "'*' as the action removes every rule of the user; '*' as the user removes\n"
                     "the action from everyone.",
                     _remove, complete=_complete_remove),
        AdminCommand("permission export", "[file]",
                     "Export permission rules to a file or stdout as CSV\n\n"
                     "One line per user or group: user,ACTION,ACTION,group,...",
                     _export, complete=_complete_file),
        AdminCommand("permission import", "[file]",
                     "Import permission rules from a file or stdin as CSV\n\n"
                     "Reads the lines `permission export` writes and adds the rules that are\n"
                     "missing; nothing is added when a line is invalid.",
                     _import, complete=_complete_file),
    ]
