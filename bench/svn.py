"""Subversion benchmark: codeyard's browser, source, log and changeset pages against Trac 1.6's
Subversion browser (``tracopt.versioncontrol.svn``) on the same repository, in the same run;
plus the time of a full resync of the repository by each.

The repository comes from ``bench.vcs_data.svn_repository`` (2,000 revisions of real source
text with trunk, branches and tags, cached under ``var/bench-data``). codeyard and Trac serve
copies of one environment under the same gunicorn settings as ``bench.vcs``; Trac runs from
the virtualenv with Debian's Subversion bindings (``var/trac-svn-venv``). Results go to
``bench/results/svn.md``.

``python -m bench.svn [--revisions N] [--requests N] [--concurrency N] [--client ab|python]``
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from tests.support.trac import _clean_env, ensure_trac_svn  # noqa: E402

from bench import vcs_data  # noqa: E402
from bench.run import Result, add_load_arguments, measure, publish, stop  # noqa: E402
from bench.tickets import serve_codeyard, serve_trac  # noqa: E402
from bench.vcs import failures, row, timed_resync, trac_copy  # noqa: E402

RESULTS = os.path.join(HERE, "results", "svn.md")


def svnlook(*args: str) -> str:
    return subprocess.run(["svnlook", *args], check=True, capture_output=True,
                          text=True).stdout


def large_diff_revision(repo: str) -> int:
    """The revision editing every other line of the generated tables file (its last change)."""
    lines = svnlook("history", repo, "/trunk/" + vcs_data.LARGE_FILE).splitlines()[2:]
    return int(lines[0].split()[0])


def small_revision(repo: str, below: int) -> int:
    """The newest revision under ``below`` that only edits one to three files of the trunk."""
    for rev in range(below - 1, 1, -1):
        rows = svnlook("changed", "-r", str(rev), repo).splitlines()
        if 1 <= len(rows) <= 3 and all(r.startswith("U   trunk/") for r in rows):
            return rev
    raise RuntimeError("no small trunk changeset in the repository")


def some_file(repo: str) -> str:
    paths = svnlook("tree", "--full-paths", repo, "/trunk/src/core").split()
    return sorted(p for p in paths if p.endswith(".py"))[0].lstrip("/")


def build_env(workdir: str, svn_repo: str) -> tuple[str, float]:
    """An environment with the Subversion repository as default; (path, resync seconds)."""
    from codeyard.env import Environment

    path = os.path.join(workdir, "vcs-bench")
    Environment.create(path, [("project", "name", "Subversion bench"),
                              ("logging", "log_type", "none"),
                              ("repositories", ".dir", svn_repo),
                              ("repositories", ".type", "svn")]).shutdown()
    return path, timed_resync([sys.executable, "-m", "codeyard", "admin"], path, "(default)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--revisions", type=int, default=2000)
    add_load_arguments(parser, requests=400, time_limit=15.0)
    args = parser.parse_args(argv)
    svn_repo = vcs_data.svn_repository(args.revisions)
    trac_python = ensure_trac_svn().python
    workdir = tempfile.mkdtemp(prefix="codeyard-bench-svn-")
    try:
        env_path, codeyard_sync = build_env(workdir, svn_repo)
        trac_env = trac_copy(env_path, workdir, connector="svn")
        trac_sync = timed_resync([trac_python, "-m", "trac.admin.console"], trac_env,
                                 "(default)", environ=_clean_env())
        big = large_diff_revision(svn_repo)
        pages = [("Browser root", "/browser"), ("Trunk", "/browser/trunk"),
                 ("Source file", f"/browser/{some_file(svn_repo)}"), ("Log", "/log/trunk"),
                 ("Changeset (large diff)", f"/changeset/{big}"),
                 ("Changeset (small)", f"/changeset/{small_revision(svn_repo, big - 1)}")]
        servers = [("codeyard", lambda: serve_codeyard(env_path, args, workdir)),
                   ("Trac 1.6", lambda: serve_trac(trac_env, args, workdir, python=trac_python))]
        results: dict[str, list[Result]] = {}
        for label, serve in servers:
            port, proc = serve()
            try:
                results[label] = [measure(f"{label}: {name}", port, path, args, workdir)
                                  for name, path in pages]
            finally:
                stop(proc)
        text = report(results, pages, args, codeyard_sync, trac_sync)
        publish(RESULTS, text)
        return 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def report(results, pages, args, codeyard_sync: float, trac_sync: float) -> str:
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = ["# Subversion pages: codeyard against Trac 1.6 on the same repository", "",
             f"Measured {when} on {platform.machine()} ({platform.python_version()}) by "
             f"`python -m bench.svn`: a Subversion repository of {args.revisions} revisions "
             "(real source text; trunk, branches, tags, moves and properties); both servers "
             f"under gunicorn with {args.workers} workers; `{args.client}`, {args.concurrency} "
             f"concurrent connections, at most {args.requests} requests or "
             f"{args.time_limit:.0f} s per page.", "",
             f"Full resync into the changeset cache: codeyard {codeyard_sync:.1f} s "
             f"(`codeyard admin … repository resync`), Trac {trac_sync:.1f} s "
             "(`trac-admin … repository resync`).", "",
             "| Page | codeyard req/s | p50 ms | p99 ms | Trac req/s | p50 ms | p99 ms | ratio |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for index, (name, path) in enumerate(pages):
        lines.append(row(name, path, results["codeyard"][index], results["Trac 1.6"][index]))
    lines += ["", failures(results), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
