"""``codeyard serve`` keeps answering while slow clients hold connections, and drops them."""

from __future__ import annotations

import socket
import time

import pytest

from tests.support.codeyard_server import CodeyardServer, run_codeyard
from tests.support.http import Client

pytestmark = pytest.mark.slow

SLOW = 100
REQUEST_TIMEOUT = 2


def open_slow_sockets(port: int) -> list[socket.socket]:
    """Half stop inside their headers, half after 6 of the 1000 body bytes they announce."""
    socks = []
    for i in range(SLOW):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        if i % 2:
            s.sendall(b"GET /alpha/wiki/WikiStart HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: sl")
        else:
            s.sendall(b"POST /alpha/wiki/WikiStart HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      b"Content-Type: application/x-www-form-urlencoded\r\n"
                      b"Content-Length: 1000\r\n\r\nabcdef")
        socks.append(s)
    return socks


def closed_by_server(s: socket.socket, timeout: float) -> tuple[bool, bytes]:
    """Whether the server ends the connection within ``timeout``, and what it sent first."""
    s.settimeout(timeout)
    received = b""
    try:
        while True:
            data = s.recv(4096)
            if not data:
                return True, received
            received += data
    except TimeoutError:
        return False, received
    except OSError:  # reset: closed as well
        return True, received


def test_slow_clients_neither_block_others_nor_stay_open(site):
    server = CodeyardServer("-e", site.parent, "--threads", "4",
                            "--request-timeout", str(REQUEST_TIMEOUT))
    with server:
        assert Client(server.url).get("alpha/wiki/WikiStart").status == 200
        opened = time.monotonic()
        socks = open_slow_sockets(server.port)
        try:
            time.sleep(0.3)  # let the server take them all in
            latencies = []
            for _ in range(5):
                started = time.monotonic()
                response = Client(server.url, timeout=5).get("alpha/wiki/WikiStart")
                latencies.append(time.monotonic() - started)
                assert response.status == 200
            assert max(latencies) < 1.0, latencies

            # Every slow socket is closed by the server, soon after its request timeout.
            results = [closed_by_server(s, max(0.1, opened + REQUEST_TIMEOUT + 4
                                               - time.monotonic())) for s in socks]
            still_open = sum(1 for closed, _ in results if not closed)
            assert still_open == 0, f"{still_open} of {SLOW} slow sockets still open"
            assert time.monotonic() - opened >= REQUEST_TIMEOUT - 0.5
            answered = [data for _, data in results if data]
            assert answered and all(data.startswith(b"HTTP/1.1 408 ") for data in answered)
        finally:
            for s in socks:
                s.close()
        # The server is still well.
        assert Client(server.url).get("alpha/wiki/WikiStart").status == 200


def test_request_timeout_is_checked(site):
    done = run_codeyard("serve", "-e", site.parent, "--request-timeout", "0")
    assert done.returncode == 2
    assert "'--request-timeout': 0.0 is not in the range" in done.stderr, done.stderr
