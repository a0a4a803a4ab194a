"""Ticket benchmark: the ticket, new-ticket, query, report, roadmap and milestone pages of
codeyard against Trac 1.6, serving the very same environment under the same gunicorn
settings, in the same run.

The environment gets N tickets (default 20,000) with ~5 changes each and 20 custom fields,
spread over 50 milestones with Trac's usual mix of states, written with plain SQL into a
project made by ``Environment.create`` (Trac opens it as its own). Results go to
``bench/results/tickets.md``.

``python -m bench.tickets [--tickets N] [--requests N] [--concurrency N] [--client ab|python]``
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from tests.support.servers import free_port  # noqa: E402

from bench.run import Result, add_load_arguments, comparison_rows, measure, publish, start, stop  # noqa: E402
from bench.wiki import trac_python  # noqa: E402

RESULTS = os.path.join(HERE, "results", "tickets.md")
CUSTOM_FIELDS = 20
STATES = [("closed", 55), ("new", 20), ("assigned", 10), ("accepted", 10), ("reopened", 5)]
RESOLUTIONS = ["fixed", "invalid", "wontfix", "duplicate", "worksforme"]

TRAC_WSGI = '''
import os
os.environ[{variable!r}] = {env!r}
os.environ["PYTHON_EGG_CACHE"] = {cache!r}
from trac.web.main import dispatch_request as application
'''


def build(workdir: str, tickets: int, seed: int = 18, minutes_apart: int = 1) -> str:
    """The environment ``tickets-bench`` in ``workdir``: ``tickets`` tickets, the newest
    first, created ``minutes_apart`` minutes from one another up to now."""
    from codeyard.env import Environment

    path = os.path.join(workdir, "tickets-bench")
    custom = []
    for n in range(CUSTOM_FIELDS):
        kind = "select" if n % 4 == 0 else "checkbox" if n % 4 == 1 else "text"
        custom += [("ticket-custom", f"cf{n:02d}", kind), ("ticket-custom", f"cf{n:02d}.order", str(n))]
        if kind == "select":
            custom.append(("ticket-custom", f"cf{n:02d}.options", "|alpha|beta|gamma|delta"))
    env = Environment.create(path, [("project", "name", "Ticket bench"),
                                    ("logging", "log_type", "none"), *custom])
    rnd = random.Random(seed)
    now = int(time.time() * 1_000_000)
    milestones = [f"release-{n:02d}" for n in range(50)]
    states = [s for s, weight in STATES for _ in range(weight)]
    with env.db_transaction as db:
        db("DELETE FROM milestone")
        db("INSERT INTO permission (username, action) VALUES ('anonymous', 'TICKET_CREATE')")
        db.executemany("INSERT INTO milestone (name, due, completed, description) "
                       "VALUES (%s, %s, 0, %s)",
                       [(m, now + n * 7 * 86400 * 1_000_000, f"Release ''{m}'': see [wiki:WikiStart].")
                        for n, m in enumerate(milestones)])
        rows, customs, changes = [], [], []
        for number in range(1, tickets + 1):
            status = rnd.choice(states)
            created = now - (tickets - number + 10) * minutes_apart * 60_000_000
            rows.append((number, "defect", created, created + 5 * 1_000_000,
                         rnd.choice(["component1", "component2"]),
                         rnd.choice(["blocker", "critical", "major", "minor", "trivial"]),
                         f"user{rnd.randrange(30)}", f"user{rnd.randrange(30)}", status,
                         rnd.choice(RESOLUTIONS) if status == "closed" else "",
                         f"Ticket {number} about the {rnd.choice(['parser', 'server', 'pages'])}",
                         rnd.choice(milestones), "Steps:\n 1. open\n 2. see #1 and wiki:WikiStart\n"))
            for n in range(CUSTOM_FIELDS):
                value = (rnd.choice(["alpha", "beta", "gamma", "delta"]) if n % 4 == 0
                         else str(rnd.randrange(2)) if n % 4 == 1 else f"v{rnd.randrange(100)}")
                customs.append((number, f"cf{n:02d}", value))
            for c in range(1, 6):
                when = created + c * 1_000_000
                author = f"user{rnd.randrange(30)}"
                if c % 2:
                    changes.append((number, when, author, "priority", "major", "minor"))
                changes.append((number, when, author, "comment", str(c),
                                f"Comment {c}: *looked* at it, see #{max(1, number - c)}."))
        db.executemany("INSERT INTO ticket (id, type, time, changetime, component, priority, owner, "
                       "reporter, status, resolution, summary, milestone, description) "
                       "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", rows)
        db.update_sequence("ticket")
        db.executemany("INSERT INTO ticket_custom (ticket, name, value) VALUES (%s, %s, %s)", customs)
        db.executemany("INSERT INTO ticket_change (ticket, time, author, field, oldvalue, newvalue) "
                       "VALUES (%s, %s, %s, %s, %s, %s)", changes)
    env.shutdown()
    return path


def serve_codeyard(env_path: str, args, workdir: str):
    port = free_port()
    command = [sys.executable, "-m", "codeyard", "serve", "-s", env_path, "--port", str(port),
               "--hostname", "127.0.0.1", "--workers", str(args.workers)]
    return port, start(command, port, os.path.join(workdir, "codeyard.log"))


def serve_trac(env_path: str, args, workdir: str, python: str | None = None,
               variable: str = "TRAC_ENV"):
    """Trac under gunicorn; ``python`` is the Trac installation's (default: var/trac-venv).
    ``variable`` TRAC_ENV_PARENT_DIR serves a directory of projects."""
    python = python or trac_python()
    if python is None:
        raise SystemExit("Trac 1.6 is needed for this benchmark")
    from codeyard.web.server import DEFAULT_THREADS

    gunicorn = os.path.join(os.path.dirname(python), "gunicorn")
    if not os.path.exists(gunicorn):
        subprocess.run([python, "-m", "pip", "install", "-q", "gunicorn"], check=True)
    with open(os.path.join(workdir, "trac_wsgi.py"), "w", encoding="utf-8") as fh:
        fh.write(TRAC_WSGI.format(variable=variable, env=env_path,
                                  cache=os.path.join(workdir, "eggs")))
    port = free_port()
    command = [gunicorn, "--chdir", workdir, "--bind", f"127.0.0.1:{port}", "--workers",
               str(args.workers), "--threads", str(DEFAULT_THREADS), "--worker-class", "gthread",
               "--no-control-socket", "trac_wsgi:application"]
    return port, start(command, port, os.path.join(workdir, "trac.log"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=20_000)
    add_load_arguments(parser, requests=400, time_limit=20.0)
    args = parser.parse_args(argv)
    workdir = tempfile.mkdtemp(prefix="codeyard-bench-tickets-")
    try:
        began = time.perf_counter()
        env_path = build(workdir, args.tickets)
        setup = time.perf_counter() - began
        middle = args.tickets // 2
        pages = [("Ticket", f"/ticket/{middle}"), ("New ticket", "/newticket"),
                 ("Query (default)", "/query"),
                 ("Query (custom field)", "/query?cf00=beta&status=!closed&order=priority"),
                 ("Report 1", "/report/1"),
                 ("Roadmap", "/roadmap"), ("Milestone", "/milestone/release-07")]
        results: dict[str, list[Result]] = {}
        for label, serve in (("codeyard", serve_codeyard), ("Trac 1.6", serve_trac)):
            port, proc = serve(env_path, args, workdir)
            try:
                results[label] = [measure(f"{label}: {name}", port, path, args, workdir)
                                  for name, path in pages]
            finally:
                stop(proc)
        text = report(results, pages, args, setup)
        publish(RESULTS, text)
        return 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def report(results, pages, args, setup: float) -> str:
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = ["# Ticket pages: codeyard against Trac 1.6 on the same environment", "",
             f"Measured {when} on {platform.machine()} ({platform.python_version()}) by "
             f"`python -m bench.tickets`: {args.tickets} tickets (5 changes, {CUSTOM_FIELDS} custom "
             f"fields each) over 50 milestones (made in "
             f"{setup:.1f} s); both servers under gunicorn with {args.workers} workers; "
             f"`{args.client}`, {args.concurrency} concurrent connections, at most "
             f"{args.requests} requests or {args.time_limit:.0f} s per page.", "",
             *comparison_rows(pages, results["codeyard"], results["Trac 1.6"])]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
