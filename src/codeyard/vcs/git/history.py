"""Walks over a Git history for one path: the commit that last changed it, its log.

Both follow Git's default history simplification (what ``git log -- path`` shows): a
merge whose tree at the path equals one of its parents' did not change the path, and the
walk goes on through that parent only.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator

import pygit2

from codeyard.vcs.api import ADD, DELETE, EDIT, MOVE

Oid = pygit2.Oid


def tree_at(commit: pygit2.Commit, path: str) -> pygit2.Tree | None:
    """The tree of the directory ``path`` in ``commit`` (None when it is not one)."""
    tree = commit.tree
    if not path:
        return tree
    try:
        entry = tree[path]
    except KeyError:
        return None
    return entry if isinstance(entry, pygit2.Tree) else None


def oid_at(commit: pygit2.Commit, path: str) -> Oid | None:
    """The id of the object at ``path`` in ``commit`` (None when nothing is there)."""
    tree = commit.tree
    if not path:
        return tree.id
    try:
        return tree[path].id
    except KeyError:
        return None


def _entry_id(tree: pygit2.Tree | None, name: str) -> Oid | None:
    if tree is None:
        return None
    try:
        return tree[name].id
    except KeyError:
        return None


def last_change(commit: pygit2.Commit, path: str) -> str:
    """The commit, from ``commit`` back, that last changed what is at ``path``."""
    current = commit
    while True:
        parents = current.parents
        if not parents:
            return str(current.id)
        here = oid_at(current, path)
        for parent in parents:
            if oid_at(parent, path) == here:
                current = parent
                break
        else:
            return str(current.id)


def last_changes(commit: pygit2.Commit, directory: str, names: Iterable[str]) -> dict[str, str]:
    """``last_change`` for every entry ``names`` of the directory ``directory``, in one walk:
    entries travel together while their directory is unchanged."""
    result: dict[str, str] = {}
    # Newest commit first, so that entries which took different sides of a merge meet
    # again at the same commit and go on together.
    pending: dict[Oid, tuple[pygit2.Commit, set[str]]] = {commit.id: (commit, set(names))}
    heap = [(-commit.commit_time, 0, commit.id)]
    counter = 1
    while heap:
        _, _, oid = heapq.heappop(heap)
        current, todo = pending.pop(oid)
        parents = current.parents
        if not parents:
            for name in todo:
                result[name] = str(current.id)
            continue
        here = tree_at(current, directory)
        ids = {name: _entry_id(here, name) for name in todo}
        left = set(todo)
        for parent in parents:
            there = tree_at(parent, directory)
            if here is not None and there is not None and here.id == there.id:
                same = set(left)
            else:
                same = {name for name in left if _entry_id(there, name) == ids[name]}
            if same:
                left -= same
                if parent.id in pending:
                    pending[parent.id][1].update(same)
                else:
                    pending[parent.id] = (parent, same)
                    heapq.heappush(heap, (-parent.commit_time, counter, parent.id))
                    counter += 1
            if not left:
                break
        for name in left:
            result[name] = str(current.id)
    return result


def path_history(start: pygit2.Commit, path: str,
                 renamed_from: Callable[[pygit2.Commit, str], str | None],
                 limit: int | None = None) -> Iterator[tuple[str, str, str]]:
    """(path, sha, change kind) for each commit from ``start`` back that changed ``path``
    (anything below it, for a directory), newest first. When a file turns out to be added
    by a rename (``renamed_from`` says from where), the walk goes on with the old path."""
    if limit is not None and limit <= 0:
        return
    heap = [(-start.commit_time, 0, start, path)]
    counter = 1
    seen: set[tuple[Oid, str]] = set()
    count = 0

    def push(commit: pygit2.Commit, at: str) -> None:
        nonlocal counter
        heapq.heappush(heap, (-commit.commit_time, counter, commit, at))
        counter += 1

    while heap:
        _, _, commit, at = heapq.heappop(heap)
        key = (commit.id, at)
        if key in seen:
            continue
        seen.add(key)
        here = oid_at(commit, at)
        parents = commit.parents
        olds = [oid_at(parent, at) for parent in parents]
        same = next((p for p, old in zip(parents, olds, strict=True) if old == here), None)
        if same is not None:
            push(same, at)
            continue
        if here is None and not parents:
            continue
        sha = str(commit.id)
        if here is None:
            kind = DELETE
        elif not parents or olds[0] is None:
            source = renamed_from(commit, at) if parents else None
            if source is not None and source != at:
                yield at, sha, MOVE
                count += 1
                if limit is not None and count >= limit:
                    return
                push(parents[0], source)
                continue
            kind = ADD
        else:
            kind = EDIT
        yield at, sha, kind
        count += 1
        if limit is not None and count >= limit:
            return
        for parent, old in zip(parents, olds, strict=True):
            if old is not None:
                push(parent, at)
