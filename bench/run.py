"""``make bench``: requests/s and latency of ``codeyard serve`` next to a hello-world app.

Builds a parent directory of 1,000 projects (one made with ``Environment.create``, copied),
serves it with ``codeyard serve --workers 2``, serves a hello-world WSGI app under the same
gunicorn settings, and loads both from 127.0.0.1 with a fixed number of requests (bounded
in time): the project index, ``/about`` of one project, and the hello-world page. Prints a
table with the ratios and writes it to ``bench/results/web.md``.

``python -m bench.run [--projects N] [--requests N] [--concurrency N] [--client ab|python]``
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import datetime
import http.client
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:  # the servers' helpers are shared with the test suite
    sys.path.insert(0, REPO)

from tests.support.servers import free_port, stop_process, wait_for_port  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results", "web.md")


@dataclass
class Result:
    label: str
    path: str
    requests: int
    failed: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    # The 99th percentile with one client at a time (``measure(..., alone=True)``): the
    # page's own latency, without the queueing of a load larger than the cores.
    alone_p99_ms: float | None = None


# ---------------------------------------------------------------------------
# Data


def set_project_name(config_file: str, name: str) -> None:
    with open(config_file, encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    section = None
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped[1:-1].strip()
        elif section == "project" and re.match(r"name\s*=", stripped):
            lines[i] = f"name = {name}"
    with open(config_file, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")


def generate_projects(parent: str, count: int) -> str:
    """``count`` projects p0000… in ``parent``; returns the first one's directory name."""
    from codeyard.env import Environment

    first = os.path.join(parent, "p0000")
    env = Environment.create(first, [("project", "name", "Project 0000"),
                                     ("project", "descr", "Benchmark project"),
                                     ("logging", "log_type", "none")])
    env.shutdown()
    for number in range(1, count):
        target = os.path.join(parent, f"p{number:04d}")
        shutil.copytree(first, target)
        set_project_name(os.path.join(target, "conf", "trac.ini"), f"Project {number:04d}")
    return "p0000"


# ---------------------------------------------------------------------------
# Servers


def start(command: list[str], port: int, log_path: str) -> subprocess.Popen:
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    wait_for_port(port, 60, proc)
    return proc


def stop(proc: subprocess.Popen) -> None:
    stop_process(proc, timeout=15)


SLOW_TIMEOUT = 900.0  # seconds one request of a slow page may take (Trac's busy timelines)


def fetch(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=SLOW_TIMEOUT)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


# ---------------------------------------------------------------------------
# Load


def load_with_ab(port: int, path: str, requests: int, concurrency: int, time_limit: float,
                 workdir: str, keepalive: bool = True) -> tuple[int, int, float, float, list[float]]:
    csv_path = os.path.join(workdir, "ab-percentiles.csv")
    keep_alive = ["-k"] if keepalive else []
    command = ["ab", "-q", *keep_alive, "-l", "-c", str(concurrency), "-t", str(int(time_limit)),
               "-n", str(requests), "-e", csv_path, f"http://127.0.0.1:{port}{path}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=time_limit + 60)
    if done.returncode != 0:
        raise RuntimeError(f"ab failed: {done.stderr.strip() or done.stdout.strip()}")
    out = done.stdout

    def number(label: str) -> float:
        match = re.search(rf"^{re.escape(label)}:\s+([\d.]+)", out, re.M)
        return float(match.group(1)) if match else 0.0

    complete = int(number("Complete requests"))
    failed = int(number("Failed requests")) + int(number("Non-2xx responses"))
    seconds = number("Time taken for tests")
    with open(csv_path, encoding="ascii") as fh:
        rows = list(csv.reader(fh))[1:]
    percentiles = [float(value) for _, value in rows]
    # ab takes percentile i from sample round(complete * i / 100), which for fewer than ~50
    # requests lies past its last one (garbage): the slowest request stands in there.
    percentiles = [percentiles[-1] if 0 < i < 100 and int(0.5 + complete * i / 100) >= complete
                   else value for i, value in enumerate(percentiles)]
    return complete, failed, seconds, complete / seconds if seconds else 0.0, percentiles


def load_with_python(port: int, path: str, requests: int, concurrency: int,
                     time_limit: float, timeout: float = 30.0
                     ) -> tuple[int, int, float, float, list[float]]:
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    remaining = [requests]
    deadline = time.monotonic() + time_limit

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        try:
            while time.monotonic() < deadline:
                with lock:
                    if remaining[0] <= 0:
                        return
                    remaining[0] -= 1
                began = time.perf_counter()
                try:
                    conn.request("GET", path)
                    response = conn.getresponse()
                    response.read()
                    ok = response.status == 200
                except (OSError, http.client.HTTPException):
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
                    ok = False
                elapsed = (time.perf_counter() - began) * 1000
                with lock:
                    latencies.append(elapsed)
                    if not ok:
                        failures[0] += 1
        finally:
            conn.close()

    began = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began
    latencies.sort()
    quantiles = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 \
        else latencies * 99
    percentiles = [latencies[0], *quantiles, latencies[-1]] if latencies else [0.0] * 101
    return len(latencies), failures[0], seconds, len(latencies) / seconds, percentiles


def add_load_arguments(parser, requests: int, time_limit: float, rounds: int | None = None
                       ) -> None:
    """The load options the page benchmarks share (``measure`` reads them); with ``rounds``,
    also ``--rounds`` (for ``measure_in_turns``)."""
    if rounds is not None:
        parser.add_argument("--rounds", type=int, default=rounds,
                            help="measurements of each page on each side, taken in turns; "
                                 "the round with the median requests/s is reported")
    parser.add_argument("--requests", type=int, default=requests)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--time-limit", type=float, default=time_limit)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--client", choices=("ab", "python"),
                        default="ab" if shutil.which("ab") else "python")


