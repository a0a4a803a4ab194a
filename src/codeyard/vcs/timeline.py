"""Changesets in the timeline (filter ``changeset``, "Repository changesets"), read from the
changeset cache; hidden repositories and ones that do not open are left out."""

from __future__ import annotations

from markupsafe import Markup

from codeyard.core import hookimpl
from codeyard.timeline.api import TimelineEvent
from codeyard.vcs import cache
from codeyard.vcs import web_util as U
from codeyard.vcs.manager import RepositoryError, RepositoryManager

_CHANGESET_PAGES = "codeyard.vcs.web_changeset"


def _shown_repositories(req) -> dict[int, tuple[str, object]]:
    """{repository id: (name, opened repository)} of the repositories to show."""
    manager = RepositoryManager(req.env)
    found: dict[int, tuple[str, object]] = {}
    for info in manager.get_all_repositories().values():
        if info.is_alias or not info.dir or info.hidden:
            continue
        try:
            repos = manager.open(info)
        except (RepositoryError, OSError) as exc:
            req.env.log.warning("timeline: repository %s: %s", info.display_name, exc)
            continue
        found[info.id] = (info.name, repos)
    return found


@hookimpl
def timeline_filters(req):
    if req.env.is_enabled(_CHANGESET_PAGES) and req.perm.has("CHANGESET_VIEW"):
        return [("changeset", "Repository changesets", True)]
    return []


@hookimpl
def timeline_events(req, start, stop, filters):
    if "changeset" not in filters or not req.env.is_enabled(_CHANGESET_PAGES):
        return []
    shown = _shown_repositories(req)
    if not shown:
        return []
    picked = []
    for repos_id, changeset in cache.get_changesets(req.env, start, stop, shown):
        name, repos = shown[repos_id]
        rev = repos.rev_db(changeset.rev)  # type: ignore[attr-defined]
        if req.perm.has("CHANGESET_VIEW", U.changeset_resource(name, rev)):
            picked.append((name, repos, rev, changeset))
    events = []
    for name, repos, rev, changeset in picked:
        display = repos.display_rev(rev)  # type: ignore[attr-defined]
        title = Markup("Changeset <em>[%s]</em>") % display
        if name:
            title += Markup(" in %s") % name
        events.append(TimelineEvent(
            kind="changeset", date=changeset.date, author=changeset.author, title=title,
            href=U.changeset_url(req, name, rev, repos=repos), filter="changeset",
            text=changeset.message or "", resource=U.changeset_resource(name, rev)))
    return events
