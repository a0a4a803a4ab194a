"""Search and timeline benchmark: ``/search`` and ``/timeline?daysback=30`` of codeyard
against Trac 1.6 on the very same environment
(N tickets as ``bench.tickets`` makes them, plus 1,000 wiki pages), both under gunicorn
in the same run, and the time ``codeyard admin ENV search rebuild`` takes. Results go to
``bench/results/search.md``.

``python -m bench.search [--tickets N] [--env PATH] [--requests N] [--concurrency N]``
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from functools import partial

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from bench.run import (  # noqa: E402
    Result,
    add_load_arguments,
    comparison_rows,
    measure,
    measure_in_turns,
    publish,
    stop,
)
from bench.tickets import build as build_tickets  # noqa: E402
from bench.tickets import serve_codeyard, serve_trac  # noqa: E402

RESULTS = os.path.join(HERE, "results", "search.md")
PAGES = 1000
WORDS = ("parser server pages release storage window garden cache branch merge index "
         "token lexer query report button schema upgrade").split()
QUERIES = [("One word", "/search?q=parser&noquickjump=1"),
           ("Two words", "/search?q=looked+server&noquickjump=1"),
           ("Phrase", "/search?q=%22garden+cache%22&noquickjump=1"),
           ("Wiki only", "/search?q=storage&wiki=on&noquickjump=1"),
           ("Exclusion", "/search?q=merge+-branch&noquickjump=1"),
           # The timeline of the same environment: the tickets are a minute apart, so 30
           # days hold up to 43,200 of them.
           ("Timeline, 30 days", "/timeline?daysback=30"),
           ("Timeline, tickets only", "/timeline?daysback=30&ticket=on")]


def add_pages(env_path: str, count: int = PAGES, seed: int = 21) -> None:
    """``count`` wiki pages of a few hundred words each, as Trac writes them."""
    from codeyard.env import Environment

    env = Environment(env_path)
    rnd = random.Random(seed)
    now = int(time.time() * 1_000_000)
    rows = []
    for n in range(count):
        text = "\n".join(" ".join(rnd.choice(WORDS) for _ in range(12)) for _ in range(25))
        rows.append((f"BenchPage{n:04d}", 1, now - n * 1_000_000, f"user{n % 30}",
                     f"= Page {n} =\n{text}\n", "", 0))
    with env.db_transaction as db:
        db.executemany("INSERT INTO wiki (name, version, time, author, text, comment, readonly) "
                       "VALUES (%s, %s, %s, %s, %s, %s, %s)", rows)
    env.shutdown()


def rebuild_seconds(env_path: str) -> float:
    from codeyard.env import Environment
    from codeyard.search import index

    env = Environment(env_path)
    try:
        env.ensure_own_tables()
        began = time.perf_counter()
        index.rebuild(env)
        return time.perf_counter() - began
    finally:
        env.shutdown()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=20_000)
    parser.add_argument("--env", help="reuse this environment (made by an earlier run) as is")
    # Time-bound windows: 200 requests of a page codeyard answers in 2 ms made a window of
    # under half a second, which one burst of another load on the machine could halve.
    add_load_arguments(parser, requests=1_000_000, time_limit=8.0, rounds=3)
    args = parser.parse_args(argv)
    workdir = tempfile.mkdtemp(prefix="codeyard-bench-search-")
    try:
        began = time.perf_counter()
        if args.env:
            env_path = os.path.abspath(args.env)
        else:
            env_path = build_tickets(workdir, args.tickets)
            add_pages(env_path)
        setup = time.perf_counter() - began
        rebuild = rebuild_seconds(env_path)
        # Both servers on the environment side by side, each query measured on both in
        # turns (``measure_in_turns``): seconds apart, not minutes.
        results: dict[str, list[Result]] = {"codeyard": [], "Trac 1.6": []}
        servers = []
        try:
            for serve in (serve_codeyard, serve_trac):
                port, proc = serve(env_path, args, workdir)
                servers.append((port, proc))
            for name, path in QUERIES:
                measured = measure_in_turns(
                    [partial(measure, f"{label}: {name}", port, path, args, workdir)
                     for label, (port, _) in zip(results, servers, strict=True)], args.rounds)
                for label, result in zip(results, measured, strict=True):
                    results[label].append(result)
        finally:
            for _, proc in servers:
                stop(proc)
        publish(RESULTS, report(results, args, setup, rebuild))
        return 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def report(results, args, setup: float, rebuild: float) -> str:
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = ["# Search and timeline: codeyard against Trac 1.6 on the same environment", "",
             f"Measured {when} on {platform.machine()} ({platform.python_version()}) by "
             f"`python -m bench.search`: {args.tickets} tickets (5 changes each) and "
             f"{PAGES} wiki pages (made in {setup:.1f} s); `search rebuild` took "
             f"{rebuild:.1f} s; both servers under gunicorn with {args.workers} workers; "
             f"`{args.client}`, {args.concurrency} concurrent connections, "
             f"{args.time_limit:.0f} s per query (at most {args.requests:,} requests; a query "
             "slower than 0.5 s: Python clients that each finish their request); both servers run "
             "side by side and each query is measured on both in turns"
             + (f" ({args.rounds} rounds in mirrored order, the round with the median "
                "requests/s reported; a measurement of a minute or more is not repeated)"
                if args.rounds > 1 else "") + ".", "",
             *comparison_rows(QUERIES, results["codeyard"], results["Trac 1.6"])]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
