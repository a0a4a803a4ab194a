"""``codeyard admin ENV search rebuild``: index every source again."""

from __future__ import annotations

import time

from codeyard.admin.api import AdminCommand, AdminContext
from codeyard.core import hookimpl
from codeyard.search import index


class _Progress:
    """A bar rewritten in place on a terminal; nothing but the summary otherwise."""

    def __init__(self, ctx: AdminContext) -> None:
        self.ctx = ctx
        isatty = getattr(ctx.out, "isatty", None)
        self.tty = bool(isatty and isatty())

    def __call__(self, source: str, done: int, total: int) -> None:
        if not self.tty:
            return
        width = 30
        filled = width * done // max(total, 1) if total else width
        self.ctx.out.write(f"\r {source:<10} [{'#' * filled}{'.' * (width - filled)}] "
                           f"{done}/{total}\033[K")
        self.ctx.out.flush()
        if done >= total:
            self.ctx.out.write("\n")


def _rebuild(ctx: AdminContext) -> None:
    env = ctx.ready_env()
    env.ensure_own_tables()
    started = time.monotonic()
    counts = index.rebuild(env, _Progress(ctx))
    for source in sorted(counts):
        ctx.print(f"{source}: {counts[source]} documents indexed")
    ctx.print(f"Search index rebuilt in {time.monotonic() - started:.1f}s.")


@hookimpl
def admin_commands():
    return [AdminCommand("search rebuild", "",
                         "Rebuild the full-text search index from the wiki, tickets, "
                         "milestones and changesets", _rebuild)]
