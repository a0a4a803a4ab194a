"""``make bench``: every page of a project, codeyard against Trac 1.6 on the same data, in one run.

One environment holds N tickets (default 20,000: ~5 changes each, 20 custom fields, 50
milestones, as ``bench.tickets`` makes them), 500 wiki pages of mixed Trac markup plus a
100 KB one, Trac's default pages, a Git repository of 5,000 commits and a Bazaar branch of
1,000 revisions (``bench.vcs_data``). It is built once and kept under ``var/bench-data``;
each run works on a fresh copy. codeyard (``codeyard serve --workers 2``) and Trac 1.6 (the
side virtualenv, under gunicorn with the same worker and thread counts) serve that copy in
parent-directory mode, a hello-world WSGI app under the same gunicorn settings gives the
ceiling, and Loggerhead serves the Bazaar branch for the Bazaar pages. Each page is warmed
up, then loaded for a fixed time. The tables go to ``bench/results/<date>.md``; the last
line printed sums the run up. The run fails if any request failed.

``python -m bench.pages [--quick] [--tickets N] [--time-limit S] [--concurrency N]``
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial
from urllib.parse import quote

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from tests.support.servers import free_port  # noqa: E402

from bench import tickets as tickets_bench  # noqa: E402
from bench import vcs_data  # noqa: E402
from bench.run import (  # noqa: E402
    Result,
    add_load_arguments,
    fetch,
    measure,
    measure_in_turns,
    start,
    stop,
)
from bench.tickets import build as build_tickets  # noqa: E402
from bench.vcs import bzr_source_file, serve_loggerhead, some_file, timed_resync  # noqa: E402
from bench.wiki import realistic_page  # noqa: E402

PROJECT = "bench"
DATA_VERSION = 2  # bump when the generated environment changes
# A ticket an hour: 20,000 tickets span two years and the default timeline (30 days) holds
# about 720 of them with their changes, as a busy project's would.
TICKET_MINUTES_APART = 60
WIKI_PAGES = 500
LARGE_PAGE = "BenchLargePage"
SEARCH = "/search?q=parser+server&noquickjump=1"


# ---------------------------------------------------------------------------
# Data


def add_wiki_pages(env_path: str, count: int, seed: int = 31) -> None:
    """``count`` pages of a few KB of mixed markup (1 to 3 versions each) and the 100 KB
    page, written as Trac writes them."""
    from codeyard.env import Environment

    rnd = random.Random(seed)
    now = int(time.time() * 1_000_000)
    rows = []
    for n in range(count):
        versions = rnd.randint(1, 3)
        text = realistic_page(min_bytes=rnd.randint(1_500, 6_000), seed=seed * 1000 + n)
        for version in range(1, versions + 1):
            rows.append((f"Bench/Page{n:03d}", version, now - (n * 3 + versions - version) * 600_000_000,
                         f"user{n % 30}", text + ("\nEdited.\n" * (version - 1)),
                         f"edit {version}", 0))
        vcs_data.progress("wiki pages", n + 1, count)
    rows.append((LARGE_PAGE, 1, now - 86_400_000_000, "user1", realistic_page(), "", 0))
    env = Environment(env_path)
    try:
        with env.db_transaction as db:
            db.executemany("INSERT INTO wiki (name, version, time, author, text, comment, "
                           "readonly) VALUES (%s, %s, %s, %s, %s, %s, %s)", rows)
    finally:
        env.shutdown()


def add_repositories(env_path: str, git_repo: str, bzr_root: str) -> None:
    ini = os.path.join(env_path, "conf", "trac.ini")
    with open(ini, "a", encoding="utf-8") as fh:
        fh.write(f"\n[repositories]\n.dir = {git_repo}\n.type = git\n"
                 f"bzr.dir = {bzr_root}\nbzr.type = bzr\n")
    for name in ("(default)", "bzr"):
        seconds = timed_resync([sys.executable, "-m", "codeyard", "admin"], env_path, name)
        print(f"repository {name} synced in {seconds:.1f} s", file=sys.stderr)


def build_search_index(env_path: str) -> float:
    from bench.search import rebuild_seconds

    return rebuild_seconds(env_path)


def dataset(tickets: int) -> str:
    """The parent directory holding the benchmark project, built once per data version."""
    key = f"pages-v{DATA_VERSION}-{tickets}-{WIKI_PAGES}"
    parent = os.path.join(vcs_data.DATA, key)
    marker = os.path.join(parent, "complete")
    if os.path.exists(marker):
        return parent
    shutil.rmtree(parent, ignore_errors=True)
    os.makedirs(parent)
    began = time.perf_counter()
    git_repo = vcs_data.git_repository(5000)
    bzr_root = vcs_data.bzr_branch(1000)
    print(f"building {tickets} tickets ...", file=sys.stderr, flush=True)
    made = build_tickets(parent, tickets, minutes_apart=TICKET_MINUTES_APART)
    env_path = os.path.join(parent, PROJECT)
    os.rename(made, env_path)
    add_wiki_pages(env_path, WIKI_PAGES)
    add_repositories(env_path, git_repo, bzr_root)
    print("building the search index ...", file=sys.stderr, flush=True)
    build_search_index(env_path)
    with open(marker, "w", encoding="utf-8") as fh:
        fh.write(f"built in {time.perf_counter() - began:.0f} s\n")
    return parent


def working_copies(parent: str, workdir: str) -> tuple[str, str]:
    """(codeyard's parent dir, Trac's parent dir): one copy of the project for each. Trac's
    lacks the Bazaar repository (a type it does not know) and enables its Git connector."""
    ours = os.path.join(workdir, "codeyard")
    theirs = os.path.join(workdir, "trac")
    for target in (ours, theirs):
        os.makedirs(target)
        shutil.copytree(os.path.join(parent, PROJECT), os.path.join(target, PROJECT))
    ini = os.path.join(theirs, PROJECT, "conf", "trac.ini")
    with open(ini, encoding="utf-8") as fh:
        lines = [line for line in fh if not line.startswith("bzr.")]
    with open(ini, "w", encoding="utf-8") as fh:
        fh.write("".join(lines) + "\n[components]\ntracopt.versioncontrol.git.* = enabled\n")
    return ours, theirs


# ---------------------------------------------------------------------------
# Servers


def serve_codeyard(parent: str, args, workdir: str):
    port = free_port()
    command = [sys.executable, "-m", "codeyard", "serve", "-e", parent, "--port", str(port),
               "--hostname", "127.0.0.1", "--workers", str(args.workers), "--no-access-log"]
    return port, start(command, port, os.path.join(workdir, "codeyard.log"))


def serve_trac(parent: str, args, workdir: str):
    """Trac 1.6 over the directory (TRAC_ENV_PARENT_DIR), as ``bench.tickets`` serves it."""
    return tickets_bench.serve_trac(parent, args, workdir, variable="TRAC_ENV_PARENT_DIR")


def serve_hello(args, workdir: str):
    port = free_port()
    command = [sys.executable, "-m", "bench.hello", "--port", str(port), "--workers",
               str(args.workers)]
    return port, start(command, port, os.path.join(workdir, "hello.log"))


def serve_granian(parent: str, args, workdir: str):
    """codeyard's WSGI application under granian (the candidate server), as many workers
    and threads as ``codeyard serve``; None when granian is not installed."""
    granian = os.path.join(os.path.dirname(sys.executable), "granian")
    if not os.path.exists(granian):
        return None
    from codeyard.web.server import DEFAULT_THREADS

    port = free_port()
    command = ["env", f"TRAC_ENV_PARENT_DIR={parent}", granian, "--interface", "wsgi",
               "--workers", str(args.workers), "--blocking-threads", str(DEFAULT_THREADS),
               "--host", "127.0.0.1", "--port", str(port), "--no-ws", "--log-level", "warning",
               "codeyard.web.wsgi:application"]
    return port, start(command, port, os.path.join(workdir, "granian.log"))


GRANIAN_PAGES = ("WikiStart", "Ticket", "Query (default)", "Timeline")


def workers_rss_mib(pid: int) -> tuple[float, float]:
    """(resident set, of which mapped files) of the server process (or worker) with the
    largest resident set, in MiB. The files part is shared with the system's file cache:
    codeyard reads SQLite databases through a memory map, and those pages count here."""
    sizes: list[tuple[float, float]] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            if int(fields[1]) != pid and int(entry) != pid:
                continue
            with open(f"/proc/{entry}/status", encoding="ascii") as fh:
                status = dict(line.split(":", 1) for line in fh if ":" in line)
            shared = sum(int(status.get(key, "0 kB").split()[0])  # a file on tmpfs is shmem
                         for key in ("RssFile", "RssShmem"))
            sizes.append((int(status["VmRSS"].split()[0]) / 1024, shared / 1024))
        except (OSError, IndexError, ValueError, KeyError):
            continue
    return max(sizes) if sizes else (0.0, 0.0)


# ---------------------------------------------------------------------------
# Pages


def git(repo: str, *args: str) -> str:
    return subprocess.run(["git", "--git-dir", repo, *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def project_pages(git_repo: str) -> list[tuple[str, str]]:
    """(name, path under the project) of each page measured on both servers."""
    middle_commit = git(git_repo, "log", "--format=%H", "--skip=2500", "-1")
    return [
        ("WikiStart", "/wiki/WikiStart"),
        ("Large wiki page (100 KB)", f"/wiki/{LARGE_PAGE}"),
        ("WikiFormatting", "/wiki/WikiFormatting"),
        ("TracLinks", "/wiki/TracLinks"),
        ("Ticket", "/ticket/10000"),
        ("New ticket", "/newticket"),
        ("Query (default)", "/query"),
        ("Query (custom field)", "/query?cf00=beta&status=!closed&order=priority"),
        ("Report", "/report/1"),
        ("Roadmap", "/roadmap"),
        ("Timeline", "/timeline"),
        ("Search", SEARCH),
        ("Browser root", "/browser"),
        ("Source file", f"/browser/{quote(some_file(git_repo))}"),
        ("Log", "/log/"),
        ("Changeset", f"/changeset/{middle_commit}"),
    ]


def bzr_pages(bzr_root: str, port: int) -> list[tuple[str, str, str]]:
    """(name, codeyard path under the project, Loggerhead path) of the Bazaar pages."""
    bzr_file = bzr_source_file(bzr_root)
    status, body = fetch(port, f"/{PROJECT}/log/bzr/trunk?limit=600")
    if status != 200:
        raise RuntimeError(f"codeyard: the Bazaar log answered {status}")
    links = re.findall(rb'href="[^"]*/changeset/([^"/?#]+)/bzr"', body)
    if not links:
        raise RuntimeError("no changeset links on codeyard's Bazaar log page")
    middle = links[min(len(links) - 1, 500)].decode()
    return [("Branch files", "/browser/bzr/trunk", "/trunk/files"),
            ("Source file", f"/browser/bzr/trunk/{bzr_file}", f"/trunk/view/head:/{bzr_file}"),
            ("Changes", "/log/bzr/trunk", "/trunk/changes"),
            # Loggerhead's page lists 20 revisions, the log's default page 100 (Trac's)
            ("Changes, 20 revisions", "/log/bzr/trunk?limit=20", "/trunk/changes"),
            ("Revision", f"/changeset/{middle}/bzr", "/trunk/revision/500"),
            # Loggerhead's page holds no diff: its script fetches each file's on opening
            ("Revision with its diffs", f"/changeset/{middle}/bzr",
             "/trunk/revision/500" + WITH_DIFFS)]


WITH_DIFFS = " + diffs"  # a Loggerhead path so marked: the page and every diff it fetches


def loggerhead_diffs(port: int, page: str) -> list[str]:
    """The paths of the per-file diffs Loggerhead's revision page fetches with its script
    (``+filediff``, at its default context of 3 lines)."""
    status, body = fetch(port, page)
    base = re.search(rb"var global_path = '([^']*)'", body)
    links = re.search(rb"var link_data = (\{.*?\});", body)
    if status != 200 or base is None or links is None:
        raise RuntimeError(f"Loggerhead: no diff links on {page} ({status})")
    paths = []
    for value in json.loads(links.group(1)).values():
        path = f"{base.group(1).decode()}+filediff/{value}?context=3"
        # Loggerhead fails on some of its own links (an added directory's diff answers 500):
        # those are left out of the view, which can only favour Loggerhead, and reported
        answer, _ = fetch(port, path)
        if answer >= 500:
            LOGGERHEAD_BROKEN.append(f"`{path}` ({answer})")
        else:
            paths.append(path)
    return paths


LOGGERHEAD_BROKEN: list[str] = []  # the diff links Loggerhead itself answered with 5xx


def measure_loggerhead(label: str, port: int, path: str, args, workdir: str) -> Result:
    """One Loggerhead page; a page marked ``WITH_DIFFS`` is measured with each of its diffs
    and counted as one view: requests/s 1/Σ(1/r), the percentiles summed."""
    if not path.endswith(WITH_DIFFS):
        return measure(label, port, path, args, workdir)
    page = path[:-len(WITH_DIFFS)]
    parts = [measure(label, port, p, args, workdir) for p in [page, *loggerhead_diffs(port, page)]]
    return Result(label, path, min(r.requests for r in parts), sum(r.failed for r in parts),
                  sum(r.seconds for r in parts), 1 / sum(1 / r.rps for r in parts),
                  sum(r.p50_ms for r in parts), sum(r.p99_ms for r in parts))


def hosting_tables(quick: bool) -> list[str]:
    """The hosting benchmarks' tables (clone and push through codeyard against plain
    ``git http-backend`` and ``brz serve``), run as their own commands; none when quick."""
    if quick:
        return ["Hosting timings: not measured by a quick run (`python -m bench.hosting_git`, "
                "`python -m bench.hosting_bzr`)."]
    lines = []
    for command in (["bench.hosting_git", "--clones", "5", "--pushes", "1"],
                    ["bench.hosting_bzr", "--repeat", "3"]):
        print(f"running {' '.join(command)} ...", file=sys.stderr, flush=True)
        done = subprocess.run([sys.executable, "-m", *command], cwd=REPO, capture_output=True,
                              text=True, timeout=900)
        if done.returncode != 0:
            raise RuntimeError(f"{command[0]} failed: {done.stderr[-2000:]}")
        lines += [f"`python -m {' '.join(command)}`:", "", done.stdout.strip(), ""]
    return lines


# ---------------------------------------------------------------------------
# Report


def ratio(ours: Result, theirs: Result) -> float:
    return ours.rps / theirs.rps if theirs.rps else 0.0


def comparison_table(rows: list[tuple[str, str, Result, Result]], other: str) -> list[str]:
    alone = any(ours.alone_p99_ms is not None for _, _, ours, _ in rows)
    lines = [f"| Page | codeyard req/s | p50 ms | p99 ms |{' p99 ms, 1 client |' if alone else ''} "
             f"{other} req/s | p50 ms | p99 ms | ratio |",
             f"|---|---:|---:|---:|{'---:|' if alone else ''}---:|---:|---:|---:|"]
    for name, path, ours, theirs in rows:
        single = "" if not alone else (
            f" {ours.alone_p99_ms:.1f} |" if ours.alone_p99_ms is not None else " – |")
        lines.append(f"| {name} (`{path}`) | {ours.rps:,.1f} | {ours.p50_ms:.1f} | "
                     f"{ours.p99_ms:.1f} |{single} {theirs.rps:,.1f} | {theirs.p50_ms:.1f} | "
                     f"{theirs.p99_ms:.1f} | {ratio(ours, theirs):.1f}x |")
    return lines


def summary_line(rows: list[tuple[str, str, Result, Result]], hello: Result) -> str:
    ratios = [ratio(ours, theirs) for _, _, ours, theirs in rows]
    p99 = max(ours.p99_ms for _, _, ours, _ in rows)
    alone = [ours.alone_p99_ms for _, _, ours, _ in rows if ours.alone_p99_ms is not None]
    by_name = {name: ours for name, _, ours, _ in rows}

    def ceiling(name: str) -> str:
        return f"{100 * by_name[name].rps / hello.rps:.0f}%" if hello.rps else "n/a"

    return (f"bench: codeyard/trac min {min(ratios):.1f}x median {statistics.median(ratios):.1f}x "
            f"over {len(rows)} pages; p99 max {p99:.0f} ms"
            f"{f' ({max(alone):.0f} ms with one client)' if alone else ''}; "
            f"ceiling wiki {ceiling('WikiStart')} ticket {ceiling('Ticket')}")


def report(args, rows, bzr_rows, hello: Result, memory: dict[str, tuple[float, float]],
           setup: str, hosting: list[str], summary: str, granian: list | None = None) -> str:
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    failed = [r.label for *_, ours, theirs in rows for r in (ours, theirs) if r.failed]
    failed += [r.label for *_, ours, theirs in bzr_rows for r in (ours, theirs) if r.failed]
    lines = [
        "# Pages: codeyard against Trac 1.6 and Loggerhead on the same data",
        "",
        f"Measured {when} on {platform.machine()} with {cores} cores "
        f"({platform.python_implementation()} {platform.python_version()}) by "
        f"`python -m bench.pages{' --quick' if args.quick else ''}` "
        f"(`make bench{' QUICK=1' if args.quick else ''}`).",
        "",
        f"- Data: {args.tickets:,} tickets (~5 changes, 20 custom fields each) over 50 milestones, "
        f"{WIKI_PAGES} wiki pages of mixed markup plus a 100 KB page and Trac's default pages, "
        "a Git repository of 5,000 commits and a Bazaar branch of 1,000 revisions "
        f"(real source text); {setup}.",
        f"- Servers: `codeyard serve -e PARENT --workers {args.workers} --no-access-log`; Trac 1.6 "
        f"(`TRAC_ENV_PARENT_DIR`) under gunicorn with {args.workers} gthread workers and the same "
        "thread count, on its own copy of the same project; a hello-world WSGI app under "
        "codeyard's gunicorn settings (the ceiling); Loggerhead's own server for the Bazaar pages.",
        f"- Load: `{args.client}`, {args.concurrency} concurrent clients, a new connection per "
        "request (kept-alive connections can all land on one worker process and halve a "
        "run at random), "
        f"{args.time_limit:.0f} s per page after a warm-up (pages slower than 0.5 s: Python "
        "clients that each finish their request). The column \"p99 ms, 1 client\" is the "
        "99th percentile of a further load with one client at a time: the page's own latency "
        "without the queueing of more clients than cores. The servers run side by side and "
        "each page is measured on its two sides in turns (codeyard, then the other"
        + (f"; {args.rounds} rounds in mirrored order, the round with the median requests/s "
           "reported" if args.rounds > 1 else "") + ").",
        "",
        f"Hello-world ceiling: {hello.rps:,.0f} req/s (p99 {hello.p99_ms:.1f} ms). Largest worker "
        "resident set after the run (of which mapped files, shared with the system's file "
        "cache): " + ", ".join(f"{name} {mib:.0f} MiB ({files:.0f})"
                               for name, (mib, files) in memory.items()) + ".",
        "",
        *comparison_table(rows, "Trac"),
        "",
        *comparison_table(bzr_rows, "Loggerhead"),
        "",
        "Loggerhead's pages are `/trunk/files`, `/trunk/view/head:/FILE`, `/trunk/changes` (20 "
        "revisions; codeyard's log shows 100 by default, as Trac's, hence the row at "
        "`limit=20`) and `/trunk/revision/500`. Loggerhead's revision page holds no diff: its "
        "script fetches each file's (`+filediff`) when opened. The row \"Revision with its "
        "diffs\" counts that page and all of its diffs, each loaded alone, as one view "
        "(requests/s 1/Σ(1/r), p50 and p99 summed); codeyard's page carries its diffs.",
        *(["", "Loggerhead answered its own script's diff links with a server error, so they "
           "are left out of that row (which favours Loggerhead): "
           + ", ".join(LOGGERHEAD_BROKEN) + "."] if LOGGERHEAD_BROKEN else []),
        "",
        "The ceiling column of the summary is codeyard's requests/s on that page as a share of "
        "the hello-world app's.",
        "",
        "Failed requests: " + (", ".join(failed) if failed else "none") + ".",
        "",
        "## The WSGI server",
        "",
        *(["The same application and project under granian (same worker and thread counts) "
           "next to `codeyard serve` (gunicorn); the ratio is codeyard serve's requests/s "
           "over granian's.", "",
           *comparison_table(granian, "granian")] if granian else
          ["granian is not installed: not compared."]),
        "",
        "## Hosting",
        "",
        *hosting,
        "",
        summary,
        "",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short loads (about 3 minutes)")
    parser.add_argument("--tickets", type=int, default=20_000)
    parser.add_argument("--output", help="results file (default bench/results/<date>.md)")
    add_load_arguments(parser, requests=1_000_000, time_limit=0, rounds=1)
    args = parser.parse_args(argv)
    if not args.time_limit:
        args.time_limit = 2.0 if args.quick else 8.0
    args.warm_seconds = 1.0 if args.quick else 2.0
    # A new connection per request: a few kept-alive connections can all land on one of
    # the two worker processes (each server's), which halves that run's figures at random.
    args.keepalive = False
    if not shutil.which("ab"):
        args.client = "python"

    began = time.perf_counter()
    cached = os.path.exists(os.path.join(vcs_data.DATA, f"pages-v{DATA_VERSION}-{args.tickets}-"
                                         f"{WIKI_PAGES}", "complete"))
    parent = dataset(args.tickets)
    setup = (f"generated once in {time.perf_counter() - began:.0f} s" if not cached
             else "generated by an earlier run (var/bench-data)")
    git_repo = vcs_data.git_repository(5000)
    bzr_root = vcs_data.bzr_branch(1000)
    workdir = tempfile.mkdtemp(prefix="codeyard-bench-pages-")
    try:
        ours_dir, trac_dir = working_copies(parent, workdir)
        pages = project_pages(git_repo)
        memory: dict[str, tuple[float, float]] = {}
        port, proc = serve_hello(args, workdir)
        try:
            hello = measure("hello-world", port, "/", args, workdir)
        finally:
            stop(proc)
        # codeyard, Trac and Loggerhead run side by side: each page is measured on both of
        # its sides in turns (``measure_in_turns``), seconds apart rather than minutes, so a
        # machine that gets slower during the run weighs on both alike.
        servers: dict[str, subprocess.Popen] = {}
        try:
            port, servers["codeyard"] = serve_codeyard(ours_dir, args, workdir)
            trac_port, servers["Trac 1.6"] = serve_trac(trac_dir, args, workdir)
            lh_port, servers["Loggerhead"] = serve_loggerhead(bzr_root, workdir)
            bzr = bzr_pages(bzr_root, port)
            sides = [[partial(measure, f"codeyard: {name}", port, f"/{PROJECT}{path}", args,
                              workdir, alone=True),
                      partial(measure, f"Trac: {name}", trac_port, f"/{PROJECT}{path}", args,
                              workdir)] for name, path in pages]
            sides.append([partial(measure, "codeyard: Project index", port, "/", args, workdir),
                          partial(measure, "Trac: Project index", trac_port, "/", args,
                                  workdir)])
            sides += [[partial(measure, f"codeyard: Bazaar {name}", port, f"/{PROJECT}{path}",
                               args, workdir, alone=True),
                       partial(measure_loggerhead, f"Loggerhead: {name}", lh_port, theirs,
                               args, workdir)] for name, path, theirs in bzr]
            measured = [measure_in_turns(pair, args.rounds) for pair in sides]
            trac_pairs, bzr_pairs = measured[:len(pages) + 1], measured[len(pages) + 1:]
            ours, theirs = [m[0] for m in trac_pairs], [m[1] for m in trac_pairs]
            ours_bzr, loggerhead = [m[0] for m in bzr_pairs], [m[1] for m in bzr_pairs]
            for name, proc in servers.items():
                memory[name] = workers_rss_mib(proc.pid)
        finally:
            for proc in servers.values():
                stop(proc)
        granian: list[tuple[str, str, Result, Result]] = []
        served = serve_granian(ours_dir, args, workdir)
        if served is not None:
            port, proc = served
            try:
                for (name, path), mine in zip(pages, ours, strict=False):
                    if name in GRANIAN_PAGES:
                        other = measure(f"granian: {name}", port, f"/{PROJECT}{path}", args,
                                        workdir)
                        granian.append((name, f"/{PROJECT}{path}", mine, other))
                memory["codeyard under granian"] = workers_rss_mib(proc.pid)
            finally:
                stop(proc)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    names = [*pages, ("Project index", "")]
    rows = [(name, f"/{PROJECT}{path}" if path else "/", mine, trac)
            for (name, path), mine, trac in zip(names, ours, theirs, strict=True)]
    bzr_rows = [(name, f"/{PROJECT}{path}", mine, other)
                for (name, path, _), mine, other in zip(bzr, ours_bzr, loggerhead, strict=True)]
    hosting = hosting_tables(args.quick)
    summary = summary_line(rows, hello)
    text = report(args, rows, bzr_rows, hello, memory, setup, hosting, summary, granian)
    output = args.output or os.path.join(
        HERE, "results", datetime.date.today().isoformat() + ("-quick" if args.quick else "") + ".md")
    os.makedirs(os.path.dirname(output), exist_ok=True)
    with open(output, "w", encoding="utf-8") as fh:
        fh.write(text)
    print(text.rstrip("\n").rsplit("\n", 1)[0])
    print(f"Written to {os.path.relpath(output, REPO)}")
    failed = sum(r.failed for *_, a, b in rows + bzr_rows for r in (a, b)) + hello.failed
    if failed:
        print(f"bench failed: {failed} requests failed")
        print(summary)
        return 1
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
