"""A Bazaar repository directory (shared repositories, branches, plain directories) as one
``Repository`` of the version control API. See the package doc string for the revision
scheme and the layout of node paths."""

from __future__ import annotations

import contextlib
import functools
import os
import posixpath
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

from breezy import errors as bzr_errors
from breezy.revision import NULL_REVISION

from codeyard.vcs import api
from codeyard.vcs.bzr import layout as _layout
from codeyard.vcs.bzr.nodes import BranchNode, VirtualNode, kind_of

T = TypeVar("T")
REVNO = re.compile(r"^[0-9]+(\.[0-9]+)*$")
HEAD_NAMES = ("", "head", "tip", "-1")
TREE_CACHE_SIZE = 32
ENTRY_CACHE_SIZE = 4096  # (revision, path) -> inventory entry, looked up without a lock
_UNSEEN = object()
REVISION_CACHE_SIZE = 2048
CHANGES_CACHE_SIZE = 256  # revisions whose changes are kept


def to_revid(rev: str) -> bytes:
    try:
        return rev.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        # Not a string a revision id decodes to: something no revision has.
        return rev.encode("utf-8", "replace")


def to_rev(revid: bytes) -> str:
    return revid.decode("utf-8", "surrogateescape")


class BranchState:
    """One opened branch and what is derived from its tip (dropped when the tip moves)."""

    def __init__(self, path: str, real: str, branch: Any) -> None:
        self.path = path
        self.real = real
        self.branch = branch
        self.tip: bytes | None = None
        self.stamp: tuple | None = None
        self._stamp_paths: tuple[str, ...] | None = None
        self.checked = -1
        self._graph: tuple[dict[bytes, tuple[int, ...]], list[bytes], dict[bytes, bytes]] | None
        self._graph = None
        self._dotted: dict[str, bytes] | None = None
        self._positions: dict[bytes, int] | None = None
        self._tags: dict[str, bytes] | None = None

    @property
    def repository(self) -> Any:
        return self.branch.repository

    def _stamp(self) -> tuple | None:
        """What the branch's tip and tags files look like on disk (breezy replaces them
        whole on every change), or None when they cannot be looked at."""
        try:
            if self._stamp_paths is None:
                transport = self.branch._transport
                self._stamp_paths = tuple(transport.local_abspath(name)
                                          for name in ("last-revision", "tags"))
            out: list[tuple[int, int, int] | None] = []
            for path in self._stamp_paths:
                try:
                    st = os.stat(path)
                except FileNotFoundError:
                    out.append(None)
                    continue
                out.append((st.st_ino, st.st_mtime_ns, st.st_size))
            return tuple(out)
        except Exception:  # noqa: BLE001 - not a local branch of a known format
            return None

    def refresh(self, serial: int) -> None:
        """Re-read the tip once per outer call, and only when its file changed on disk
        (reading it costs a lock and a look at the repository's packs; a page asks many
        times); a moved tip drops the derived data."""
        if self.checked == serial:
            return
        stamp = self._stamp()
        if (stamp is not None and stamp[0] is not None and stamp == self.stamp
                and self.tip is not None):
            self.checked = serial
            return
        self.stamp = None
        tip = self.branch.last_revision()
        self.stamp = stamp
        if tip != self.tip:
            self.tip = tip
            self._graph = None
            self._dotted = None
            self._positions = None
        self._tags = None
        self.checked = serial

    @property
    def empty(self) -> bool:
        return self.tip is None or self.tip == NULL_REVISION

    def _merge_sorted(self) -> tuple[dict[bytes, tuple[int, ...]], list[bytes], dict[bytes, bytes]]:
        if self._graph is None:
            revnos: dict[bytes, tuple[int, ...]] = {}
            mainline: list[bytes] = []
            merged_by: dict[bytes, bytes] = {}
            if not self.empty:
                with self.branch.lock_read():
                    current = None
                    for revid, depth, revno, _end in self.branch.iter_merge_sorted_revisions():
                        revnos[revid] = tuple(revno)
                        if depth == 0:
                            mainline.append(revid)
                            current = revid
                        elif current is not None:
                            merged_by[revid] = current
                mainline.reverse()
            self._graph = (revnos, mainline, merged_by)
        return self._graph

    @property
    def revnos(self) -> dict[bytes, tuple[int, ...]]:
        """revision id -> dotted revno, for the whole ancestry of the tip."""
        return self._merge_sorted()[0]

    @property
    def mainline(self) -> list[bytes]:
        """The left-hand history, oldest first (index 0 is revno 1 unless the history
        starts with a ghost)."""
        return self._merge_sorted()[1]

    def mainline_index(self, revid: bytes) -> int | None:
        if self._positions is None:
            self._positions = {r: i for i, r in enumerate(self.mainline)}
        return self._positions.get(revid)

    def merged_by(self, revid: bytes) -> bytes | None:
        """The mainline revision that merged ``revid`` (not itself on the mainline)."""
        return self._merge_sorted()[2].get(revid)

    def by_dotted(self, revno: str) -> bytes | None:
        if self._dotted is None:
            self._dotted = {".".join(map(str, n)): r for r, n in self.revnos.items()}
        return self._dotted.get(revno)

    @property
    def tags(self) -> dict[str, bytes]:
        if self._tags is None:
            try:
                with self.branch.lock_read():
                    self._tags = dict(self.branch.tags.get_tag_dict())
            except bzr_errors.BzrError:
                self._tags = {}
        return self._tags


