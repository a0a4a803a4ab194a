"""The gunicorn worker behind ``codeyard serve``: whole requests first, then a thread.

gunicorn's threaded worker gives a connection to a thread as soon as it becomes readable,
and the thread then blocks reading the rest of the request: a dozen clients that send half
a request and wait hold every thread, and everyone else waits with them. This worker keeps
each connection in its event loop until the whole request has arrived — the head, and the
body as its framing (``Content-Length`` or chunked) says — buffering the body in memory up
to ``spool_threshold`` bytes and in a temporary file past it. Only a complete request goes
to a thread, which parses it from that buffer with gunicorn's own parser and runs the
application; the thread writes the response straight to the socket.

Requests take turns. A worker starts a request on a thread when none of its requests is
running, or when the one it started last has run for ``TURN`` seconds; the others wait in
order, and meanwhile the worker accepts no new connection, so that an idle worker takes it.
Threads of one process share the interpreter lock, and two short requests interleaved both
finish later than one after the other, at a higher cost in processor time (the lock changes
hands at every database call, and each thread finds the caches cold). A long answer (a
clone, a large download to a slow client) holds the others back for ``TURN`` seconds at
most.

A request whose head has not arrived ``request_timeout`` seconds after it started, or whose
body has stalled that long, is answered ``408 Request Timeout`` and closed. An idle kept-alive
connection is closed after gunicorn's ``keepalive`` seconds. A thread writing a response to
a client that stops reading gives up after ``request_timeout`` seconds too.
"""

from __future__ import annotations

import collections
import errno
import os
import queue
import selectors
import socket
import ssl
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from gunicorn import http, util
from gunicorn.http import wsgi
from gunicorn.workers import base

DEFAULT_REQUEST_TIMEOUT = 30.0
DEFAULT_SPOOL_THRESHOLD = 256 * 1024
# How long the request started last runs alone before the worker starts another beside it.
TURN = 0.05
# A stopping worker still takes, for this long, a request that is already arriving.
STOP_LINGER = 2.0
HEARTBEAT = 1.0  # seconds between the worker's heartbeats at most (see notify)
READ_SIZE = 65536
HEAD_END = b"\r\n\r\n"
HEX_DIGITS = b"0123456789abcdefABCDEF"


