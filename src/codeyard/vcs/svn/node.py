"""Files and directories of a Subversion revision, and their content as streams."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any

from codeyard.vcs.api import DIRECTORY, FILE, Annotation, Node

if TYPE_CHECKING:
    from codeyard.vcs.svn.repository import SvnRepository

EOL_MARKERS = {"LF": b"\n", "CRLF": b"\r\n", "CR": b"\r"}


class FsStream(io.RawIOBase):
    """A file's content as the repository's filesystem streams it (never loaded whole)."""

    def __init__(self, stream: Any) -> None:
        super().__init__()
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        if self.closed:
            raise ValueError("I/O operation on closed stream")
        data = self._stream.read(len(buffer))
        size = len(data)
        buffer[:size] = data
        return size

    def close(self) -> None:
        if not self.closed:
            try:
                self._stream.close()
            finally:
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
                self._created_rev = int(self._svn._h().ra.stat(self.full, self.number)
                                        ["created_rev"])
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
                    where = self._svn._h().ra.get_locations(self.full, self.number, [created])
                local = self._svn._local_path(where.get(created) or self.full)
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
        import subvertpy

        from codeyard.vcs.svn.repository import DIRENT_FIELDS

        with self._svn._errors():
            dirents, _rev, _props = self._svn._h().ra.get_dir(self.full, self.number,
                                                              DIRENT_FIELDS)
        prefix = self.path + "/" if self.path else ""
        nodes = []
        for name in sorted(dirents):
            dirent = dirents[name]
            kind = DIRECTORY if dirent.get("kind") == subvertpy.NODE_DIR else FILE
            nodes.append(SvnNode(self._svn, prefix + name, self.number, kind,
                                 created_rev=int(dirent["created_rev"]),
                                 size=dirent.get("size") if kind == FILE else None,
                                 time=dirent.get("time")))
        return iter(nodes)

    def get_content(self) -> IO[bytes] | None:
        if self.kind != FILE:
            return None
        with self._svn._errors():
            stream = self._svn._h().root(self.number).file_content("/" + self.full)
        return io.BufferedReader(FsStream(stream))

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
                self._size = int(self._svn._h().root(self.number).file_length("/" + self.full))
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
            from codeyard.vcs.svn.repository import _text

            with self._svn._errors():
                props = self._svn._h().root(self.number).proplist("/" + self.full)
            self._props = {_text(k): _text(v) for k, v in props.items()}
        return dict(self._props)

    def get_annotations(self) -> list[Annotation]:
        if self.kind != FILE:
            return []
        with self._svn._errors():
            return self._svn._annotate(self.full, self.number)