def _public(method: Callable[..., T]) -> Callable[..., T]:
    """Run a method under the instance lock, as one outer call (tips read once), with
    breezy's and the file system's errors turned into RepositoryError."""

    @functools.wraps(method)
    def wrapper(self: BzrRepository, *args: Any, **kwargs: Any) -> T:
        with self.guard():
            return method(self, *args, **kwargs)

    return wrapper


class BzrRepository(api.Repository):
    type = "bzr"

    def __init__(self, name: str, directory: str, params: dict[str, Any] | None = None,
                 id: int = 0) -> None:
        super().__init__(name, directory, params, id)
        self._lock = threading.RLock()
        self._depth = 0
        self._holder: int | None = None  # the thread in a consistent() block
        self._held: dict[int, Any] = {}  # breezy repositories it keeps read-locked
        self._serial = 0
        self._root = _layout.check_root(name, directory)
        self._layout_data: _layout.Layout | None = None
        self._layout_serial = -1
        self._ordered_data: list[BranchState] | None = None
        self._ordered_serial = -1
        self._states: dict[str, BranchState] = {}
        self._repositories: dict[str, Any] = {}
        self._trees: OrderedDict[tuple[int, bytes], Any] = OrderedDict()
        self._revisions: OrderedDict[bytes, Any] = OrderedDict()
        self._changes: OrderedDict[tuple, list[api.Change]] = OrderedDict()
        self._entries: OrderedDict[tuple, Any] = OrderedDict()
        with self.guard():
            found = self._layout()
            if not found.branches and not self._looks_like_bazaar():
                raise api.RepositoryError(
                    f"{self._label()}: {directory} holds no Bazaar branch or shared repository")

    # -- plumbing
    def _label(self) -> str:
        return f"Repository '{self.name}'" if self.name else "The default repository"

    def _looks_like_bazaar(self) -> bool:
        try:
            names = [n for n in os.listdir(self._root) if n != "lost+found"]
        except OSError:
            return False
        return not names or ".bzr" in names

    @contextlib.contextmanager
    def guard(self) -> Iterator[None]:
        with self._lock:
            if self._depth == 0:
                self._serial += 1
            self._depth += 1
            try:
                yield
            except api.RepositoryError:
                raise
            except (bzr_errors.BzrError, OSError) as exc:
                _layout.check_root(self.name, self.directory)
                raise api.RepositoryError(f"{self._label()}: {exc}") from exc
            finally:
                self._depth -= 1

    @contextlib.contextmanager
    def consistent(self) -> Iterator[None]:
        """One outer call for the whole block: the layout and the tips are looked at
        once (a log page otherwise asks a hundred times), under the instance lock, and
        each breezy repository read is read-locked once (``read_locked``) until it ends."""
        with self.guard():
            if self._holder is not None:  # an inner block: the outer one holds the locks
                yield
                return
            self._holder = threading.get_ident()
            try:
                yield
            finally:
                self._holder = None
                held, self._held = self._held, {}
                for repo in held.values():
                    try:
                        repo.unlock()
                    except bzr_errors.BzrError as exc:  # pragma: no cover - breezy's own
                        _layout.log.warning("%s: unlocking failed: %s", self._label(), exc)

    def read_locked(self, repo: Any) -> contextlib.AbstractContextManager[Any]:
        """``repo.lock_read()`` for a block; inside ``consistent()`` (on its thread) the
        lock is taken once and kept until that ends, so a page's many reads do not each
        lock and unlock (breezy reads the pack names anew at each lock)."""
        if self._holder != threading.get_ident():  # not inside consistent() on this thread
            return repo.lock_read()
        if id(repo) not in self._held:
            repo.lock_read()
            self._held[id(repo)] = repo
        return contextlib.nullcontext()

    def _layout(self) -> _layout.Layout:
        if self._layout_serial == self._serial and self._layout_data is not None:
            return self._layout_data
        current = self._layout_data
        if current is None or not _layout.stamps_current(current):
            current = _layout.scan(self.name, self._root)
            for path, real in list(current.branches.items()):
                state = self._states.get(path)
                if state is not None and state.real == real:
                    continue
                try:
                    branch = _layout.open_branch(self._root, real, self._repositories)
                except (_layout.Refused, api.RepositoryError, bzr_errors.BzrError) as exc:
                    _layout.log.warning("%s: branch %s refused: %s", self._label(), path, exc)
                    current.drop(path)
                    continue
                self._states[path] = BranchState(path, real, branch)
            for path in list(self._states):
                if path not in current.branches:
                    del self._states[path]
            self._layout_data = current
        self._layout_serial = self._serial
        return current

    def _state(self, path: str) -> BranchState:
        self._layout()
        state = self._states[path]
        state.refresh(self._serial)
        return state

    def _ordered(self) -> list[BranchState]:
        """Every branch, the default one first, then by path (worked out once per outer
        call: the layout and the tips stand still within one)."""
        if self._ordered_serial == self._serial and self._ordered_data is not None:
            return self._ordered_data
        self._ordered_data = self._order()
        self._ordered_serial = self._serial
        return self._ordered_data

    def _order(self) -> list[BranchState]:
        default = self._default()
        states = [self._state(p) for p in sorted(self._layout().branches)]
        if default is not None:
            states.remove(default)
            states.insert(0, default)
        return states

    def _default(self) -> BranchState | None:
        """The only branch, else ``trunk``, else the shallowest ``…/trunk``, else the branch
        with the newest tip."""
        paths = sorted(self._layout().branches)
        if not paths:
            return None
        if len(paths) == 1:
            return self._state(paths[0])
        if "trunk" in paths:
            return self._state("trunk")
        trunks = [p for p in paths if posixpath.basename(p) == "trunk"]
        if trunks:
            return self._state(min(trunks, key=lambda p: (p.count("/"), p)))
        best: tuple[float, str] | None = None
        for path in paths:
            state = self._state(path)
            if state.empty:
                continue
            stamp = self._revision(state, state.tip).timestamp  # type: ignore[arg-type]
            if best is None or stamp > best[0]:
                best = (stamp, path)
        return self._state(best[1] if best else paths[0])

    def _home(self, revid: bytes) -> BranchState | None:
        for state in self._ordered():
            if revid in state.revnos:
                return state
        return None

    def _lookup(self, rev: str) -> tuple[bytes, BranchState]:
        """A normalized revision string -> (revision id, its home branch)."""
        revid = to_revid(rev)
        state = self._home(revid)
        if state is None:
            raise api.NoSuchChangeset(rev, self.name)
        return revid, state

    def _revision(self, state: BranchState, revid: bytes) -> Any:
        hit = self._revisions.get(revid)
        if hit is None:
            try:
                with self.read_locked(state.repository):
                    hit = state.repository.get_revision(revid)
            except bzr_errors.NoSuchRevision as exc:
                raise api.NoSuchChangeset(to_rev(revid), self.name) from exc
            self._revisions[revid] = hit
            if len(self._revisions) > REVISION_CACHE_SIZE:
                self._revisions.popitem(last=False)
        return hit

    def tree(self, state: BranchState, revid: bytes) -> Any:
        """The revision tree (cached; read it with the repository read-locked)."""
        repo = state.repository
        key = (id(repo), revid)
        tree = self._trees.get(key)
        if tree is None:
            with self.read_locked(repo):
                tree = repo.revision_tree(revid)
            self._trees[key] = tree
            if len(self._trees) > TREE_CACHE_SIZE:
                self._trees.popitem(last=False)
        else:
            self._trees.move_to_end(key)
        return tree

    def _left_parent(self, state: BranchState, revid: bytes) -> bytes | None:
        index = state.mainline_index(revid)
        if index is not None:
            return state.mainline[index - 1] if index > 0 else None
        with self.read_locked(state.repository):
            parents = state.repository.get_parent_map([revid]).get(revid) or ()
        if not parents or parents[0] == NULL_REVISION or parents[0] not in state.revnos:
            return None
        return parents[0]

    def _chain(self, state: BranchState, revid: bytes) -> list[bytes]:
        """The left-hand history from ``revid``, newest first."""
        index = state.mainline_index(revid)
        if index is not None:
            return state.mainline[index::-1]
        chain = [revid]
        while True:
            parent = self._left_parent(state, chain[-1])
            if parent is None:
                return chain
            index = state.mainline_index(parent)
            if index is not None:
                return chain + state.mainline[index::-1]
            chain.append(parent)

    def _forward(self, state: BranchState, revid: bytes) -> list[bytes]:
        """The revisions after ``revid`` along the branch's mainline, oldest first."""
        index = state.mainline_index(revid)
        if index is None:
            merger = state.merged_by(revid)
            if merger is None:
                return []
            index = state.mainline_index(merger)
            if index is None:
                return []
            return state.mainline[index:]
        return state.mainline[index + 1:]

    def split(self, path: str) -> tuple[BranchState | None, str]:
        """(the branch a path is in — the longest match — and the path inside it)."""
        try:
            path.encode("utf-8")
        except UnicodeEncodeError:
            raise api.NoSuchNode(path.encode("utf-8", "replace").decode(), None,
                                 self.name) from None
        branches = self._layout().branches
        parts = path.split("/") if path else []
        for depth in range(len(parts), -1, -1):
            head = "/".join(parts[:depth])
            if head in branches:
                return self._state(head), "/".join(parts[depth:])
        return None, path

    def branch_node(self, state: BranchState, revid: bytes | None, inner: str = "") -> api.Node:
        """The node ``inner`` of a branch at a revision of its ancestry (the tip for None)."""
        path = posixpath.join(state.path, inner).strip("/") if inner else state.path
        revid = state.tip if revid is None else revid
        if revid is None or revid == NULL_REVISION:
            if inner:
                raise api.NoSuchNode(path, None, self.name)
            return VirtualNode(self, path, "", real=state.real, entries=[])
        rev = to_rev(revid)
        if revid not in state.revnos:
            raise api.NoSuchNode(path, self.display_rev(rev), self.name)
        tree = self.tree(state, revid)
        # A revision's entries never change: one found before is taken without the
        # repository's lock (taking it re-reads the pack names: a tenth of a listing).
        key = (id(state.repository), revid, inner)
        entry = self._entries.get(key, _UNSEEN)
        if entry is _UNSEEN:
            with self.read_locked(state.repository):
                file_id = tree.path2id(inner)
                entry = tree.root_inventory.get_entry(file_id) if file_id is not None else None
            self._entries[key] = entry
            if len(self._entries) > ENTRY_CACHE_SIZE:
                self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(key)
        if entry is None:
            raise api.NoSuchNode(path, self.display_rev(rev), self.name)
        return BranchNode(self, state, tree, revid, inner, entry)

    @_public
    def view_state(self) -> tuple | None:
        # Every branch's tip and tags (dotted numbers and a revision's home branch follow
        # them); the directories above the branches follow the branch paths.
        found = []
        for state in self._ordered():
            if state.stamp is None or state.stamp[0] is None:
                return None  # a tip that is not a file of ours to look at
            found.append((state.path, state.real, state.tip, state.stamp))
        return tuple(found)

    # -- revisions
    @property
    @_public
    def youngest_rev(self) -> str | None:
        state = self._default()
        if state is None or state.empty:
            return None
        return to_rev(state.tip)  # type: ignore[arg-type]

    @property
    @_public
    def oldest_rev(self) -> str | None:
        state = self._default()
        if state is None or state.empty or not state.mainline:
            return None
        return to_rev(state.mainline[0])

    def _tag(self, name: str) -> bytes | None:
        for state in self._ordered():
            target = state.tags.get(name)
            if target is not None and target in state.revnos:
                return target
        return None

    @_public
    def normalize_rev(self, rev: str | None) -> str:
        text = (rev or "").strip()
        if text.lower() in HEAD_NAMES:
            youngest = self.youngest_rev
            if youngest is None:
                raise api.NoSuchChangeset(text or "HEAD", self.name)
            return youngest
        if text.startswith("revid:"):
            text = text[len("revid:"):]
        if self._home(to_revid(text)) is not None:
            return text
        if text.startswith("tag:"):
            target = self._tag(text[len("tag:"):])
            if target is not None:
                return to_rev(target)
        branches = self._layout().branches
        branch, sep, revno = text.rpartition(":")
        if sep and REVNO.match(revno) and branch in branches:
            found = self._state(branch).by_dotted(revno)
            if found is not None:
                return to_rev(found)
        default = self._default()
        if REVNO.match(text) and default is not None:
            found = default.by_dotted(text)
            if found is not None:
                return to_rev(found)
        target = self._tag(text)
        if target is not None:
            return to_rev(target)
        if text in branches and not self._state(text).empty:
            return to_rev(self._state(text).tip)  # type: ignore[arg-type]
        raise api.NoSuchChangeset(rev or "", self.name)

    @_public
    def display_rev(self, rev: str) -> str:
        revid = to_revid(rev)
        state = self._home(revid)
        if state is None:
            return rev
        dotted = ".".join(map(str, state.revnos[revid]))
        return f"{state.path}:{dotted}" if state.path else dotted

    @_public
    def short_rev(self, rev: str) -> str:
        revid = to_revid(rev)
        state = self._home(revid)
        if state is None:
            return rev
        if state is self._default():
            return ".".join(map(str, state.revnos[revid]))
        return self.display_rev(rev)

    @_public
    def previous_rev(self, rev: str, path: str = "") -> str | None:
        if path:
            return self._path_neighbour(rev, path, older=True)
        revid, state = self._lookup(rev)
        parent = self._left_parent(state, revid)
        return to_rev(parent) if parent is not None else None

    @_public
    def next_rev(self, rev: str, path: str = "") -> str | None:
        if path:
            return self._path_neighbour(rev, path, older=False)
        revid, state = self._lookup(rev)
        following = self._forward(state, revid)
        return to_rev(following[0]) if following else None

    def _path_neighbour(self, rev: str, path: str, older: bool) -> str | None:
        from codeyard.vcs.bzr import history

        path = api.normalize_path(path)
        revid = to_revid(self.normalize_rev(rev))
        state, inner = self.split(path)
        if state is None or revid not in state.revnos:
            return None
        if older:
            try:
                for _path, found, _change in history.path_history(self, state, inner, revid, 2):
                    if found != rev:
                        return found
            except api.NoSuchNode:
                return None
            return None
        following = self._forward(state, revid)
        hit = history.first_touching(self, state, inner, revid, following)
        return to_rev(hit) if hit is not None else None

    @_public
    def rev_older_than(self, rev1: str, rev2: str) -> bool:
        first, first_state = self._lookup(rev1)
        second, second_state = self._lookup(rev2)
        if first == second:
            return False
        for state in (second_state, first_state):
            if first in state.revnos and second in state.revnos:
                with self.read_locked(state.repository):
                    graph = state.repository.get_graph()
                    if graph.is_ancestor(first, second):
                        return True
                    if graph.is_ancestor(second, first):
                        return False
        return bool(self._revision(first_state, first).timestamp
                    < self._revision(second_state, second).timestamp)

    @_public
    def all_revs(self, since: Iterable[str] = ()) -> Iterator[str]:
        parents: dict[bytes, tuple[bytes, ...]] = {}
        tips: list[bytes] = []
        for state in self._ordered():
            if state.empty or state.tip in parents:
                continue
            tips.append(state.tip)  # type: ignore[arg-type]
            with self.read_locked(state.repository):
                graph = state.repository.get_graph()
                for revid, found in graph.iter_ancestry([state.tip]):
                    if found is None or revid == NULL_REVISION or revid in parents:
                        continue
                    parents[revid] = tuple(p for p in found if p != NULL_REVISION)
        seen: set[bytes] = set()
        stack = [to_revid(rev) for rev in since if to_revid(rev) in parents]
        while stack:
            revid = stack.pop()
            if revid in seen:
                continue
            seen.add(revid)
            stack.extend(p for p in parents.get(revid, ()) if p in parents)
        order: list[str] = []
        for tip in tips:
            # Depth first, parents before their child, without recursion.
            todo: list[tuple[bytes, bool]] = [(tip, False)]
            while todo:
                revid, expanded = todo.pop()
                if expanded:
                    order.append(to_rev(revid))
                    continue
                if revid in seen:
                    continue
                seen.add(revid)
                todo.append((revid, True))
                todo.extend((p, False) for p in reversed(parents.get(revid, ()))
                            if p in parents and p not in seen)
        return iter(order)

    # -- changesets
    @_public
    def get_changeset(self, rev: str) -> api.Changeset:
        revid, state = self._lookup(rev)
        revision = self._revision(state, revid)
        authors = revision.get_apparent_authors() or [revision.committer or ""]
        properties = {key: str(value) for key, value in revision.properties.items()
                      if key not in ("author", "authors")}
        if len(authors) > 1:
            properties["authors"] = ", ".join(authors)
        if revision.committer and revision.committer != authors[0]:
            properties["committer"] = revision.committer
        states = self._ordered()
        return api.Changeset(
            rev=rev,
            message=revision.message or "",
            author=authors[0],
            date=datetime.fromtimestamp(revision.timestamp, UTC),
            parents=[to_rev(p) for p in revision.parent_ids],
            branches=sorted(s.path for s in states if s.mainline_index(revid) is not None),
            tags=sorted({name for s in states for name, target in s.tags.items()
                         if target == revid}),
            properties=properties)

    @_public
    def get_changes(self, rev: str) -> list[api.Change]:
        revid, state = self._lookup(rev)
        key = (state.path, state.real, revid)
        kept = self._changes.get(key)
        if kept is None:
            kept = self._changes[key] = self._compute_changes(state, revid)
            if len(self._changes) > CHANGES_CACHE_SIZE:
                self._changes.popitem(last=False)
        else:
            self._changes.move_to_end(key)
        return list(kept)

    def _compute_changes(self, state: BranchState, revid: bytes) -> list[api.Change]:
        """What a revision changed against its left parent (a revision's changes never
        change: they are kept by ``get_changes``)."""
        parent = self._left_parent(state, revid)
        base_rev = to_rev(parent) if parent is not None else None
        new = self.tree(state, revid)
        old = self.tree(state, parent if parent is not None else NULL_REVISION)
        prefix = state.path

        def full(inner: str) -> str:
            return posixpath.join(prefix, inner) if prefix else inner

        changes = []
        with self.read_locked(state.repository):
            for change in new.iter_changes(old):
                old_path, new_path = change.path
                if old_path == "" or new_path == "":
                    continue  # the branch's root directory
                kind = kind_of(change.kind[1] or change.kind[0])
                if not change.versioned[0]:
                    changes.append(api.Change(full(new_path), kind, api.ADD))
                elif not change.versioned[1]:
                    changes.append(api.Change(full(old_path), kind, api.DELETE,
                                              full(old_path), base_rev))
                elif old_path != new_path:
                    changes.append(api.Change(full(new_path), kind, api.MOVE,
                                              full(old_path), base_rev))
                else:
                    changes.append(api.Change(full(new_path), kind, api.EDIT,
                                              full(old_path), base_rev))
        return sorted(changes, key=lambda c: c.path)

    # -- nodes
    @_public
    def get_node(self, path: str, rev: str | None = None) -> api.Node:
        path = api.normalize_path(path)
        normalized = self.normalize_rev(rev) if rev else None
        state, inner = self.split(path)
        if state is None:
            entries = self._layout().dirs.get(path)
            if entries is None:
                raise api.NoSuchNode(path, rev, self.name)
            at = normalized or self.youngest_rev or ""
            return VirtualNode(self, path, at, real=None, entries=entries)
        return self.branch_node(state, to_revid(normalized) if normalized else None, inner)

    @_public
    def get_path_history(self, path: str, rev: str | None = None, limit: int | None = None
                         ) -> Iterator[tuple[str, str, str]]:
        from codeyard.vcs.bzr import history

        path = api.normalize_path(path)
        normalized = self.normalize_rev(rev) if rev else None
        state, inner = self.split(path)
        if state is None:
            if path not in self._layout().dirs:
                raise api.NoSuchNode(path, rev, self.name)
            return iter(history.virtual_history(self, path, normalized, limit))
        revid = to_revid(normalized) if normalized else state.tip
        if revid is None or revid == NULL_REVISION or revid not in state.revnos:
            raise api.NoSuchNode(path, rev, self.name)
        return iter(history.path_history(self, state, inner, revid, limit))

    @_public
    def get_changes_between(self, old_path: str, old_rev: str, new_path: str, new_rev: str
                            ) -> Iterator[tuple[api.Node | None, api.Node | None, str, str]]:
        from codeyard.vcs.bzr import history

        old = self.get_node(old_path, old_rev)
        new = self.get_node(new_path, new_rev)
        return iter(history.compare(self, old, new))

    def close(self) -> None:
        with self._lock:
            self._states.clear()
            self._repositories.clear()
            self._trees.clear()
            self._entries.clear()
            self._revisions.clear()
            self._layout_data = None
