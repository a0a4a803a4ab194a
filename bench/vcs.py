"""Version control benchmark: codeyard's browser, source, log and changeset pages against
Trac 1.6's Git browser on the same Git repository, and against Loggerhead (the Bazaar web
viewer) on the same Bazaar branch, in the same run; plus the time of a full resync of each
repository.

The repositories come from ``bench.vcs_data`` (5,000 Git commits, 1,000 Bazaar revisions of
real source text, cached under ``var/bench-data``). codeyard and Trac serve copies of one
environment under the same gunicorn settings; Loggerhead runs from its own virtualenv
(``var/loggerhead-venv``, made on first use from PyPI). Results go to
``bench/results/vcs.md``.

``python -m bench.vcs [--commits N] [--revisions N] [--requests N] [--concurrency N]``
"""

from __future__ import annotations

import argparse
import datetime
import functools
import os
import platform
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

from bench import vcs_data  # noqa: E402
from bench.run import (  # noqa: E402
    Result,
    add_load_arguments,
    fetch,
    measure,
    measure_in_turns,
    publish,
    start,
    stop,
)
from bench.tickets import serve_codeyard, serve_trac  # noqa: E402

RESULTS = os.path.join(HERE, "results", "vcs.md")
LOGGERHEAD_VENV = os.path.join(REPO, "var", "loggerhead-venv")


