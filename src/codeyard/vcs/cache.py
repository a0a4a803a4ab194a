"""The changeset cache: Trac 1.6's ``revision`` and ``node_change`` tables, and the
``repository_dir`` and ``youngest_rev`` rows of each repository, for the timeline, search
and the ticket updater.

The rows are the ones Trac's ``CachedRepository`` writes, so that either program reads what
the other cached: one ``revision`` row per revision (the backend's revision string, the time
in microseconds, author, message), one ``node_change`` row per changed path (node type
``F``/``D``, change ``A``/``D``/``E``/``C``/``M``, base path and revision), ``repository_dir``
naming what was cached (``git:/path`` as Trac's git connector names it) and ``youngest_rev``.

Syncing follows Trac's protocol for several writers: the ``revision`` insert is what claims a
revision (its primary key refuses a second one), so when two processes sync at once one of
them meets a revision already there and stops, leaving the rest to the other ("a sync in
progress"); ``repository_dir`` and ``youngest_rev`` are emptied by a resync before it clears
the rows and filled again as it goes. Unlike Trac we read the repository outside the
transaction and insert in batches, so a big history syncs in seconds and the database is
locked only for the inserts. Every change of the rows bumps Trac's generation of the
repository's metadata (``cachekeys.repository_metadata``), so a Trac running beside us sees
the new youngest revision.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime

from codeyard import cachekeys
from codeyard.util.timefmt import from_utimestamp
from codeyard.vcs.api import (
    CHANGE_TYPE_CODES,
    NODE_TYPE_CODES,
    Change,
    Changeset,
    NoSuchChangeset,
    Repository,
    RepositoryError,
)

REPOSITORY_DIR = "repository_dir"
YOUNGEST_REV = "youngest_rev"
METADATA_KEYS = (REPOSITORY_DIR, YOUNGEST_REV)
BATCH = 250  # revisions per insert transaction

_KINDS = {code: kind for kind, code in NODE_TYPE_CODES.items()}
_CHANGES = {code: change for change, code in CHANGE_TYPE_CODES.items()}

Progress = Callable[[int, int, str], None]  # (done, total, rev)


class SyncInProgress(RepositoryError):
    """Another process is filling the cache of this repository right now."""


def to_utimestamp(dt: datetime) -> int:
    delta = dt.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def display(repos: Repository) -> str:
    return repos.name or "(default)"


# ---------------------------------------------------------------------------
# Metadata


def get_metadata(env, repos_id: int) -> dict[str, str]:
    """The ``repository_dir`` and ``youngest_rev`` rows (kept per process, re-read when
    either program bumps the repository's metadata generation)."""
    def read():
        with env.db_query as db:
            return dict(db("SELECT name, value FROM repository WHERE id=%s AND name IN (%s, %s)",
                           (repos_id, *METADATA_KEYS)))
    return env.cached(cachekeys.repository_metadata(repos_id), read)


def cached_youngest_rev(env, repos_id: int) -> str | None:
    """The newest revision the cache has seen (None before the first sync)."""
    return get_metadata(env, repos_id).get(YOUNGEST_REV) or None


def _bump(env, db, repos_id: int) -> None:
    env.database.invalidate(db, cachekeys.repository_metadata(repos_id))
    env.caches.pop(cachekeys.repository_metadata(repos_id), None)


def remove_cache(env, repos: Repository) -> None:
    """Forget every cached revision of the repository; the metadata rows stay, emptied."""
    with env.db_transaction as db:
        db("DELETE FROM revision WHERE repos=%s", (repos.id,))
        db("DELETE FROM node_change WHERE repos=%s", (repos.id,))
        db.executemany("DELETE FROM repository WHERE id=%s AND name=%s",
                       [(repos.id, key) for key in METADATA_KEYS])
        db.executemany("INSERT INTO repository (id, name, value) VALUES (%s, %s, %s)",
                       [(repos.id, key, "") for key in METADATA_KEYS])
        _bump(env, db, repos.id)


def _save_metadata(env, repos: Repository) -> str:
    """Check the cache belongs to this repository and create the metadata rows that are
    missing; returns the cached youngest revision ("" when none)."""
    name = repos.cache_name()
    with env.db_transaction as db:
        metadata = dict(db("SELECT name, value FROM repository WHERE id=%s AND name IN (%s, %s)",
                           (repos.id, *METADATA_KEYS)))
        cached_dir = metadata.get(REPOSITORY_DIR)
        changed = False
        if cached_dir:
            if os.path.normcase(cached_dir) != os.path.normcase(name):
                raise RepositoryError(
                    f"The repository directory has changed (the cache holds {cached_dir}), "
                    "you should resynchronize the repository with: codeyard admin ENV "
                    f"repository resync '{display(repos)}'")
        elif cached_dir is None:
            db("INSERT INTO repository (id, name, value) VALUES (%s, %s, %s)",
               (repos.id, REPOSITORY_DIR, name))
            changed = True
        else:  # emptied by a resync
            db("UPDATE repository SET value=%s WHERE id=%s AND name=%s",
               (name, repos.id, REPOSITORY_DIR))
            changed = True
        if YOUNGEST_REV not in metadata:
            db("INSERT INTO repository (id, name, value) VALUES (%s, %s, %s)",
               (repos.id, YOUNGEST_REV, ""))
            changed = True
        if changed:
            _bump(env, db, repos.id)
        return metadata.get(YOUNGEST_REV) or ""


# ---------------------------------------------------------------------------
# Filling the cache


def _rows(repos: Repository, rev: str) -> tuple[Changeset, tuple, list[tuple]]:
    cset = repos.get_changeset(rev)
    srev = repos.db_rev(rev)
    revision = (repos.id, srev, to_utimestamp(cset.date), cset.author,
                repos.stored_message(cset.message))
    no_base = repos.cache_no_base_rev
    changes = [(repos.id, srev, repos.db_path(c.path), NODE_TYPE_CODES[c.kind],
                CHANGE_TYPE_CODES[c.change],
                repos.db_path(c.base_path) if c.base_path is not None else None,
                c.base_rev if c.base_rev is not None else no_base)
               for c in repos.get_changes(rev)]
    return cset, revision, changes


def _insert(db, revisions: Sequence[tuple], changes: Sequence[tuple]) -> None:
    db.executemany("INSERT INTO revision (repos, rev, time, author, message) "
                   "VALUES (%s, %s, %s, %s, %s)", revisions)
    db.executemany("INSERT INTO node_change (repos, rev, path, node_type, change_type, "
                   "base_path, base_rev) VALUES (%s, %s, %s, %s, %s, %s, %s)", changes)


def _cached_revs(env, repos: Repository) -> set[str]:
    with env.db_query as db:
        return {repos.rev_db(rev) for rev, in db("SELECT rev FROM revision WHERE repos=%s",
                                                 (repos.id,))}


def _new_revs(repos: Repository, youngest: str, cached: set[str]) -> list[str]:
    since: Iterable[str] = [youngest] if youngest and youngest in cached else []
    try:
        revs = repos.all_revs(since=since)
        return [rev for rev in revs if rev not in cached]
    except NoSuchChangeset:  # the cached youngest is gone (history rewritten)
        return [rev for rev in repos.all_revs() if rev not in cached]


def sync(env, repos: Repository, progress: Progress | None = None, clean: bool = False,
         notify: bool = False, pusher: str | None = None) -> list[str]:
    """Cache the revisions not cached yet (all of them after ``clean``, a resync); returns
    them, oldest first. With ``notify`` the ``changeset_added`` hook hears of each (what a
    push does; a sync of history made elsewhere stays quiet, as in Trac). Raises
    ``SyncInProgress`` when another process is caching the same revisions."""
    _check_id(repos)
    if clean:
        remove_cache(env, repos)
    youngest = _save_metadata(env, repos)
    cached = _cached_revs(env, repos)
    todo = _new_revs(repos, youngest, cached)
    added: list[str] = []
    for start in range(0, len(todo), BATCH):
        chunk = todo[start:start + BATCH]
        csets, revisions, changes = [], [], []
        for rev in chunk:
            cset, revision, rows = _rows(repos, rev)
            csets.append(cset)
            revisions.append(revision)
            changes.extend(rows)
        with env.db_transaction as db:
            with db.unique(SyncInProgress(
                    f"Repository \"{display(repos)}\" is being synchronized by another "
                    "process; try again when it is done")):
                _insert(db, revisions, changes)
            db("UPDATE repository SET value=%s WHERE id=%s AND name=%s",
               (chunk[-1], repos.id, YOUNGEST_REV))
            _bump(env, db, repos.id)
        added.extend(chunk)
        if progress is not None:
            progress(len(added), len(todo), chunk[-1])
        if notify:
            for cset in csets:
                try:
                    env.hook.changeset_added(env=env, repos=repos, changeset=cset,
                                             pusher=pusher)
                except Exception:  # noqa: BLE001 - one listener's failure, logged; the others run
                    env.log.exception("A listener failed on changeset %s of %s", cset.rev,
                                      display(repos))
    newest = repos.youngest_rev or ""
    with env.db_transaction as db:
        current = db("SELECT value FROM repository WHERE id=%s AND name=%s",
                     (repos.id, YOUNGEST_REV))
        if not current or current[0][0] != newest:
            db("UPDATE repository SET value=%s WHERE id=%s AND name=%s",
               (newest, repos.id, YOUNGEST_REV))
            _bump(env, db, repos.id)
    if added or clean:
        _repository_changed(env, repos)
    return added


def _check_id(repos: Repository) -> None:
    if not repos.id:  # opened inside a read scope before trac.ini's repositories had ids
        raise RepositoryError(f'Repository "{display(repos)}" has no id yet; open it outside '
                              "a read-only scope first")


def resync(env, repos: Repository, progress: Progress | None = None) -> list[str]:
    """Clear the repository's cache and fill it again."""
    return sync(env, repos, progress, clean=True)


def sync_if_changed(env, repos: Repository) -> list[str]:
    """``sync`` unless the cache already has the repository's youngest revision (the check
    a page makes for a ``sync_per_request`` repository: two cheap reads)."""
    metadata = get_metadata(env, repos.id)
    youngest = repos.youngest_rev or ""
    if REPOSITORY_DIR in metadata and metadata.get(YOUNGEST_REV, "") == youngest:
        return []
    guard = _sync_guard(env, repos.id)
    if not guard.acquire(blocking=False):
        return []  # another request of this process is at it: don't read the history twice
    try:
        return sync(env, repos)
    finally:
        guard.release()


def _sync_guard(env, repos_id: int) -> threading.Lock:
    lock, guards = env.memo("codeyard.vcs.sync_guards", lambda: (threading.Lock(), {}))
    with lock:
        return guards.setdefault(repos_id, threading.Lock())


def _repository_changed(env, repos: Repository) -> None:
    from codeyard.vcs.manager import RepositoryManager

    info = RepositoryManager(env).get_info(repos.name)
    if info is not None:
        env.hook.repository_changed(env=env, event="synced", repos=info)


def sync_changeset(env, repos: Repository, rev: str) -> Changeset | None:
    """Read one revision's metadata again: update its cached row (returning the metadata
    it had) or cache it when it was not (returning None)."""
    _check_id(repos)
    rev = repos.normalize_rev(rev)
    cset, revision, changes = _rows(repos, rev)
    with env.db_transaction as db:
        old = _changeset_row(db, repos, rev)
        if old is not None:
            db("UPDATE revision SET time=%s, author=%s, message=%s WHERE repos=%s AND rev=%s",
               (revision[2], revision[3], revision[4], repos.id, repos.db_rev(rev)))
            _bump(env, db, repos.id)  # pages kept with the old message are stale
        else:
            _insert(db, [revision], changes)
    return old


def changeset_added(env, repos: Repository, revs: Iterable[str]) -> list[str]:
    """What ``changeset added`` does (a post-commit hook's call): sync, then tell the
    ``changeset_added`` listeners of each revision. Returns the errors (unknown revisions)."""
    sync(env, repos)
    errors = []
    for given in revs:
        try:
            rev = repos.normalize_rev(given)
            if get_cached_changeset(env, repos, rev) is None:
                sync_changeset(env, repos, rev)
            cset = repos.get_changeset(rev)
        except NoSuchChangeset as exc:
            errors.append(str(exc))
            continue
        env.hook.changeset_added(env=env, repos=repos, changeset=cset, pusher=None)
    return errors


def changeset_modified(env, repos: Repository, revs: Iterable[str]) -> list[str]:
    """What ``changeset modified`` does (after a commit message was edited): re-read each
    revision's metadata and tell the ``changeset_modified`` listeners, with the old one."""
    sync(env, repos)
    errors = []
    for given in revs:
        try:
            rev = repos.normalize_rev(given)
            old = sync_changeset(env, repos, rev)
            cset = repos.get_changeset(rev)
        except NoSuchChangeset as exc:
            errors.append(str(exc))
            continue
        env.hook.changeset_modified(env=env, repos=repos, changeset=cset, old_changeset=old)
    return errors


# ---------------------------------------------------------------------------
# Reading the cache


def _changeset_row(db, repos: Repository, rev: str) -> Changeset | None:
    rows = db("SELECT time, author, message FROM revision WHERE repos=%s AND rev=%s",
              (repos.id, repos.db_rev(rev)))
    if not rows:
        return None
    ts, author, message = rows[0]
    return Changeset(rev=rev, message=message or "", author=author or "",
                     date=from_utimestamp(ts or 0))


def get_cached_changeset(env, repos: Repository, rev: str) -> Changeset | None:
    """The cached metadata of one revision (no parents, branches…: the backend has those)."""
    with env.db_query as db:
        return _changeset_row(db, repos, rev)


def get_cached_changes(env, repos: Repository, rev: str) -> list[Change]:
    """The cached changed paths of one revision, by path."""
    with env.db_query as db:
        rows = db("SELECT path, node_type, change_type, base_path, base_rev FROM node_change "
                  "WHERE repos=%s AND rev=%s ORDER BY path", (repos.id, repos.db_rev(rev)))
    no_base = repos.cache_no_base_rev
    return [Change(path=repos.path_db(path), kind=_KINDS.get(kind, kind),
                   change=_CHANGES.get(change, change),
                   base_path=repos.path_db(base_path) if base_path is not None else None,
                   base_rev=None if base_rev is None or base_rev == no_base else base_rev)
            for path, kind, change, base_path, base_rev in rows]


def change_counts(env, repos: Repository, revs: Iterable[str]) -> dict[str, dict[str, int]]:
    """{rev: {change kind: how many paths}} of the cached revisions among ``revs`` (one
    query per 200 revisions: a log page's change summaries)."""
    wanted = list(dict.fromkeys(repos.db_rev(rev) for rev in revs))
    out: dict[str, dict[str, int]] = {}
    with env.db_query as db:
        for i in range(0, len(wanted), 200):
            chunk = wanted[i:i + 200]
            marks = ",".join(["%s"] * len(chunk))
            for srev, change, count in db(
                    "SELECT rev, change_type, COUNT(*) FROM node_change "
                    f"WHERE repos=%s AND rev IN ({marks}) GROUP BY rev, change_type",
                    (repos.id, *chunk)):
                counts = out.setdefault(repos.rev_db(srev), {})
                counts[_CHANGES.get(change, change)] = int(count)
    return out


def get_changesets(env, start: datetime, stop: datetime, repos_ids: Iterable[int] | None = None
                   ) -> list[tuple[int, Changeset]]:
    """(repository id, changeset) of the cached revisions with ``start <= time < stop``,
    newest first: for the timeline. ``repos_ids`` limits the repositories. The revisions are
    as the table holds them: the repository's ``rev_db`` turns one into its revision."""
    sql = ("SELECT repos, rev, time, author, message FROM revision "
           "WHERE time >= %s AND time < %s")
    args: list = [to_utimestamp(start), to_utimestamp(stop)]
    if repos_ids is not None:
        ids = list(repos_ids)
        if not ids:
            return []
        sql += f" AND repos IN ({','.join(['%s'] * len(ids))})"
        args.extend(ids)
    sql += " ORDER BY time DESC, rev DESC"
    with env.db_query as db:
        rows = db(sql, args)
    return [(int(repos), Changeset(rev=rev, message=message or "", author=author or "",
                                   date=from_utimestamp(ts or 0)))
            for repos, rev, ts, author, message in rows]


def revisions_newest_first(env, repos: Repository) -> list[str]:
    """Every cached revision of the repository, newest first (by time, as the timeline)."""
    with env.db_query as db:
        rows = db("SELECT rev FROM revision WHERE repos=%s ORDER BY time DESC, rev DESC",
                  (repos.id,))
    return [repos.rev_db(rev) for (rev,) in rows]


def count_revisions(env, repos_id: int) -> int:
    with env.db_query as db:
        return int(db("SELECT COUNT(rev) FROM revision WHERE repos=%s", (repos_id,))[0][0])
