"""The ``codeyard`` command: ``admin``, ``serve``, ``deploy``, ``check``."""

from __future__ import annotations

import sys

import click

from codeyard import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="codeyard")
def cli() -> None:
    """codeyard: wiki, tickets, roadmap, timeline, search and hosted repositories."""


@cli.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False,
                               "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def admin(args: tuple[str, ...]) -> None:
    """Administer a project: codeyard admin ENV [command ...] (trac-admin's commands)."""
    from codeyard.admin.console import main as admin_main

    sys.exit(admin_main(list(args)))


def _load_optional_commands() -> None:
    """Commands contributed by packages that may not be present yet in this build."""
    import importlib
    import importlib.util

    for module, name in (("codeyard.web.server", "serve"), ("codeyard.web.deploy", "deploy"),
                         ("codeyard.web.check", "check")):
        if importlib.util.find_spec(module) is None:
            continue
        mod = importlib.import_module(module)
        command = getattr(mod, name + "_command", None)
        if command is not None:
            cli.add_command(command, name)


_load_optional_commands()


def main() -> None:
    cli(prog_name="codeyard")


if __name__ == "__main__":  # pragma: no cover
    main()
