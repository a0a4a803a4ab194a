"""``codeyard check [URL] [--env ENV | -e DIR]``: what is wrong with a deployment, one line per
finding — ``ok``, ``warn`` or ``FAIL``, the subject, and the problem with its fix — and a
non-zero exit status when something fails; ``--json`` for scripts.

With a URL it probes the running deployment over HTTP (:mod:`codeyard.web.probe`: static
files, the login page, form posts, https redirects, the Bazaar route…); with an environment
it opens it and asks each enabled plugin (the ``environment_checks`` hook), and says when
its database needs an upgrade.
"""

from __future__ import annotations

import json
import os
import sys

import click

LEVELS = ("ok", "warn", "FAIL")


def environment_findings(path: str, server_user: str | None = None) -> list[tuple[str, str, str]]:
    """(level, subject, message) of one environment; an environment that does not open is
    one FAIL naming why. ``server_user``: whose write access to check (default: ours)."""
    from codeyard.env import Environment

    try:
        env = Environment(path)
    except Exception as error:  # noqa: BLE001 - whatever keeps it closed is the finding
        return [("FAIL", "environment", f"{path} does not open: {error}")]
    try:
        found: list[tuple[str, str, str]] = []
        try:
            if env.needs_upgrade():
                found.append(("FAIL", "environment", f"{path} needs an upgrade of its database: "
                              f"run `codeyard admin {path} upgrade`"))
        except Exception as error:  # noqa: BLE001 - a schema it cannot read is the finding
            found.append(("FAIL", "environment", f"{path}: {error}"))
        found += writable_findings(env, server_user)
        found += plugin_findings(env)
        for result in env.hook.environment_checks(env=env):
            for level, subject, message in result or ():
                found.append((level if level in LEVELS else "warn", subject, message))
        return found
    finally:
        env.shutdown()


def _may_write(path: str, user: str | None) -> bool:
    if user is None:
        return os.access(path, os.W_OK | os.X_OK) if os.path.isdir(path) else \
            os.access(path, os.W_OK)
    import grp
    import pwd
    import stat

    entry = pwd.getpwnam(user)
    if entry.pw_uid == 0:
        return True
    groups = {entry.pw_gid} | {g.gr_gid for g in grp.getgrall() if user in g.gr_mem}
    info = os.stat(path)
    need_x = stat.S_ISDIR(info.st_mode)
    if info.st_uid == entry.pw_uid:
        bits = (stat.S_IWUSR, stat.S_IXUSR)
    elif info.st_gid in groups:
        bits = (stat.S_IWGRP, stat.S_IXGRP)
    else:
        bits = (stat.S_IWOTH, stat.S_IXOTH)
    return bool(info.st_mode & bits[0]) and (not need_x or bool(info.st_mode & bits[1]))


def writable_findings(env, user: str | None) -> list[tuple[str, str, str]]:
    """The directories (and SQLite database) the web server writes to: its user must."""
    who = user or "this user"
    paths = [env.path, *(os.path.join(env.path, d) for d in ("db", "log", "files"))]
    database = env.config.get("trac", "database", "")
    if database.startswith("sqlite:"):
        paths.append(os.path.join(env.path, database[len("sqlite:"):]))
    found = []
    for path in paths:
        if not os.path.exists(path):
            continue
        if not _may_write(path, user):
            fix = f"chown -R {user} {path}" if user else f"give its owner's user write access to {path}"
            found.append(("FAIL", "permissions", f"{path} is not writable by {who}: {fix} "
                          "(or make it group-writable for a group of the server's user)"))
    if not found:
        found.append(("ok", "permissions", f"{env.path}: db/, log/ and files/ are writable "
                      f"by {who}"))
    return found


def plugin_findings(env) -> list[tuple[str, str, str]]:
    """A FAIL for each plugin the project's [components] turns on that does not import
    (the site then runs without it and only its log says why)."""
    from codeyard.core import ComponentRules, announced

    rules = ComponentRules(env.config.options("components"))
    found = []
    for info in announced()[1]:
        if info.builtin or not rules.decide(info.name, info.builtin):
            continue
        try:
            info.load()
        except Exception as error:  # noqa: BLE001 - any import failure is the finding
            found.append(("FAIL", "plugins", f"{info.name} (from {info.distribution or '?'}) "
                          f"does not load: {type(error).__name__}: {error}; repair its "
                          f"installation, or turn it off: [components] {info.name} = disabled"))
    return found


