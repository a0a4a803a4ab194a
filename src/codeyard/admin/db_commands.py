"""Admin commands for the environment's database as a whole: convert_db and hotcopy."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import time

from codeyard.admin.api import AdminCommand, AdminCommandError, AdminContext
from codeyard.core import hookimpl
from codeyard.db.api import DatabaseError, parse_db_url

# Directories of an environment that travel with it to a new one (the database does not).
_COPIED_DIRS = ("conf", "htdocs", "templates", "plugins", "files")


def _convert_db(ctx: AdminContext, dburi: str, new_env: str | None = None) -> None:
    env = ctx.ready_env()
    if new_env:
        _convert_to_new_env(ctx, env, dburi, new_env)
    else:
        _convert_in_place(ctx, env, dburi)


def _convert_in_place(ctx: AdminContext, env, dburi: str) -> None:
    from codeyard.db.convert import convert_database

    try:
        parse_db_url(dburi, env.path)
        convert_database(env, dburi, out=ctx.print)
    except DatabaseError as exc:
        raise AdminCommandError(str(exc)) from None
    config_file = env.config.filename
    shutil.copy2(config_file, f"{config_file}.convert_db-{int(time.time())}")
    env.config.set("trac", "database", dburi)
    env.config.save()
    ctx.print(f"[trac] database is now {parse_db_url(dburi, env.path).display()}")


def _convert_to_new_env(ctx: AdminContext, env, dburi: str, new_env: str) -> None:
    from codeyard.config import Configuration
    from codeyard.db.convert import convert_database
    from codeyard.env import SUBDIRS, remove_created_tree

    target = os.path.abspath(new_env)
    existed = os.path.isdir(target) and not os.listdir(target)
    if os.path.lexists(target) and not existed:
        raise AdminCommandError(f"Cannot create the environment {target}: it already exists")
    if not os.path.isdir(os.path.dirname(target)):
        raise AdminCommandError(f"Cannot create the environment {target}: "
                                f"{os.path.dirname(target)} does not exist")
    try:
        parse_db_url(dburi, target)
    except DatabaseError as exc:
        raise AdminCommandError(str(exc)) from None
    try:
        os.makedirs(target, exist_ok=True)
        for name in ("VERSION", "README"):
            shutil.copy2(os.path.join(env.path, name), os.path.join(target, name))
        ctx.print("Copying directories:")
        for name in _COPIED_DIRS:
            src = os.path.join(env.path, name)
            if os.path.isdir(src):
                ctx.print(f"  {name} directory... done.")
                shutil.copytree(src, os.path.join(target, name), symlinks=True)
        for name in SUBDIRS:
            os.makedirs(os.path.join(target, name), exist_ok=True)
        config = Configuration(os.path.join(target, "conf", "trac.ini"))
        config.set("trac", "database", dburi)
        config.save()
        convert_database(env, dburi, base_dir=target, out=ctx.print)
    except BaseException as exc:
        remove_created_tree(target, existed)
        if isinstance(exc, DatabaseError):
            raise AdminCommandError(str(exc)) from None
        if isinstance(exc, OSError):
            raise AdminCommandError(f"{exc.filename or target}: {exc.strerror}") from None
        raise
    ctx.print(f"Environment copied to {target}, with its database at "
              f"{parse_db_url(dburi, target).display()}")


def _hotcopy(ctx: AdminContext, dest: str, *options: str) -> None:
    no_db = False
    for option in options:
        if option != "--no-database":
            raise AdminCommandError(f"Invalid argument '{option}'", show_usage=True)
        no_db = True
    env = ctx.env
    dest = os.path.abspath(dest)
    if os.path.lexists(dest):
        raise AdminCommandError(f"hotcopy can't overwrite existing '{dest}'")
    if dest == env.path or dest.startswith(env.path.rstrip(os.sep) + os.sep):
        raise AdminCommandError(f"hotcopy can't copy {env.path} into itself ({dest})")
    if not os.path.isdir(os.path.dirname(dest)):
        raise AdminCommandError(f"{os.path.dirname(dest)}: no such directory")
    url = env.database.url
    ctx.print(f"Hotcopying {env.path} to {dest} ...")
    live = set()
    if url.scheme == "sqlite":
        live = {os.path.realpath(url.path + suffix) for suffix in ("", "-wal", "-shm", "-journal")}

    def ignore(directory: str, names: list[str]) -> set[str]:
        return {n for n in names if os.path.realpath(os.path.join(directory, n)) in live}

    errors: list = []
    try:
        # A write scope holds writers back (SQLite) or keeps attachments still (PostgreSQL)
        # while the files are copied, so the files and the database copy agree.
        with env.db_transaction as db:
            if db.dialect == "postgresql":
                db("LOCK TABLE attachment IN SHARE MODE")
            else:
                db("UPDATE system SET name=NULL WHERE name IS NULL")
            try:
                shutil.copytree(env.path, dest, symlinks=True, ignore=ignore)
            except shutil.Error as exc:
                errors = list(exc.args[0])
            if not no_db:
                if url.scheme == "sqlite":
                    _copy_sqlite(env, url.path, dest)
                else:
                    ctx.print("Backing up database ...")
                    ctx.print(_dump_postgres(env, url, dest))
    except (DatabaseError, OSError) as exc:
        shutil.rmtree(dest, ignore_errors=True)
        raise AdminCommandError(f"hotcopy failed: {exc}") from None
    if errors:
        print("The following errors happened while copying the environment:", file=ctx.err)
        for src, _dst, why in errors:
            print(f"  {why}" if src in str(why) else f"  {why}: '{src}'", file=ctx.err)
        raise AdminCommandError(f"the copy in {dest} is incomplete ({len(errors)} file(s) missing)")
    ctx.print("Hotcopy done.")


def _copy_sqlite(env, db_path: str, dest: str) -> None:
    from codeyard.env import sqlite_backup

    rel = os.path.relpath(os.path.realpath(db_path), os.path.realpath(env.path))
    if rel.startswith(os.pardir):
        rel = os.path.join("db", os.path.basename(db_path))
    target = os.path.join(dest, rel)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    sqlite_backup(db_path, target)


def find_pg_dump() -> str | None:
    found = shutil.which("pg_dump")
    if found:
        return found
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_dump"),
                        key=lambda p: [int(x) if x.isdigit() else 0 for x in p.split("/")[4].split(".")])
    return candidates[-1] if candidates else None


def _dump_postgres(env, url, dest: str) -> str:
    """Dump the PostgreSQL schema into ``dest/db``; say how it was done."""
    from codeyard.db.convert import dump_to_sqlite

    db_dir = os.path.join(dest, "db")
    os.makedirs(db_dir, exist_ok=True)
    pg_dump = find_pg_dump()
    why = "pg_dump is not installed"
    if pg_dump:
        target = os.path.join(db_dir, "postgres-db-backup.sql")
        args = [pg_dump, "--no-owner", "--no-privileges", "--schema", url.schema, "--file", target]
        if url.host:
            args += ["--host", url.host]
        if url.port:
            args += ["--port", str(url.port)]
        if url.user:
            args += ["--username", url.user]
        args += ["--no-password", url.path]
        child_env = dict(os.environ)
        if url.password:
            child_env["PGPASSWORD"] = url.password
        if "sslmode" in url.params:
            child_env["PGSSLMODE"] = url.params["sslmode"]
        result = subprocess.run(args, capture_output=True, text=True, env=child_env)
        if result.returncode == 0:
            return f"  pg_dump wrote {os.path.relpath(target, dest)} (restore it with psql)"
        why = f"pg_dump failed: {(result.stderr.strip().splitlines() or ['?'])[-1]}"
        if os.path.exists(target):
            os.unlink(target)
    target = os.path.join(db_dir, "postgres-db-backup.db")
    dump_to_sqlite(env, target)
    return f"  {why}; wrote a SQLite copy of the database to {os.path.relpath(target, dest)}"


def _complete_dir(ctx: AdminContext, args: list[str]) -> list[str]:
    prefix = args[-1] if args else ""
    return [p + os.sep for p in glob.glob(glob.escape(prefix) + "*") if os.path.isdir(p)]


@hookimpl
def admin_commands():
    return [
        AdminCommand("convert_db", "<dburi> [new_env]",
                     "Convert the database to a new engine or location\n\n"
                     "Copies every table into the empty database <dburi>. Without new_env the\n"
                     "environment then uses the copy ([trac] database is rewritten, the old\n"
                     "trac.ini is kept next to it). With new_env the whole environment is copied\n"
                     "to that new directory, which uses the new database.",
                     _convert_db, complete=_complete_dir),
        AdminCommand("hotcopy", "<backupdir> [--no-database]",
                     "Make a hot backup copy of an environment\n\n"
                     "The database is backed up to the 'db' directory of the destination, unless\n"
                     "the --no-database option is specified (PostgreSQL: with pg_dump when it is\n"
                     "installed, otherwise as a SQLite file).",
                     _hotcopy, complete=_complete_dir),
    ]
