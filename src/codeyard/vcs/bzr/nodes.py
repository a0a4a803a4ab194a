"""Nodes of a Bazaar repository: files and directories inside a branch at a revision, and
the directories above the branches (the root, plain directories, shared repositories)."""

from __future__ import annotations

import io
import os
import posixpath
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any

from codeyard.vcs import api

if TYPE_CHECKING:
    from codeyard.vcs.bzr.repository import BranchState, BzrRepository


def kind_of(bzr_kind: str | None) -> str:
    """The API's node kind for a breezy entry kind (a symlink shows as a file)."""
    return api.DIRECTORY if bzr_kind in ("directory", "tree-reference") else api.FILE


class BranchNode(api.Node):
    """A versioned file or directory of a branch, at a revision of the branch's ancestry."""

    repos: BzrRepository

    def __init__(self, repos: BzrRepository, state: BranchState, tree: Any, revid: bytes,
                 inner: str, entry: Any) -> None:
        from codeyard.vcs.bzr.repository import to_rev

        self.repos = repos
        self._state = state
        self._tree = tree
        self._revid = revid
        self._inner = inner
        self._entry = entry
        self.path = posixpath.join(state.path, inner).strip("/") if inner else state.path
        self.rev = to_rev(revid)
        self.kind = kind_of(entry.kind)
        # Every revision of a branch changes its tree; below the root, the revision that
        # last changed the entry itself (a directory's entry changes when it is added or
        # renamed, not when its content does).
        self.created_rev = self.rev if inner == "" else to_rev(entry.revision)
        self._created_path: str | None = None

    @property
    def created_path(self) -> str:  # type: ignore[override]
        """The path at ``created_rev`` (it differs when a parent directory was renamed)."""
        if self._created_path is None:
            from codeyard.vcs.bzr.repository import to_revid

            path = self.path
            created = to_revid(self.created_rev)
            if self._inner and created != self._revid:
                with self.repos.guard():
                    tree = self.repos.tree(self._state, created)
                    with self.repos.read_locked(self._state.repository):
                        inner = tree.id2path(self._entry.file_id)
                    path = posixpath.join(self._state.path, inner).strip("/")
            self._created_path = path
        return self._created_path

    @created_path.setter
    def created_path(self, value: str) -> None:
        self._created_path = value

    def _child(self, name: str, entry: Any) -> BranchNode:
        inner = posixpath.join(self._inner, name) if self._inner else name
        return BranchNode(self.repos, self._state, self._tree, self._revid, inner, entry)

    def get_entries(self) -> Iterator[api.Node]:
        if not self.isdir:
            return iter(())
        with self.repos.guard(), self.repos.read_locked(self._state.repository):
            children = sorted(self._tree.iter_child_entries(self._inner), key=lambda e: e.name)
            return iter([self._child(entry.name, entry) for entry in children])

    def get_content(self) -> IO[bytes] | None:
        if self.isdir:
            return None
        if self._entry.kind == "symlink":
            return io.BytesIO(os.fsencode(self._entry.symlink_target or ""))
        with self.repos.guard(), self.repos.read_locked(self._state.repository):
            return io.BytesIO(self._tree.get_file_text(self._inner))

    def get_content_length(self) -> int | None:
        if self.isdir:
            return None
        if self._entry.kind == "symlink":
            return len(os.fsencode(self._entry.symlink_target or ""))
        return int(self._entry.text_size or 0)

    def get_properties(self) -> dict[str, str]:
        props = {}
        if getattr(self._entry, "executable", False):
            props["executable"] = "*"
        if self._entry.kind == "symlink":
            props["symlink"] = self._entry.symlink_target or ""
        return props

    def get_annotations(self) -> list[api.Annotation]:
        from codeyard.vcs.bzr.repository import to_rev

        if self.isdir:
            return []
        if self._entry.kind == "symlink":
            return [api.Annotation(1, self.created_rev)]
        with self.repos.guard(), self.repos.read_locked(self._state.repository):
            lines = self._tree.annotate_iter(self._inner)
        return [api.Annotation(number, to_rev(revid))
                for number, (revid, _line) in enumerate(lines, 1)]

    @property
    def sha1(self) -> str | None:
        """The content's digest as the inventory records it (for the diff pages)."""
        if self._entry.kind == "symlink":
            return "symlink:" + (self._entry.symlink_target or "")
        sha1 = getattr(self._entry, "text_sha1", None)
        return sha1.decode("ascii") if sha1 else None

    @property
    def content_id(self) -> str | None:
        """The text's SHA-1 as the inventory records it (files only)."""
        if self._entry.kind != "file":
            return None
        return self.sha1

    @property
    def file_id(self) -> bytes:
        return bytes(self._entry.file_id)

    @property
    def inner_path(self) -> str:
        return self._inner

    @property
    def state(self) -> BranchState:
        return self._state

    @property
    def tree(self) -> Any:
        return self._tree


class VirtualNode(api.Node):
    """A directory above the branches (or an empty branch): its entries are the branches
    and the directories holding branches, each at its tip."""

    repos: BzrRepository

    def __init__(self, repos: BzrRepository, path: str, rev: str, real: str | None,
                 entries: list[str]) -> None:
        self.repos = repos
        self.path = path
        self.rev = rev
        self.kind = api.DIRECTORY
        self.created_rev = rev
        self.created_path = path
        self._real = real
        self._names = entries

    def get_entries(self) -> Iterator[api.Node]:
        nodes = []
        with self.repos.guard():
            for name in self._names:
                path = posixpath.join(self.path, name) if self.path else name
                nodes.append(self.repos.get_node(path))
        return iter(nodes)

    def get_content(self) -> IO[bytes] | None:
        return None

    def get_content_length(self) -> int | None:
        return None

    def get_annotations(self) -> list[api.Annotation]:
        return []

    def get_last_modified(self) -> datetime:
        if self.created_rev:
            return self.repos.get_changeset(self.created_rev).date
        real = self._real or os.path.join(self.repos.directory, self.path)
        try:
            return datetime.fromtimestamp(os.stat(real).st_mtime, UTC)
        except OSError:
            return datetime.now(UTC)