def git(repo: str, *args: str) -> str:
    return subprocess.run(["git", "--git-dir", repo, *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def largest_diff_commit(repo: str) -> str:
    """The commit editing 2,000 lines of the generated tables file (the large diff)."""
    return git(repo, "log", "--format=%H", "--diff-filter=M", "--", vcs_data.LARGE_FILE).split()[0]


def some_file(repo: str) -> str:
    files = git(repo, "ls-tree", "-r", "--name-only", "HEAD").splitlines()
    return sorted(f for f in files if f.startswith("src/core/"))[0]


def build_env(workdir: str, git_repo: str, bzr_root: str | None) -> tuple[str, float, float]:
    """An environment with the Git repository as default and the Bazaar tree as ``bzr``;
    returns (path, git resync seconds, bzr resync seconds)."""
    from codeyard.env import Environment

    path = os.path.join(workdir, "vcs-bench")
    settings = [("project", "name", "VCS bench"), ("logging", "log_type", "none"),
                ("repositories", ".dir", git_repo), ("repositories", ".type", "git")]
    if bzr_root:
        settings += [("repositories", "bzr.dir", bzr_root), ("repositories", "bzr.type", "bzr")]
    Environment.create(path, settings).shutdown()
    timings = [timed_resync([sys.executable, "-m", "codeyard", "admin"], path, name)
               for name in (("(default)", "bzr") if bzr_root else ("(default)",))]
    return path, timings[0], timings[1] if len(timings) > 1 else 0.0


def timed_resync(admin: list[str], env_path: str, name: str, environ=None) -> float:
    """Seconds of ``ADMIN ENV repository resync NAME`` (codeyard's or Trac's admin command)."""
    began = time.perf_counter()
    done = subprocess.run([*admin, env_path, "repository", "resync", name], capture_output=True,
                          text=True, env=environ)
    if done.returncode != 0:
        raise SystemExit(f"resync of {name} failed: {done.stderr or done.stdout}")
    return time.perf_counter() - began


def trac_copy(env_path: str, workdir: str, connector: str = "git") -> str:
    """The same environment for Trac: its ``connector`` (git, svn) enabled, the Bazaar
    repository (a type Trac does not know) left out."""
    copy = os.path.join(workdir, "vcs-bench-trac")
    shutil.copytree(env_path, copy)
    ini = os.path.join(copy, "conf", "trac.ini")
    with open(ini, encoding="utf-8") as fh:
        lines = [line for line in fh if not line.startswith("bzr.")]
    text = "".join(lines) + f"\n[components]\ntracopt.versioncontrol.{connector}.* = enabled\n"
    with open(ini, "w", encoding="utf-8") as fh:
        fh.write(text)
    return copy


def loggerhead_serve() -> str:
    exe = os.path.join(LOGGERHEAD_VENV, "bin", "loggerhead-serve")
    if not os.path.exists(exe):
        subprocess.run([sys.executable, "-m", "venv", LOGGERHEAD_VENV], check=True)
        subprocess.run([os.path.join(LOGGERHEAD_VENV, "bin", "pip"), "install", "-q",
                        "loggerhead"], check=True)
    return exe


def serve_loggerhead(bzr_root: str, workdir: str):
    port = free_port()
    home = os.path.join(workdir, "lh-home")
    os.makedirs(home, exist_ok=True)
    command = ["env", f"HOME={home}", f"BRZ_HOME={home}", loggerhead_serve(), "--host",
               "127.0.0.1", "--port", str(port), "--cache-dir", os.path.join(workdir, "lh-cache"),
               "--log-folder", workdir,
               bzr_root]
    return port, start(command, port, os.path.join(workdir, "loggerhead.log"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=5000)
    parser.add_argument("--revisions", type=int, default=1000)
    add_load_arguments(parser, requests=1_000_000, time_limit=5.0, rounds=3)
    parser.add_argument("--no-bzr", action="store_true", help="only the Git comparison")
    args = parser.parse_args(argv)
    git_repo = vcs_data.git_repository(args.commits)
    bzr_root = None if args.no_bzr else vcs_data.bzr_branch(args.revisions)
    workdir = tempfile.mkdtemp(prefix="codeyard-bench-vcs-")
    try:
        env_path, git_sync, bzr_sync = build_env(workdir, git_repo, bzr_root)
        trac_env = trac_copy(env_path, workdir)
        source = some_file(git_repo)
        big = largest_diff_commit(git_repo)
        git_pages = [("Browser root", "/browser"), ("Source file", f"/browser/{source}"),
                     ("Log", "/log/"), ("Changeset (large diff)", f"/changeset/{big}")]
        # The three servers run side by side and each page is measured on both of its
        # sides in turns (``measure_in_turns``).
        servers = []
        try:
            port, proc = serve_codeyard(env_path, args, workdir)
            servers.append(proc)
            trac_port, proc = serve_trac(trac_env, args, workdir)
            servers.append(proc)
            bzr_pages = []
            if bzr_root:
                lh_port, proc = serve_loggerhead(bzr_root, workdir)
                servers.append(proc)
                bzr_file = bzr_source_file(bzr_root)
                bzr_pages = [("Branch files", "/browser/bzr/trunk", "/trunk/files"),
                             ("Source file", f"/browser/bzr/trunk/{bzr_file}",
                              f"/trunk/view/head:/{bzr_file}"),
                             ("Changes", "/log/bzr/trunk", "/trunk/changes"),
                             ("Revision", f"/changeset/{bzr_mid_rev(port)}/bzr",
                              f"/trunk/revision/{args.revisions // 2}")]
            # (table, server, port, path) of each side of each page
            pairs = [(name, [("codeyard", "codeyard", port, path),
                             ("Trac 1.6", "Trac", trac_port, path)])
                     for name, path in git_pages]
            pairs += [(name, [("codeyard bzr", "codeyard", port, ours),
                              ("Loggerhead", "Loggerhead", lh_port, theirs)])
                      for name, ours, theirs in bzr_pages]
            results: dict[str, list[Result]] = {}
            for name, sides in pairs:
                measured = measure_in_turns(
                    [functools.partial(measure, f"{server}: {name}", side_port, path, args,
                                       workdir) for _, server, side_port, path in sides],
                    args.rounds)
                for (table, *_), result in zip(sides, measured, strict=True):
                    results.setdefault(table, []).append(result)
        finally:
            for proc in servers:
                stop(proc)
        text = report(results, git_pages, bzr_pages, args, git_sync, bzr_sync)
        publish(RESULTS, text)
        return 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def bzr_source_file(root: str) -> str:
    trunk = os.path.join(root, "trunk", "src", "core")
    return "src/core/" + sorted(n for n in os.listdir(trunk) if n.endswith(".py"))[0]


def bzr_mid_rev(port: int) -> str:
    """The revision in the middle of the branch as codeyard names it in its URLs (found by
    following the log page's link rather than guessing the scheme)."""
    import re

    status, body = fetch(port, "/log/bzr/trunk?limit=600")
    if status != 200:
        raise RuntimeError(f"codeyard: /log/bzr/trunk answered {status}")
    links = re.findall(rb'href="[^"]*/changeset/([^"/?#]+)/bzr"', body)
    if not links:
        raise RuntimeError("no changeset links on codeyard's Bazaar log page")
    from urllib.parse import unquote

    return unquote(links[min(len(links) - 1, 500)].decode())


def row(name: str, path: str, ours: Result, theirs: Result) -> str:
    """A line of the comparison tables: both servers' req/s, p50 and p99, and the ratio."""
    ratio = ours.rps / theirs.rps if theirs.rps else 0.0
    return (f"| {name} (`{path}`) | {ours.rps:,.1f} | {ours.p50_ms:.1f} | {ours.p99_ms:.1f} "
            f"| {theirs.rps:,.1f} | {theirs.p50_ms:.1f} | {theirs.p99_ms:.1f} | {ratio:.1f}x |")


def failures(results: dict[str, list[Result]]) -> str:
    return "Failed requests: " + ", ".join(
        f"{r.label} {r.failed}" for rs in results.values() for r in rs)


def report(results, git_pages, bzr_pages, args, git_sync: float, bzr_sync: float) -> str:
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = ["# Version control pages: codeyard against Trac 1.6 (Git) and Loggerhead (Bazaar)",
             "", f"Measured {when} on {platform.machine()} ({platform.python_version()}) by "
             f"`python -m bench.vcs`: a Git repository of {args.commits} commits and a Bazaar "
             f"branch of {args.revisions} revisions (real source text); codeyard and Trac under "
             f"gunicorn with {args.workers} workers, Loggerhead's own server; `{args.client}`, "
             f"{args.concurrency} concurrent connections, {args.time_limit:.0f} s per page (at "
             f"most {args.requests:,} requests); the three servers run side by side and each "
             f"page is measured {args.rounds} times on each side, the two sides taking turns "
             "(A B, B A, A B); each figure is that of the round with the median requests/s.",
             "",
             f"Full resync into the changeset cache: Git {git_sync:.1f} s, Bazaar {bzr_sync:.1f} s "
             "(the whole `codeyard admin … repository resync` command).", "",
             "| Git page | codeyard req/s | p50 ms | p99 ms | Trac req/s | p50 ms | p99 ms | ratio |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for index, (name, path) in enumerate(git_pages):
        lines.append(row(name, path, results["codeyard"][index], results["Trac 1.6"][index]))
    if bzr_pages:
        lines += ["", "| Bazaar page | codeyard req/s | p50 ms | p99 ms | Loggerhead req/s | "
                  "p50 ms | p99 ms | ratio |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for index, (name, path, _) in enumerate(bzr_pages):
            lines.append(row(name, path, results["codeyard bzr"][index],
                             results["Loggerhead"][index]))
    lines += ["", failures(results), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
