"""Admin commands about the environment itself: initenv, upgrade, config."""

from __future__ import annotations

import os
import sys

from codeyard.admin.api import AdminCommand, AdminCommandError, AdminContext
from codeyard.config import ConfigError, Configuration
from codeyard.core import hookimpl
from codeyard.db.api import DatabaseError, parse_db_url


def _initenv(ctx: AdminContext, *args: str) -> None:
    inherit = None
    config_file = None
    positional = []
    for arg in args:
        if arg.startswith("--inherit="):
            inherit = arg.split("=", 1)[1]
        elif arg.startswith("--config="):
            config_file = arg.split("=", 1)[1]
        elif arg.startswith("--"):
            raise AdminCommandError(f"unknown option {arg}", show_usage=True)
        else:
            positional.append(arg)
    if len(positional) not in (0, 2):
        raise AdminCommandError("give both the project name and the database string, or neither",
                                show_usage=True)
    path = os.path.abspath(ctx.env_path or "")
    if os.path.exists(os.path.join(path, "VERSION")):
        raise AdminCommandError(f"Initenv for '{path}' failed: it already holds an environment.")
    options: list[tuple[str, str, str]] = []
    if config_file:
        try:
            given = Configuration(config_file)
        except ConfigError as exc:
            raise AdminCommandError(str(exc)) from None
        if not os.path.isfile(config_file):
            raise AdminCommandError(f"{config_file}: no such file")
        for section in given.sections:
            for name, value in given.sections[section].items():
                options.append((section, name, value))
    if positional:
        name, db_url = positional
    else:
        given_name = next((v for s, n, v in options if (s, n) == ("project", "name")), None)
        given_db = next((v for s, n, v in options if (s, n) == ("trac", "database")), None)
        name = given_name or "My Project"
        db_url = given_db or "sqlite:db/trac.db"
        if not config_file and sys.stdin.isatty():
            ctx.print("Creating a new project environment at", path)
            answer = input(f"Project Name [{name}]> ").strip()
            name = answer or name
            answer = input(f"Database connection string [{db_url}]> ").strip()
            db_url = answer or db_url
    try:
        parse_db_url(db_url, path)
    except DatabaseError as exc:
        raise AdminCommandError(str(exc)) from None
    options = [o for o in options if (o[0], o[1]) not in (("project", "name"), ("trac", "database"))]
    options += [("project", "name", name), ("trac", "database", db_url)]
    if inherit:
        inherit = os.path.abspath(inherit)
    from codeyard.env import Environment, EnvironmentError_

    try:
        env = Environment.create(path, options, inherit=inherit)
    except EnvironmentError_ as exc:
        raise AdminCommandError(f"Initenv for '{path}' failed: {exc}") from None
    env.shutdown()
    ctx.print(f"Project environment for '{name}' created at {path}.")
    ctx.print()
    ctx.print("Settings are in conf/trac.ini. Serve it with:")
    ctx.print()
    ctx.print(f"  codeyard serve --port 8000 {path}")
    ctx.print()
    ctx.print("then open http://localhost:8000/" + os.path.basename(path) + "/ and read WikiStart.")


def _upgrade(ctx: AdminContext, *args: str) -> None:
    backup = True
    for arg in args:
        if arg == "--no-backup":
            backup = False
        else:
            raise AdminCommandError(f"unknown option {arg}", show_usage=True)
    from codeyard.env import EnvironmentError_

    env = ctx.env
    try:
        pending = env.pending_upgrades()
    except EnvironmentError_ as exc:
        raise AdminCommandError(str(exc)) from None
    if not pending:
        env.ensure_own_tables()
        ctx.print("Database is up to date, no upgrade necessary.")
        return
    try:
        env.upgrade(backup=backup, out=ctx.print)
    except EnvironmentError_ as exc:
        raise AdminCommandError(str(exc)) from None
    ctx.print("Upgrade done.")
    ctx.print()
    ctx.print("Static files exported with `deploy` may need exporting again.")


def _config_get(ctx: AdminContext, section: str, option: str) -> None:
    config = ctx.env.config
    if not config.has_option(section, option):
        raise AdminCommandError(f"Option '{option}' doesn't exist in section '{section}'")
    ctx.print(config.get(section, option))


def _config_set(ctx: AdminContext, section: str, option: str, value: str) -> None:
    env = ctx.env
    if section == "components" and value.lower() not in ("enabled", "disabled", "true", "false",
                                                          "yes", "no", "on", "off", "0", "1"):
        raise AdminCommandError(f"[components] {option}: use enabled or disabled, not {value!r}")
    env.config.set(section, option, value)
    try:
        env.config.save()
    except (OSError, ConfigError) as exc:
        raise AdminCommandError(f"cannot write {env.config.filename}: {exc}") from None
    if (section, option) == ("inherit", "file"):
        try:
            env.config.parse()
        except ConfigError as exc:
            raise AdminCommandError(str(exc)) from None


def _config_remove(ctx: AdminContext, section: str, option: str | None = None) -> None:
    config = ctx.env.config
    if section not in config.sections:
        raise AdminCommandError(f"Section '{section}' doesn't exist")
    if option is not None and option not in config.sections[section]:
        raise AdminCommandError(f"Option '{option}' doesn't exist in section '{section}'")
    config.remove(section, option)
    config.save()


def _complete_config(ctx: AdminContext, args: list[str]) -> list[str]:
    if len(args) <= 1:
        return sorted(set(ctx.env.config.section_names()) | set(ctx.env.options.sections()))
    if len(args) == 2:
        section = args[0]
        names = {n for n, _ in ctx.env.config.options(section)}
        names |= {o.name for o in ctx.env.options if o.section == section}
        return sorted(names)
    return []


@hookimpl
def admin_commands():
    return [
        AdminCommand("initenv", "[<projectname> <db>]",
                     "Create and initialize a new environment\n\n"
                     "Without arguments, asks for the project name and the database connection\n"
                     "string (or takes them from --config). Options:\n"
                     "  --inherit=PATH   inherit settings from another trac.ini\n"
                     "  --config=PATH    start from the options in this file",
                     _initenv, needs_env=False, min_args=0, max_args=4),
        AdminCommand("upgrade", "[--no-backup]",
                     "Upgrade the database to the current version\n\n"
                     "Backs the database up first unless --no-backup is given.",
                     _upgrade),
        AdminCommand("config get", "<section> <option>",
                     'Get the value of the given option in "trac.ini"', _config_get,
                     complete=_complete_config),
        AdminCommand("config remove", "<section> [<option>]",
                     'Remove the specified option or section from "trac.ini"', _config_remove,
                     complete=_complete_config),
        AdminCommand("config set", "<section> <option> <value>",
                     'Set the value for the given option in "trac.ini"', _config_set,
                     complete=_complete_config),
    ]
