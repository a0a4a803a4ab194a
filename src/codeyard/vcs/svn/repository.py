"""A Subversion repository read through subvertpy, on the repository directory itself (no
working copy, no server).

Revisions are decimal strings (``"42"``); revision 0 is the empty tree every repository starts
with. Two access paths, both in process: the filesystem API (``subvertpy.repos``: revision
properties, changed paths, file contents as streams, node properties) and a local RA session
on ``file://`` (``subvertpy.ra``: directory listings with each entry's last change, logs that
follow copies, locations). Neither needs the Subversion bindings' Python side, nor the
system's APR: subvertpy's wheel brings its own libraries under private names, so the module
imports the same in a virtualenv, under mod_wsgi and under mod_python.

Scope: like Trac, the directory may name a path *inside* a repository
(``/srv/svn/repos/projectA``); the repository is then the enclosing one and every path is
taken below that one.

Threads: subvertpy handles are not shared between threads (an RA session refuses a second
caller while busy), so each thread opens its own on first use; what is cached across threads
is plain Python data keyed by revision (revisions never change, except their properties,
which ``changeset modified`` re-reads).
"""

from __future__ import annotations

import functools
import io
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, TypeVar, cast
from urllib.parse import quote

import subvertpy
import subvertpy._ra
import subvertpy.client
import subvertpy.ra
import subvertpy.repos

from codeyard.util.lru import BoundedCache
from codeyard.vcs.api import (
    ADD,
    COPY,
    DELETE,
    DIRECTORY,
    EDIT,
    FILE,
    MOVE,
    Annotation,
    Change,
    Changeset,
    Node,
    NoSuchChangeset,
    NoSuchNode,
    Repository,
    RepositoryError,
    normalize_path,
)

T = TypeVar("T")

DIRENT_FIELDS = (subvertpy.ra.DIRENT_KIND | subvertpy.ra.DIRENT_CREATED_REV
                 | subvertpy.ra.DIRENT_SIZE | subvertpy.ra.DIRENT_TIME)
_FS_MODIFY, _FS_ADD, _FS_DELETE, _FS_REPLACE = 0, 1, 2, 3
REVPROPS = ("svn:log", "svn:author", "svn:date")
ERR_NOT_FOUND = (160013, 160016, 160005)  # path not found, not a directory, not a file


def find_root(directory: str) -> tuple[str, str]:
    """(repository directory, scope inside it) for a directory that is a repository or a
    path below one (the scope need not exist on disk: it is a path in the repository)."""
    path = os.path.normpath(os.path.abspath(directory))
    probe = path
    while True:
        if os.path.isfile(os.path.join(probe, "format")) and \
                os.path.isdir(os.path.join(probe, "db")):
            return probe, path[len(probe):].strip("/")
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    if not os.path.exists(path):
        raise RepositoryError(f"Subversion repository {directory!r} does not exist")
    raise RepositoryError(f"{directory!r} does not appear to be a Subversion repository "
                          "(no repository format file and db/ directory in it or above it)")


def parse_date(text: bytes | str | None) -> datetime:
    """A ``svn:date`` (``2024-01-02T12:00:00.000000Z``) as an aware UTC datetime."""
    if not text:
        return datetime(1970, 1, 1, tzinfo=UTC)
    value = text.decode("ascii", "replace") if isinstance(text, bytes) else text
    value = value.strip().rstrip("Z")
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    except ValueError:
        return datetime(1970, 1, 1, tzinfo=UTC)


def _text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


@dataclass(frozen=True)
class _Entry:
    """One revision's log entry: changed paths (full, without the leading slash) to
    (action, copied-from path, copied-from revision)."""

    rev: int
    paths: dict[str, tuple[str, str | None, int]]


class _Handles:
    """One thread's subvertpy objects."""

    def __init__(self, root: str, url: str) -> None:
        self.repos = subvertpy.repos.Repository(root)
        self.fs = self.repos.fs()
        # The C class itself: the module's wrapper only picks it by URL scheme (with a
        # deprecated urllib call).
        # A configuration directory that does not exist: Subversion's defaults, never the
        # files of whatever HOME the server runs with (unreadable under Apache).
        self.ra = subvertpy._ra.RemoteAccess(url, config=subvertpy.client.get_config(
            os.path.join(root, "conf", "codeyard-no-client-config")))
        self.roots: dict[int, Any] = {}

    def root(self, rev: int) -> Any:
        found = self.roots.get(rev)
        if found is None:
            if len(self.roots) > 64:
                self.roots.clear()
            found = self.roots[rev] = self.fs.revision_root(rev)
        return found


