"""The worker behind ``codeyard serve``: request framing, and whole bodies through a real server."""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import subprocess
import sys
import time

import pytest

from codeyard.web.server_worker import ChunkedEnd, FramingError
from tests.support.servers import free_port, stop_process, wait_for_port

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def chunked(data: bytes, size: int) -> bytes:
    parts = [b"%x;name=value\r\n%s\r\n" % (len(data[i:i + size]), data[i:i + size])
             for i in range(0, len(data), size)]
    return b"".join(parts) + b"0\r\nX-Trailer: yes\r\n\r\n"


def test_chunked_end_found_whatever_the_pieces():
    body = chunked(b"x" * 1000 + b"\r\n0\r\n\r\n" + b"y" * 10, 77)
    whole = body + b"GET /next HTTP/1.1\r\n"
    for piece in (1, 2, 3, 5, 64, len(whole)):
        finder, buf, end = ChunkedEnd(), bytearray(), None
        seen = 0
        for i in range(0, len(whole), piece):
            buf += whole[i:i + piece]
            end = finder.feed(buf, 0)
            if end is not None:
                break
            seen += finder.consumed
            del buf[:finder.consumed]
        assert end is not None and seen + end == len(body), piece


@pytest.mark.parametrize("bad", [b"0x10\r\n", b"-1\r\n", b"\r\n", b"1_0\r\n", b"zz\r\n",
                                 b"3\r\nabcX\r\n"])
def test_chunked_end_refuses_what_the_parser_would(bad):
    with pytest.raises(FramingError):
        ChunkedEnd().feed(bytearray(bad), 0)


@pytest.fixture(scope="module")
def echo():
    port = free_port()
    # A small spool threshold: bodies past 4 KiB go through a temporary file.
    proc = subprocess.Popen([sys.executable, "-m", "tests.support.echo_server", str(port), "2",
                             "4096"], cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        wait_for_port(port, 30, proc)
        yield port, proc.pid
    finally:
        stop_process(proc)


def exchange(port: int, data: bytes, timeout: float = 10) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        received = b""
        while True:
            piece = s.recv(65536)
            if not piece:
                return received
            received += piece


def test_large_bodies_arrive_whole(echo_port):
    data = os.urandom(3 * 1024 * 1024 + 5)
    expected = f"{len(data)} {hashlib.sha256(data).hexdigest()}"
    conn = http.client.HTTPConnection("127.0.0.1", echo_port, timeout=30)
    conn.request("PUT", "/length", body=data)
    assert conn.getresponse().read().decode().strip() == f"PUT /length {expected}"
    conn.request("POST", "/chunked", body=iter([data[:100000], data[100000:]]),
                 encode_chunked=True, headers={"Transfer-Encoding": "chunked"})
    assert conn.getresponse().read().decode().strip() == f"POST /chunked {expected}"
    conn.close()


@pytest.fixture
def echo_port(echo):
    return echo[0]


def peak_rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))


def test_a_large_body_is_spooled_not_held_in_memory(echo):
    port, arbiter = echo
    with open(f"/proc/{arbiter}/task/{arbiter}/children", encoding="ascii") as fh:
        (worker,) = (int(pid) for pid in fh.read().split())
    before = peak_rss_kib(worker)
    piece = os.urandom(1024 * 1024)
    size = 64 * len(piece)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("POST", "/big", body=(piece for _ in range(64)), encode_chunked=True,
                 headers={"Transfer-Encoding": "chunked"})
    assert conn.getresponse().read().split()[2] == str(size).encode()
    conn.close()
    assert peak_rss_kib(worker) - before < 24 * 1024, (before, peak_rss_kib(worker))


def test_pipelined_requests_answered_in_order(echo_port):
    body = chunked(b"abc" * 3000, 1000)
    answer = exchange(echo_port, b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
                            b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
                            b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                            + body + b"GET /d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    lines = [line.split()[:3] for line in answer.decode().splitlines()
             if line.startswith(("GET", "POST"))]
    assert lines == [["GET", "/a", "0"], ["POST", "/b", "3"], ["POST", "/c", "9000"],
                     ["GET", "/d", "0"]], answer


