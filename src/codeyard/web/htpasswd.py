"""Apache password files: htpasswd (bcrypt, apr1-MD5, SHA1, crypt) and htdigest.

Files are re-read when they change on disk. Lines that cannot be understood are skipped
with a warning in the log, never an error for the user. Writes (registration, password
change) replace the file atomically under a lock file, so concurrent writers in several
processes never lose each other's entries.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import hmac
import logging
import os
import threading
from contextlib import contextmanager

import bcrypt

from codeyard.config import write_atomically
from codeyard.util.descrypt import ALPHABET, crypt_des

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------
# Hash schemes


def _to64(value: int, count: int) -> str:
    out = []
    for _ in range(count):
        out.append(ALPHABET[value & 0x3F])
        value >>= 6
    return "".join(out)


def md5_crypt(password: str, salt: str, magic: str = "$apr1$") -> str:
    """The MD5-based crypt that ``htpasswd -m`` writes (``$apr1$``; ``$1$`` is the same)."""
    pw = password.encode("utf-8")
    salt_b = salt.split("$", 1)[0][:8].encode("ascii", "replace")
    magic_b = magic.encode("ascii")
    alternate = hashlib.md5(pw + salt_b + pw).digest()
    ctx = pw + magic_b + salt_b
    remaining = len(pw)
    while remaining > 0:
        ctx += alternate[:min(16, remaining)]
        remaining -= 16
    i = len(pw)
    while i:
        ctx += b"\0" if i & 1 else pw[:1]
        i >>= 1
    digest = hashlib.md5(ctx).digest()
    for round_ in range(1000):
        data = pw if round_ & 1 else digest
        if round_ % 3:
            data += salt_b
        if round_ % 7:
            data += pw
        data += digest if round_ & 1 else pw
        digest = hashlib.md5(data).digest()
    out = []
    for a, b, c in ((0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5)):
        out.append(_to64((digest[a] << 16) | (digest[b] << 8) | digest[c], 4))
    out.append(_to64(digest[11], 2))
    return magic + salt_b.decode("ascii") + "$" + "".join(out)


def verify_password(hashed: str, password: str) -> bool:
    """Whether ``password`` matches an htpasswd hash of any scheme Apache writes."""
    try:
        if hashed.startswith(("$2y$", "$2b$", "$2a$")):
            candidate = hashed
            if candidate.startswith("$2y$"):
                candidate = "$2b$" + candidate[4:]
            return bcrypt.checkpw(password.encode("utf-8"), candidate.encode("ascii"))
        if hashed.startswith(("$apr1$", "$1$")):
            magic = "$apr1$" if hashed.startswith("$apr1$") else "$1$"
            salt = hashed[len(magic):].split("$", 1)[0]
            return hmac.compare_digest(md5_crypt(password, salt, magic), hashed)
        if hashed.startswith("{SHA}"):
            digest = base64.b64encode(hashlib.sha1(password.encode("utf-8")).digest()).decode()
            return hmac.compare_digest(digest, hashed[5:])
        if len(hashed) == 13 and all(c in ALPHABET for c in hashed):
            return hmac.compare_digest(crypt_des(password, hashed[:2]), hashed)
    except (ValueError, UnicodeError):
        return False
    return False


def is_known_hash(hashed: str) -> bool:
    return (hashed.startswith(("$2y$", "$2b$", "$2a$", "$apr1$", "$1$", "{SHA}"))
            or (len(hashed) == 13 and all(c in ALPHABET for c in hashed)))


def hash_password(password: str) -> str:
    """A new bcrypt entry as ``htpasswd -B`` writes it."""
    hashed = bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(rounds=10)).decode("ascii")
    return "$2y$" + hashed[4:]


# ---------------------------------------------------------------------------
# Files


class _PasswordFile:
    """A colon-separated file cached by modification time."""

    fields = 2

    def __init__(self, path: str) -> None:
        self.path = path
        self._stamp: tuple | None = None
        self._entries: dict = {}
        self._lock = threading.Lock()

    def _current_stamp(self) -> tuple | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def entries(self) -> dict:
        stamp = self._current_stamp()
        with self._lock:
            if stamp != self._stamp:
                self._entries = self._load() if stamp is not None else {}
                self._stamp = stamp
            return self._entries

    def _read_lines(self) -> list[str]:
        try:
            with open(self.path, encoding="utf-8", errors="replace") as fh:
                return fh.read().splitlines()
        except OSError as exc:
            log.warning("cannot read password file %s: %s", self.path, exc.strerror)
            return []

    def _load(self) -> dict:
        raise NotImplementedError


class HtpasswdFile(_PasswordFile):
    def _load(self) -> dict[str, str]:
        entries: dict[str, str] = {}
        for lineno, line in enumerate(self._read_lines(), 1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            user, sep, hashed = text.partition(":")
            if not sep or not user or not is_known_hash(hashed):
                log.warning("%s, line %d: not a user:hash entry codeyard understands; skipped",
                            self.path, lineno)
                continue
            entries[user] = hashed
        return entries

    def has_user(self, user: str) -> bool:
        return user in self.entries()

    def users(self) -> list[str]:
        return sorted(self.entries())

    def check(self, user: str, password: str) -> bool:
        hashed = self.entries().get(user)
        if hashed is None:
            # Spend comparable time for unknown users so timing does not tell them apart.
            verify_password("$apr1$xxxxxxxx$xxxxxxxxxxxxxxxxxxxxxx", password)
            return False
        return verify_password(hashed, password)

    @contextmanager
    def _write_lock(self):
        lock_path = self.path + ".lock"
        fd = os.open(lock_path, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def set_password(self, user: str, password: str, create: bool = True) -> None:
        """Add or replace ``user``'s entry (bcrypt); the rest of the file is kept as it is."""
        if not user or ":" in user or any(c.isspace() for c in user):
            raise ValueError("a user name cannot be empty or contain ':' or spaces")
        entry = f"{user}:{hash_password(password)}"
        with self._write_lock():
            try:
                with open(self.path, encoding="utf-8", errors="surrogateescape") as fh:
                    lines = fh.read().splitlines()
            except FileNotFoundError:
                lines = []
            found = False
            for i, line in enumerate(lines):
                if line.split(":", 1)[0].strip() == user and ":" in line:
                    lines[i] = entry
                    found = True
            if not found:
                if not create:
                    raise KeyError(user)
                lines.append(entry)
            data = "\n".join(lines) + "\n"
            mode = None if os.path.exists(self.path) else 0o640
            write_atomically(self.path, data, mode)


