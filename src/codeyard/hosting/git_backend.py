"""Running the real ``git http-backend`` as a CGI program for one request, with both
bodies streamed: the request body is copied to its standard input by a thread while
the response is read from its standard output, a block at a time, so no pack is ever
held whole in memory.

The caller decides everything git would otherwise decide itself: who the user is
(``REMOTE_USER``), whether receive-pack is on (``http.receivepack``, from codeyard's
permission check only) and what happens once the program has finished (``on_finish``,
run before the last block of the response goes out).
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import threading
from collections.abc import Callable, Generator
from typing import IO

BLOCK = 64 * 1024
MAX_HEADER_LINES = 64
MAX_HEADER_LINE = 8192
FEEDER_JOIN_TIMEOUT = 30.0

# Variables of the server process that would point git at another repository or
# change what it does with this one.
_DROPPED = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
            "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_NAMESPACE", "GIT_PROTOCOL",
            "GIT_QUARANTINE_PATH", "GIT_PROJECT_ROOT", "GIT_HTTP_EXPORT_ALL", "PATH_INFO",
            "PATH_TRANSLATED", "QUERY_STRING", "REQUEST_METHOD", "REMOTE_USER", "REMOTE_ADDR",
            "CONTENT_TYPE", "CONTENT_LENGTH", "HTTP_CONTENT_ENCODING", "HTTP_GIT_PROTOCOL",
            "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT")
# Git-Protocol is a colon-separated list of key[=value] (gitprotocol-v2); anything else
# is not passed on.
_PROTOCOL_RE = re.compile(r"[A-Za-z0-9._=:-]{1,256}\Z")


class BackendError(Exception):
    """git http-backend could not be run or answered something that is not CGI."""


def protocol_header(value: str | None) -> str | None:
    """The ``Git-Protocol`` header value to hand to git, or None."""
    value = (value or "").strip()
    return value if value and _PROTOCOL_RE.match(value) else None


def cgi_environ(*, git_dir: str, service_path: str, method: str, query: str,
                content_type: str, content_length: int | None, content_encoding: str,
                protocol: str | None, remote_user: str | None, remote_addr: str,
                server_protocol: str) -> dict[str, str]:
    """The environment of one ``git http-backend`` run serving ``git_dir``.

    ``service_path`` is what follows the repository in the URL (``info/refs``,
    ``git-upload-pack``, ``git-receive-pack``). Without ``content_length`` the program
    reads its input to the end (a chunked request)."""
    base = {k: v for k, v in os.environ.items() if k not in _DROPPED}
    git_dir = os.path.normpath(git_dir)
    root, leaf = os.path.split(git_dir)
    base.update({
        "GATEWAY_INTERFACE": "CGI/1.1",
        "SERVER_PROTOCOL": server_protocol or "HTTP/1.1",
        "GIT_PROJECT_ROOT": root,
        "GIT_HTTP_EXPORT_ALL": "1",
        "PATH_INFO": f"/{leaf}/{service_path}",
        "REQUEST_METHOD": method,
        "QUERY_STRING": query,
        "CONTENT_TYPE": content_type,
        "REMOTE_ADDR": remote_addr,
    })
    if content_length is not None:
        base["CONTENT_LENGTH"] = str(content_length)
    if content_encoding:
        base["HTTP_CONTENT_ENCODING"] = content_encoding
    if protocol:
        base["GIT_PROTOCOL"] = base["HTTP_GIT_PROTOCOL"] = protocol
    if remote_user:
        base["REMOTE_USER"] = remote_user
    return base


def backend_command(git_bin: str, receive_pack: bool) -> list[str]:
    """``git http-backend`` with receive-pack on or off as codeyard decided (never git's
    own default, which turns it on for any authenticated user), and no ``gc --auto``
    after a push: maintenance runs in the background instead."""
    return [git_bin, "-c", f"http.receivepack={'true' if receive_pack else 'false'}",
            "-c", "http.uploadpack=true", "-c", "receive.autogc=false", "http-backend"]


def _split_head(buffer: bytes) -> tuple[bytes, bytes] | None:
    """(header block, start of the body) once the blank line has arrived."""
    ends = [(at, size) for at, size in ((buffer.find(b"\r\n\r\n"), 4), (buffer.find(b"\n\n"), 2))
            if at >= 0]
    if not ends:
        return None
    at, size = min(ends)
    return buffer[:at], buffer[at + size:]


class BackendRun:
    """One run of the program. ``start()`` returns (status, headers); ``body()`` then yields
    the response body and runs ``on_finish(returncode, interrupted)`` when the program has
    ended, before its last block; ``close()`` (always called, also by ``body()``) ends a
    run that is still going."""

    def __init__(self, command: list[str], environ: dict[str, str], body: IO[bytes] | None,
                 cwd: str, on_finish: Callable[[int, bool], None] | None = None,
                 log: Callable[[str], None] | None = None) -> None:
        self.command, self.environ, self.input, self.cwd = command, environ, body, cwd
        self.on_finish = on_finish
        self.log = log
        self.proc: subprocess.Popen | None = None
        self.feeder: threading.Thread | None = None
        self.input_error: BaseException | None = None
        self.finished = False
        self._stderr: IO[bytes] | None = None
        self._pending = b""

    # -- start: the program and its CGI headers
    def start(self) -> tuple[int, list[tuple[str, str]]]:
        self._stderr = tempfile.TemporaryFile()
        try:
            self.proc = subprocess.Popen(
                self.command, env=self.environ, cwd=self.cwd,
                stdin=subprocess.PIPE if self.input is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=self._stderr, bufsize=0)
        except OSError as exc:
            self.close()
            raise BackendError(f"cannot run {self.command[0]}: {exc.strerror}") from None
        if self.input is not None:
            self.feeder = threading.Thread(target=self._feed, name="git-http-input", daemon=True)
            self.feeder.start()
        try:
            return self._read_headers()
        except BaseException:
            self.close()
            raise

    def _feed(self) -> None:
        assert self.proc is not None and self.proc.stdin is not None and self.input is not None
        stdin = self.proc.stdin
        try:
            while True:
                try:
                    data = self.input.read(BLOCK)
                except BaseException as exc:  # the client went away, or sent too much
                    self.input_error = exc
                    self._kill()
                    return
                if not data:
                    break
                try:
                    stdin.write(data)
                except (BrokenPipeError, ValueError, OSError):
                    return  # git stopped reading: its answer says why
        finally:
            try:
                stdin.close()
            except OSError:
                pass

    def _read_headers(self) -> tuple[int, list[tuple[str, str]]]:
        assert self.proc is not None and self.proc.stdout is not None
        out = self.proc.stdout
        buffer = b""
        split = None
        while split is None:
            data = out.read(BLOCK)
            if not data:
                break
            buffer += data
            split = _split_head(buffer)
            if split is None and len(buffer) > MAX_HEADER_LINES * MAX_HEADER_LINE:
                raise BackendError("git http-backend sent oversized headers")
        if split is None:
            self.wait()
            if self.input_error is not None:
                raise self.input_error
            raise BackendError("git http-backend ended without an answer: " + self.stderr_text())
        head, rest = split
        status = 200
        headers: list[tuple[str, str]] = []
        for raw in head.split(b"\n"):
            line = raw.decode("latin-1").rstrip("\r")
            name, colon, value = line.partition(":")
            if not colon:
                raise BackendError(f"git http-backend sent a bad header line {line!r}")
            name, value = name.strip(), value.strip()
            if name.lower() == "status":
                try:
                    status = int(value.split()[0])
                except (ValueError, IndexError):
                    raise BackendError(f"git http-backend sent a bad status {value!r}") from None
            else:
                headers.append((name, value))
        self._pending = rest
        return status, headers

    # -- the body
    def body(self) -> Generator[bytes, None, None]:
        try:
            assert self.proc is not None and self.proc.stdout is not None
            if self._pending:
                yield self._pending
                self._pending = b""
            read = self.proc.stdout.read
            while True:
                data = read(BLOCK)
                if not data:
                    break
                yield data
            self._finish()
            if self.input_error is not None:
                # The answer is cut short: say so by breaking the response, not ending it.
                raise BackendError(f"the request body could not be read: {self.input_error}")
        finally:
            self.close()

    def _finish(self) -> None:
        if self.finished:
            return
        self.finished = True
        code = self.wait()
        interrupted = self.input_error is not None
        if code != 0 and self.log is not None:
            self.log(f"git http-backend exited with status {code}: {self.stderr_text()}")
        if self.on_finish is not None:
            self.on_finish(code, interrupted)

    def wait(self) -> int:
        assert self.proc is not None
        code = self.proc.wait()
        if self.feeder is not None:
            self.feeder.join(FEEDER_JOIN_TIMEOUT)
        return code

    def _kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.proc.kill()
            except OSError:
                pass

    def stderr_text(self) -> str:
        if self._stderr is None:
            return ""
        try:
            self._stderr.seek(0)
            return self._stderr.read(4096).decode("utf-8", "replace").strip()
        except (OSError, ValueError):
            return ""

    def close(self) -> None:
        """End the run: a program still running is killed (the client went away), then
        ``on_finish`` runs if it has not yet."""
        if self.proc is not None:
            if self.proc.poll() is None:
                if self.input_error is None:
                    self.input_error = ConnectionAbortedError("the client went away")
                self._kill()
            try:
                self._finish()
            finally:
                if self.proc.stdout is not None:
                    self.proc.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
