"""Serving the Bazaar smart protocol over HTTP: the part shared by the standalone app
(``codeyard.hosting.bzr_wsgi``) and the per-project routes (``codeyard.hosting.bzr_web``).

One ``SmartServer`` per served root (and read-only flag) is kept for the process: breezy
registers a transport scheme for every jail it makes, so making one per request would
leak a registration each time. The jail is the whole served root — a branch in a shared
repository reaches up to its repository — and nothing outside it, by path (``../``) or by
symlink, can be opened.

A request body is read whole before anything runs (spooled to a temporary file past
1 MiB, up to a size limit), so a client killed mid-transfer leaves nothing half-done. A
reply is written by breezy, as it produces it, to a spool of the same kind, then sent in
chunks: the server's memory does not grow with the size of a reply (breezy's own WSGI
app builds every reply in memory). The reply is not sent before it is complete because
brz's HTTP client needs a Content-Length: after a chunked reply it leaves the chunked
terminator on a kept-alive connection, fails on its next request there and sends that
request again, so every request after a chunked reply would run twice.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

import breezy.bzr  # noqa: F401  (registers the .bzr formats and smart verbs)
from breezy import errors as bzr_errors
from breezy import urlutils
from breezy.bzr.smart import medium as smart_medium
from breezy.bzr.smart import protocol as smart_protocol
from breezy.bzr.smart import request as smart_request
from breezy.transport import chroot, get_transport_from_url
from breezy.transport.local import LocalTransport
from breezy.transport.readonly import ReadonlyTransportDecorator
from fastbencode import bdecode_as_tuple, bencode

log = logging.getLogger(__name__)

SMART_SUFFIX = ".bzr/smart"
DEFAULT_MAX_REQUEST_SIZE = 1 << 30  # 1 GiB
SPOOL_IN_MEMORY = 1 << 20  # bodies larger than this go to a temporary file
READ_CHUNK = 256 << 10
SEND_CHUNK = 256 << 10
LOCK_WAIT = 60.0  # seconds a push waits for another push's lock on the same branch
LOCK_VERBS = frozenset({b"Branch.lock_write", b"Repository.lock_write"})
# Requests after which a branch's tip (or tags) may have moved: the cache catches up. Every
# push, of a new branch too, ends by setting the tip, before the client unlocks the branch.
TIP_VERBS = frozenset({b"Branch.set_last_revision", b"Branch.set_last_revision_info",
                       b"Branch.set_last_revision_ex", b"Branch.set_tags_bytes",
                       b"BzrDir.destroy_branch"})


class ConfigurationError(Exception):
    """A served root that cannot work (missing, not a directory, inside a shared repository)."""


class RequestError(Exception):
    """A request refused before any of it ran: an HTTP status and a readable message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# ---------------------------------------------------------------------------
# The served root


def check_root(root: str) -> str:
    """The real path of a root that can be served, else a ConfigurationError saying why."""
    if not root:
        raise ConfigurationError("no root directory is configured (bzr_wsgi.root)")
    real = os.path.realpath(root)
    if not os.path.isdir(real):
        raise ConfigurationError(f"the root {root} is not a directory")
    if not os.path.isdir(os.path.join(real, ".bzr", "repository")):
        parent = os.path.dirname(real)
        while True:
            if os.path.isfile(os.path.join(parent, ".bzr", "repository", "shared-storage")):
                raise ConfigurationError(
                    f"the root {root} is inside the shared repository {parent}: its branches "
                    "could not reach their repository. Serve the shared repository's directory "
                    f"(or one above it) as the root instead, e.g. bzr_wsgi.root = {parent}")
            up = os.path.dirname(parent)
            if up == parent:
                break
            parent = up
    return real


