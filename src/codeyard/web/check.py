"""``codeyard check --env ENV | -e DIR``: what each enabled plugin finds wrong with a
project's set-up (the ``environment_checks`` hook), one line per finding — ``ok``,
``warn`` or ``FAIL``, the subject, and the problem with its fix — and a non-zero exit status
when something fails; ``--json`` for scripts.

This is the on-disk part of the deployment doctor: it opens each environment and asks its
plugins (repositories that do not open, …). Probing a running deployment over HTTP comes on
top of it.
"""

from __future__ import annotations

import json
import os
import sys

import click

LEVELS = ("ok", "warn", "FAIL")


def environment_findings(path: str) -> list[tuple[str, str, str]]:
    """(level, subject, message) of one environment; an environment that does not open is
    one FAIL naming why."""
    from codeyard.env import Environment

    try:
        env = Environment(path)
    except Exception as error:  # noqa: BLE001 - whatever keeps it closed is the finding
        return [("FAIL", "environment", f"{path} does not open: {error}")]
    try:
        found: list[tuple[str, str, str]] = []
        for result in env.hook.environment_checks(env=env):
            for level, subject, message in result or ():
                found.append((level if level in LEVELS else "warn", subject, message))
        return found
    finally:
        env.shutdown()


def _environments(env_path: str | None, parent: str | None) -> list[str]:
    if env_path:
        return [env_path]
    assert parent is not None
    return sorted(os.path.join(parent, name) for name in os.listdir(parent)
                  if os.path.isfile(os.path.join(parent, name, "conf", "trac.ini")))


@click.command("check", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--env", "env_path", metavar="ENV", help="Check this environment.")
@click.option("-e", "--env-parent-dir", "parent", metavar="DIR",
              help="Check every environment in DIR.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
def check_command(env_path: str | None, parent: str | None, as_json: bool) -> None:
    """Find what is wrong with a project's set-up and say how to fix it."""
    if bool(env_path) == bool(parent):
        raise click.UsageError("give one of --env ENV or -e DIR")
    if parent and not os.path.isdir(parent):
        raise click.UsageError(f"{parent} is not a directory")
    report = {path: environment_findings(path) for path in _environments(env_path, parent)}
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