SLOW_PAGE = 0.5  # seconds: a page this slow is warmed by a few requests only


def measure(label: str, port: int, path: str, args, workdir: str, alone: bool = False
            ) -> Result:
    """The page's figures under the load of ``args``; with ``alone``, also its 99th
    percentile with one client (``Result.alone_p99_ms``)."""
    result = _measure(label, port, path, args, workdir)
    if alone and result.p50_ms < SLOW_PAGE * 1000:
        seconds = max(1.0, args.time_limit / 4)
        if args.client == "ab":
            *_, pct = load_with_ab(port, path, args.requests, 1, seconds, workdir,
                                   getattr(args, "keepalive", True))
        else:
            *_, pct = load_with_python(port, path, args.requests, 1, seconds)
        result.alone_p99_ms = pct[99]
    return result


def _measure(label: str, port: int, path: str, args, workdir: str) -> Result:
    slow = False
    for n in range(20):  # warm up: every worker opens what it needs
        began = time.perf_counter()
        status, body = fetch(port, path)
        if status != 200:
            raise RuntimeError(f"{label}: GET {path} answered {status}: {body[:300]!r}")
        if time.perf_counter() - began > SLOW_PAGE and n >= 1:
            slow = True  # the load itself is long enough to reach every worker
            break
    if slow:
        # Each request may outlast ab's own limits: the concurrent clients run until the
        # time limit, each finishing the request it is in (at least one each).
        complete, failed, seconds, rps, pct = load_with_python(
            port, path, args.requests, args.concurrency, args.time_limit, timeout=SLOW_TIMEOUT)
        return Result(label, path, complete, failed, seconds, rps, pct[50], pct[99])
    else:
        # ... and every thread of every worker, under the load's concurrency (not counted)
        warm = max(40, args.concurrency * 20)
        warm_seconds = getattr(args, "warm_seconds", 3.0)
        if args.client == "ab":
            load_with_ab(port, path, warm, args.concurrency, warm_seconds, workdir,
                         getattr(args, "keepalive", True))
        else:
            load_with_python(port, path, warm, args.concurrency, warm_seconds)
    if args.client == "ab":
        complete, failed, seconds, rps, pct = load_with_ab(
            port, path, args.requests, args.concurrency, args.time_limit, workdir,
            getattr(args, "keepalive", True))
    else:
        complete, failed, seconds, rps, pct = load_with_python(
            port, path, args.requests, args.concurrency, args.time_limit)
    return Result(label, path, complete, failed, seconds, rps, pct[50], pct[99])


# ---------------------------------------------------------------------------
# Report


