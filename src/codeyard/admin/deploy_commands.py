"""The admin command ``deploy <directory>``: static files and a WSGI script for one project."""

from __future__ import annotations

import os

from codeyard.admin.api import AdminCommand, AdminCommandError, AdminContext
from codeyard.core import hookimpl


def _deploy(ctx: AdminContext, directory: str) -> None:
    from codeyard.web.deploy import (
        BUILTIN_HTDOCS,
        SCRIPT_NAME,
        DeployError,
        default_python_path,
        export_static,
        plugin_static_dirs,
        staged_output,
        write_script,
    )

    env = ctx.env
    target = os.path.abspath(directory)
    extra = plugin_static_dirs(env)

    def build(stage: str) -> None:
        ctx.print("Copying resources from:")
        export_static(os.path.join(stage, "htdocs"), env.path, extra,
                      report=lambda line: ctx.print(line.replace(stage, target)))
        ctx.print("Creating scripts.")
        write_script(os.path.join(stage, "cgi-bin"), {"codeyard.env_path": env.path},
                     default_python_path())

    if os.path.realpath(target).startswith(os.path.realpath(BUILTIN_HTDOCS) + os.sep):
        raise AdminCommandError(f"{target}: inside the built-in static files")
    try:
        staged_output(target, build)
    except DeployError as exc:
        raise AdminCommandError(exc.message) from None
    ctx.print(f"  {os.path.join(target, 'cgi-bin', SCRIPT_NAME)}")


@hookimpl
def admin_commands():
    return [
        AdminCommand("deploy", "<directory>",
                     "Extract static resources from codeyard and all plugins\n\n"
                     "Writes <directory>/htdocs/common (built-in files), htdocs/site (this\n"
                     "project's htdocs/), htdocs/<plugin> and cgi-bin/codeyard.wsgi for a\n"
                     "front server.",
                     _deploy),
    ]
