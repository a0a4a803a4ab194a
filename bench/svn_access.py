"""How fast each way of reading a Subversion repository is, on the benchmark repository: the
measurement behind the Subversion backend's choice of access layer.

Three candidates, each doing the same five operations a browser, log or changeset page
needs: the youngest revision; a directory listing with each entry's last change; a file's
content; a revision's changed paths with copy sources; the last 100 log entries of a path.

- subvertpy (what codeyard uses: in process, from its own virtualenv);
- Debian's ``svnlook`` command on the repository directory (a process per operation);
- the Subversion bindings (Debian's python3-subversion, for Debian's own Python only: run in
  the Trac side virtualenv, ``var/trac-svn-venv``).

``python -m bench.svn_access [--revisions N] [--rounds N]``; results in
``bench/results/svn_access.md``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from bench import vcs_data  # noqa: E402

RESULTS = os.path.join(HERE, "results", "svn_access.md")
OPERATIONS = ("youngest", "listing", "file", "changes", "log100")

BINDINGS_SCRIPT = r'''
import json, sys, time
from svn import core, fs, repos
root_path, directory, filename, rev, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
pool = core.Pool()
r = repos.svn_repos_open(root_path.encode(), pool)
f = repos.svn_repos_fs(r)

def youngest():
    return fs.youngest_rev(f, pool)

def listing():
    root = fs.revision_root(f, fs.youngest_rev(f, pool), pool)
    out = []
    for name in fs.dir_entries(root, directory.encode(), pool):
        path = directory.encode() + b"/" + name
        out.append((name, fs.node_created_rev(root, path, pool)))
    return out

def read():
    root = fs.revision_root(f, fs.youngest_rev(f, pool), pool)
    stream = fs.file_contents(root, filename.encode(), pool)
    data = core.svn_stream_read_full(stream, 1 << 30)
    core.svn_stream_close(stream)
    return data

def changes():
    root = fs.revision_root(f, rev, pool)
    return {k: (v.change_kind, fs.copied_from(root, k, pool)) for k, v in fs.paths_changed2(root, pool).items()}

def log100():
    got = []
    def receiver(entry, pool):
        got.append(entry.revision)
    repos.svn_repos_get_logs4(r, [directory.encode()], fs.youngest_rev(f, pool), 1, 100, True, False, False, None, None, receiver, pool)
    return got

out = {}
for name, op in (("youngest", youngest), ("listing", listing), ("file", read), ("changes", changes), ("log100", log100)):
    op()
    began = time.perf_counter()
    for _ in range(rounds):
        op()
    out[name] = (time.perf_counter() - began) / rounds * 1000
print(json.dumps(out))
'''


def _time(op, rounds: int) -> float:
    op()
    began = time.perf_counter()
    for _ in range(rounds):
        op()
    return (time.perf_counter() - began) / rounds * 1000


def measure_subvertpy(path: str, directory: str, filename: str, rev: int, rounds: int
                      ) -> dict[str, float]:
    from codeyard.vcs.svn import open_repository

    repos = open_repository(None, "", path, {})

    def listing():
        return [(n.name, n.created_rev) for n in repos.get_node(directory).get_entries()]

    def changes():
        return repos.get_changes(str(rev))

    def log100():
        return list(repos.get_path_history(directory, None, 100))

    ops = {"youngest": lambda: repos.youngest_rev, "listing": listing,
           "file": lambda: repos.get_node(filename).get_content().read(),
           "changes": changes, "log100": log100}
    def uncached(op):
        def run():
            for memo in (repos._facts, repos._changes, repos._logs):
                memo.clear()  # measure the reading, not the backend's caches
            return op()
        return run

    return {name: _time(uncached(op), rounds) for name, op in ops.items()}


def measure_svnlook(path: str, directory: str, filename: str, rev: int, rounds: int
                    ) -> dict[str, float]:
    def run(command: str, *args: str) -> str:
        return subprocess.run(["svnlook", command, path, *args], check=True,
                              capture_output=True, text=True).stdout

    def listing():
        # svnlook has no listing with last changes: the tree, then one history per entry.
        names = run("tree", "--non-recursive", "--full-paths", directory).split()[1:]
        return [subprocess.run(["svnlook", "history", "-l", "1", path, name], check=True,
                               capture_output=True).stdout for name in names]

    def log100():
        # history gives the revisions; their messages need one more process each.
        lines = subprocess.run(["svnlook", "history", "-l", "100", path, directory],
                               check=True, capture_output=True, text=True).stdout.split("\n")
        revs = [line.split()[0] for line in lines[2:] if line.strip()]
        return [run("info", "-r", r) for r in revs]

    ops = {"youngest": lambda: run("youngest"), "listing": listing,
           "file": lambda: subprocess.run(["svnlook", "cat", path, filename], check=True,
                                          capture_output=True).stdout,
           "changes": lambda: run("changed", "--copy-info", "-r", str(rev)), "log100": log100}
    return {name: _time(op, max(1, rounds // 10) if name in ("listing", "log100") else rounds)
            for name, op in ops.items()}


def measure_bindings(path: str, directory: str, filename: str, rev: int, rounds: int
                     ) -> dict[str, float] | None:
    try:
        from tests.support.trac import ensure_trac_svn

        python = ensure_trac_svn().python
    except BaseException as exc:  # pytest.fail raises outside pytest too
        print(f"the Subversion bindings are not available: {exc}", file=sys.stderr)
        return None
    done = subprocess.run([python, "-c", BINDINGS_SCRIPT, path, directory, filename, str(rev),
                           str(rounds)], capture_output=True, text=True)
    if done.returncode != 0:
        print(done.stderr, file=sys.stderr)
        return None
    return json.loads(done.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--revisions", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args(argv)
    path = vcs_data.svn_repository(args.revisions)
    directory = "trunk/src/core"
    listing = subprocess.run(["svnlook", "tree", "--full-paths", path, directory], check=True,
                             capture_output=True, text=True).stdout.split()
    filename = sorted(p for p in listing if p.endswith(".py"))[0]
    rev = args.revisions // 2
    results = {"subvertpy (in process)": measure_subvertpy(path, directory, filename, rev,
                                                           args.rounds),
               "svnlook (a process per call)": measure_svnlook(path, directory, filename, rev,
                                                               args.rounds)}
    bindings = measure_bindings(path, directory, filename, rev, args.rounds)
    if bindings is not None:
        results["Subversion bindings (Debian's Python only)"] = bindings
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = ["# Reading Subversion: the access layers compared", "",
             f"Measured {now} on {platform.machine()} by `python -m bench.svn_access` on the "
             f"benchmark repository ({args.revisions} revisions): milliseconds per operation "
             f"(listing and log of `{directory}`, the file `{filename}`, the changes of "
             f"r{rev}). svnlook cannot list a directory with each entry's last change nor "
             "give log messages with a history, so it runs one more process per entry.", "",
             "| Layer | " + " | ".join(OPERATIONS) + " |",
             "|---|" + "---:|" * len(OPERATIONS)]
    for name, figures in results.items():
        lines.append(f"| {name} | " + " | ".join(f"{figures[op]:.2f}" for op in OPERATIONS)
                     + " |")
    text = "\n".join(lines) + "\n"
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    with open(RESULTS, "w", encoding="utf-8") as fh:
        fh.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
