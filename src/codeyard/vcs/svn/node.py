"""Files and directories of a Subversion revision, and their content as streams."""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any, cast

from codeyard.vcs.api import DIRECTORY, FILE, Annotation, Node

if TYPE_CHECKING:
    from codeyard.vcs.svn.repository import SvnRepository

EOL_MARKERS = {"LF": b"\n", "CRLF": b"\r\n", "CR": b"\r"}


class _Enough(Exception):
    """Raised by a writer to end a transfer once it has what it needs."""


class _PrefixWriter:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.chunks: list[bytes] = []
        self.size = 0

    def write(self, data: bytes) -> None:
        self.chunks.append(bytes(data))
        self.size += len(data)
        if self.size >= self.limit:
            raise _Enough()


class RaContent(io.RawIOBase):
    """A file's content fetched over the local RA session, never held whole in memory:
    small files are fetched at once; of a big one only the first ``PREFIX`` bytes are
    fetched while the reader wants no more (a page sniffing the type), and all of it is
    spooled to a temporary file once it does.

    (Not the filesystem API's content streams: their type is a C symbol that mod_wsgi's
    own ``Stream_Type`` takes the place of inside Apache, which crashes the process.)"""

    SMALL = 1024 * 1024
    PREFIX = 64 * 1024
    SPOOL_IN_MEMORY = 8 * 1024 * 1024

    def __init__(self, repos: SvnRepository, full: str, rev: int, size: int) -> None:
        super().__init__()
        self._repos = repos
        self._full = full
        self._rev = rev
        self._size = size
        self._prefix = b""
        self._spool: IO[bytes] | None = None
        self._pos = 0

    def readable(self) -> bool:
        return True

    def _fetch(self, writer: Any) -> None:
        with self._repos._errors():
            try:
                self._repos._h().ra.get_file(self._full, writer, self._rev)
            except _Enough:
                pass

    def _fill(self, wanted: int) -> None:
        if self._spool is not None or wanted <= len(self._prefix):
            return
        if self._size > self.SMALL and wanted <= self.PREFIX:
            writer = _PrefixWriter(self.PREFIX)
            self._fetch(writer)
            self._prefix = b"".join(writer.chunks)
            return
        spool = tempfile.SpooledTemporaryFile(max_size=self.SPOOL_IN_MEMORY)
        self._fetch(spool)
        self._spool = cast(IO[bytes], spool)
        self._prefix = b""

    def readinto(self, buffer) -> int:  # type: ignore[override]
        if self.closed:
            raise ValueError("I/O operation on closed stream")
        self._fill(self._pos + len(buffer))
        if self._spool is not None:
            self._spool.seek(self._pos)
            data = self._spool.read(len(buffer))
        else:
            data = self._prefix[self._pos:self._pos + len(buffer)]
        size = len(data)
        buffer[:size] = data
        self._pos += size
        return size

    def close(self) -> None:
        if not self.closed:
            if self._spool is not None:
                self._spool.close()
            self._spool = None
            self._prefix = b""
            super().close()


class EolStream(io.RawIOBase):
    """A text file's content with its line ends turned into ``marker`` (``svn:eol-style``:
    what a checkout would write)."""

    def __init__(self, raw: IO[bytes], marker: bytes) -> None:
        super().__init__()
        self._raw = raw
        self._marker = marker
        self._pending = b""
        self._carry_cr = False

    def readable(self) -> bool:
        return True

    def _translate(self, data: bytes, last: bool) -> bytes:
        if self._carry_cr:
            data = b"\r" + data
            self._carry_cr = False
        if data.endswith(b"\r") and not last:
            data, self._carry_cr = data[:-1], True  # a CRLF may be split across reads
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        return data.replace(b"\n", self._marker) if self._marker != b"\n" else data

    def readinto(self, buffer) -> int:  # type: ignore[override]
        while not self._pending:
            chunk = self._raw.read(65536)
            if not chunk:
                if self._carry_cr:
                    self._pending = self._translate(b"", True)
                    continue
                return 0
            self._pending = self._translate(chunk, False)
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
            super().close()