def postgres_findings(paths: list[str], processes: int,
                      threads: int) -> dict[str, list[tuple[str, str, str]]]:
    """For each PostgreSQL server the projects use: does it take the connections that
    ``processes`` × ``threads`` need for every project on it? A process keeps
    ``[codeyard] database_pool_size`` connections per project while idle and opens one more
    per request it answers (``threads`` at once), at most size + overflow per project."""
    from urllib.parse import urlsplit

    from codeyard.env import POOL_OVERFLOW, POOL_SIZE, Environment

    servers: dict[str, dict] = {}
    for path in paths:
        try:
            env = Environment(path)
        except Exception:  # noqa: BLE001 - environment_findings reports it
            continue
        try:
            database = env.config.get("trac", "database", "")
            if not database.startswith(("postgres:", "postgresql:")):
                continue
            parts = urlsplit(database)
            where = f"PostgreSQL {parts.hostname or 'local'}:{parts.port or 5432}"
            try:
                with env.db_query as db:
                    limit = int(db.execute("SHOW max_connections")[0][0])
                    reserved = int(db.execute("SHOW superuser_reserved_connections")[0][0])
            except Exception as error:  # noqa: BLE001 - a server that refuses is the finding
                servers.setdefault(where, {"projects": [], "error": str(error)})
                servers[where]["projects"].append(path)
                continue
            entry = servers.setdefault(where, {"projects": [], "kept": 0, "most": 0})
            entry.update(limit=limit, reserved=reserved)
            entry["projects"].append(path)
            size, overflow = max(0, POOL_SIZE(env.config)), max(0, POOL_OVERFLOW(env.config))
            entry["kept"] += size
            entry["most"] += size + overflow
        finally:
            env.shutdown()
    report = {}
    for where, entry in servers.items():
        count = len(entry["projects"])
        if "limit" not in entry:
            report[where] = [("FAIL", "connections", f"{where} refuses a connection: "
                              f"{entry['error']}")]
            continue
        per_process = min(entry["kept"] + threads, entry["most"])
        need = processes * per_process
        usable = entry["limit"] - entry["reserved"]
        sums = (f"{count} project(s) × {processes} process(es) need up to {need} connections "
                f"({entry['kept']} kept per process, [codeyard] database_pool_size, and one "
                f"per thread while busy)")
        if need > usable:
            report[where] = [("FAIL", "connections", f"{sums}, and {where} takes {usable} "
                              f"(max_connections {entry['limit']} less {entry['reserved']} "
                              "reserved): raise max_connections in postgresql.conf to at "
                              f"least {need + entry['reserved']}, lower [codeyard] "
                              "database_pool_size, or run fewer processes or threads "
                              "(`codeyard deploy --processes N --threads N`)")]
        else:
            report[where] = [("ok", "connections", f"{sums}; {where} takes {usable}")]
    return report


def _environments(env_path: str | None, parent: str | None) -> list[str]:
    if env_path:
        return [env_path]
    assert parent is not None
    return sorted(os.path.join(parent, name) for name in os.listdir(parent)
                  if os.path.isfile(os.path.join(parent, name, "conf", "trac.ini")))


@click.command("check", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("url", required=False)
@click.option("--env", "env_path", metavar="ENV", help="Check this environment.")
@click.option("-e", "--env-parent-dir", "parent", metavar="DIR",
              help="Check every environment in DIR.")
@click.option("--user", metavar="NAME", help="Log in at URL/login as NAME (HTTP Basic).")
@click.option("--password-file", metavar="FILE", type=click.File("r"),
              help="The password of --user: the first line of FILE.")
@click.option("--insecure", is_flag=True, help="Do not verify the https certificate of URL.")
@click.option("--timeout", default=30.0, show_default=True, help="Seconds per HTTP request.")
@click.option("--server-user", metavar="NAME",
              help="With --env/-e: check write access for the web server's user NAME.")
@click.option("--processes", type=click.IntRange(1, 256), default=2, show_default=True,
              help="With --env/-e: the server's processes, for the PostgreSQL connection count.")
@click.option("--threads", type=click.IntRange(1, 256), default=15, show_default=True,
              help="With --env/-e: threads per process, for the same count.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
def check_command(url: str | None, env_path: str | None, parent: str | None, user: str | None,
                  password_file, insecure: bool, timeout: float, server_user: str | None,
                  processes: int, threads: int, as_json: bool) -> None:
    """Find what is wrong with a deployment (at URL, on disk or both) and say how to fix it."""
    if env_path and parent:
        raise click.UsageError("give one of --env ENV or -e DIR, not both")
    if not (url or env_path or parent):
        raise click.UsageError("give a URL, --env ENV or -e DIR")
    if parent and not os.path.isdir(parent):
        raise click.UsageError(f"{parent} is not a directory")
    if server_user is not None:
        import pwd

        try:
            pwd.getpwnam(server_user)
        except KeyError:
            raise click.UsageError(f"--server-user {server_user}: no such user") from None
    if bool(user) != bool(password_file):
        raise click.UsageError("--user and --password-file go together")
    report: dict[str, list[tuple[str, str, str]]] = {}
    if url:
        from urllib.parse import urlsplit

        from codeyard.web.probe import http_fetch, probe_deployment

        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
            raise click.UsageError(f"{url}: not an http:// or https:// URL")
        password = password_file.readline().rstrip("\r\n") if password_file else None
        report[url] = probe_deployment(url, http_fetch(timeout, verify=not insecure),
                                       user, password)
    if env_path or parent:
        paths = _environments(env_path, parent)
        report.update({path: environment_findings(path, server_user) for path in paths})
        report.update(postgres_findings(paths, processes, threads))
    failed = any(level == "FAIL" for found in report.values() for level, _s, _m in found)
    if as_json:
        click.echo(json.dumps({path: [{"level": level, "subject": subject, "message": message}
                                      for level, subject, message in found]
                               for path, found in report.items()}, indent=2))
    else:
        for path, found in report.items():
            click.echo(f"{path}:")
            if not found:
                click.echo("  ok    nothing to check")
            for level, subject, message in found:
                click.echo(f"  {level:<5} {subject}: {message}")
    sys.exit(1 if failed else 0)
