"""``repository maintain <repos|*>``: repack a hosted Git repository into one pack with a
reachability bitmap and write its commit graph, now (pushes also trigger it in the
background, see ``[git] maintain_after_pushes``)."""

from __future__ import annotations

import time

from codeyard.admin.api import AdminCommand, AdminCommandError, AdminContext
from codeyard.core import hookimpl
from codeyard.hosting import git_maintenance
from codeyard.hosting.git_http import GIT_BIN
from codeyard.vcs.api import RepositoryError
from codeyard.vcs.manager import RepositoryManager, display_name, is_default


def _complete(ctx: AdminContext, args: list[str]) -> list[str]:
    if len(args) > 1:
        return []
    return ["*", *(display_name(name) for name in RepositoryManager(ctx.env).get_all_repositories())]


def _targets(ctx: AdminContext, name: str) -> list:
    manager = RepositoryManager(ctx.ready_env())
    if name == "*":
        return [repos for repos in manager.get_real_repositories() if repos.type == "git"]
    try:
        repos = manager.get_repository("" if is_default(name) else name)
    except RepositoryError as exc:
        raise AdminCommandError(str(exc)) from None
    if repos is None:
        raise AdminCommandError(f"Repository '{display_name('' if is_default(name) else name)}' "
                                "not found")
    if repos.type != "git":
        raise AdminCommandError(f"Repository '{display_name(repos.name)}' is not a Git "
                                f"repository (type {repos.type}): only Git repositories are "
                                "maintained")
    return [repos]


def _repository_maintain(ctx: AdminContext, name: str) -> None:
    git_bin = GIT_BIN(ctx.env.config) or "git"
    failures = []
    for repos in _targets(ctx, name):
        label = display_name(repos.name)
        began = time.monotonic()
        try:
            counts = git_maintenance.maintain(git_bin, repos.git_dir)
        except (git_maintenance.MaintenanceBusy, git_maintenance.MaintenanceError,
                OSError) as exc:
            failures.append(f"{label}: {exc}")
            continue
        ctx.print(f"{label}: {counts['packs_before']} pack(s) -> {counts['packs_after']}, "
                  f"bitmap and commit graph written in {time.monotonic() - began:.1f} s")
    if failures:
        for failure in failures[:-1]:
            print(f"Error: {failure}", file=ctx.err)
        raise AdminCommandError(failures[-1])


@hookimpl
def admin_commands():
    return [
        AdminCommand("repository maintain", "<repos>",
                     "Repack a Git repository for serving\n\n"
                     "Everything goes into one pack with a reachability bitmap, and the "
                     "commit graph is written, so clones and fetches are fast. Pushes run "
                     "this in the background now and then ([git] maintain_after_pushes). "
                     '<repos> is a repository\'s name, "(default)" for the default '
                     'repository, or "*" for all Git repositories.',
                     _repository_maintain, complete=_complete),
    ]