def inside(root: str, path: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


class JailedLocalTransport(LocalTransport):
    """A local transport that refuses every path whose real location (symlinks resolved)
    is outside ``jail``."""

    def __init__(self, base: str, jail: str) -> None:
        super().__init__(base)
        self._jail = jail

    def clone(self, offset=None):
        base = self.base if offset is None else self.abspath(offset)
        return JailedLocalTransport(base, self._jail)

    def _abspath(self, relative_reference):
        path = super()._abspath(relative_reference)
        if not inside(self._jail, os.path.realpath(path)):
            raise bzr_errors.PermissionDenied(relative_reference, "outside the served root")
        return path

    def local_abspath(self, relpath):
        path = super().local_abspath(relpath)
        if not inside(self._jail, os.path.realpath(path)):
            raise bzr_errors.PermissionDenied(relpath, "outside the served root")
        return path


class SmartServer:
    """Breezy's smart protocol over one root: the chrooted transport requests run on."""

    def __init__(self, root: str, readonly: bool) -> None:
        self.root = check_root(root)
        self.readonly = readonly
        base: Any = JailedLocalTransport(urlutils.local_path_to_url(self.root), self.root)
        if readonly:
            base = ReadonlyTransportDecorator("readonly+" + base.base, _decorated=base)
        self._chroot = chroot.ChrootServer(base)
        self._chroot.start_server()
        self.backing_transport = get_transport_from_url(self._chroot.get_url())

    def transport_for(self, relpath: str):
        """The transport of the branch path ``relpath`` (URL-escaped, below the root)."""
        return self.backing_transport.clone(relpath) if relpath else self.backing_transport

    def run(self, request: SmartRequest, relpath: str, write) -> None:
        """Feed the request to breezy's server protocol; the reply goes to ``write``."""
        body = request.body
        body.seek(0)
        first = body.read(READ_CHUNK)
        factory, unused = smart_medium._get_protocol_factory_for_bytes(first)
        server_protocol = factory(self.transport_for(relpath), write, None,
                                  self.backing_transport)
        server_protocol.accept_bytes(unused)
        while True:
            chunk = body.read(READ_CHUNK)
            if not chunk:
                break
            server_protocol.accept_bytes(chunk)
        if server_protocol.next_read_size() != 0:
            write(b"error\x01incomplete request\n")

    def reply(self, request: SmartRequest, relpath: str) -> ReplyBody:
        """The reply, spooled as breezy writes it (in memory while small, then in a
        temporary file). A lock request that meets another push's lock waits for it, up
        to ``LOCK_WAIT`` seconds, so that concurrent pushes take turns instead of failing."""
        deadline = time.monotonic() + LOCK_WAIT
        delay = 0.05
        while True:
            spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)
            try:
                self.run(request, relpath, spool.write)
                size = spool.tell()
                body = ReplyBody(spool, size)
            except BaseException:
                spool.close()
                raise
            if request.verb not in LOCK_VERBS or time.monotonic() > deadline:
                return body
            head = body._spool.read(4096)
            body._spool.seek(0)
            if reply_error(head) != b"LockContention":
                return body
            body.close()
            time.sleep(delay)
            delay = min(delay * 2, 1.0)


_servers: dict[tuple[str, bool], SmartServer] = {}
_servers_lock = threading.Lock()


def smart_server(root: str, readonly: bool) -> SmartServer:
    """The process's server for ``root`` (one per distinct real root and read-only flag)."""
    real = os.path.realpath(root) if root else root
    key = (real, bool(readonly))
    server = _servers.get(key)
    if server is None:
        with _servers_lock:
            server = _servers.get(key)
            if server is None:
                server = SmartServer(real, bool(readonly))
                _servers[key] = server
    return server


# ---------------------------------------------------------------------------
# Requests


@dataclass
class SmartRequest:
    body: IO[bytes]
    verb: bytes | None  # None: not understood (treated as a write)
    version: int = 3  # of the smart protocol

    @property
    def writes(self) -> bool:
        return is_write(self.verb)

    @property
    def moves_tips(self) -> bool:
        return self.verb in TIP_VERBS

    def close(self) -> None:
        self.body.close()


def is_write(verb: bytes | None) -> bool:
    """Whether a verb may change anything (breezy's registry says which only read)."""
    if verb is None:
        return True
    try:
        info = smart_request.request_handlers.get_info(verb)
    except KeyError:
        return True
    return info != "read"


def read_request(environ: dict, limit: int = DEFAULT_MAX_REQUEST_SIZE) -> SmartRequest:
    """Read the whole body of a smart request (refusing one over ``limit`` bytes or cut
    short) and find its verb."""
    length_text = environ.get("CONTENT_LENGTH") or ""
    stream = environ["wsgi.input"]
    if length_text:
        try:
            length = int(length_text)
        except ValueError:
            raise RequestError(400, "The Content-Length header is not a number.") from None
        if length < 0:
            raise RequestError(400, "The Content-Length header is negative.")
        if length > limit:
            raise RequestError(413, f"The request body is larger than {limit} bytes.")
    elif environ.get("wsgi.input_terminated"):
        length = -1  # chunked: read to the end, up to the limit
    else:
        raise RequestError(411, "A smart request needs a Content-Length (or a chunked body).")
    body = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)
    try:
        received = 0
        while length < 0 or received < length:
            want = READ_CHUNK if length < 0 else min(READ_CHUNK, length - received)
            chunk = stream.read(want)
            if not chunk:
                break
            received += len(chunk)
            if received > limit:
                raise RequestError(413, f"The request body is larger than {limit} bytes.")
            body.write(chunk)
        if length >= 0 and received < length:
            raise RequestError(400, f"The request body ended after {received} of {length} "
                                    "bytes; nothing was done.")
        if received == 0:
            raise RequestError(400, "The smart request is empty.")
        body.seek(0)
        head = body.read(64 << 10)
        return SmartRequest(body, request_verb(head), protocol_version(head))
    except BaseException:
        body.close()
        raise