class HtdigestFile(_PasswordFile):
    """``user:realm:md5(user:realm:password)`` lines, as ``htdigest`` writes them."""

    def _load(self) -> dict[tuple[str, str], str]:
        entries: dict[tuple[str, str], str] = {}
        for lineno, line in enumerate(self._read_lines(), 1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            parts = text.split(":")
            if len(parts) != 3 or len(parts[2]) != 32:
                log.warning("%s, line %d: not a user:realm:hash entry; skipped", self.path, lineno)
                continue
            entries[(parts[0], parts[1])] = parts[2].lower()
        return entries

    def ha1(self, user: str, realm: str) -> str | None:
        return self.entries().get((user, realm))


_files: dict[tuple[str, str], _PasswordFile] = {}
_files_lock = threading.Lock()


def _shared_reader(kind: str, path: str, make: type[_PasswordFile]) -> _PasswordFile:
    key = (kind, os.path.abspath(path))
    with _files_lock:
        found = _files.get(key)
        if found is None:
            found = _files[key] = make(key[1])
    return found


def htpasswd_file(path: str) -> HtpasswdFile:
    """The (process-wide, stat-checked) reader of one htpasswd file."""
    return _shared_reader("htpasswd", path, HtpasswdFile)  # type: ignore[return-value]


def htdigest_file(path: str) -> HtdigestFile:
    """The (process-wide, stat-checked) reader of one htdigest file."""
    return _shared_reader("htdigest", path, HtdigestFile)  # type: ignore[return-value]
