"""``codeyard admin ENV [command …]``: one command, or an interactive prompt with completion."""

from __future__ import annotations

import cmd
import os
import shlex
import sys
from collections.abc import Sequence

from codeyard import __version__
from codeyard.admin.api import AdminCommand, AdminCommandError, AdminContext

# Commands that work without an existing environment: their plugins are loaded from the
# built-in list, not from a project's [components].
_NO_ENV_COMMANDS = {"initenv", "help"}


def all_commands(ctx: AdminContext) -> list[AdminCommand]:
    """Commands of the environment's enabled plugins, or of every built-in one without it."""
    from codeyard.core import ComponentRules, make_plugin_manager

    pm = None
    env = None
    if ctx.env_path and os.path.isfile(os.path.join(ctx.env_path, "VERSION")):
        try:
            env = ctx.env
        except AdminCommandError:
            env = None
    pm = env.plugins if env is not None else make_plugin_manager(ComponentRules([]))
    commands: list[AdminCommand] = [
        AdminCommand("help", "[command] [...]", "Show documentation", _help, needs_env=False),
    ]
    for result in pm.hook.admin_commands():
        commands.extend(result or ())
    commands.sort(key=lambda c: (c.name != "help", c.name != "initenv", c.name))
    return commands


def find_command(commands: Sequence[AdminCommand], args: Sequence[str]) -> tuple[AdminCommand | None, list[str]]:
    best: AdminCommand | None = None
    for command in commands:
        words = command.words
        if list(args[: len(words)]) == words and (best is None or len(words) > len(best.words)):
            best = command
    if best is None:
        return None, list(args)
    return best, list(args[len(best.words):])


def _help(ctx: AdminContext, *args: str) -> None:
    commands = ctx._commands  # type: ignore[attr-defined]
    if args:
        matching = [c for c in commands if c.words[: len(args)] == list(args)]
        if not matching:
            ctx.print(f"No documentation found for '{' '.join(args)}'. Use 'help' to see the list of commands.")
            return
        for command in matching:
            ctx.print(command.usage())
            ctx.print()
            for line in command.doc.strip().splitlines():
                ctx.print(("    " + line).rstrip())
            ctx.print()
        return
    ctx.print(f"codeyard admin - the codeyard administration console {__version__}")
    ctx.print()
    ctx.print("Usage: codeyard admin </path/to/projenv> [command [subcommand] [option ...]]")
    ctx.print()
    ctx.print("Invoking codeyard admin without command starts interactive mode.")
    ctx.print()
    width = max(len(c.name) for c in commands) + 3
    for command in commands:
        summary = command.doc.strip().splitlines()[0] if command.doc.strip() else ""
        ctx.print(f"{command.name.ljust(width)}{summary}")


def run_command(ctx: AdminContext, args: Sequence[str]) -> int:
    commands = all_commands(ctx)
    ctx._commands = commands  # type: ignore[attr-defined]
    command, rest = find_command(commands, args)
    if command is None:
        print("Error: Command not found", file=ctx.err)
        return 2
    low, high = command.arg_bounds()
    if len(rest) < low or (high is not None and len(rest) > high):
        print("Error: Invalid arguments", file=ctx.err)
        ctx.print()
        ctx.print(command.usage())
        ctx.print()
        ctx.print("    " + command.doc.strip().splitlines()[0])
        ctx.print()
        return 2
    try:
        if command.needs_env:
            _ = ctx.env  # opens, or says why not
        command.execute(ctx, *rest)
    except AdminCommandError as exc:
        print(f"Error: {exc}", file=ctx.err)
        if exc.show_usage:
            ctx.print()
            ctx.print(command.usage())
        return 2
    except KeyboardInterrupt:
        print("Interrupted", file=ctx.err)
        return 130
    finally:
        env = ctx.opened_env()
        if env is not None and not ctx.interactive:
            env.shutdown()
    return 0


class Shell(cmd.Cmd):
    """The interactive prompt (``codeyard admin ENV`` with no command)."""

    def __init__(self, ctx: AdminContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.prompt = f"codeyard [{ctx.env_path}]> "
        self.intro = (
            f"codeyard admin {__version__}: the project administration console.\n"
            "Type 'help' for the commands, 'quit' to leave.\n"
        )
        self.status = 0

    def emptyline(self) -> bool:
        return False

    def default(self, line: str) -> bool:  # type: ignore[override]
        if line.strip() in ("quit", "exit", "EOF"):
            return True
        try:
            args = shlex.split(line)
        except ValueError as exc:
            print(f"Error: {exc}", file=self.ctx.err)
            return False
        self.status = run_command(self.ctx, args)
        return False

    def do_EOF(self, line: str) -> bool:  # noqa: N802 - cmd's naming
        print()
        return True

    def do_quit(self, line: str) -> bool:
        return True

    do_exit = do_quit

    def do_help(self, line: str) -> bool:
        run_command(self.ctx, ["help", *shlex.split(line)])
        return False

    def completenames(self, text, *ignored):
        words = {c.words[0] for c in all_commands(self.ctx)} | {"quit", "exit"}
        return sorted(w for w in words if w.startswith(text))

    def completedefault(self, text, line, begidx, endidx):
        try:
            words = shlex.split(line[:begidx])
        except ValueError:
            return []
        commands = all_commands(self.ctx)
        candidates: set[str] = set()
        for command in commands:
            cw = command.words
            if cw[: len(words)] == words and len(cw) > len(words):
                candidates.add(cw[len(words)])
        command, rest = find_command(commands, words)
        if command is not None and command.complete is not None and len(words) >= len(command.words):
            try:
                # As in trac-admin, the word being completed is the last argument.
                candidates.update(command.complete(self.ctx, [*rest, text]) or [])
            except Exception:
                pass
        return sorted(c for c in candidates if c.startswith(text))


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        ctx = AdminContext(None)
        return run_command(ctx, ["help"])
    if args[0] == "--version":
        print(f"codeyard admin {__version__}")
        return 0
    env_path, rest = args[0], args[1:]
    ctx = AdminContext(env_path)
    if rest:
        if rest[0] not in _NO_ENV_COMMANDS and not os.path.isfile(os.path.join(env_path, "VERSION")):
            print(f"Error: No project environment found at {env_path}", file=sys.stderr)
            return 2
        return run_command(ctx, rest)
    if not os.path.isfile(os.path.join(env_path, "VERSION")):
        print(f"Error: No project environment found at {env_path}", file=sys.stderr)
        return 2
    ctx.interactive = True
    shell = Shell(ctx)
    try:
        import readline  # noqa: F401 - enables line editing and completion
    except ImportError:  # pragma: no cover
        pass
    try:
        shell.cmdloop()
    except KeyboardInterrupt:
        print()
    finally:
        if ctx.opened_env() is not None:
            ctx.opened_env().shutdown()
    return shell.status
