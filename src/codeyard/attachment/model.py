"""Attachment records (the ``attachment`` table) and their files, laid out as Trac 1.6 does.

A file lives at ``ENV/files/attachments/<realm>/<h[:3]>/<h>/<sha1(file name)><ext>`` where
``h`` is the SHA-1 of the parent's id and ``ext`` the file name's last extension when it is
a dot followed by ASCII letters and digits only. The database row is the truth: a file is
written completely (under a temporary name) before its row exists, and removed after its
row is gone, so a failure never leaves a row that points at a partial file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import posixpath
import re
import tempfile
import time as time_module
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, BinaryIO

from codeyard import cachekeys
from codeyard.config import IntOption

__all__ = [
    "Attachment", "AttachmentError", "AttachmentExists", "AttachmentNotFound",
    "AttachmentTooBig", "InvalidAttachment", "ParentNotFound", "MAX_SIZE",
    "attachment_path", "parent_directory", "hashed_filename", "normalize_filename",
    "pretty_size", "insert", "select", "delete_all", "reparent_all",
]

# The generation of the set of attachments, bumped by every add, delete and move.
CHANGES_CACHE_KEY = cachekeys.ATTACHMENTS

MAX_SIZE = IntOption("attachment", "max_size", 262144,
                     "Largest file, in bytes, that may be attached; a negative value means no limit.")

_CHUNK = 64 * 1024
_EXTENSION_RE = re.compile(r"\.[A-Za-z0-9]+\Z")
# Unicode category Cc: C0 and C1 controls and DEL.
_CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f]")
# Bidirectional embedding, override and isolate characters: "a\u202egpj.exe" reads as
# "aexe.jpg".
_BIDI_CONTROL_RE = re.compile("[\u202a-\u202e\u2066-\u2069]")
# Longer names cannot be saved by the people who download them (file systems allow 255).
MAX_FILENAME_LENGTH = 255
_EDGE_SPACE_RE = re.compile("\\A[\\s\u200b]+|[\\s\u200b]+\\Z")


class AttachmentError(Exception):
    """An attachment operation was refused; the message says why in one line."""


class AttachmentNotFound(AttachmentError):
    """No such attachment."""


class AttachmentExists(AttachmentError):
    """The target of a move already exists."""


class AttachmentTooBig(AttachmentError):
    """The file exceeds ``[attachment] max_size``."""


class InvalidAttachment(AttachmentError):
    """A file name, realm or id that cannot name an attachment."""


class ParentNotFound(AttachmentError):
    """The resource to attach to does not exist."""


# ---------------------------------------------------------------------------
# Names and paths


def normalize_filename(name: str | bytes) -> str:
    """The file name Trac would store for an uploaded ``name``: NFC, control characters as
    spaces, directory parts (``/`` or a Windows path's ``\\``) dropped, outer white space
    stripped. Refuses what cannot be a file name (empty, ``.``, ``..``), names with
    bidirectional control characters and names longer than 255 characters.

    Unlike Trac, every backslash separates directories (not only in absolute Windows
    paths): a name with one could not be reached by any URL of the site."""
    if isinstance(name, bytes):
        name = name.decode("utf-8", "replace")
    name = unicodedata.normalize("NFC", name)
    name = _CONTROL_RE.sub(" ", name)
    name = _EDGE_SPACE_RE.sub("", posixpath.basename(name.replace("\\", "/")))
    if name in ("", ".", ".."):
        raise InvalidAttachment(f"Invalid attachment file name {name!r}")
    bidi = _BIDI_CONTROL_RE.search(name)
    if bidi:
        raise InvalidAttachment(
            f"Invalid attachment file name {name!r}: a file name may not contain the "
            f"bidirectional control character U+{ord(bidi.group(0)):04X}.")
    if len(name) > MAX_FILENAME_LENGTH:
        raise InvalidAttachment(
            f"Invalid attachment file name {name[:40] + chr(0x2026)!r}: a file name may have at "
            f"most {MAX_FILENAME_LENGTH} characters (this one has {len(name)}).")
    return name


def _check_filename(name: str) -> str:
    """Accept ``name`` only when it is already a normalised file name."""
    try:
        normal = normalize_filename(name)
    except InvalidAttachment:
        normal = None
    if normal != name or "\\" in name:
        raise InvalidAttachment(f"Invalid attachment file name {name!r}")
    return name


def _check_realm(realm: str) -> str:
    if (not realm or realm in (".", "..") or "/" in realm or "\\" in realm
            or _CONTROL_RE.search(realm)):
        raise InvalidAttachment(f"Invalid realm {realm!r}")
    return realm


def hashed_filename(filename: str) -> str:
    """The on-disk name of an attachment: SHA-1 of the name plus its simple extension."""
    digest = hashlib.sha1(filename.encode("utf-8")).hexdigest()
    match = _EXTENSION_RE.search(filename)
    return digest + match.group(0) if match else digest


def _inside(base: str, path: str) -> str:
    """``path`` resolved, refusing anything outside ``base`` (symlinks included)."""
    real_base = os.path.realpath(base)
    real = os.path.realpath(path)
    if real == real_base or os.path.commonpath([real_base, real]) != real_base:
        raise InvalidAttachment(f"{path}: outside the attachments directory")
    return os.path.normpath(path)


def parent_directory(env, realm: str, parent_id: str) -> str:
    """Directory holding the files attached to ``realm:parent_id``."""
    digest = hashlib.sha1(str(parent_id).encode("utf-8")).hexdigest()
    base = env.attachments_dir
    return _inside(base, os.path.join(base, _check_realm(realm), digest[:3], digest))


def attachment_path(env, realm: str, parent_id: str, filename: str) -> str:
    """Path of the file of attachment ``filename`` of ``realm:parent_id``."""
    return _inside(env.attachments_dir,
                   os.path.join(parent_directory(env, realm, parent_id), hashed_filename(filename)))


def pretty_size(size: int | None) -> str:
    """Sizes as Trac prints them: ``1 byte``, ``3 bytes``, ``1.5 KB``, ``2.0 MB``."""
    if size is None:
        return ""
    if size < 1024:
        return f"{size} byte" if size == 1 else f"{size} bytes"
    value = float(size)
    units = ("KB", "MB", "GB", "TB")
    index = -1
    while value >= 1024 and index < len(units) - 1:
        value /= 1024
        index += 1
    return f"{value:.1f} {units[index]}"


def _now_us() -> int:
    return time_module.time_ns() // 1000


# ---------------------------------------------------------------------------
# The record


@dataclass
class Attachment:
    """One attachment: its parent (``parent_realm:parent_id``) and its row."""

    env: Any
    parent_realm: str
    parent_id: str
    filename: str
    description: str = ""
    size: int = 0
    time: int = 0  # microseconds since the epoch
    author: str = ""

    def __repr__(self) -> str:
        return f"<Attachment {self.title!r}>"

    @property
    def title(self) -> str:
        return f"{self.parent_realm}:{self.parent_id}: {self.filename}"

    @property
    def path(self) -> str:
        return attachment_path(self.env, self.parent_realm, self.parent_id, self.filename)

    @property
    def date(self) -> datetime:
        return datetime.fromtimestamp((self.time or 0) / 1_000_000, UTC)

    @classmethod
    def load(cls, env, realm: str, parent_id: str, filename: str) -> Attachment:
        """The attachment ``filename`` of ``realm:parent_id``, or AttachmentNotFound."""
        with env.db_query as db:
            rows = db("SELECT filename, description, size, time, author FROM attachment "
                      "WHERE type=%s AND id=%s AND filename=%s",
                      (realm, str(parent_id), filename))
        if not rows:
            raise AttachmentNotFound(f"Attachment '{realm}:{parent_id}: {filename}' does not exist.")
        return cls._from_row(env, realm, str(parent_id), rows[0])

    @classmethod
    def _from_row(cls, env, realm: str, parent_id: str, row: tuple) -> Attachment:
        filename, description, size, time, author = row
        return cls(env, realm, parent_id, filename, description or "", int(size or 0),
                   int(time or 0), author or "")

    def open(self) -> BinaryIO:
        """The file, opened for reading in binary mode (the caller closes it)."""
        try:
            return open(self.path, "rb")
        except OSError:
            raise AttachmentNotFound(f"Attachment '{self.filename}' not found") from None

    def delete(self) -> None:
        """Remove the row, then the file (and the parent's directory once empty)."""
        path = self.path
        with self.env.db_transaction as db:
            count = db.execute_rowcount(
                "DELETE FROM attachment WHERE type=%s AND id=%s AND filename=%s",
                (self.parent_realm, self.parent_id, self.filename))
            if not count:
                raise AttachmentNotFound(f"Attachment '{self.title}' does not exist.")
            _notify(self.env, "deleted", self, None, None, None)
        _unlink(self.env, path)
        _prune(self.env, os.path.dirname(path))
        self.env.log.info("Attachment removed: %s", self.title)

    def move(self, new_realm: str | None = None, new_id: str | None = None,
             new_filename: str | None = None, check_parent: bool = True) -> None:
        """Give the attachment another parent and/or name (the new parent must exist)."""
        env = self.env
        new_realm = self.parent_realm if new_realm is None else new_realm
        new_id = self.parent_id if new_id is None else str(new_id)
        new_filename = self.filename if new_filename is None else new_filename
        new_title = f"{new_realm}:{new_id}: {new_filename}"
        if (new_realm, new_id, new_filename) == (self.parent_realm, self.parent_id, self.filename):
            raise AttachmentError("Attachment not modified")
        if new_filename != self.filename:  # names stored earlier move as they are
            _check_filename(new_filename)
        _check_realm(new_realm)
        if check_parent and not parent_exists(env, new_realm, new_id):
            raise ParentNotFound(f"{new_realm}:{new_id} doesn't exist, can't move attachment")
        old_path = self.path
        new_path = attachment_path(env, new_realm, new_id, new_filename)
        old = (self.parent_realm, self.parent_id, self.filename)
        created: list[str] = []
        moved = False
        try:
            with env.db_transaction as db:
                exists = AttachmentExists(
                    f'Cannot move attachment "{self.filename}" to "{new_title}" as it '
                    "already exists")
                if os.path.exists(new_path):
                    raise exists
                with db.unique(exists):
                    count = db.execute_rowcount(
                        "UPDATE attachment SET type=%s, id=%s, filename=%s "
                        "WHERE type=%s AND id=%s AND filename=%s",
                        (new_realm, new_id, new_filename, *old))
                if not count:
                    raise AttachmentNotFound(f"Attachment '{self.title}' does not exist.")
                if os.path.isfile(old_path):
                    created = _make_dirs(env, os.path.dirname(new_path))
                    os.rename(old_path, new_path)
                    moved = True
                self.parent_realm, self.parent_id, self.filename = new_realm, new_id, new_filename
                _notify(env, "moved", self, *old)
        except BaseException:
            self.parent_realm, self.parent_id, self.filename = old
            if moved:
                with contextlib.suppress(OSError):
                    os.rename(new_path, old_path)
            _remove_created(created)
            raise
        _prune(env, os.path.dirname(old_path))
        env.log.info("Attachment moved: %s:%s: %s -> %s", *old, self.title)


# ---------------------------------------------------------------------------
# Operations on a parent's attachments


def parent_exists(env, realm: str, parent_id: str) -> bool:
    """Whether the resource ``realm:parent_id`` exists, as the realm's plugin says."""
    return bool(env.hook.attachment_parent_exists(env=env, realm=realm, id=str(parent_id)))


def select(env, realm: str, parent_id: str) -> list[Attachment]:
    """The attachments of ``realm:parent_id``, oldest first (as Trac lists them)."""
    with env.db_query as db:
        rows = db("SELECT filename, description, size, time, author FROM attachment "
                  "WHERE type=%s AND id=%s ORDER BY time, filename", (realm, str(parent_id)))
    return [Attachment._from_row(env, realm, str(parent_id), row) for row in rows]


def insert(env, realm: str, parent_id: str, filename: str, fileobj: BinaryIO,
           author: str = "", description: str = "", time: int | None = None,
           max_size: int | None = None, check_parent: bool = True) -> Attachment:
    """Store the content of ``fileobj`` as a new attachment of ``realm:parent_id``.

    ``filename`` is normalised as Trac does; when the parent already has a file of that
    name, ``name.2.ext``, ``name.3.ext`` … is used instead. ``max_size`` defaults to
    ``[attachment] max_size`` (negative: no limit). Returns the stored attachment.
    """
    parent_id = str(parent_id)
    filename = normalize_filename(filename)
    _check_realm(realm)
    if check_parent and not parent_exists(env, realm, parent_id):
        raise ParentNotFound(f"{realm}:{parent_id} doesn't exist, can't create attachment")
    if max_size is None:
        max_size = MAX_SIZE(env.config)
    directory = parent_directory(env, realm, parent_id)
    created = _make_dirs(env, directory)
    final_path = None
    try:
        tmp_path: str | None
        tmp_path, size = _receive(directory, fileobj, max_size)
        try:
            with env.db_transaction as db:
                filename, final_path = _reserve_name(env, db, realm, parent_id, filename)
                os.replace(tmp_path, final_path)
                tmp_path = None
                attachment = Attachment(env, realm, parent_id, filename, description or "",
                                        size, _now_us() if time is None else int(time),
                                        author or "")
                db("INSERT INTO attachment (type, id, filename, size, time, description, author) "
                   "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                   (realm, parent_id, filename, size, attachment.time, attachment.description,
                    attachment.author))
                _notify(env, "added", attachment, None, None, None)
        finally:
            if tmp_path is not None:
                _unlink(env, tmp_path)
    except BaseException:
        if final_path is not None:
            _unlink(env, final_path)
        _remove_created(created)
        raise
    env.log.info("New attachment: %s by %s", attachment.title, attachment.author)
    return attachment


def delete_all(env, realm: str, parent_id: str) -> None:
    """Delete every attachment of ``realm:parent_id`` (rows first, then files)."""
    with env.db_transaction:
        for attachment in select(env, realm, parent_id):
            attachment.delete()
    with contextlib.suppress(InvalidAttachment):
        _prune(env, parent_directory(env, realm, parent_id))


def reparent_all(env, realm: str, parent_id: str, new_realm: str, new_id: str) -> None:
    """Move every attachment of ``realm:parent_id`` to ``new_realm:new_id`` (e.g. a rename)."""
    done: list[tuple[str, str]] = []
    try:
        with env.db_transaction:
            for attachment in select(env, realm, parent_id):
                old_path = attachment.path
                attachment.move(new_realm, new_id, check_parent=False)
                done.append((old_path, attachment.path))
    except BaseException:
        # The rows roll back: put the files already moved back where the rows say.
        for old_path, new_path in reversed(done):
            with contextlib.suppress(OSError):
                os.makedirs(os.path.dirname(old_path), exist_ok=True)
                os.rename(new_path, old_path)
        raise


# ---------------------------------------------------------------------------
# Files


def _receive(directory: str, fileobj: BinaryIO, max_size: int) -> tuple[str, int]:
    """Copy ``fileobj`` to a temporary file in ``directory``; refuse it past ``max_size``."""
    fd, tmp_path = tempfile.mkstemp(prefix=".upload-", suffix=".tmp", dir=directory)
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            while True:
                chunk = fileobj.read(_CHUNK)
                if not chunk:
                    break
                if isinstance(chunk, str):
                    chunk = chunk.encode("utf-8")
                size += len(chunk)
                if 0 <= max_size < size:
                    raise AttachmentTooBig(f"Maximum attachment size: {pretty_size(max_size)}")
                out.write(chunk)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_path)
        raise
    return tmp_path, size