def request_verb(head: bytes) -> bytes | None:
    """The verb of a smart request from the first bytes of its body (protocols 1 to 3)."""
    try:
        if head.startswith(smart_protocol.MESSAGE_VERSION_THREE):
            args = _first_structure(head[len(smart_protocol.MESSAGE_VERSION_THREE):])
            return args[0] if args and isinstance(args[0], bytes) else None
        if head.startswith(smart_protocol.REQUEST_VERSION_TWO):
            head = head[len(smart_protocol.REQUEST_VERSION_TWO):]
        line, newline, _ = head.partition(b"\n")
        return line.split(b"\x01")[0] or None if newline else None
    except Exception:  # noqa: BLE001 - garbage: treated as a write, breezy answers it
        return None


def _first_structure(data: bytes) -> tuple | None:
    """The first structure part of a protocol-3 message (after the version line): its
    headers are skipped, one-byte parts too."""
    if len(data) < 4:
        return None
    size = int.from_bytes(data[:4], "big")
    pos = 4 + size
    while pos < len(data):
        kind = data[pos:pos + 1]
        if kind == b"o":
            pos += 2
        elif kind in (b"s", b"b"):
            size = int.from_bytes(data[pos + 1:pos + 5], "big")
            start = pos + 5
            if kind == b"s":
                if start + size > len(data):
                    return None
                return bdecode_as_tuple(data[start:start + size])
            pos = start + size
        else:
            return None
    return None


def protocol_version(head: bytes) -> int:
    if head.startswith(smart_protocol.MESSAGE_VERSION_THREE):
        return 3
    return 2 if head.startswith(smart_protocol.REQUEST_VERSION_TWO) else 1


def encode_reply(version: int, success: bool, args: list[bytes]) -> bytes:
    """A body-less reply in the request's protocol version."""
    if version == 3:
        headers = bencode({})
        structure = bencode(args)
        return (smart_protocol.MESSAGE_VERSION_THREE + len(headers).to_bytes(4, "big") + headers
                + b"o" + (b"S" if success else b"E") + b"s" + len(structure).to_bytes(4, "big")
                + structure + b"e")
    line = b"\x01".join(arg.replace(b"\n", b" ").replace(b"\x01", b" ") for arg in args) + b"\n"
    if version == 2:
        return smart_protocol.RESPONSE_VERSION_TWO + (b"success\n" if success else b"failed\n") + line
    return line


def error_message(request: SmartRequest | None, message: str) -> bytes:
    """An error reply carrying ``message`` (brz prints it). ``hello`` is still answered: a
    client whose hello fails takes the server for no smart server at all and reports "Not
    a branch" instead of the message."""
    version = request.version if request is not None else 3
    if request is not None and request.verb == b"hello":
        return encode_reply(version, True, [b"ok", b"2"])
    return encode_reply(version, False, [b"error", message.encode("utf-8")])


def refusal(request: SmartRequest, message: str) -> ReplyBody:
    """A ``PermissionDenied`` error reply (brz shows its message)."""
    data = encode_reply(request.version, False,
                        [b"PermissionDenied", b".", message.encode("utf-8")])
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)
    spool.write(data)
    return ReplyBody(spool, len(data))


def reply_error(data: bytes) -> bytes | None:
    """The error name of a protocol-3 failure reply, else None."""
    if not data.startswith(smart_protocol.MESSAGE_VERSION_THREE):
        return None
    body = data[len(smart_protocol.MESSAGE_VERSION_THREE):]
    if len(body) < 4:
        return None
    pos = 4 + int.from_bytes(body[:4], "big")
    if body[pos:pos + 2] != b"oE":
        return None
    try:
        args = _first_structure(body)
    except Exception:  # noqa: BLE001
        return None
    return args[0] if args else None


# ---------------------------------------------------------------------------
# Sending a reply


class ReplyBody:
    """A reply spooled by breezy as it produced it, sent in chunks; ``len()`` is its size
    (the ``Content-Length``)."""

    def __init__(self, spool: IO[bytes], size: int) -> None:
        self._spool = spool
        self.size = size
        spool.seek(0)

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[bytes]:
        try:
            while True:
                chunk = self._spool.read(SEND_CHUNK)
                if not chunk:
                    return
                yield chunk
        finally:
            self.close()

    def read(self) -> bytes:
        try:
            return self._spool.read()
        finally:
            self.close()

    def close(self) -> None:
        self._spool.close()