def test_expect_continue_answered_once(echo_port):
    with socket.create_connection(("127.0.0.1", echo_port), timeout=10) as s:
        s.sendall(b"POST /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n"
                  b"Connection: close\r\n\r\n")
        assert s.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        s.sendall(b"hello")
        rest = b""
        while piece := s.recv(65536):
            rest += piece
    assert rest.startswith(b"HTTP/1.1 200 ") and b"POST /e 5 " in rest, rest
    assert b"100 Continue" not in rest


@pytest.mark.parametrize("request_bytes, status", [
    (b"POST /f HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
     b"400"),
    (b"POST /g HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", b"400"),
    (b"POST /h HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", b"400"),
    (b"GET /i HTTP/1.1\r\nHost: x\r\nExpect: something\r\n\r\n", b"417"),
    (b"GET /j HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 1_000_000, b"431"),
])
def test_bad_requests_get_a_4xx(echo_port, request_bytes, status):
    answer = exchange(echo_port, request_bytes)
    assert answer.split(b" ", 2)[1] == status, answer[:200]


def test_stalled_body_gets_408_after_the_timeout(echo_port):
    started = time.monotonic()
    answer = exchange(echo_port, b"PUT /k HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert 1.5 <= time.monotonic() - started < 5


def test_streamed_response(echo_port):
    conn = http.client.HTTPConnection("127.0.0.1", echo_port, timeout=10)
    conn.request("GET", "/stream")
    response = conn.getresponse()
    assert response.getheader("Transfer-Encoding") == "chunked"
    assert response.read().count(b"\n") == 20000
    conn.close()


def test_the_heartbeat_is_sent_at_most_once_a_second(monkeypatch):
    import types

    from gunicorn.workers import base

    from codeyard.web import server_worker

    beats, clock = [], [100.0]
    monkeypatch.setattr(base.Worker, "notify", lambda self: beats.append(clock[0]))
    monkeypatch.setattr(server_worker.time, "monotonic", lambda: clock[0])
    worker = object.__new__(server_worker.BufferingWorker)
    worker.cfg = types.SimpleNamespace(timeout=30)
    for _ in range(50):  # the loop turning many times within a second
        worker.notify()
        clock[0] += 0.01
    assert beats == [100.0]
    clock[0] = 101.2
    worker.notify()
    assert beats == [100.0, 101.2]
    worker.cfg.timeout = 2  # a short timeout: a beat at least every quarter of it
    clock[0] += 0.6
    worker.notify()
    assert len(beats) == 3


def test_a_long_answer_holds_the_next_request_back_a_turn_at_most(echo_port):
    import threading

    from codeyard.web.server_worker import TURN

    slow: list[bytes] = []
    thread = threading.Thread(target=lambda: slow.append(
        exchange(echo_port, b"GET /sleep?2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")))
    thread.start()
    time.sleep(0.3)  # the long one is running (the echo server has one worker)
    started = time.monotonic()
    answer = exchange(echo_port, b"GET /quick HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200 ") and time.monotonic() - started < TURN + 0.5
    thread.join(10)
    assert slow and slow[0].startswith(b"HTTP/1.1 200 ")


def test_requests_take_turns(monkeypatch):
    import types

    from codeyard.web import server_worker

    clock = [10.0]
    monkeypatch.setattr(server_worker.time, "monotonic", lambda: clock[0])
    worker = object.__new__(server_worker.BufferingWorker)
    worker.cfg = types.SimpleNamespace(threads=2)
    worker.running, worker.last_start = 0, 0.0
    assert worker.may_start(clock[0]) and worker.poll_timeout(clock[0]) == 1.0
    worker.running, worker.last_start = 1, clock[0]  # one started now: the next one waits
    assert not worker.may_start(clock[0] + server_worker.TURN / 2)
    assert worker.poll_timeout(clock[0]) == pytest.approx(server_worker.TURN)
    assert worker.may_start(clock[0] + server_worker.TURN)  # its turn is over
    assert worker.poll_timeout(clock[0] + server_worker.TURN) == 1.0  # nothing to wake for
    worker.running = 2  # every thread busy: none starts, whatever the time
    assert not worker.may_start(clock[0] + 60) and worker.poll_timeout(clock[0]) == 1.0
