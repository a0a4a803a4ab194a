"""Servers side by side under slow clients: latency of a normal request, requests/s, idle drop.

For each server configuration: load one normal page with ``ab`` (requests/s), then open
slow sockets (half of them stop in the middle of their headers, half send headers with
``Content-Length: 1000`` and 6 bytes of body), time sequential normal requests while they
are open, and count how many of the slow sockets the server has closed after a while.
Only 127.0.0.1; every loop is bounded in count and time.

``python -m bench.slow_clients [--slow N] [--requests N] [--only NAME ...]``
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from tests.support.servers import free_port, stop_process, wait_for_port  # noqa: E402

PAGE = "/alpha/wiki/WikiStart"
PROBE_TIMEOUT = 5.0  # a normal request slower than this counts as timed out
DROP_WAIT = 14.0  # how long to wait for the server to close the slow sockets
IDLE_TIMEOUT = 5  # the idle timeout given to the servers that have one


def site_application():
    """The site the configurations serve: every project of $CODEYARD_BENCH_PARENT."""
    from codeyard.web.server import SiteMiddleware, build_settings, load_site_application

    settings = build_settings((), os.environ["CODEYARD_BENCH_PARENT"], False, (), (), "")
    return SiteMiddleware(load_site_application(), settings)


_app = None


def application(environ, start_response):  # the target for servers that import a module
    global _app
    if _app is None:
        _app = site_application()
    return _app(environ, start_response)


def serve_gunicorn(port: int, worker_class: str, threads: int) -> None:
    """gunicorn's own worker classes, with codeyard serve's other settings."""
    from codeyard.web.server import gunicorn_options, run_gunicorn

    options = gunicorn_options(host="127.0.0.1", port=port, workers=2, threads=threads,
                               access_log=False)
    options["worker_class"] = worker_class
    run_gunicorn(site_application, options)


def serve_waitress(port: int, threads: int) -> None:
    import waitress

    waitress.serve(site_application(), host="127.0.0.1", port=port, threads=threads,
                   channel_timeout=IDLE_TIMEOUT, cleanup_interval=1, connection_limit=1000,
                   _quiet=True)


def configurations(parent: str) -> dict[str, list[str]]:
    py = sys.executable
    me = [py, "-m", "bench.slow_clients", "--port", "{port}"]
    serve = [py, "-m", "codeyard", "serve", "-e", parent, "--no-access-log", "--workers", "2",
             "--port", "{port}"]
    def granian(threads: int) -> list[str]:
        return [py, "-m", "granian", "--port", "{port}", "--interface", "wsgi", "--workers", "2",
                "--blocking-threads", str(threads), "--http", "1", "--no-ws",
                "--http1-header-read-timeout", str(IDLE_TIMEOUT * 1000),
                "--log-level", "warning", "bench.slow_clients:application"]

    return {
        "gunicorn gthread, 4 threads": me + ["--serve", "gthread:4"],
        "gunicorn gthread, 32 threads": me + ["--serve", "gthread:32"],
        "gunicorn gthread, 128 threads": me + ["--serve", "gthread:128"],
        "gunicorn gevent": me + ["--serve", "gevent:1"],
        "waitress, 4 threads": me + ["--serve", "waitress:4"],
        "granian, 4 threads": granian(4),
        "granian, 128 threads": granian(128),
        "codeyard serve (buffering worker, 4 threads)": serve + [
            "--threads", "4", "--request-timeout", str(IDLE_TIMEOUT)],
    }


def make_site(root: str) -> str:
    from codeyard.env import Environment

    parent = os.path.join(root, "projects")
    os.makedirs(parent)
    env = Environment.create(os.path.join(parent, "alpha"), [
        ("project", "name", "Alpha"), ("logging", "log_type", "none")])
    env.shutdown()
    return parent


def get(port: int, path: str, timeout: float) -> tuple[int, float]:
    start = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status, time.monotonic() - start
    except OSError:
        return 0, time.monotonic() - start
    finally:
        conn.close()


def requests_per_second(port: int, requests: int, concurrency: int) -> float:
    done = subprocess.run(["ab", "-q", "-n", str(requests), "-c", str(concurrency),
                           f"http://127.0.0.1:{port}{PAGE}"],
                          capture_output=True, text=True, timeout=300)
    match = re.search(r"Requests per second:\s+([\d.]+)", done.stdout)
    failed = re.search(r"Failed requests:\s+(\d+)", done.stdout)
    if not match:
        raise RuntimeError(f"ab failed: {done.stderr.strip() or done.stdout.strip()}")
    if failed and int(failed.group(1)):
        print(f"  ab: {failed.group(1)} failed requests", file=sys.stderr)
    return float(match.group(1))


def open_slow_sockets(port: int, count: int) -> list[socket.socket]:
    socks = []
    for i in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        if i % 2 == 0:
            s.sendall(b"GET " + PAGE.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: sl")
        else:
            s.sendall(b"POST " + PAGE.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      b"Content-Type: application/x-www-form-urlencoded\r\n"
                      b"Content-Length: 1000\r\n\r\nabcdef")
        s.setblocking(False)
        socks.append(s)
    return socks


def closed_count(socks: list[socket.socket]) -> int:
    closed = 0
    for s in socks:
        try:
            data = s.recv(65536)
        except BlockingIOError:
            continue
        except OSError:
            closed += 1
            continue
        if data == b"" or data:  # EOF, or an error page before closing: the server let go
            closed += 1
    return closed


def run_one(name: str, command: list[str], parent: str, args) -> dict:
    port = free_port()
    command = [part.replace("{port}", str(port)) for part in command]
    environ = dict(os.environ, CODEYARD_BENCH_PARENT=parent)
    log = tempfile.NamedTemporaryFile(prefix=f"slow-{name}-", suffix=".log", delete=False)
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            cwd=REPO, env=environ, start_new_session=True)
    result: dict = {"name": name}
    try:
        wait_for_port(port, 60, proc)
        for _ in range(20):
            status, _elapsed = get(port, PAGE, 10)
            if status != 200:
                raise RuntimeError(f"{name}: warm-up got status {status}")
        result["rps"] = requests_per_second(port, args.load_requests, args.concurrency)
        socks = open_slow_sockets(port, args.slow)
        time.sleep(1.0)
        latencies, failures = [], 0
        for _ in range(args.requests):
            status, elapsed = get(port, PAGE, PROBE_TIMEOUT)
            latencies.append(elapsed)
            failures += status != 200
        result["p50"] = statistics.median(latencies)
        result["max"] = max(latencies)
        result["failed"] = failures
        deadline = time.monotonic() + DROP_WAIT
        while time.monotonic() < deadline and closed_count(socks) < len(socks):
            time.sleep(0.5)
        result["dropped"] = closed_count(socks)
        for s in socks:
            s.close()
        result["after"] = get(port, PAGE, PROBE_TIMEOUT)[1]
    finally:
        stop_process(proc)
        log.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--slow", type=int, default=100, help="slow sockets (default 100)")
    parser.add_argument("--requests", type=int, default=20,
                        help="normal requests timed while they are open (default 20)")
    parser.add_argument("--load-requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--only", nargs="*", help="configurations to run (default: all)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="run every configuration this many times, interleaved; "
                             "the table shows medians (default 1)")
    args = parser.parse_args()
    if args.serve:
        kind, threads = args.serve.split(":")
        if kind == "waitress":
            serve_waitress(args.port, int(threads))
        else:
            serve_gunicorn(args.port, kind, int(threads))
        return
    with tempfile.TemporaryDirectory(prefix="codeyard-slow-") as root:
        parent = make_site(root)
        runs: dict[str, list[dict]] = {}
        chosen = {name: command for name, command in configurations(parent).items()
                  if not args.only or any(word in name for word in args.only)}
        for _round in range(args.rounds):
            for name, command in chosen.items():
                print(f"{name} ...", file=sys.stderr, flush=True)
                try:
                    runs.setdefault(name, []).append(run_one(name, command, parent, args))
                except Exception as exc:  # one configuration failing does not stop the others
                    print(f"  {name}: {exc}", file=sys.stderr)
                    continue
                print("  ", runs[name][-1], file=sys.stderr, flush=True)
        rows = [{key: (statistics.median(r[key] for r in results) if key != "name" else name)
                 for key in results[0]} for name, results in runs.items()]
        print(f"| option | p50 with {args.slow} slow sockets | max | failed (of {args.requests}, "
              f"> {PROBE_TIMEOUT:g} s) | requests/s (ab -c {args.concurrency}) | "
              f"slow sockets closed within {DROP_WAIT:g} s |")
        print("|---|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['name']} | {r['p50'] * 1000:.0f} ms | {r['max'] * 1000:.0f} ms | "
                  f"{r['failed']:g} | {r['rps']:.0f} | {r['dropped']:g}/{args.slow} |")


if __name__ == "__main__":
    main()
