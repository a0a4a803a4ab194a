"""A Git repository read through pygit2.

Revisions are full 40-hex commit shas. The *youngest* revision is the tip of the default
branch: the branch HEAD names, or ``master``/``main`` when HEAD is detached or unborn.
``previous_rev``/``next_rev`` walk that branch's first parents; ``all_revs`` covers every
commit reachable from a branch or a tag.

Threads: one ``GitRepository`` serves many requests at once. libgit2 objects must not be
used by two threads at a time, so each thread gets a pygit2 handle of its own (opened on
first use); what is cached across threads is plain Python data (changesets, changes, the
refs and the main line), keyed by what it was computed from and bounded in size. Refs are
read again whenever their files changed (``refs``), so a push made by any process is seen
at once.
"""

from __future__ import annotations

import builtins
import functools
import io
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import IO, Any, TypeVar, cast

import pygit2
from pygit2.enums import DeltaStatus, DiffFind, RepositoryOpenFlag, SortMode

from codeyard.util.lru import BoundedCache as LRUCache
from codeyard.vcs.api import (
    ADD,
    COPY,
    DELETE,
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
from codeyard.vcs.git import history
from codeyard.vcs.git.node import MODE_TREE, BlobReader, GitNode, PipeReader, kind_of_mode
from codeyard.vcs.git.refs import RefReader, Refs

SHORT_REV_LENGTH = 7
MIN_PREFIX_LENGTH = 4
HEXDIGITS = frozenset("0123456789abcdef")
# Blobs above this size are streamed by ``git cat-file`` instead of being loaded whole.
BIG_BLOB_SIZE = 8 * 1024 * 1024

_DELTA_CHANGES = {
    DeltaStatus.ADDED: ADD,
    DeltaStatus.DELETED: DELETE,
    DeltaStatus.MODIFIED: EDIT,
    DeltaStatus.TYPECHANGE: EDIT,
    DeltaStatus.RENAMED: MOVE,
    DeltaStatus.COPIED: COPY,
}

T = TypeVar("T")


class AmbiguousRevision(NoSuchChangeset):
    """A short sha that more than one object of the repository starts with."""

    def __init__(self, rev: str, repos: str = "") -> None:
        super().__init__(rev, repos)
        where = f" in repository '{repos}'" if repos else ""
        self.args = (f"Ambiguous revision {rev}{where}: more than one object starts with "
                     f"these digits; give more of them",)


class EmptyRepository(NoSuchChangeset):
    def __init__(self, repos: str = "") -> None:
        super().__init__("HEAD", repos)
        name = f"Repository '{repos}'" if repos else "The repository"
        self.args = (f"{name} has no changesets yet",)


@dataclass(frozen=True)
class _Mainline:
    """The default branch's first-parent chain, newest first."""

    tip: str
    revs: list[str]
    index: dict[str, int]


@dataclass(frozen=True)
class _CommitInfo:
    message: str
    author: str
    date: datetime
    parents: list[str]
    properties: dict[str, str]


def _decode(raw: bytes, encoding: str | None = None) -> str:
    try:
        return raw.decode(encoding or "utf-8", "replace")
    except LookupError:
        return raw.decode("utf-8", "replace")


def _person(signature: pygit2.Signature) -> str:
    name = _decode(signature.raw_name).strip()
    email = _decode(signature.raw_email).strip()
    if name and email:
        return f"{name} <{email}>"
    return name or email


def _time(signature: pygit2.Signature) -> datetime:
    return datetime.fromtimestamp(signature.time, UTC)


def _guarded(method: Callable[..., T]) -> Callable[..., T]:
    """Turn libgit2's and the file system's errors into RepositoryError."""

    @functools.wraps(method)
    def wrapper(self: GitRepository, *args: Any, **kwargs: Any) -> T:
        local = self._local
        depth = getattr(local, "depth", 0)
        if depth == 0:
            self._check_present()
        local.depth = depth + 1
        try:
            with self._errors():
                return method(self, *args, **kwargs)
        finally:
            local.depth = depth

    return wrapper


class GitRepository(Repository):
    """A Git repository: a bare one, a work tree or its ``.git`` directory."""

    type = "git"

    def __init__(self, name: str, directory: str, params: dict[str, Any] | None = None,
                 id: int = 0) -> None:
        super().__init__(name, directory, params, id)
        self._local = threading.local()
        self._generation = 0
        self._lock = threading.Lock()
        self._mainline: _Mainline | None = None
        self._infos = LRUCache(4096)
        self._changes = LRUCache(1024)
        self._created = LRUCache(16384)
        self._annotations = LRUCache(64)
        self._peeled = LRUCache(4096)
        self.git_dir = ""
        git = self._git()  # fail now, with the path, when it is no repository
        self.git_dir = os.path.normpath(git.path)
        self._ref_reader = RefReader(self.git_dir)

    # -- handles and errors

    def _open(self) -> pygit2.Repository:
        where = self.directory
        if not where or not os.path.isdir(where):
            raise RepositoryError(f"Git repository {where!r} does not exist or is not a "
                                  f"directory")
        try:
            return pygit2.Repository(where, flags=RepositoryOpenFlag.NO_SEARCH)
        except (pygit2.GitError, KeyError, OSError) as error:
            raise RepositoryError(f"{where!r} is not a Git repository ({error})") from error

    def _git(self) -> pygit2.Repository:
        """This thread's pygit2 handle (libgit2 objects are not shared between threads)."""
        local = self._local
        git = getattr(local, "git", None)
        if git is None or local.generation != self._generation:
            git = self._open()
            local.git, local.generation = git, self._generation
        return git

    def _check_present(self) -> None:
        """Checked once per call from outside: objects libgit2 still holds in memory must
        not make a removed repository look alive."""
        if not os.path.isdir(self.git_dir):
            raise RepositoryError(f"Git repository {self.directory!r} is gone")

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except RepositoryError:
            raise
        except (pygit2.GitError, OSError, KeyError) as error:
            # KeyError: pygit2's word for an object the repository lacks (lookups of
            # paths and names catch theirs where they happen).
            if not os.path.isdir(self.directory):
                raise RepositoryError(f"Git repository {self.directory!r} is gone") from error
            what = f"object {error} is missing" if isinstance(error, KeyError) else error
            raise RepositoryError(f"Git repository {self.directory!r}: {what}") from error

    def close(self) -> None:
        """Forget the cached data; every thread opens a fresh handle on its next call."""
        with self._lock:
            self._generation += 1
            self._ref_reader.forget()
            self._mainline = None
        for cache in (self._infos, self._changes, self._created, self._annotations,
                      self._peeled):
            cache.clear()
        git = getattr(self._local, "git", None)
        if git is not None:
            git.free()
            self._local.git = None

    # -- refs

    def _read_refs(self) -> Refs:
        return self._ref_reader.read(self._git(), self._peel)

    def _peel(self, git: pygit2.Repository, oid: pygit2.Oid) -> str | None:
        """The commit an object is or points at (tags peel), None for anything else."""
        key = str(oid)
        found = self._peeled.get(key)
        if found is not None:
            return found or None
        obj = git.get(oid)
        if obj is None:
            return None  # not remembered: it may be pushed in a moment
        try:
            sha = str(obj.peel(pygit2.Commit).id)
        except (pygit2.GitError, ValueError, TypeError):
            sha = ""  # a blob, a tree, a tag of one: it will never be a commit
        self._peeled.put(key, sha)
        return sha or None

    def _main_line(self) -> _Mainline | None:
        tip = self._read_refs().youngest
        if tip is None:
            return None
        with self._lock:
            cached = self._mainline
        if cached is not None and cached.tip == tip:
            return cached
        walker = self._git().walk(pygit2.Oid(hex=tip), SortMode.NONE)
        walker.simplify_first_parent()
        revs = [str(commit.id) for commit in walker]
        line = _Mainline(tip, revs, {rev: i for i, rev in enumerate(revs)})
        with self._lock:
            self._mainline = line
        return line

    # -- revisions

    @property
    @_guarded
    def youngest_rev(self) -> str | None:
        return self._read_refs().youngest

    @property
    @_guarded
    def oldest_rev(self) -> str | None:
        line = self._main_line()
        return line.revs[-1] if line else None

    @_guarded
    def normalize_rev(self, rev: str | None) -> str:
        text = "" if rev is None else str(rev).strip()
        if text in ("", "HEAD"):
            youngest = self._read_refs().youngest
            if youngest is None:
                raise EmptyRepository(self.name)
            return youngest
        git = self._git()
        lowered = text.lower()
        is_hex = len(text) >= MIN_PREFIX_LENGTH and set(lowered) <= HEXDIGITS
        if is_hex and len(text) == 40:
            sha = self._peel(git, pygit2.Oid(hex=lowered))
            if sha is None:
                raise NoSuchChangeset(text, self.name)
            return sha
        commits = self._read_refs().commits
        for name in (text, f"refs/{text}", f"refs/tags/{text}", f"refs/heads/{text}",
                     f"refs/remotes/{text}", f"refs/remotes/{text}/HEAD"):
            if name in commits:
                return commits[name]
        if is_hex and len(text) < 40:
            try:
                obj = git.get(lowered)
            except (ValueError, pygit2.GitError) as error:
                # pygit2.AmbiguousError is a ValueError; older pygit2 raise a plain one.
                if "ambiguous" in str(error).lower():
                    raise AmbiguousRevision(text, self.name) from error
                obj = None
            sha = self._peel(git, obj.id) if obj is not None else None
            if sha is not None:
                return sha
        raise NoSuchChangeset(text, self.name)

    def stored_message(self, message: str) -> str:
        """Trac's git connector keeps the lines of the message (so without the final
        newline git writes)."""
        return "\n".join(message.splitlines())

    def display_rev(self, rev: str) -> str:
        return rev

    def short_rev(self, rev: str) -> str:
        return rev[:SHORT_REV_LENGTH]

    def _commit(self, rev: str | None) -> pygit2.Commit:
        return self._lookup(self.normalize_rev(rev), pygit2.Commit)

    def _lookup(self, oid: str, kind: builtins.type[T]) -> T:
        """The object ``oid`` of this thread's handle, known to be a ``kind``."""
        return cast(T, self._git()[oid])

    @_guarded
    def previous_rev(self, rev: str, path: str = "") -> str | None:
        commit = self._commit(rev)
        path = normalize_path(path)
        if not path:
            return str(commit.parent_ids[0]) if commit.parent_ids else None
        for _, sha, _ in history.path_history(commit, path, self._renamed_from):
            if sha != str(commit.id):
                return sha
        return None

    @_guarded
    def next_rev(self, rev: str, path: str = "") -> str | None:
        sha = self.normalize_rev(rev)
        path = normalize_path(path)
        line = self._main_line()
        if line is None:
            return None
        git = self._git()
        position = line.index.get(sha)
        if position is None:
            # Off the main line (a merged branch): go on from the first main-line commit
            # that contains it.
            position = self._first_descendant(git, line, sha)
            if position is None:
                return None
            candidates = range(position, -1, -1)
        else:
            candidates = range(position - 1, -1, -1)
        for i in candidates:
            if not path:
                return line.revs[i]
            commit = self._lookup(line.revs[i], pygit2.Commit)
            before = history.oid_at(commit.parents[0], path) if commit.parents else None
            if history.oid_at(commit, path) != before:
                return line.revs[i]
        return None

    @staticmethod
    def _first_descendant(git: pygit2.Repository, line: _Mainline, sha: str) -> int | None:
        """The index of the oldest main-line commit having ``sha`` as an ancestor (main-line
        commits contain more of the history the newer they are: a binary search)."""
        target = pygit2.Oid(hex=sha)
        low, high = 0, len(line.revs) - 1  # newest .. oldest
        found = None
        while low <= high:
            middle = (low + high) // 2
            if git.descendant_of(pygit2.Oid(hex=line.revs[middle]), target):
                found = middle
                low = middle + 1
            else:
                high = middle - 1
        return found

    @_guarded
    def rev_older_than(self, rev1: str, rev2: str) -> bool:
        first, second = self._commit(rev1), self._commit(rev2)
        if first.id == second.id:
            return False
        git = self._git()
        if git.descendant_of(second.id, first.id):
            return True
        if git.descendant_of(first.id, second.id):
            return False
        return first.commit_time < second.commit_time

    def all_revs(self, since: Iterable[str] = ()) -> Iterator[str]:
        self._check_present()
        with self._errors():
            git = self._git()
            tips = self._read_refs().tips
            if not tips:
                return
            walker = git.walk(None, SortMode.TOPOLOGICAL | SortMode.REVERSE)
            for tip in tips:
                walker.push(pygit2.Oid(hex=tip))
            for rev in since:
                try:
                    walker.hide(pygit2.Oid(hex=self.normalize_rev(rev)))
                except NoSuchChangeset:
                    continue  # gone from the repository (a rewritten history)
        with self._errors():
            for commit in walker:
                yield str(commit.id)

    # -- changesets

    def _info(self, commit: pygit2.Commit) -> _CommitInfo:
        sha = str(commit.id)
        info = self._infos.get(sha)
        if info is None:
            author, committer = commit.author, commit.committer
            properties: dict[str, str] = {}
            if (committer.raw_name, committer.raw_email) != (author.raw_name,
                                                             author.raw_email):
                properties["committer"] = _person(committer)
            info = _CommitInfo(
                message=_decode(commit.raw_message, commit.message_encoding),
                author=_person(author), date=_time(author),
                parents=[str(parent) for parent in commit.parent_ids],
                properties=properties)
            self._infos.put(sha, info)
        return info

    @_guarded
    def get_changeset(self, rev: str) -> Changeset:
        commit = self._commit(rev)
        info = self._info(commit)
        branches, tags = self._read_refs().by_commit.get(str(commit.id), ([], []))
        return Changeset(rev=str(commit.id), message=info.message, author=info.author,
                         date=info.date, parents=list(info.parents), branches=list(branches),
                         tags=list(tags), properties=dict(info.properties))

    @staticmethod
    def _diff(old: pygit2.Tree | None, new: pygit2.Tree) -> pygit2.Diff:
        diff = new.diff_to_tree(swap=True) if old is None else old.diff_to_tree(new)
        diff.find_similar(flags=DiffFind.FIND_RENAMES)
        return diff

    @_guarded
    def get_changes(self, rev: str) -> list[Change]:
        commit = self._commit(rev)
        sha = str(commit.id)
        changes = self._changes.get(sha)
        if changes is None:
            parent = commit.parents[0] if commit.parents else None
            base_rev = str(parent.id) if parent is not None else None
            changes = []
            diff = self._diff(parent.tree if parent is not None else None, commit.tree)
            for delta in diff.deltas:
                change = _DELTA_CHANGES.get(delta.status)
                if change is None:
                    continue
                if change == DELETE:
                    changes.append(Change(delta.old_file.path, kind_of_mode(delta.old_file.mode),
                                          DELETE, delta.old_file.path, base_rev))
                elif change == ADD:
                    changes.append(Change(delta.new_file.path, kind_of_mode(delta.new_file.mode),
                                          ADD))
                else:
                    changes.append(Change(delta.new_file.path, kind_of_mode(delta.new_file.mode),
                                          change, delta.old_file.path, base_rev))
            self._changes.put(sha, changes)
        return [replace(change) for change in changes]

    def _renamed_from(self, commit: pygit2.Commit, path: str) -> str | None:
        """Where a file that ``commit`` adds came from, when it is a rename."""
        for change in self.get_changes(str(commit.id)):
            if change.path == path and change.change in (MOVE, COPY):
                return change.base_path
        return None

    # -- nodes

    @_guarded
    def get_node(self, path: str, rev: str | None = None) -> Node:
        path = normalize_path(path)
        commit = self._commit(rev)
        sha = str(commit.id)
        tree = commit.tree
        if not path:
            return GitNode(self, "", sha, str(tree.id), MODE_TREE)
        try:
            entry = tree[path]
        except KeyError:
            raise NoSuchNode(path, sha, self.name) from None
        return GitNode(self, path, sha, str(entry.id), int(entry.filemode))

    def _tree_entries(self, oid: str) -> list[tuple[str, str, int]]:
        with self._errors():
            tree = self._lookup(oid, pygit2.Tree)
            return [(entry.name or _decode(entry.raw_name or b""), str(entry.id),
                     int(entry.filemode)) for entry in tree]

    def _blob_stream(self, oid: str) -> IO[bytes]:
        """A blob's content: straight from libgit2's copy for ordinary sizes; streamed by
        ``git cat-file`` for big ones, which libgit2 could only load whole."""
        with self._errors():
            if self._blob_size(oid) > BIG_BLOB_SIZE:
                try:
                    return cast(IO[bytes], io.BufferedReader(PipeReader(
                        ["git", f"--git-dir={self.git_dir}", "cat-file", "blob", oid])))
                except OSError:
                    pass  # no git command: read it through libgit2 after all
            view = memoryview(self._git()[oid])  # type: ignore[arg-type]
            return cast(IO[bytes], BlobReader(view))

    def _blob_size(self, oid: str) -> int:
        with self._errors():
            git = self._git()
            try:
                return int(git.odb.read_header(pygit2.Oid(hex=oid))[1])
            except AttributeError:  # an older pygit2
                return int(self._lookup(oid, pygit2.Blob).size)

    def _last_change(self, rev: str, path: str) -> str:
        key = (rev, path)
        found = self._created.get(key)
        if found is None:
            with self._errors():
                found = history.last_change(self._lookup(rev, pygit2.Commit), path)
            self._created.put(key, found)
        return found

    def _last_changes(self, rev: str, directory: str, names: list[str]) -> dict[str, str]:
        prefix = directory + "/" if directory else ""
        found: dict[str, str] = {}
        missing = []
        for name in names:
            sha = self._created.get((rev, prefix + name))
            if sha is None:
                missing.append(name)
            else:
                found[name] = sha
        if missing:
            with self._errors():
                walked = history.last_changes(self._lookup(rev, pygit2.Commit), directory,
                                               missing)
            for name, sha in walked.items():
                self._created.put((rev, prefix + name), sha)
            found.update(walked)
        return found

    def _annotate(self, path: str, rev: str) -> list[Annotation]:
        key = (rev, path)
        found = self._annotations.get(key)
        if found is None:
            with self._errors():
                blame = self._git().blame(path, newest_commit=pygit2.Oid(hex=rev))
                found = []
                for hunk in blame:
                    sha = str(hunk.final_commit_id)
                    start = hunk.final_start_line_number
                    found.extend(Annotation(start + i, sha) for i in range(hunk.lines_in_hunk))
            self._annotations.put(key, found)
        return list(found)

    @_guarded
    def get_path_history(self, path: str, rev: str | None = None, limit: int | None = None
                         ) -> Iterator[tuple[str, str, str]]:
        path = normalize_path(path)
        start = str(self._commit(rev).id)
        return self._walk_history(start, path, limit)

    def _walk_history(self, start: str, path: str, limit: int | None
                      ) -> Iterator[tuple[str, str, str]]:
        with self._errors():
            yield from history.path_history(self._lookup(start, pygit2.Commit), path, self._renamed_from,
                                            limit)

    @_guarded
    def get_changes_between(self, old_path: str, old_rev: str, new_path: str, new_rev: str
                            ) -> Iterator[tuple[Node | None, Node | None, str, str]]:
        old = self.get_node(old_path, old_rev)
        new = self.get_node(new_path, new_rev)
        assert isinstance(old, GitNode) and isinstance(new, GitNode)
        if old.kind != new.kind:
            raise RepositoryError(f"Cannot compare the {old.kind} /{old.path} with the "
                                  f"{new.kind} /{new.path}")
        if old.kind == FILE:
            changed = old.oid != new.oid
            return iter([(old, new, FILE, EDIT)] if changed else [])
        if old.oid == new.oid:
            return iter([])
        diff = self._diff(self._lookup(old.oid, pygit2.Tree), self._lookup(new.oid, pygit2.Tree))
        old_prefix = old.path + "/" if old.path else ""
        new_prefix = new.path + "/" if new.path else ""
        result: list[tuple[Node | None, Node | None, str, str]] = []
        for delta in diff.deltas:
            change = _DELTA_CHANGES.get(delta.status)
            if change is None:
                continue
            before = after = None
            if change != ADD:
                before = GitNode(self, old_prefix + delta.old_file.path, old.rev,
                                 str(delta.old_file.id), int(delta.old_file.mode))
            if change != DELETE:
                after = GitNode(self, new_prefix + delta.new_file.path, new.rev,
                                str(delta.new_file.id), int(delta.new_file.mode))
            kind = (after or before).kind  # type: ignore[union-attr]
            result.append((before, after, kind, change))
        return iter(result)