def median_round(rounds: list[Result]) -> Result:
    """The round with the median requests/s, with its own percentiles (a burst of another
    load on the machine spoils one round, not the figure); the failures of every round."""
    ordered = sorted(rounds, key=lambda r: r.rps)
    middle = ordered[len(ordered) // 2]
    return dataclasses.replace(middle, failed=sum(r.failed for r in rounds),
                               requests=sum(r.requests for r in rounds))


LONG_ROUND = 60.0  # seconds: a measurement this long spans the machine's drift by itself


def measure_in_turns(sides: list[Callable[[], Result]], rounds: int) -> list[Result]:
    """Each side's ``median_round`` of ``rounds`` measurements, the sides taking turns in
    mirrored order (A B, B A, A B…), so that a machine getting slower or faster during the
    run weighs on every side alike instead of on whichever was measured later. A side whose
    measurement lasted ``LONG_ROUND`` or more (Trac's timeline over 100,000 tickets takes
    minutes a request) is not measured again: its window already spans the drift."""
    samples: list[list[Result]] = [[] for _ in sides]
    for n in range(max(rounds, 1)):
        order = range(len(sides)) if n % 2 == 0 else reversed(range(len(sides)))
        for index in order:
            if samples[index] and samples[index][-1].seconds >= LONG_ROUND:
                continue
            samples[index].append(sides[index]())
    return [median_round(taken) for taken in samples]


def publish(results_file: str, text: str) -> None:
    """Write a benchmark's report to its file under bench/results and print it."""
    os.makedirs(os.path.dirname(results_file), exist_ok=True)
    with open(results_file, "w", encoding="utf-8") as fh:
        fh.write(text)
    print(text)


def comparison_rows(pages, ours: list[Result], theirs: list[Result]) -> list[str]:
    """A Markdown table of each page's figures for codeyard and Trac 1.6 side by side, the
    ratio of their requests per second last, then the failed requests of both."""
    lines = ["| Page | codeyard req/s | p50 ms | p99 ms | Trac req/s | p50 ms | p99 ms | ratio |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for (name, path), mine, trac in zip(pages, ours, theirs, strict=True):
        ratio = mine.rps / trac.rps if trac.rps else 0.0
        lines.append(f"| {name} (`{path}`) | {mine.rps:,.1f} | {mine.p50_ms:.1f} | "
                     f"{mine.p99_ms:.1f} | {trac.rps:,.1f} | {trac.p50_ms:.1f} | "
                     f"{trac.p99_ms:.1f} | {ratio:.1f}x |")
    lines += ["", "Failed requests: " + ", ".join(f"{r.label} {r.failed}"
                                                  for r in [*ours, *theirs]), ""]
    return lines


def table(results: list[Result], baseline: Result) -> str:
    lines = ["| Page | Requests | Failed | req/s | p50 ms | p99 ms | req/s vs hello-world |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        ratio = r.rps / baseline.rps if baseline.rps else 0.0
        lines.append(f"| {r.label} (`{r.path}`) | {r.requests} | {r.failed} | {r.rps:,.0f} | "
                     f"{r.p50_ms:.1f} | {r.p99_ms:.1f} | {ratio:.2f} |")
    return "\n".join(lines)


def report(results: list[Result], baseline: Result, args, setup_seconds: float) -> str:
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return "\n".join([
        "# Web serving: codeyard serve against a hello-world WSGI app",
        "",
        f"Measured {when} on {platform.machine()} with {cores} cores "
        f"({platform.python_implementation()} {platform.python_version()}), "
        f"by `python -m bench.run` (`make bench`).",
        "",
        f"- Site: a parent directory of {args.projects} projects (`codeyard serve -e DIR "
        f"--workers {args.workers}`, gunicorn gthread workers, access log off).",
        "- Baseline: a hello-world WSGI app under the same gunicorn settings "
        "(`python -m bench.hello`).",
        f"- Load: `{args.client}` on the same machine, {args.concurrency} concurrent keep-alive "
        f"connections, at most {args.requests} requests or {args.time_limit:.0f} s per page.",
        f"- Generating the projects took {setup_seconds:.1f} s.",
        "",
        table(results, baseline),
        "",
        "The load generator shares the CPU cores with the servers, so the absolute figures are "
        "lower than on a dedicated client; the ratios compare like with like.",
        "",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="codeyard web benchmark")
    parser.add_argument("--projects", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--time-limit", type=float, default=15.0)
    parser.add_argument("--client", choices=("auto", "ab", "python"), default="auto")
    parser.add_argument("--output", default=RESULTS)
    args = parser.parse_args(argv)
    if args.client == "auto":
        args.client = "ab" if shutil.which("ab") else "python"
    if args.projects < 1:
        parser.error("--projects must be at least 1")

    workdir = tempfile.mkdtemp(prefix="codeyard-bench-")
    procs: list[subprocess.Popen] = []
    try:
        parent = os.path.join(workdir, "projects")
        os.makedirs(parent)
        began = time.perf_counter()
        print(f"Generating {args.projects} projects in {parent} ...", flush=True)
        first = generate_projects(parent, args.projects)
        setup_seconds = time.perf_counter() - began

        hello_port, site_port = free_port(), free_port()
        procs.append(start([sys.executable, "-m", "bench.hello", "--port", str(hello_port),
                            "--workers", str(args.workers)], hello_port,
                           os.path.join(workdir, "hello.log")))
        procs.append(start([sys.executable, "-m", "codeyard", "serve", "--port", str(site_port),
                            "--workers", str(args.workers), "--no-access-log", "-e", parent],
                           site_port, os.path.join(workdir, "serve.log")))
        print(f"Loading with {args.client}: {args.concurrency} connections, up to "
              f"{args.requests} requests or {args.time_limit:.0f} s per page", flush=True)
        baseline = measure("hello-world WSGI", hello_port, "/", args, workdir)
        results = [
            measure(f"project index ({args.projects} projects)", site_port, "/", args, workdir),
            measure("empty page", site_port, f"/{first}/about", args, workdir),
            baseline,
        ]
    except Exception as exc:
        for name in ("serve.log", "hello.log"):
            path = os.path.join(workdir, name)
            if os.path.exists(path):
                with open(path, encoding="utf-8", errors="replace") as fh:
                    sys.stderr.write(f"--- {name} ---\n{fh.read()[-3000:]}\n")
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    finally:
        for proc in procs:
            stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)

    text = report(results, baseline, args, setup_seconds)
    print()
    print(table(results, baseline))
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w", encoding="utf-8") as fh:
        fh.write(text)
    print(f"\nWritten to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