class SvnNode(Node):
    """A file or directory at a revision. ``created_rev``/``created_path`` (where it last
    changed: for a node inside a copied directory, possibly another path) are read when
    first asked, or come with the directory listing."""

    def __init__(self, repos: SvnRepository, path: str, rev: int, kind: str,
                 created_rev: int | None = None, size: int | None = None,
                 time: int | None = None) -> None:
        self.repos = self._svn = repos
        self.path = path
        self.rev = str(rev)
        self.number = rev
        self.kind = kind
        self.full = repos._full(path)
        self._created_rev = created_rev
        self._created_path: str | None = None
        self._size = size
        self._time = time
        self._props: dict[str, str] | None = None

    def __repr__(self) -> str:
        return f"<SvnNode /{self.path}@{self.rev}>"

    def _created_number(self) -> int:
        if self._created_rev is None:
            with self._svn._errors():
                self._created_rev = self._svn._created_rev(self.full, self.number)
        return self._created_rev

    @property  # type: ignore[override]
    def created_rev(self) -> str:
        return str(self._created_number())

    @created_rev.setter
    def created_rev(self, value: str) -> None:
        self._created_rev = int(value)

    @property  # type: ignore[override]
    def created_path(self) -> str:
        if self._created_path is None:
            created = self._created_number()
            path = self.path
            if created != self.number:
                with self._svn._errors():
                    where = self._svn._path_at(self.full, self.number, created)
                local = self._svn._local_path(where)
                path = local if local is not None else self.path
            self._created_path = path
        return self._created_path

    @created_path.setter
    def created_path(self, value: str) -> None:
        self._created_path = value

    def same_node(self, other: SvnNode) -> bool:
        """True when both are certainly the same node revision (same path, same last
        change): their content and entries are equal without reading them."""
        return self.full == other.full and self._created_number() == other._created_number()

    def get_entries(self) -> Iterator[Node]:
        if self.kind != DIRECTORY:
            return iter(())
        with self._svn._errors():
            dirents = self._svn._dirents(self.full, self.number)
        prefix = self.path + "/" if self.path else ""
        return iter([SvnNode(self._svn, prefix + name, self.number,
                             DIRECTORY if isdir else FILE, created_rev=created, size=size,
                             time=time)
                     for name, isdir, created, size, time in dirents])

    def get_content(self) -> IO[bytes] | None:
        if self.kind != FILE:
            return None
        size = self.get_content_length() or 0
        return io.BufferedReader(RaContent(self._svn, self.full, self.number, size))

    def get_processed_content(self) -> IO[bytes] | None:
        """The content a checkout would give: line ends as ``svn:eol-style`` says
        (``native`` as ``[svn] eol_style`` says, the server's own by default)."""
        stream = self.get_content()
        style = self.get_properties().get("svn:eol-style", "").strip()
        if stream is None or not style:
            return stream
        if style == "native":
            style = str(self._svn.params.get("eol_style") or "native")
        marker = EOL_MARKERS.get(style, b"\n")
        return io.BufferedReader(EolStream(stream, marker))

    def processed_length(self) -> int | None:
        if self.get_properties().get("svn:eol-style", "").strip():
            return None  # changed by the translation: unknown until streamed
        return self.get_content_length()

    def read_all(self) -> bytes:
        with self._svn._errors():
            return self._svn._read(self.full, self.number)

    def get_content_length(self) -> int | None:
        if self.kind != FILE:
            return None
        if self._size is None:
            with self._svn._errors():
                self._size = self._svn._size(self.full, self.number)
        return self._size

    def get_content_type(self) -> str | None:
        if self.kind != FILE:
            return None
        return self.get_properties().get("svn:mime-type") or None

    def get_last_modified(self) -> datetime:
        if self._time:
            return datetime.fromtimestamp(self._time / 1_000_000, UTC)
        return self._svn.get_changeset(self.created_rev).date

    def get_properties(self) -> dict[str, str]:
        if self._props is None:
            with self._svn._errors():
                self._props = self._svn._props(self.full, self.number)
        return dict(self._props)

    def get_annotations(self) -> list[Annotation]:
        if self.kind != FILE:
            return []
        with self._svn._errors():
            return self._svn._annotate(self.full, self.number)