def _guarded(method: Callable[..., T]) -> Callable[..., T]:
    @functools.wraps(method)
    def wrapper(self: SvnRepository, *args: Any, **kwargs: Any) -> T:
        with self._errors():
            return method(self, *args, **kwargs)
    return wrapper


class SvnRepository(Repository):
    """A Subversion repository (or a path inside one, its *scope*)."""

    type = "svn"

    def __init__(self, name: str, directory: str, params: dict[str, Any] | None = None,
                 id: int = 0) -> None:
        super().__init__(name, directory, params, id)
        self.root_path, self.scope = find_root(directory)
        self.url = "file://" + quote(self.root_path)
        self._local = threading.local()
        self._generation = 0
        self._lock = threading.Lock()
        self._changes = BoundedCache(2048)
        self._logs = BoundedCache(4096)
        self._annotations = BoundedCache(64)
        # What a path is at a revision never changes: kinds, last changes, listings, sizes,
        # properties and histories are kept by (what, path, revision).
        self._facts = BoundedCache(65536)
        self._scoped_youngest: tuple[int, int] | None = None
        with self._errors():
            self.uuid = _text(self._h().fs.get_uuid())

    # -- handles, errors, scope

    def _h(self) -> _Handles:
        local = self._local
        handles = getattr(local, "handles", None)
        if handles is None or local.generation != self._generation:
            try:
                handles = _Handles(self.root_path, self.url)
            except subvertpy.SubversionException as error:
                raise RepositoryError(self._explain(error)) from error
            local.handles, local.generation = handles, self._generation
        return handles

    def _explain(self, error: subvertpy.SubversionException) -> str:
        message = _text(error.args[0] if error.args else str(error))
        if "format" in message.lower():
            version = ".".join(str(n) for n in subvertpy.repos.version()[:3])
            return (f"Subversion repository {self.root_path!r} cannot be read: {message} "
                    f"(it was made by a newer Subversion than the {version} codeyard reads "
                    "it with; upgrade subvertpy or dump and load it with this version)")
        return f"Subversion repository {self.root_path!r}: {message}"

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except RepositoryError:
            raise
        except subvertpy.SubversionException as error:
            if not os.path.isdir(self.root_path):
                raise RepositoryError(
                    f"Subversion repository {self.directory!r} is gone") from error
            raise RepositoryError(self._explain(error)) from error
        except OSError as error:
            raise RepositoryError(f"Subversion repository {self.directory!r}: {error}") \
                from error

    def _full(self, path: str) -> str:
        """The repository path (no leading slash) of a path of this (scoped) repository."""
        return "/".join(p for p in (self.scope, path) if p)

    def _local_path(self, full: str) -> str | None:
        """The path in the scope of a repository path, None when it lies outside."""
        full = full.strip("/")
        if not self.scope:
            return full
        if full == self.scope:
            return ""
        if full.startswith(self.scope + "/"):
            return full[len(self.scope) + 1:]
        return None

    def close(self) -> None:
        with self._lock:
            self._generation += 1
            self._scoped_youngest = None
        for cache in (self._changes, self._logs, self._annotations, self._facts):
            cache.clear()
        self._local.handles = None

    cache_no_base_rev = "-1"

    def cache_name(self) -> str:
        """What Trac's Subversion connector stores as ``repository_dir``."""
        return f"svn:{self.uuid}:{os.path.normpath(os.path.abspath(self.directory))}"

    def db_rev(self, rev: str) -> str:
        """Trac keeps Subversion revisions zero-padded to ten digits in its cache tables, so
        that they sort as numbers."""
        return f"{int(rev):010d}"

    def rev_db(self, rev: str) -> str:
        return str(int(rev or 0))

    # -- revisions

    def _fs_youngest(self) -> int:
        return int(self._h().fs.youngest_revision())

    def _youngest(self) -> int:
        newest = self._fs_youngest()
        if not self.scope:
            return newest
        cached = self._scoped_youngest
        if cached is not None and cached[0] == newest:
            return cached[1]
        found = 0
        if self._kind(self.scope, newest) is not None:
            found = self._created_rev(self.scope, newest)
        else:
            for entry in self._log(self.scope, newest, 1, limit=1, peg_missing=True):
                found = entry.rev
        self._scoped_youngest = (newest, found)
        return found

    @property
    @_guarded
    def youngest_rev(self) -> str | None:
        return str(self._youngest())

    @property
    @_guarded
    def oldest_rev(self) -> str | None:
        return "1" if self._youngest() >= 1 else None

    def _int(self, rev: str | int | None) -> int:
        """A revision number from what a user or a link gave (None/""/HEAD: the youngest)."""
        if rev is None:
            return self._youngest()
        text = str(rev).strip()
        if text.lower() in ("", "head", "latest", "youngest"):
            return self._youngest()
        if text[:1] in ("r", "@") and text[1:].isdigit():
            text = text[1:]
        if text.isdigit():
            number = int(text)
            if number <= self._fs_youngest():
                return number
        raise NoSuchChangeset(str(rev), self.name)

    @_guarded
    def normalize_rev(self, rev: str | None) -> str:
        return str(self._int(rev))

    @_guarded
    def previous_rev(self, rev: str, path: str = "") -> str | None:
        number = self._int(rev)
        if number <= 1:
            return None
        full = self._full(normalize_path(path))
        if not full:
            return str(number - 1)
        if self._kind(full, number - 1) is None:
            return None
        return str(self._created_rev(full, number - 1))

    @_guarded
    def next_rev(self, rev: str, path: str = "") -> str | None:
        number = self._int(rev)
        full = self._full(normalize_path(path))
        youngest = self._fs_youngest()
        for candidate in range(number + 1, youngest + 1):
            if not full:
                return str(candidate)
            for changed, (kind, *_rest) in self._changed_paths(candidate).items():
                if changed == full or changed.startswith(full + "/"):
                    return str(candidate)
                if full.startswith(changed + "/") and kind != _FS_MODIFY:
                    return str(candidate)  # an ancestor copied, replaced or deleted
        return None

    def rev_older_than(self, rev1: str, rev2: str) -> bool:
        return self._int(rev1) < self._int(rev2)

    @_guarded
    def all_revs(self, since: Iterable[str] = ()) -> Iterator[str]:
        start = 1
        for rev in since:
            try:
                start = max(start, self._int(rev) + 1)
            except NoSuchChangeset:
                continue
        youngest = self._fs_youngest()
        revs = []
        for number in range(start, youngest + 1):
            if self.scope and not any(self._local_path(p) is not None
                                      for p in self._changed_paths(number)):
                continue
            revs.append(str(number))
        return iter(revs)

    # -- changesets and changes

    def _changed_paths(self, rev: int) -> dict[str, tuple]:
        """The filesystem's changed paths of a revision, without the leading slash."""
        return {path.lstrip("/"): tuple(change[1:]) for path, change
                in self._h().root(rev).paths_changed().items()}

    @_guarded
    def get_changeset(self, rev: str) -> Changeset:
        # Read every time, never cached: revision properties (the log message, author,
        # date) can be edited, by any process, and reading them is cheap.
        number = self._int(rev)
        props = self._h().fs.revision_proplist(number)
        extra = {_text(k): _text(v) for k, v in props.items() if _text(k) not in REVPROPS}
        parent = self.previous_rev(str(number)) if self.scope else \
            (str(number - 1) if number > 1 else None)
        return Changeset(rev=str(number), message=_text(props.get("svn:log")),
                         author=_text(props.get("svn:author")),
                         date=parse_date(props.get("svn:date")),
                         parents=[parent] if parent else [], properties=extra)

    def _log(self, full: str, start: int, end: int, limit: int = 0,
             peg_missing: bool = False) -> list[_Entry]:
        """Log entries of a repository path from ``start`` down to ``end``, across copies."""
        entries: list[_Entry] = []

        def receive(changed, rev, revprops, *more):
            paths = {}
            for key, (action, from_path, from_rev, *_kind) in (changed or {}).items():
                paths[key.strip("/")] = (action, from_path.strip("/") if from_path else None,
                                         int(from_rev) if from_path else -1)
            entries.append(_Entry(int(rev), paths))

        try:
            self._h().ra.get_log(receive, [full], start, end, limit,
                                 discover_changed_paths=True, strict_node_history=False,
                                 revprops=[])
        except subvertpy.SubversionException as error:
            if peg_missing and error.args[1:] and error.args[1] in ERR_NOT_FOUND:
                return []
            raise
        return entries

    def _log_entry(self, rev: int) -> _Entry:
        entry = self._logs.get(rev)
        if entry is None:
            entries = self._log("", rev, rev, limit=1)
            entry = entries[0] if entries else _Entry(rev, {})
            self._logs.put(rev, entry)
        return entry

    def _fact(self, key: tuple, compute: Callable[[], T]) -> T:
        return cast(T, self._facts.get_or_make(key, compute))

    def _kind(self, full: str, rev: int) -> str | None:
        def compute() -> str:
            kind = self._h().ra.check_path(full, rev)
            if kind == subvertpy.NODE_DIR:
                return DIRECTORY
            if kind == subvertpy.NODE_FILE:
                return FILE
            return ""
        return self._fact(("kind", full, rev), compute) or None

    def _created_rev(self, full: str, rev: int) -> int:
        return self._fact(("created", full, rev),
                          lambda: int(self._h().ra.stat(full, rev)["created_rev"]))

    def _path_at(self, full: str, rev: int, older: int) -> str:
        """Where the node at ``full@rev`` was in revision ``older``."""
        def compute() -> str:
            where = self._h().ra.get_locations(full, rev, [older])
            return (where.get(older) or full).strip("/")
        return self._fact(("location", full, rev, older), compute)

    def _dirents(self, full: str, rev: int) -> list[tuple[str, bool, int, int | None, int]]:
        """(name, is a directory, last change, size, time) of a directory's entries."""
        def compute() -> list[tuple[str, bool, int, int | None, int]]:
            dirents, _rev, _props = self._h().ra.get_dir(full, rev, DIRENT_FIELDS)
            out = []
            for name in sorted(dirents):
                d = dirents[name]
                isdir = d.get("kind") == subvertpy.NODE_DIR
                out.append((name, isdir, int(d["created_rev"]),
                            None if isdir else d.get("size"), d.get("time") or 0))
            return out
        return self._fact(("dir", full, rev), compute)

    def _size(self, full: str, rev: int) -> int:
        return self._fact(("size", full, rev),
                          lambda: int(self._h().root(rev).file_length("/" + full)))

    def _props(self, full: str, rev: int) -> dict[str, str]:
        def compute() -> dict[str, str]:
            props = self._h().root(rev).proplist("/" + full)
            return {_text(k): _text(v) for k, v in props.items()}
        return dict(self._fact(("props", full, rev), compute))

    def _created(self, full: str, rev: int) -> tuple[str, int]:
        """(path, revision) where the node at ``full@rev`` last changed."""
        created = self._created_rev(full, rev)
        if created == rev:
            return full, rev
        return self._path_at(full, rev, created), created

    def _source(self, full: str, entry: _Entry) -> tuple[str, int] | None:
        """Where ``full`` came from when it lies in a directory copied in this revision."""
        probe = full
        while "/" in probe:
            probe = probe.rsplit("/", 1)[0]
            action, from_path, from_rev = entry.paths.get(probe, ("", None, -1))
            if action in ("A", "R") and from_path is not None:
                return from_path + full[len(probe):], from_rev
        return None

    @_guarded
    def get_changes(self, rev: str) -> list[Change]:
        number = self._int(rev)
        found = self._changes.get(number)
        if found is None:
            found = self._compute_changes(number)
            self._changes.put(number, found)
        return [replace(change) for change in found]

    def _compute_changes(self, rev: int) -> list[Change]:
        """The changed paths as Trac's Subversion connector reports them: a move is a copy
        whose source the same revision deletes; an edit's base is where the node last
        changed before; a deletion's base is the path in the revision before."""
        entry = self._log_entry(rev)
        changes: list[Change] = []
        deleted: dict[str, Change] = {}
        copies: dict[str, Change] = {}
        for full, (action, from_path, from_rev) in sorted(entry.paths.items()):
            path = self._local_path(full)
            if path is None:
                continue
            if action == "D":
                kind = self._kind(full, rev - 1) or FILE
                change = Change(path, kind, DELETE, path, str(rev - 1))
                deleted[full] = change
            elif action in ("A", "R"):
                kind = self._kind(full, rev) or FILE
                base = self._local_path(from_path) if from_path is not None else None
                if base is not None and from_rev >= 0:
                    change = Change(path, kind, COPY, base, str(from_rev))
                    copies[from_path or ""] = change
                else:
                    change = Change(path, kind, ADD)
            else:
                kind = self._kind(full, rev) or FILE
                change = Change(path, kind, EDIT, path, str(rev - 1))
                if full or self.scope:
                    source = (full, rev - 1) if self._kind(full, rev - 1) else \
                        self._source(full, entry)
                    if source is not None:
                        base_path, base_rev = self._created(*source)
                        local = self._local_path(base_path)
                        if local is not None:
                            change.base_path, change.base_rev = local, str(base_rev)
            changes.append(change)
        for origin, change in copies.items():
            if origin in deleted:
                change.change = MOVE
                changes.remove(deleted[origin])
        return changes

    # -- nodes

    @_guarded
    def get_node(self, path: str, rev: str | None = None) -> Node:
        from codeyard.vcs.svn.node import SvnNode

        path = normalize_path(path)
        number = self._int(rev)
        full = self._full(path)
        kind = self._kind(full, number)
        if kind is None:
            raise NoSuchNode(path, str(number), self.name)
        return SvnNode(self, path, number, kind)

    @_guarded
    def get_path_history(self, path: str, rev: str | None = None, limit: int | None = None
                         ) -> Iterator[tuple[str, str, str]]:
        path = normalize_path(path)
        number = self._int(rev)
        return iter(self._history(self._full(path), number, limit))

    def _history(self, full: str, rev: int, limit: int | None) -> list[tuple[str, str, str]]:
        return list(self._fact(("history", full, rev, limit or 0),
                               lambda: self._walk_history(full, rev, limit)))

    def _walk_history(self, full: str, rev: int, limit: int | None
                      ) -> list[tuple[str, str, str]]:
        if self._kind(full, rev) is None:
            return []
        out: list[tuple[str, str, str]] = []
        current = full
        for entry in self._log(full, rev, 0, limit or 0):
            if entry.rev == 0:
                break
            local = self._local_path(current)
            if local is None:
                break
            action, from_path, from_rev = entry.paths.get(current, ("", None, -1))
            if action in ("A", "R"):
                if from_path is None:
                    out.append((local, str(entry.rev), ADD))
                    break
                moved = entry.paths.get(from_path, ("",))[0] == "D"
                out.append((local, str(entry.rev), MOVE if moved else COPY))
                current = from_path
            else:
                source = self._source(current, entry)
                if source is not None:
                    out.append((local, str(entry.rev), COPY))
                    current = source[0]
                else:
                    out.append((local, str(entry.rev), EDIT))
            if limit and len(out) >= limit:
                break
        return out

    def _annotate(self, full: str, rev: int) -> list[Annotation]:
        """Blame by walking the file's history oldest first and carrying each line's
        revision over the lines a diff keeps."""
        from codeyard.util.diff import matching_lines

        key = (full, rev)
        found = self._annotations.get(key)
        if found is None:
            history = self._history(full, rev, None)
            revs: list[int] = []
            lines: list[bytes] = []
            for local, version, _change in reversed(history):
                number = int(version)
                new = self._read(self._full(local), number).splitlines()
                carried = [number] * len(new)
                for i, j in matching_lines(lines, new):  # type: ignore[arg-type]
                    carried[j] = revs[i]
                revs, lines = carried, new
            found = [Annotation(i + 1, str(r)) for i, r in enumerate(revs)]
            self._annotations.put(key, found)
        return list(found)

    def _read(self, full: str, rev: int) -> bytes:
        """A whole file (for diffs and annotations, which need it whole anyway)."""
        out = io.BytesIO()
        self._h().ra.get_file(full, out, rev)
        return out.getvalue()

    @_guarded
    def get_changes_between(self, old_path: str, old_rev: str, new_path: str, new_rev: str
                            ) -> Iterator[tuple[Node | None, Node | None, str, str]]:
        from codeyard.vcs.svn.node import SvnNode

        old = self.get_node(old_path, old_rev)
        new = self.get_node(new_path, new_rev)
        assert isinstance(old, SvnNode) and isinstance(new, SvnNode)
        if old.kind != new.kind:
            raise RepositoryError(f"Cannot compare the {old.kind} /{old.path} with the "
                                  f"{new.kind} /{new.path}")
        out: list[tuple[Node | None, Node | None, str, str]] = []
        if old.kind == FILE:
            if old.same_node(new) or old.read_all() == new.read_all():
                return iter(out)
            return iter([(old, new, FILE, EDIT)])
        self._diff_dirs(old, new, out)
        return iter(out)

    def _diff_dirs(self, old: Any, new: Any, out: list) -> None:
        if old.same_node(new):
            return
        before = {n.name: n for n in old.get_entries()}
        after = {n.name: n for n in new.get_entries()}
        for name in sorted(set(before) | set(after)):
            a, b = before.get(name), after.get(name)
            if a is None:
                self._added(b, out)
            elif b is None:
                out.append((a, None, a.kind, DELETE))
            elif a.kind != b.kind:
                out.append((a, None, a.kind, DELETE))
                self._added(b, out)
            elif a.kind == DIRECTORY:
                self._diff_dirs(a, b, out)
            elif not a.same_node(b) and a.read_all() != b.read_all():
                out.append((a, b, FILE, EDIT))

    def _added(self, node: Any, out: list) -> None:
        out.append((None, node, node.kind, ADD))
        if node.kind == DIRECTORY:
            for child in node.get_entries():
                self._added(child, out)
