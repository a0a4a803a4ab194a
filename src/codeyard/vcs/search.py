"""Changeset messages in the search (source ``changeset``), read from the changeset cache
(Trac's ``revision`` table); hidden repositories are left out of the results."""

from __future__ import annotations

from codeyard.core import hookimpl
from codeyard.search.api import SearchDocument
from codeyard.search.index import reindex
from codeyard.vcs import web_util as U
from codeyard.vcs.manager import RepositoryError, RepositoryManager

_CHANGESET_PAGES = "codeyard.vcs.web_changeset"
_COLUMNS = "SELECT repos, rev, time, author, message FROM revision"


def changeset_documents(env, since: int | None = None,
                        only: tuple[int, str] | None = None) -> list[SearchDocument]:
    """Documents of the cached changesets since ``since`` (µs), or of one (repos id, rev)."""
    with env.db_query as db:
        if only is not None:
            rows = db(_COLUMNS + " WHERE repos = %s AND rev = %s", only)
        elif since is not None:
            rows = db(_COLUMNS + " WHERE time >= %s", (since,))
        else:
            rows = db(_COLUMNS)
    return [SearchDocument("changeset", rev, (message or "").split("\n", 1)[0], message or "",
                           author or "", int(time or 0), parent=str(repos))
            for repos, rev, time, author, message in rows]


@hookimpl
def search_sources(req):
    if req.env.is_enabled(_CHANGESET_PAGES) and req.perm.has("CHANGESET_VIEW"):
        return [("changeset", "Changesets", True)]
    return []


@hookimpl
def search_stamps(env, db):
    count, newest = db("SELECT COUNT(*), MAX(time) FROM revision")[0]
    return {"changeset": (count, newest)}


@hookimpl
def search_documents(env, source, since):
    if source == "changeset":
        return changeset_documents(env, since)
    return None


def _shown_repositories(env) -> dict:
    manager = RepositoryManager(env)
    return {str(info.id): info for info in manager.get_all_repositories().values()
            if not info.is_alias and info.dir and not info.hidden}


@hookimpl
def search_visible(req, hits):
    mine = [hit for hit in hits if hit.source == "changeset"]
    if not mine:
        return []
    infos = _shown_repositories(req.env)
    return req.perm.allowed("CHANGESET_VIEW", (hit for hit in mine if hit.parent in infos),
                            lambda hit: U.changeset_resource(infos[hit.parent].name, hit.id))


@hookimpl
def search_results(req, hits):
    mine = [hit for hit in hits if hit.source == "changeset"]
    if not mine:
        return []
    manager = RepositoryManager(req.env)
    infos = _shown_repositories(req.env)
    opened: dict[str, object] = {}
    found = []
    for hit in mine:
        info = infos.get(hit.parent)
        if info is None:
            continue
        rev = hit.id
        if hit.parent not in opened:
            try:
                opened[hit.parent] = manager.open(info)
            except (RepositoryError, OSError):
                opened[hit.parent] = None
        repos = opened[hit.parent]
        display = repos.display_rev(rev) if repos is not None else rev  # type: ignore[attr-defined]
        title = f"[{display}]: {hit.title}" if not info.name else \
            f"[{display}/{info.name}]: {hit.title}"
        found.append((hit, U.changeset_url(req, info.name, rev, repos=repos), title))
    return found


@hookimpl
def changeset_added(env, repos, changeset, pusher):
    rev = repos.db_rev(changeset.rev)
    reindex(env, changeset_documents(env, only=(repos.id, rev)))


@hookimpl
def changeset_modified(env, repos, changeset, old_changeset):
    rev = repos.db_rev(changeset.rev)
    reindex(env, changeset_documents(env, only=(repos.id, rev)))


@hookimpl
def repository_changed(env, event, repos):
    # A removed repository's changesets leave the index at once; its cache rows go too,
    # so the next search's catch-up finds the counts agree.
    if event == "removed":
        with env.db_transaction as db:
            if db.has_table("codeyard_search_doc"):
                from codeyard.search.index import remove

                remove(db, "changeset", parent=str(repos.id))
                db("DELETE FROM codeyard_search_state WHERE source = 'changeset'")
