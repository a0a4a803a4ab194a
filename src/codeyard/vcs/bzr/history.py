"""Path history, "next change of a path" and tree comparison for the Bazaar backend.

History follows a file or directory by its file id through the left-hand history of the
revision asked for, so renames are followed back. A file's inventory entry names the
revision that last changed it: when that revision is on the walked line, the revisions
between cannot have changed the entry and are skipped in one step.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from breezy.revision import NULL_REVISION

from codeyard.vcs import api
from codeyard.vcs.bzr.nodes import BranchNode, kind_of

if TYPE_CHECKING:
    from codeyard.vcs.bzr.repository import BranchState, BzrRepository


def _entry_path(tree: Any, file_id: bytes) -> str | None:
    if not tree.root_inventory.has_id(file_id):
        return None
    return str(tree.id2path(file_id))


def _touched_below(new: Any, old: Any, inner: str) -> bool:
    """Whether anything at or below the directory ``inner`` (a path in both trees)
    differs between the trees."""
    prefix = inner + "/"
    for change in new.iter_changes(old, specific_files=[inner]):
        for path in change.path:
            if path is not None and (path == inner or path.startswith(prefix)):
                return True
    return False


def _branch_history(path: str, chain: list[bytes], limit: int | None
                    ) -> Iterator[tuple[str, str, str]]:
    """The history of a branch's root: its chain of revisions, read as far as asked (a
    log page reads a hundred of a long history)."""
    from codeyard.vcs.bzr.repository import to_rev

    last = len(chain) - 1
    for index, revision in enumerate(chain if limit is None else chain[:limit]):
        yield path, to_rev(revision), api.ADD if index == last else api.EDIT


def path_history(repos: BzrRepository, state: BranchState, inner: str, revid: bytes,
                 limit: int | None) -> Iterable[tuple[str, str, str]]:
    """(path, rev, change) newest first, for a path of a branch at ``revid``."""
    from codeyard.vcs.bzr.repository import to_rev

    def full(path: str) -> str:
        return posixpath.join(state.path, path).strip("/") if path else state.path

    chain = repos._chain(state, revid)
    out: list[tuple[str, str, str]] = []

    def done() -> bool:
        return limit is not None and len(out) >= limit

    if inner == "":
        return _branch_history(state.path, chain, limit)
    position = {rev: index for index, rev in enumerate(chain)}
    with repos.read_locked(state.repository):
        tree = repos.tree(state, chain[0])
        file_id = tree.path2id(inner)
        if file_id is None:
            raise api.NoSuchNode(full(inner), to_rev(revid), repos.name)
        is_dir = tree.kind(inner) == "directory"
        index, path = 0, inner
        while not done():
            if not is_dir:
                last = tree.get_file_revision(path)
                jump = position.get(last)
                if jump is not None and jump > index:
                    index = jump
                    tree = repos.tree(state, chain[index])
                    path = tree.id2path(file_id)
            parent = chain[index + 1] if index + 1 < len(chain) else NULL_REVISION
            old_tree = repos.tree(state, parent)
            old_path = _entry_path(old_tree, file_id)
            shown = to_rev(chain[index])
            if old_path is None:
                out.append((full(path), shown, api.ADD))
                break
            if old_path != path:
                out.append((full(path), shown, api.MOVE))
            elif is_dir:
                if _touched_below(tree, old_tree, path):
                    out.append((full(path), shown, api.EDIT))
            elif old_tree.get_file_revision(old_path) != tree.get_file_revision(path):
                out.append((full(path), shown, api.EDIT))
            index, tree, path = index + 1, old_tree, old_path
    return out


def first_touching(repos: BzrRepository, state: BranchState, inner: str, revid: bytes,
                   following: list[bytes]) -> bytes | None:
    """The first of ``following`` (mainline revisions after ``revid``, oldest first) that
    changed the path ``inner`` as it is at ``revid`` (by file id; by name when the path
    does not exist there yet)."""
    if not following:
        return None
    if inner == "":
        return following[0]
    with repos.read_locked(state.repository):
        start = repos.tree(state, revid)
        file_id = start.path2id(inner)
        if file_id is not None and start.kind(inner) == "directory":
            previous = start
            for rev in following:
                tree = repos.tree(state, rev)
                old_path = _entry_path(previous, file_id)
                new_path = _entry_path(tree, file_id)
                if old_path != new_path or (
                        new_path is not None and _touched_below(tree, previous, new_path)):
                    return rev
                previous = tree
            return None

        def signature(tree: Any) -> tuple[str | None, Any]:
            if file_id is None:
                return (inner if tree.path2id(inner) is not None else None), None
            path = _entry_path(tree, file_id)
            return path, (tree.get_file_revision(path) if path is not None else None)

        # A file's (path, last-changed revision) only ever moves on along a mainline, so
        # the first revision where it differs is found by bisection.
        before = signature(start)
        low, high = 0, len(following)
        while low < high:
            middle = (low + high) // 2
            if signature(repos.tree(state, following[middle])) != before:
                high = middle
            else:
                low = middle + 1
        return following[low] if low < len(following) else None


def virtual_history(repos: BzrRepository, path: str, rev: str | None, limit: int | None
                    ) -> list[tuple[str, str, str]]:
    """For a directory above the branches: the mainline revisions of the branches below
    it, newest first (by commit time), up to the time of ``rev``."""
    from codeyard.vcs.bzr.repository import to_rev, to_revid

    prefix = path + "/" if path else ""
    dated: dict[bytes, float] = {}
    for state in repos._ordered():
        if not (state.path + "/").startswith(prefix) or state.empty:
            continue
        missing = [r for r in state.mainline if r not in dated]
        with repos.read_locked(state.repository):
            for revision in state.repository.get_revisions(missing):
                dated[revision.revision_id] = revision.timestamp
    ceiling = None
    if rev is not None:
        ceiling = dated.get(to_revid(rev))
    ordered = sorted(dated.items(), key=lambda item: (-item[1], item[0]))
    out = [(path, to_rev(revid), api.EDIT) for revid, stamp in ordered
           if ceiling is None or stamp <= ceiling]
    return out[:limit] if limit is not None else out


def _descendants(node: BranchNode) -> dict[str, tuple[Any, str]]:
    """relative path -> (entry, inner path) for everything below a directory node."""
    found = {}
    todo = [(node.inner_path, "")]
    while todo:
        inner, rel = todo.pop()
        for entry in node.tree.iter_child_entries(inner):
            child_inner = posixpath.join(inner, entry.name) if inner else entry.name
            child_rel = posixpath.join(rel, entry.name) if rel else entry.name
            found[child_rel] = (entry, child_inner)
            if entry.kind == "directory":
                todo.append((child_inner, child_rel))
    return found


def _same(old: Any, new: Any) -> bool:
    if old.kind != new.kind:
        return False
    if old.kind == "symlink":
        return bool(old.symlink_target == new.symlink_target)
    if old.kind == "file":
        return bool(old.text_sha1 == new.text_sha1 and old.executable == new.executable)
    return True


def compare(repos: BzrRepository, old: api.Node, new: api.Node
            ) -> list[tuple[api.Node | None, api.Node | None, str, str]]:
    """(old node, new node, kind, change) for what differs between two nodes of branches."""
    if not isinstance(old, BranchNode) or not isinstance(new, BranchNode):
        raise api.RepositoryError("Only files and directories inside branches can be compared")
    if old.isfile and new.isfile:
        if old.sha1 == new.sha1 and old.get_properties() == new.get_properties():
            return []
        return [(old, new, api.FILE, api.EDIT)]
    if old.isfile != new.isfile:
        return [(old, None, old.kind, api.DELETE), (None, new, new.kind, api.ADD)]
    with repos.guard(), repos.read_locked(old.state.repository), repos.read_locked(new.state.repository):
        before, after = _descendants(old), _descendants(new)

    def node(side: BranchNode, item: tuple[Any, str]) -> BranchNode:
        return BranchNode(repos, side.state, side.tree, side._revid, item[1], item[0])

    out: list[tuple[api.Node | None, api.Node | None, str, str]] = []
    for rel in sorted(set(before) | set(after)):
        if rel not in after:
            out.append((node(old, before[rel]), None, kind_of(before[rel][0].kind), api.DELETE))
        elif rel not in before:
            out.append((None, node(new, after[rel]), kind_of(after[rel][0].kind), api.ADD))
        elif not _same(before[rel][0], after[rel][0]):
            out.append((node(old, before[rel]), node(new, after[rel]),
                        kind_of(after[rel][0].kind), api.EDIT))
    return out
