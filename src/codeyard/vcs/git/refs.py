"""What a Git repository's refs say, read again only when their files change.

Reading every ref costs a directory walk and a file per loose ref; checking that nothing
changed costs a few ``stat`` calls. Git replaces a ref by renaming a lock file over it, so
every change shows in the status of packed-refs or of the directory holding the ref — as
long as the file system's clock ticks between our reading and the change, which is what
``settled_times`` guards (the way Git guards its index against "racy" timestamps).
"""

from __future__ import annotations

import os
import posixpath
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

import pygit2
from pygit2.enums import ReferenceType

FALLBACK_BRANCHES = ("refs/heads/master", "refs/heads/main")
# How far apart a file's change and our reading of it must be for its time to tell.
FINE_CLOCK_SECONDS = 0.1
COARSE_CLOCK_SECONDS = 3.0

Peel = Callable[[pygit2.Repository, pygit2.Oid], "str | None"]


@dataclass(frozen=True)
class Refs:
    """What the refs said when last read: full ref name -> commit sha, the default
    branch's tip, and per commit the branches and tags pointing at it."""

    key: tuple
    commits: dict[str, str]
    youngest: str | None
    by_commit: dict[str, tuple[list[str], list[str]]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)  # what ``fingerprint`` is the status of
    fingerprint: tuple | None = None
    settled: bool = False  # the files' times are old enough to trust the fingerprint

    @property
    def tips(self) -> list[str]:
        """The commits of every branch and tag (what ``all_revs`` starts from)."""
        seen = dict.fromkeys(sha for name, sha in self.commits.items()
                             if name.startswith(("refs/heads/", "refs/tags/")))
        return list(seen)


def settled_times(fingerprint: tuple, read_at: float) -> bool:
    """Whether files with these (inode, mtime in ns, size) were last changed long enough
    before ``read_at`` that any later change must show in their times. A file system that
    keeps sub-second times ticks at least every few milliseconds; one that does not may
    keep whole or even two seconds."""
    times = [part[1] for part in fingerprint if part]
    fine = any(mtime % 1_000_000_000 for mtime in times)
    margin = FINE_CLOCK_SECONDS if fine else COARSE_CLOCK_SECONDS
    return max(times, default=0) / 1e9 < read_at - margin


class RefReader:
    """The refs of the repository in ``git_dir``, kept between reads (thread-safe)."""

    def __init__(self, git_dir: str) -> None:
        self.git_dir = git_dir
        self._refs: Refs | None = None
        self._lock = threading.Lock()

    def forget(self) -> None:
        with self._lock:
            self._refs = None

    def files(self, names: Iterable[str]) -> list[str]:
        """The files and directories whose status changes whenever a ref changes: HEAD,
        packed-refs, reftable's table list when there is one, and every directory holding
        refs (git replaces a loose ref by renaming a lock file in its directory)."""
        paths = {"HEAD", "packed-refs", "refs", "refs/heads", "refs/tags"}
        if os.path.isdir(os.path.join(self.git_dir, "reftable")):
            paths.add("reftable/tables.list")
        for name in names:
            parent = posixpath.dirname(name)
            while parent.startswith("refs/"):
                paths.add(parent)
                parent = posixpath.dirname(parent)
        return [os.path.join(self.git_dir, path) for path in sorted(paths)]

    @staticmethod
    def fingerprint(paths: list[str]) -> tuple | None:
        parts: list[tuple[int, int, int] | None] = []
        for path in paths:
            try:
                status = os.stat(path)
            except FileNotFoundError:
                parts.append(None)
            except OSError:
                return None
            else:
                parts.append((status.st_ino, status.st_mtime_ns, status.st_size))
        return tuple(parts)

    def read(self, git: pygit2.Repository, peel: Peel) -> Refs:
        """The refs, read again unless none of their files changed since the last read
        (and that read was not so close to a change that a coarse file system clock
        could hide the next one)."""
        with self._lock:
            cached = self._refs
        if cached is not None and cached.settled and cached.files:
            if self.fingerprint(cached.files) == cached.fingerprint:
                return cached
        started = time.time()
        files = self.files(())
        fingerprint = self.fingerprint(files)
        targets: list[tuple[str, str]] = []
        for ref in git.references.iterator():
            name = ref.name
            if ref.type == ReferenceType.SYMBOLIC:
                try:
                    ref = ref.resolve()
                except (KeyError, pygit2.GitError):
                    continue  # pointing at nothing yet
            targets.append((name, str(ref.target)))
        names = [name for name, _ in targets]
        if self.files(names) != files:
            files = self.files(names)
            fingerprint = self.fingerprint(files)
        head: str
        try:
            head_ref = git.lookup_reference("HEAD")
        except (KeyError, pygit2.GitError):
            head = ""
        else:
            head = head_ref.target if isinstance(head_ref.target, str) else f"={head_ref.target}"
        settled = (fingerprint is not None and settled_times(fingerprint, started)
                   and not os.path.exists(os.path.join(self.git_dir, "commondir")))
        key = (head, tuple(sorted(set(targets))))
        if cached is not None and cached.key == key:
            refs = replace(cached, files=files, fingerprint=fingerprint, settled=settled)
        else:
            refs = self._build(git, peel, key, files, fingerprint, settled)
        with self._lock:
            self._refs = refs
        return refs

    def _build(self, git: pygit2.Repository, peel: Peel, key: tuple, files: list[str],
               fingerprint: tuple | None, settled: bool) -> Refs:
        head, targets = key
        commits: dict[str, str] = {}
        for name, target in targets:
            sha = peel(git, pygit2.Oid(hex=target))
            if sha is not None:
                commits[name] = sha
        youngest = None
        if head.startswith("refs/") and head in commits:
            youngest = commits[head]
        else:
            for name in FALLBACK_BRANCHES:
                if name in commits:
                    youngest = commits[name]
                    break
            else:
                if head.startswith("="):
                    youngest = peel(git, pygit2.Oid(hex=head[1:]))
                if youngest is None:
                    branches = sorted(n for n in commits if n.startswith("refs/heads/"))
                    youngest = commits[branches[0]] if branches else None
        by_commit: dict[str, tuple[list[str], list[str]]] = {}
        for name, sha in sorted(commits.items()):
            for prefix, slot in (("refs/heads/", 0), ("refs/tags/", 1)):
                if name.startswith(prefix):
                    by_commit.setdefault(sha, ([], []))[slot].append(name[len(prefix):])
        return Refs(key, commits, youngest, by_commit, files, fingerprint, settled)
