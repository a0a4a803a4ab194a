"""Files and directories of a Git tree at a commit."""

from __future__ import annotations

import io
import subprocess
import threading
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING

from codeyard.vcs.api import DIRECTORY, FILE, Annotation, Node

if TYPE_CHECKING:
    from codeyard.vcs.git.repository import GitRepository

MODE_TREE = 0o040000
MODE_BLOB = 0o100644
MODE_EXECUTABLE = 0o100755
MODE_LINK = 0o120000
MODE_GITLINK = 0o160000


def kind_of_mode(mode: int) -> str:
    return DIRECTORY if mode == MODE_TREE else FILE


class BlobReader(io.RawIOBase):
    """A stream over a blob's bytes as libgit2 holds them, without copying them first."""

    def __init__(self, data: memoryview) -> None:
        super().__init__()
        self._view = data
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        if self.closed:
            raise ValueError("I/O operation on closed stream")
        size = min(len(buffer), len(self._view) - self._pos)
        if size <= 0:
            return 0
        buffer[:size] = self._view[self._pos:self._pos + size]
        self._pos += size
        return size

    def readall(self) -> bytes:
        if self.closed:
            raise ValueError("I/O operation on closed stream")
        data = bytes(self._view[self._pos:])
        self._pos = len(self._view)
        return data

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: len(self._view)}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        if not self.closed:
            self._view.release()
        super().close()


class PipeReader(io.RawIOBase):
    """The output of a command as a stream; closing it (or dropping it) ends the command."""

    def __init__(self, args: list[str]) -> None:
        super().__init__()
        self._process = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        if self.closed:
            raise ValueError("I/O operation on closed stream")
        stdout = self._process.stdout
        assert stdout is not None
        return stdout.readinto(buffer)  # type: ignore[attr-defined]

    def close(self) -> None:
        if not self.closed:
            process = self._process
            if process.stdout is not None:
                process.stdout.close()
            if process.poll() is None:
                process.kill()
            process.wait()
        super().close()


class _Siblings:
    """The entries of one directory listing, whose last changes are found together in one
    walk the first time any of them is asked."""

    def __init__(self, repos: GitRepository, rev: str, directory: str, names: list[str]):
        self.repos = repos
        self.rev = rev
        self.directory = directory
        self.names = names
        self._found: dict[str, str] | None = None
        self._lock = threading.Lock()

    def created_rev(self, name: str) -> str:
        with self._lock:
            if self._found is None:
                self._found = self.repos._last_changes(self.rev, self.directory, self.names)
            return self._found[name]


class GitNode(Node):
    """A file (blob, symbolic link or submodule) or directory (tree) at a commit."""

    def __init__(self, repos: GitRepository, path: str, rev: str, oid: str, mode: int,
                 siblings: _Siblings | None = None) -> None:
        self.repos = self._git = repos
        self.path = path
        self.rev = rev
        self.kind = kind_of_mode(mode)
        self.created_path = path
        self.oid = oid
        self.mode = mode
        self._siblings = siblings
        self._created_rev: str | None = None

    @property  # type: ignore[override]
    def created_rev(self) -> str:
        if self._created_rev is None:
            if self._siblings is not None:
                self._created_rev = self._siblings.created_rev(self.name)
            else:
                self._created_rev = self._git._last_change(self.rev, self.path)
        return self._created_rev

    @created_rev.setter
    def created_rev(self, value: str) -> None:
        self._created_rev = value

    def __repr__(self) -> str:
        return f"<GitNode /{self.path} at {self.rev[:7]}>"

    def get_entries(self) -> Iterator[Node]:
        if self.kind != DIRECTORY:
            return iter(())
        entries = self._git._tree_entries(self.oid)
        siblings = _Siblings(self._git, self.rev, self.path, [name for name, _, _ in entries])
        prefix = self.path + "/" if self.path else ""
        return iter([GitNode(self._git, prefix + name, self.rev, oid, mode, siblings)
                     for name, oid, mode in entries])

    def get_content(self) -> IO[bytes] | None:
        if self.kind != FILE:
            return None
        if self.mode == MODE_GITLINK:
            return io.BytesIO(b"")
        return self._git._blob_stream(self.oid)

    def get_content_length(self) -> int | None:
        if self.kind != FILE:
            return None
        if self.mode == MODE_GITLINK:
            return 0
        return self._git._blob_size(self.oid)

    @property
    def content_id(self) -> str | None:
        """The blob id (the content of a symbolic link or a submodule is not a blob's)."""
        return self.oid if self.kind == FILE and self.mode not in (MODE_GITLINK, MODE_LINK) \
            else None

    def get_properties(self) -> dict[str, str]:
        if self.mode in (MODE_TREE, MODE_BLOB):
            return {}
        props = {"mode": f"{self.mode:06o}"}
        if self.mode == MODE_GITLINK:
            props["submodule"] = self.oid
        return props

    def get_annotations(self) -> list[Annotation]:
        if self.kind != FILE or self.mode == MODE_GITLINK:
            return []
        return self._git._annotate(self.path, self.rev)
