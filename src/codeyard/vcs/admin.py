"""The ``repository`` and ``changeset`` admin commands, with trac-admin's names, arguments
and messages: ``repository add|alias|list|remove|resync|set|sync`` and
``changeset added|modified`` (what post-commit and post-revprop hooks call)."""

from __future__ import annotations

import os
import time

from codeyard.admin.api import AdminCommand, AdminCommandError, AdminContext, path_candidates
from codeyard.core import hookimpl
from codeyard.vcs import cache
from codeyard.vcs.api import RepositoryError
from codeyard.vcs.manager import REPOSITORY_ATTRS, RepositoryManager, display_name, is_default


def _call(function, *args, **kwargs):
    try:
        return function(*args, **kwargs)
    except RepositoryError as exc:
        raise AdminCommandError(str(exc)) from None


def _names(ctx: AdminContext) -> list[str]:
    return [display_name(name) for name in RepositoryManager(ctx.env).get_all_repositories()]


def _complete_repos(ctx: AdminContext, args: list[str]) -> list[str]:
    return _names(ctx) if len(args) <= 1 else []


def _complete_add(ctx: AdminContext, args: list[str]) -> list[str]:
    if len(args) == 2:
        return path_candidates(args[-1], dirs_only=True)
    if len(args) == 3:
        return RepositoryManager(ctx.env).get_supported_types()
    return []


def _complete_alias(ctx: AdminContext, args: list[str]) -> list[str]:
    return _names(ctx) if len(args) == 2 else []


def _complete_set(ctx: AdminContext, args: list[str]) -> list[str]:
    if len(args) <= 1:
        return _names(ctx)
    return list(REPOSITORY_ATTRS) if len(args) == 2 else []


def _repository_add(ctx: AdminContext, name: str, directory: str, kind: str | None = None) -> None:
    manager = RepositoryManager(ctx.ready_env())
    _call(manager.add_repository, name, os.path.abspath(directory), kind or None)


def _repository_alias(ctx: AdminContext, name: str, target: str) -> None:
    _call(RepositoryManager(ctx.ready_env()).add_alias, name, target)


def _repository_list(ctx: AdminContext) -> None:
    rows = []
    for name, info in RepositoryManager(ctx.ready_env()).get_all_repositories().items():
        alias = display_name(info.alias) if info.alias is not None else ""
        rows.append((display_name(name), info.type, alias, info.dir or ""))
    ctx.print_table(rows, ["Name", "Type", "Alias", "Directory"])


def _repository_remove(ctx: AdminContext, name: str) -> None:
    _call(RepositoryManager(ctx.ready_env()).remove_repository, name)


def _repository_set(ctx: AdminContext, name: str, key: str, value: str) -> None:
    if key not in REPOSITORY_ATTRS:
        raise AdminCommandError(f'Invalid key "{key}"')
    if key == "dir":
        value = os.path.abspath(value)
    _call(RepositoryManager(ctx.ready_env()).modify_repository, name, {key: value})
    shown = display_name("" if is_default(name) else name)
    if key == "dir":
        ctx.print(f'You should now run "repository resync {shown}".')
    elif key == "type":
        ctx.print(f'You may have to run "repository resync {shown}".')


class _Feedback:
    """Progress of a sync: a bar rewritten in place on a terminal, a line every few
    seconds otherwise (logs of cron jobs stay short)."""

    def __init__(self, ctx: AdminContext) -> None:
        self.ctx = ctx
        isatty = getattr(ctx.out, "isatty", None)
        self.tty = bool(isatty and isatty())
        self.last = 0.0

    def __call__(self, done: int, total: int, rev: str) -> None:
        if self.tty:
            width = 30
            filled = width * done // max(total, 1)
            self.ctx.out.write(f"\r [{'#' * filled}{'.' * (width - filled)}] {done}/{total} {rev}"
                               "\033[K")
            self.ctx.out.flush()
            return
        now = time.monotonic()
        if done == total or now - self.last >= 5:
            self.last = now
            self.ctx.print(f" {done}/{total} revisions [{rev}]")

    def end(self) -> None:
        if self.tty:
            self.ctx.out.write("\r\033[K")
            self.ctx.out.flush()


