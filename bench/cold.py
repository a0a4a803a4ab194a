"""What a page costs when its project is not warm: after a change of trac.ini, and as the first
page of another project of the same process.

A change of trac.ini (an admin panel's save, an edit by hand) makes the project drop what it
derived from its configuration; a parent directory of many projects opens each one on its
first request in each worker. Both used to rebuild the plugin manager, compile every template
and the URL map again, and redo the database's readiness. Each figure is the median over a
series, in process (SQLite, no HTTP server), next to the same page warm in the same run.

``python -m bench.cold [--projects 12] [--changes 15]``; results go to ``bench/results/cold.md``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results", "cold.md")
PAGES = ["/wiki/WikiStart", "/ticket/1", "/query", "/roadmap", "/timeline"]


def _make(parent: str, name: str):
    from codeyard.env import Environment
    from codeyard.ticket.model import Ticket

    env = Environment.create(os.path.join(parent, name),
                             [("project", "name", name), ("trac", "database", "sqlite:db/trac.db"),
                              ("logging", "log_type", "none"),
                              ("codeyard", "config_check_interval", "0")])
    ticket = Ticket(env)
    ticket["summary"], ticket["reporter"] = "A ticket", "alice"
    ticket.insert()
    env.shutdown()


def _get(client, environ, path: str) -> float:
    began = time.perf_counter()
    response = client.get(path, environ_base=environ)
    response.get_data()
    spent = time.perf_counter() - began
    if response.status_code != 200:
        raise SystemExit(f"{path}: HTTP {response.status_code}")
    return spent


def measure(projects: int, changes: int) -> list[tuple[str, float, float, float]]:
    from werkzeug.test import Client

    from codeyard.env import open_environment
    from codeyard.web.wsgi import application

    parent = tempfile.mkdtemp(prefix="codeyard-bench-cold-")
    names = [f"p{i:02d}" for i in range(projects * len(PAGES) + 1)]
    for name in names:
        _make(parent, name)
    client = Client(application, use_cookies=False)
    site = {"codeyard.env_parent_dir": parent}
    home = names[0]
    rows = []
    spare = iter(names[1:])
    for page in PAGES:
        path = f"/{home}{page}"
        for _ in range(5):
            _get(client, site, path)
        steady = statistics.median(_get(client, site, path) for _ in range(30))
        env = open_environment(os.path.join(parent, home))
        after_change = []
        for i in range(changes):
            env.config.set("project", "descr", f"changed {page} {i}")
            env.config.save()
            env.config.reload_if_changed()
            after_change.append(_get(client, site, path))
        first = [_get(client, site, f"/{next(spare)}{page}") for _ in range(projects)]
        rows.append((page, steady * 1000, statistics.median(after_change) * 1000,
                     statistics.median(first) * 1000))
        print(f"{page}: warm {rows[-1][1]:.1f} ms, after a trac.ini change {rows[-1][2]:.1f} ms, "
              f"first of another project {rows[-1][3]:.1f} ms", flush=True)
    return rows


def write_results(rows, projects: int, changes: int) -> None:
    lines = [
        "# Pages of a project that is not warm",
        "",
        f"Measured {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC with CPython "
        f"{platform.python_version()} on {platform.machine()} by `python -m bench.cold` "
        f"(`make bench`): in process, SQLite, one project of one ticket per page, "
        f"median of {changes} changes and of {projects} other projects per page.",
        "",
        "| Page | warm ms | after a trac.ini change ms | × warm | first page of another "
        "project ms | × warm |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for page, warm, changed, first in rows:
        lines.append(f"| `{page}` | {warm:.1f} | {changed:.1f} | {changed / warm:.1f} | "
                     f"{first:.1f} | {first / warm:.1f} |")
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    with open(RESULTS, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    print(f"Wrote {RESULTS}")


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 1000:
        raise argparse.ArgumentTypeError(f"{text!r} is not a count from 1 to 1000")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=_count, default=12)
    parser.add_argument("--changes", type=_count, default=15)
    args = parser.parse_args(argv)
    rows = measure(args.projects, args.changes)
    write_results(rows, args.projects, args.changes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