def _closing_response(status: str, text: str) -> bytes:
    body = text.encode()
    return (f"HTTP/1.1 {status}\r\nConnection: close\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode() + body


TIMEOUT_RESPONSE = _closing_response("408 Request Timeout",
                                     "The request did not arrive in time.\n")
HEAD_TOO_LARGE_RESPONSE = _closing_response("431 Request Header Fields Too Large",
                                            "The request headers are too large.\n")
CONTINUE_RESPONSE = b"HTTP/1.1 100 Continue\r\n\r\n"


class FramingError(Exception):
    """The head or the chunked body cannot be framed: gunicorn's parser gives the 4xx."""


class ChunkedEnd:
    """Finds where a chunked body ends, without decoding it (gunicorn's parser does)."""

    def __init__(self) -> None:
        self.state = "size"  # size, data, data-end, trailer
        self.left = 0
        self.consumed = 0  # after feed() returned None: the bytes it is done with

    def feed(self, data: bytes | bytearray, start: int) -> int | None:
        """The offset just past the body's end in ``data``, or None if it goes on.

        ``start`` is where unseen bytes begin; the caller keeps the bytes from there on
        that this returned no end for, and gives them again with more.
        """
        pos = start
        while True:
            if self.state == "data":
                take = min(self.left, len(data) - pos)
                pos += take
                self.left -= take
                if self.left:
                    self.consumed = pos
                    return None
                self.state = "data-end"
            if self.state == "data-end":
                if len(data) - pos < 2:
                    self.consumed = pos
                    return None
                if data[pos:pos + 2] != b"\r\n":
                    raise FramingError("chunk without its CRLF")
                pos += 2
                self.state = "size"
            eol = data.find(b"\r\n", pos)
            if eol < 0:
                if len(data) - pos > 4096:
                    raise FramingError("chunk-size line too long")
                self.consumed = pos
                return None
            line = bytes(data[pos:eol])
            pos = eol + 2
            if self.state == "trailer":
                if not line:
                    return pos
                continue
            size = line.split(b";", 1)[0].strip()
            if not size or size.strip(HEX_DIGITS):
                raise FramingError("bad chunk size")
            self.left = int(size, 16)
            self.state = "trailer" if self.left == 0 else "data"


class Connection:
    """One client connection while the event loop owns it, and the request it gathers."""

    def __init__(self, sock: socket.socket, client: Any, server: Any, deadline: float) -> None:
        self.sock = sock
        self.client = client
        self.server = server
        self.deadline = deadline
        self.handshaken = False
        self.buf = bytearray()
        self.head: bytes | None = None
        self.close_after = False
        self.body: Any = None  # a SpooledTemporaryFile while a body arrives
        self.length = 0  # what is left of a Content-Length body
        self.chunked: ChunkedEnd | None = None
        self.registered = 0  # selector events, 0 when not registered
        self.closing = False  # the response is out: waiting for the client to close

    @property
    def started(self) -> bool:
        return bool(self.buf) or self.head is not None


class BufferingWorker(base.Worker):
    """Event loop for gathering requests, a thread pool for answering them."""

    request_timeout = DEFAULT_REQUEST_TIMEOUT
    spool_threshold = DEFAULT_SPOOL_THRESHOLD

    @classmethod
    def configured(cls, request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
                   spool_threshold: int = DEFAULT_SPOOL_THRESHOLD) -> type[BufferingWorker]:
        """This worker class with its own timeout and spool size (gunicorn takes a class)."""
        return type(cls.__name__, (cls,), {"request_timeout": float(request_timeout),
                                           "spool_threshold": int(spool_threshold)})

    @classmethod
    def check_config(cls, cfg, log) -> None:
        pass

    def init_process(self) -> None:
        self.pool = ThreadPoolExecutor(max_workers=self.cfg.threads,
                                       thread_name_prefix="codeyard-request")
        self.selector = selectors.DefaultSelector()
        self.waiting: set[Connection] = set()
        self.finished: queue.SimpleQueue[tuple[Connection, bool, bytes]] = queue.SimpleQueue()
        self.nr_conns = 0
        self.queued: collections.deque[tuple[Connection, bytes, Any, bytes]] = collections.deque()
        self.running = 0  # requests on threads
        self.last_start = 0.0  # when the newest of them started
        self.accepting = False
        self.ssl_context = self._ssl_context() if self.cfg.is_ssl else None
        cfg = self.cfg
        self.max_head = (max(cfg.limit_request_line, 8190) + 4
                         + max(cfg.limit_request_fields, 1) * (max(cfg.limit_request_field_size,
                                                                    8190) + 2))
        super().init_process()

    def _ssl_context(self) -> ssl.SSLContext:
        from gunicorn import sock as gsock

        factory = getattr(gsock, "ssl_context", None)
        if factory is not None:
            return factory(self.cfg)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=self.cfg.ca_certs)
        context.load_cert_chain(certfile=self.cfg.certfile, keyfile=self.cfg.keyfile)
        return context

    # -- signals -----------------------------------------------------------

    def wake(self) -> None:
        try:
            os.write(self.PIPE[1], b".")
        except OSError:  # the pipe is full: the loop wakes anyway
            pass

    def notify(self) -> None:
        """The heartbeat the arbiter watches (a change to a temporary file's status), at
        most once a second: the loop turns several times per request, and the file can
        live on a slow file system; the arbiter's timeout is counted in tens of seconds."""
        now = time.monotonic()
        timeout = float(self.cfg.timeout or 0)
        every = min(HEARTBEAT, timeout / 4) if timeout > 0 else HEARTBEAT
        if now - getattr(self, "_beaten", -every) >= every:
            self._beaten = now
            super().notify()

    def handle_exit(self, sig, frame) -> None:
        self.alive = False
        self.wake()

    # -- the loop ------------------------------------------------------------

    def run(self) -> None:
        self.selector.register(self.PIPE[0], selectors.EVENT_READ, None)
        self.set_accepting(True)
        while self.alive:
            self.notify()
            now = time.monotonic()
            self.set_accepting(self.nr_conns < self.cfg.worker_connections
                               and not self.queued and self.may_start(now))
            self.poll(self.poll_timeout(now))
            self.start_queued()
            if self.ppid != os.getppid():
                self.log.info("Parent changed, shutting down: %s", self)
                break
            self.expire(time.monotonic())
        self.stop()

    def stop(self) -> None:
        self.set_accepting(False)
        now = time.monotonic()
        for conn in list(self.waiting):
            if conn.started or conn.closing:
                conn.deadline = min(conn.deadline, now + STOP_LINGER)
            else:
                self.drop(conn)
        limit = now + self.cfg.graceful_timeout
        while self.nr_conns > 0 and time.monotonic() < limit:
            self.notify()
            self.poll(min(0.2, self.poll_timeout(time.monotonic())))
            self.start_queued()
            self.expire(time.monotonic())
        for conn in list(self.waiting):
            self.drop(conn)
        self.pool.shutdown(wait=False)
        self.selector.close()

    def set_accepting(self, accepting: bool) -> None:
        if accepting == self.accepting:
            return
        for listener in self.sockets:
            if accepting:
                listener.setblocking(False)
                self.selector.register(listener, selectors.EVENT_READ, "accept")
            else:
                self.selector.unregister(listener)
        self.accepting = accepting

    def poll(self, timeout: float) -> None:
        try:
            events = self.selector.select(timeout)
        except OSError as exc:
            if exc.errno != errno.EINTR:
                raise
            return
        for key, mask in events:
            if key.data is None:
                self.collect_finished()
            elif key.data == "accept":
                self.accept(key.fileobj)
            else:
                self.on_ready(key.data, mask)

    def expire(self, now: float) -> None:
        for conn in [c for c in self.waiting if c.deadline <= now]:
            if conn.started and not conn.closing:
                self.send_quietly(conn, TIMEOUT_RESPONSE)
            self.drop(conn)

    # -- connections -----------------------------------------------------------

    def accept(self, listener) -> None:
        try:
            sock, client = listener.accept()
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                return
            raise
        sock.setblocking(False)
        util.close_on_exec(sock)
        self.nr_conns += 1
        conn = Connection(sock, client, listener.getsockname(),
                          time.monotonic() + self.request_timeout)
        if self.ssl_context is not None:
            try:
                conn.sock = self.ssl_context.wrap_socket(
                    sock, server_side=True, do_handshake_on_connect=False,
                    suppress_ragged_eofs=self.cfg.suppress_ragged_eofs)
            except (OSError, ValueError):
                self.nr_conns -= 1
                sock.close()
                return
        else:
            conn.handshaken = True
        self.waiting.add(conn)
        self.watch(conn, selectors.EVENT_READ)

    def watch(self, conn: Connection, events: int) -> None:
        if conn.registered == events:
            return
        if conn.registered:
            self.selector.modify(conn.sock, events, conn)
        else:
            self.selector.register(conn.sock, events, conn)
        conn.registered = events

    def unwatch(self, conn: Connection) -> None:
        if conn.registered:
            try:
                self.selector.unregister(conn.sock)
            except (KeyError, ValueError, OSError):
                pass
            conn.registered = 0

    def drop(self, conn: Connection) -> None:
        """Close a connection the loop owns."""
        self.unwatch(conn)
        self.waiting.discard(conn)
        if conn.body is not None:
            conn.body.close()
            conn.body = None
        self.nr_conns -= 1
        try:
            conn.sock.close()
        except OSError:
            pass

    def send_quietly(self, conn: Connection, data: bytes) -> None:
        try:
            conn.sock.send(data)
        except (OSError, ValueError):
            pass

    def on_ready(self, conn: Connection, mask: int) -> None:
        if conn.closing:
            self.linger(conn)
            return
        if not conn.handshaken:
            try:
                conn.sock.do_handshake()  # type: ignore[attr-defined]
            except ssl.SSLWantReadError:
                self.watch(conn, selectors.EVENT_READ)
                return
            except ssl.SSLWantWriteError:
                self.watch(conn, selectors.EVENT_WRITE)
                return
            except (OSError, ValueError):
                self.drop(conn)
                return
            conn.handshaken = True
            self.watch(conn, selectors.EVENT_READ)
        received = False
        while True:
            try:
                data = conn.sock.recv(READ_SIZE)
            except (BlockingIOError, ssl.SSLWantReadError):
                break
            except ssl.SSLWantWriteError:
                self.watch(conn, selectors.EVENT_WRITE)
                break
            except (OSError, ValueError):
                self.drop(conn)
                return
            if not data:
                self.drop(conn)
                return
            if not conn.started:
                # A new request: its head has request_timeout from its first byte.
                conn.deadline = time.monotonic() + self.request_timeout
            conn.buf += data
            received = True
            # One read per event keeps a fast sender's body flowing to the spool file rather
            # than piling up here; only bytes TLS has already decrypted (one record at most)
            # must be read now, as the socket will not signal them again.
            if not getattr(conn.sock, "pending", lambda: 0)():
                break
        if received:
            if conn.registered != selectors.EVENT_READ:
                self.watch(conn, selectors.EVENT_READ)
            self.advance(conn)

    def advance(self, conn: Connection) -> None:
        """Move the buffered bytes into the request; hand it over once it is whole."""
        if conn.head is None:
            while conn.buf[:2] == b"\r\n":  # empty lines before a request line are allowed
                del conn.buf[:2]
            end = conn.buf.find(HEAD_END)
            if end < 0:
                if len(conn.buf) > self.max_head:
                    self.send_quietly(conn, HEAD_TOO_LARGE_RESPONSE)
                    self.close_gently(conn, time.monotonic())
                return
            head, after_head = bytes(conn.buf[:end + 4]), conn.buf[end + 4:]
            conn.buf = bytearray()
            try:
                conn.head = self.frame(conn, head)
            except FramingError:
                conn.head, conn.close_after = head, True
                self.dispatch(conn, b"")
                return
            if conn.chunked is None and not conn.length:
                self.dispatch(conn, bytes(after_head))
                return
            conn.body = tempfile.SpooledTemporaryFile(max_size=self.spool_threshold)
            conn.buf = after_head
        conn.deadline = time.monotonic() + self.request_timeout  # the body's idle timeout
        body = conn.body
        assert body is not None
        if conn.chunked is not None:
            try:
                body_end = conn.chunked.feed(conn.buf, 0)
            except FramingError:
                body.write(conn.buf)
                conn.close_after = True
                self.dispatch(conn, b"")
                return
            if body_end is None:
                done = conn.chunked.consumed
                body.write(conn.buf[:done])
                del conn.buf[:done]
                return
            body.write(conn.buf[:body_end])
            rest = bytes(conn.buf[body_end:])
        else:
            take = min(conn.length, len(conn.buf))
            body.write(conn.buf[:take])
            conn.length -= take
            rest = bytes(conn.buf[take:])
            if conn.length:
                conn.buf = bytearray()
                return
        conn.buf = bytearray()
        self.dispatch(conn, rest)

    def frame(self, conn: Connection, head: bytes) -> bytes:
        """Read the body's framing from the head; the head as the thread will parse it."""
        lines = head[:-4].split(b"\r\n")
        version = lines[0].rsplit(b" ", 1)[-1]
        lengths, codings, kept = set(), [], [lines[0]]
        expect_continue = False
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep:
                raise FramingError("header line without a colon")
            name, value = name.strip().lower(), value.strip()
            if name == b"content-length":
                lengths.add(value)
            elif name == b"transfer-encoding":
                codings += [c.strip().lower() for c in value.split(b",")]
            elif name == b"expect" and value.lower() == b"100-continue":
                expect_continue = True
                continue  # answered here; gunicorn would send a second one
            kept.append(line)
        if codings:
            if codings[-1] != b"chunked" or lengths or version == b"HTTP/1.0":
                raise FramingError("transfer coding")
            conn.chunked = ChunkedEnd()
        elif lengths:
            value = lengths.pop()
            if lengths or not value.isdigit():
                raise FramingError("content length")
            conn.length = int(value)
        if expect_continue and (conn.chunked or conn.length) and version == b"HTTP/1.1":
            self.send_quietly(conn, CONTINUE_RESPONSE)
        return b"\r\n".join(kept) + HEAD_END

    # -- threads -------------------------------------------------------------

    def may_start(self, now: float) -> bool:
        """Whether a request may start now (see the module's text on turns)."""
        return self.running == 0 or (self.running < self.cfg.threads
                                     and now - self.last_start >= TURN)

    def poll_timeout(self, now: float) -> float:
        """Wake when the running request's turn ends (requests may start then, and the
        worker accepts connections again)."""
        ends = self.last_start + TURN
        if self.running and self.running < self.cfg.threads and now < ends:
            return min(1.0, ends - now)
        return 1.0

    def dispatch(self, conn: Connection, rest: bytes) -> None:
        self.unwatch(conn)
        self.waiting.discard(conn)
        head, body = conn.head or b"", conn.body
        conn.head, conn.body, conn.chunked, conn.length = None, None, None, 0
        self.queued.append((conn, head, body, rest))
        self.start_queued()

    def start_queued(self) -> None:
        now = time.monotonic()
        while self.queued and self.may_start(now):
            self.start(*self.queued.popleft())
            now = time.monotonic()

    def start(self, conn: Connection, head: bytes, body, rest: bytes) -> None:
        self.running += 1
        self.last_start = time.monotonic()
        future = self.pool.submit(self.serve, conn, head, body)

        def done(fut) -> None:
            keep = (not fut.cancelled()) and fut.exception() is None and bool(fut.result())
            self.finished.put((conn, keep, rest))
            self.wake()

        future.add_done_callback(done)

    def collect_finished(self) -> None:
        try:
            while os.read(self.PIPE[0], 4096):
                pass
        except OSError:
            pass
        while not self.finished.empty():
            conn, keep, rest = self.finished.get()
            self.running -= 1
            try:
                conn.sock.setblocking(False)
            except OSError:
                self.drop(conn)
                continue
            now = time.monotonic()
            if not keep or conn.close_after:
                self.close_gently(conn, now)
                continue
            conn.buf = bytearray(rest)
            conn.deadline = now + (self.request_timeout if rest else self.cfg.keepalive)
            if not self.alive:
                conn.deadline = min(conn.deadline, now + STOP_LINGER)
            self.waiting.add(conn)
            self.watch(conn, selectors.EVENT_READ)
            if rest:
                self.advance(conn)
        self.start_queued()

    def close_gently(self, conn: Connection, now: float) -> None:
        """Send FIN, then read until the client closes too (briefly), then close.

        Closing with unread bytes from the client makes the kernel send a reset, which
        can destroy the end of the response before the client has read it.
        """
        conn.closing = True
        conn.buf = bytearray()
        try:
            conn.sock.shutdown(socket.SHUT_WR)
        except (OSError, ValueError):
            self.drop(conn)
            return
        conn.deadline = now + STOP_LINGER
        self.waiting.add(conn)
        self.watch(conn, selectors.EVENT_READ)

    def linger(self, conn: Connection) -> None:
        try:
            while conn.sock.recv(READ_SIZE):
                pass
        except (BlockingIOError, ssl.SSLWantReadError):
            return
        except (OSError, ValueError):
            pass
        self.drop(conn)

    @staticmethod
    def source(head: bytes, body) -> Iterator[bytes]:
        yield head
        if body is not None:
            body.seek(0)
            while True:
                chunk = body.read(READ_SIZE)
                if not chunk:
                    break
                yield chunk

    def serve(self, conn: Connection, head: bytes, body) -> bool:
        """Answer one buffered request (in a thread); True to keep the connection."""
        req = None
        sock = conn.sock
        try:
            sock.settimeout(self.request_timeout)
            parser = http.RequestParser(self.cfg, self.source(head, body), conn.client)
            req = next(parser)
            if not req:
                return False
            keep = self.run_application(req, conn)
            # An unread body is drained from the buffer; bytes past it mean the framing
            # was not what the loop thought, so the connection is not reused.
            return keep and parser.finish_body() and not parser.unreader.buf.getvalue()
        except (StopIteration, http.errors.NoMoreData):
            return False
        except ssl.SSLError as exc:
            if exc.args and exc.args[0] != ssl.SSL_ERROR_EOF:
                self.log.debug("TLS error while answering a request: %s", exc)
            return False
        except OSError as exc:
            if exc.errno not in (errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN, None):
                self.log.exception("Socket error answering a request.")
            return False
        except Exception as exc:
            self.handle_error(req, sock, conn.client, exc)
            return False
        finally:
            if body is not None:
                body.close()

    def run_application(self, req, conn: Connection) -> bool:
        """Call the WSGI application for a parsed request; True if the response allows reuse."""
        environ: dict = {}
        resp = None
        started = datetime.now()
        try:
            self.cfg.pre_request(self, req)
            resp, environ = wsgi.create(req, conn.sock, conn.client, conn.server, self.cfg)
            environ["wsgi.multithread"] = True
            self.nr += 1
            if self.nr >= self.max_requests and self.alive:
                self.log.info("Autorestarting worker after current request.")
                self.alive = False
                self.wake()
            if not self.alive or not self.cfg.keepalive:
                resp.force_close()
            result = self.wsgi(environ, resp.start_response)
            try:
                if isinstance(result, environ["wsgi.file_wrapper"]):
                    resp.write_file(result)
                else:
                    for data in result:
                        resp.write(data)
                resp.close()
            finally:
                self.log.access(resp, req, environ, datetime.now() - started)
                close = getattr(result, "close", None)
                if close is not None:
                    close()
            return not resp.should_close()
        except OSError:
            raise
        except (Exception, SystemExit):
            if resp is not None and resp.headers_sent:
                # Part of the response is out: an error page now would corrupt it.
                self.log.exception("Error handling request")
                raise StopIteration() from None
            raise
        finally:
            try:
                self.cfg.post_request(self, req, environ, resp)
            except Exception:
                self.log.exception("Exception in post_request hook")


if sys.platform == "win32":  # pragma: no cover - gunicorn does not run there
    raise ImportError("codeyard serve needs a POSIX system")
