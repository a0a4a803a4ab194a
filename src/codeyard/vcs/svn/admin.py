"""``repository hooks <repos>``: write the Subversion hook scripts that tell the project of
new revisions (``post-commit`` → ``changeset added``) and of edited log messages, authors
or dates (``post-revprop-change`` → ``changeset modified``).

Subversion runs hooks with an empty environment, so the scripts name this Python and the
project by absolute paths. The lines go in a block marked with the project and repository
names: a hook script of the site's own keeps what it had (the block is added at its end),
and writing the hooks again replaces the block rather than adding a second one.
"""

from __future__ import annotations

import os
import shlex
import stat
import sys

from codeyard.admin.api import AdminCommand, AdminCommandError, AdminContext
from codeyard.core import hookimpl

HOOKS = {"post-commit": "added", "post-revprop-change": "modified"}


def _markers(env_path: str, name: str) -> tuple[str, str]:
    label = f"{env_path} {name or '(default)'}"
    return f"# codeyard begin: {label}", f"# codeyard end: {label}"


def hook_block(env_path: str, name: str, event: str) -> str:
    """The lines a hook script runs for one project's repository."""
    begin, end = _markers(env_path, name)
    command = " ".join(shlex.quote(part) for part in (
        sys.executable, "-m", "codeyard", "admin", env_path, "changeset", event,
        name or "(default)"))
    return (f"{begin}\n"
            f'{command} "$2" || echo "codeyard: the project {env_path} was not told of '
            f'revision $2" >&2\n'
            f"{end}\n")


def merge_hook(existing: str | None, block: str, env_path: str, name: str) -> str:
    """The script with the block in it: replacing an earlier one, else appended."""
    begin, end = _markers(env_path, name)
    if not existing:
        return "#!/bin/sh\n" + block
    lines = existing.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.rstrip("\n") == begin]
    ends = [i for i, line in enumerate(lines) if line.rstrip("\n") == end]
    if starts and ends and ends[0] > starts[0]:
        return "".join(lines[:starts[0]]) + block + "".join(lines[ends[0] + 1:])
    text = existing if existing.endswith("\n") else existing + "\n"
    return text + block


def install_hooks(env, repos) -> list[str]:
    """Write the hook scripts of a Subversion repository; returns their paths."""
    hooks_dir = os.path.join(repos.root_path, "hooks")
    if not os.path.isdir(hooks_dir):
        raise AdminCommandError(f"{repos.root_path} has no hooks directory: is it the "
                                "repository itself?")
    written = []
    for hook, event in HOOKS.items():
        path = os.path.join(hooks_dir, hook)
        existing = None
        if os.path.exists(path):
            with open(path, encoding="utf-8", errors="surrogateescape") as fh:
                existing = fh.read()
        text = merge_hook(existing, hook_block(env.path, repos.name, event), env.path,
                          repos.name)
        temporary = path + ".codeyard-new"
        with open(temporary, "w", encoding="utf-8", errors="surrogateescape") as fh:
            fh.write(text)
        mode = os.stat(path).st_mode if existing is not None else 0o755
        os.chmod(temporary, mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        os.replace(temporary, path)
        written.append(path)
    return written


def _repository_hooks(ctx: AdminContext, name: str) -> None:
    from codeyard.vcs.api import RepositoryError
    from codeyard.vcs.manager import RepositoryManager, display_name, is_default

    env = ctx.ready_env()
    shown = display_name("" if is_default(name) else name)
    try:
        repos = RepositoryManager(env).get_repository(name)
    except RepositoryError as error:
        raise AdminCommandError(str(error)) from None
    if repos is None:
        raise AdminCommandError(f"Repository '{shown}' not found")
    if getattr(repos, "type", "") != "svn":
        raise AdminCommandError(f"Repository '{shown}' is a {repos.type} repository: hook "
                                "scripts are written for Subversion repositories (pushes to "
                                "repositories codeyard hosts are seen without them)")
    for path in install_hooks(env, repos):
        ctx.print(f"Wrote {path}")


@hookimpl
def admin_commands():
    return [AdminCommand(
        "repository hooks", "<repos>",
        "Write the Subversion hook scripts that keep the project current\n\n"
        "post-commit runs \"changeset added\" and post-revprop-change \"changeset modified\" "
        "for the repository; a hook script already there keeps its own lines.",
        _repository_hooks)]