def _reserve_name(env, db, realm: str, parent_id: str, filename: str) -> tuple[str, str]:
    """A free file name (``a.txt``, ``a.2.txt`` …) and its path, created empty and exclusively."""
    stem, ext = os.path.splitext(filename)
    candidate = filename
    for index in range(2, 1002):
        path = attachment_path(env, realm, parent_id, candidate)
        if not db("SELECT 1 FROM attachment WHERE type=%s AND id=%s AND filename=%s",
                  (realm, parent_id, candidate)):
            try:
                os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
                return candidate, path
            except FileExistsError:
                pass
        candidate = f"{stem}.{index}{ext}"
    raise AttachmentError(f"Cannot find a free name for attachment {filename!r}")


def _unlink(env, path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        env.log.error("could not remove attachment file %s: %s", path, exc)


def _make_dirs(env, directory: str) -> list[str]:
    """Create ``directory`` and missing parents; return those created (deepest last)."""
    missing = []
    path = directory
    base = os.path.normpath(env.attachments_dir)
    while not os.path.isdir(path):
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path or path == base:
            break
        path = parent
    os.makedirs(directory, exist_ok=True)
    return list(reversed(missing))


def _remove_created(created: list[str]) -> None:
    for path in reversed(created):
        try:
            os.rmdir(path)
        except OSError:
            break


def _prune(env, directory: str) -> None:
    """Remove the parent's directory and its prefix directory once they are empty."""
    stop = os.path.normpath(env.attachments_dir)
    for path in (directory, os.path.dirname(directory)):
        if os.path.normpath(path) == stop or os.path.dirname(os.path.normpath(path)) == stop:
            break  # keep the realm directory
        try:
            os.rmdir(path)
        except OSError:
            break


def _notify(env, event: str, attachment: Attachment, old_realm, old_id, old_filename) -> None:
    env.invalidate(CHANGES_CACHE_KEY)
    env.hook.attachment_changed(env=env, event=event, attachment=attachment,
                                old_realm=old_realm, old_id=old_id, old_filename=old_filename)