def _sync_command(ctx: AdminContext, name: str, rev: str | None, clean: bool) -> None:
    env = ctx.ready_env()
    manager = RepositoryManager(env)
    failed: list[str] = []
    if name == "*":
        if rev is not None:
            raise AdminCommandError("Cannot synchronize a single revision on multiple "
                                    "repositories")
        repositories = []
        for info in manager.get_all_repositories().values():
            if info.is_alias or not info.dir:
                continue
            try:
                repositories.append(manager.open(info))
            except RepositoryError as exc:  # the others are still synchronized
                failed.append(str(exc))
                print(f"Error: {exc}", file=ctx.err)
    else:
        repositories = [_call(manager.require_repository, name)]
    for repos in sorted(repositories, key=lambda r: r.name):
        shown = display_name(repos.name)
        if rev is not None:
            _call(cache.sync_changeset, env, repos, rev)
            ctx.print(f"{rev} resynced on {shown}.")
            continue
        ctx.print(f"Resyncing repository history for {shown}... ")
        feedback = _Feedback(ctx)
        try:
            _call(cache.sync, env, repos, feedback, clean=clean)
        finally:
            feedback.end()
        count = cache.count_revisions(env, repos.id)
        ctx.print(f"{count} revision cached." if count == 1 else f"{count} revisions cached.")
    ctx.print("Done.")
    if failed:
        raise AdminCommandError(f"{len(failed)} repository could not be opened" if len(failed) == 1
                                else f"{len(failed)} repositories could not be opened")


def _repository_resync(ctx: AdminContext, name: str, rev: str | None = None) -> None:
    _sync_command(ctx, name, rev, clean=True)


def _repository_sync(ctx: AdminContext, name: str, rev: str | None = None) -> None:
    _sync_command(ctx, name, rev, clean=False)


def _notify(ctx: AdminContext, event: str, name: str, revs: tuple[str, ...]) -> None:
    env = ctx.ready_env()
    repos = _call(RepositoryManager(env).get_repository, name)
    if repos is None:  # trac-admin's words
        raise AdminCommandError(f"Repository '{display_name('' if is_default(name) else name)}' "
                                "not found")
    run = cache.changeset_added if event == "added" else cache.changeset_modified
    errors = _call(run, env, repos, revs)
    if errors:
        for error in errors[:-1]:
            print(f"Error: {error}", file=ctx.err)
        raise AdminCommandError(errors[-1])


def _changeset_added(ctx: AdminContext, name: str, rev: str, *revs: str) -> None:
    _notify(ctx, "added", name, (rev, *revs))


def _changeset_modified(ctx: AdminContext, name: str, rev: str, *revs: str) -> None:
    _notify(ctx, "modified", name, (rev, *revs))


SYNC_HELP = """

When [rev] is given, only that revision is read again. <repos> is a repository's name (see
"repository list"), "(default)" for the default repository, or "*" for all of them."""


@hookimpl
def admin_commands():
    return [
        AdminCommand("changeset added", "<repos> <rev> [rev] [...]",
                     "Notify the project of changesets added to a repository\n\n"
                     "A post-commit hook calls this: the changesets enter the cache and the "
                     "listeners (the ticket updater) hear of them.",
                     _changeset_added, complete=_complete_repos),
        AdminCommand("changeset modified", "<repos> <rev> [rev] [...]",
                     "Notify the project of changesets modified in a repository\n\n"
                     "A post-revprop hook calls this after a commit message, author or date "
                     "was changed: the cache reads them again and the listeners hear of it.",
                     _changeset_modified, complete=_complete_repos),
        AdminCommand("repository add", "<repos> <dir> [type]", "Add a source repository",
                     _repository_add, complete=_complete_add),
        AdminCommand("repository alias", "<name> <target>", "Create an alias for a repository",
                     _repository_alias, complete=_complete_alias),
        AdminCommand("repository list", "", "List source repositories", _repository_list),
        AdminCommand("repository remove", "<repos>", "Remove a source repository",
                     _repository_remove, complete=_complete_repos),
        AdminCommand("repository resync", "<repos> [rev]",
                     "Re-synchronize the project with repositories\n\n"
                     "The cache of the repository is cleared and filled again from its whole "
                     "history, which can take a while; an interrupted resync is resumed with "
                     '"repository sync".' + SYNC_HELP,
                     _repository_resync, complete=_complete_repos),
        AdminCommand("repository set", "<repos> <key> <value>",
                     "Set an attribute of a repository\n\nThe keys are: "
                     + ", ".join(REPOSITORY_ATTRS),
                     _repository_set, complete=_complete_set),
        AdminCommand("repository sync", "<repos> [rev]",
                     "Resume synchronization of repositories\n\n"
                     "As resync, but the revisions already cached are kept: only new ones are "
                     "read." + SYNC_HELP,
                     _repository_sync, complete=_complete_repos),
    ]
