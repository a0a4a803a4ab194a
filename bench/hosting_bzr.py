"""Bazaar hosting benchmark: `brz branch` of the 1,000-revision branch and `brz push` of 50
revisions through codeyard (`codeyard serve`, gunicorn) against `brz serve` (bzr://) in the
same run, with the peak memory of the serving process during the largest reply (the
branch). breezy's own WSGI app (`make_app`, which builds every reply in memory) runs under
the same gunicorn as a third row, to show what the spooled replies save.

The branch comes from ``bench.vcs_data.bzr_branch()`` (a shared repository with ``trunk``,
cached under ``var/bench-data``, read only here: each server gets its own copy).

``python -m bench.hosting_bzr [--revisions N] [--push N] [--repeat N]``
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from tests.support.servers import free_port  # noqa: E402

from bench import vcs_data  # noqa: E402
from bench.run import start, stop  # noqa: E402

BRZ = os.path.join(os.path.dirname(sys.executable), "brz")
USER, PASSWORD = "bench", "bench-pw"

MAKE_APP_WSGI = '''
from breezy.transport.http.wsgi import make_app

application = make_app({root!r}, "/", path_var="PATH_INFO", readonly=False,
                       load_plugins=False, enable_logging=False)
'''


def brz(home: str, *args: str, cwd: str | None = None) -> float:
    env = {"HOME": home, "BRZ_HOME": home, "BRZ_LOG": os.devnull, "BRZ_PLUGIN_PATH": "-site",
           "BRZ_EMAIL": "Bench <bench@example.org>", "PATH": os.environ.get("PATH", "")}
    began = time.perf_counter()
    done = subprocess.run([BRZ, *args], cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"brz {' '.join(args)} failed:\n{done.stderr}")
    return elapsed


def rss_kib(pid: int) -> int:
    """Resident memory of a process and its children (gunicorn's workers), in KiB."""
    total = 0
    pids = [pid]
    while pids:
        current = pids.pop()
        try:
            with open(f"/proc/{current}/status", encoding="ascii") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            with open(f"/proc/{current}/task/{current}/children", encoding="ascii") as fh:
                pids.extend(int(child) for child in fh.read().split())
        except OSError:
            continue
    return total


class PeakRSS:
    """The largest RSS of a process tree while the block runs (sampled every 10 ms)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.baseline = rss_kib(pid)
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_kib(self.pid))
            time.sleep(0.01)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def make_large_branch(workdir: str, home: str, mib: int) -> str:
    """A shared repository whose branch ``trunk`` holds ``mib`` MiB of incompressible files
    (2 MiB each): its `brz branch` reply is about that large."""
    root = os.path.join(workdir, "large")
    brz(home, "init-shared-repo", "-q", "--no-trees", root)
    tree = os.path.join(workdir, "large-work")
    brz(home, "init", "-q", tree)
    for number in range(max(1, mib // 2)):
        with open(os.path.join(tree, f"blob_{number:03d}.bin"), "wb") as fh:
            fh.write(os.urandom(2 << 20))
    brz(home, "add", "-q", cwd=tree)
    brz(home, "commit", "-q", "-m", "Large files", cwd=tree)
    brz(home, "push", "-q", os.path.join(root, "trunk"), cwd=tree)
    shutil.rmtree(tree)
    return root


def make_push_source(source: str, count: int, workdir: str, home: str) -> str:
    """A local branch of trunk with ``count`` more revisions (the push of each run)."""
    tree = os.path.join(workdir, "push-source")
    brz(home, "branch", "-q", os.path.join(source, "trunk"), tree)
    for number in range(count):
        path = os.path.join(tree, "bench", f"push_{number % 10}.txt")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        existed = os.path.exists(path)
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(f"change {number}\n" * 20)
        if not existed:
            brz(home, "add", "-q", path, cwd=tree)
        brz(home, "commit", "-q", "-m", f"Pushed change {number}", cwd=tree)
    return tree


def codeyard_server(root: str, workdir: str):
    from tests.functional.conftest import write_htpasswd

    from codeyard.env import Environment
    from codeyard.perm import PermissionSystem

    htpasswd = write_htpasswd(os.path.join(workdir, "htpasswd"), {USER: PASSWORD})
    env_path = os.path.join(workdir, f"env-{os.path.basename(root)}")
    env = Environment.create(env_path, [
        ("project", "name", "Bazaar hosting bench"), ("logging", "log_type", "none"),
        ("account-manager", "password_file", htpasswd),
        ("repositories", ".dir", root), ("repositories", ".type", "bzr")])
    PermissionSystem(env).grant(USER, "REPOSITORY_PUSH")
    env.shutdown()
    subprocess.run([sys.executable, "-m", "codeyard", "admin", env_path, "repository", "resync",
                    "(default)"], check=True, capture_output=True)
    port = free_port()
    command = [sys.executable, "-m", "codeyard", "serve", "-s", env_path, "--port", str(port),
               "--hostname", "127.0.0.1", "--workers", "1"]
    proc = start(command, port, os.path.join(workdir, "codeyard.log"))
    return proc, f"http://{USER}:{PASSWORD}@127.0.0.1:{port}/bzr"


def brz_serve(root: str, workdir: str):
    port = free_port()
    home = os.path.join(workdir, "serve-home")
    os.makedirs(home, exist_ok=True)
    command = ["env", f"HOME={home}", f"BRZ_HOME={home}", BRZ, "serve", "--allow-writes",
               "--directory", root, "--listen", "127.0.0.1", "--port", str(port)]
    proc = start(command, port, os.path.join(workdir, "brz-serve.log"))
    return proc, f"bzr://127.0.0.1:{port}"


def make_app_server(root: str, workdir: str):
    app_dir = os.path.join(workdir, f"make-app-{os.path.basename(root)}")
    os.makedirs(app_dir)
    with open(os.path.join(app_dir, "breezy_wsgi.py"), "w", encoding="utf-8") as fh:
        fh.write(MAKE_APP_WSGI.format(root=root))
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "--chdir", app_dir, "--bind",
               f"127.0.0.1:{port}", "--workers", "1", "--worker-class", "gthread",
               "--threads", "4", "--no-control-socket", "breezy_wsgi:application"]
    proc = start(command, port, os.path.join(workdir, "make-app.log"))
    return proc, f"http://127.0.0.1:{port}"


SERVERS = [("codeyard (codeyard serve, gunicorn)", codeyard_server),
           ("brz serve (bzr://)", brz_serve),
           ("breezy make_app (gunicorn)", make_app_server)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--revisions", type=int, default=1000)
    parser.add_argument("--push", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--large-mib", type=int, default=64,
                        help="size of the branch whose reply measures the memory")
    args = parser.parse_args(argv)
    source = vcs_data.bzr_branch(args.revisions)
    workdir = tempfile.mkdtemp(prefix="codeyard-bench-bzr-")
    home = os.path.join(workdir, "home")
    os.makedirs(home)
    rows = []
    try:
        push_tree = make_push_source(source, args.push, workdir, home)
        large = make_large_branch(workdir, home, args.large_mib)
        for label, serve in SERVERS:
            branch_times, push_times, peaks, large_peaks = [], [], [], []
            for run in range(args.repeat):
                root = os.path.join(workdir, f"served-{len(rows)}-{run}")
                shutil.copytree(source, root, symlinks=True)
                proc, base = serve(root, workdir)
                try:
                    # Warm the server (imports, caches) with a first branch, then time one.
                    brz(home, "branch", "-q", "--no-tree", f"{base}/trunk",
                        os.path.join(workdir, f"warm-{len(rows)}-{run}"))
                    target = os.path.join(workdir, f"branch-{len(rows)}-{run}")
                    with PeakRSS(proc.pid) as memory:
                        branch_times.append(brz(home, "branch", "-q", f"{base}/trunk", target))
                    peaks.append(memory.peak - memory.baseline)
                    push_times.append(brz(home, "push", "-q", f"{base}/trunk", cwd=push_tree))
                    if brz_revno(home, os.path.join(root, "trunk")) != args.revisions + args.push:
                        raise SystemExit(f"{label}: the push did not arrive")
                finally:
                    stop(proc)
                large_root = os.path.join(workdir, f"large-{len(rows)}-{run}")
                shutil.copytree(large, large_root, symlinks=True)
                proc, base = serve(large_root, workdir)
                try:
                    brz(home, "revno", f"{base}/trunk")
                    with PeakRSS(proc.pid) as memory:
                        brz(home, "branch", "-q", "--no-tree", f"{base}/trunk",
                            os.path.join(workdir, f"large-copy-{len(rows)}-{run}"))
                    large_peaks.append((memory.peak - memory.baseline, memory.peak))
                finally:
                    stop(proc)
                for done in (target, large_root, os.path.join(workdir, f"large-copy-{len(rows)}-{run}"),
                             os.path.join(workdir, f"warm-{len(rows)}-{run}"), root):
                    shutil.rmtree(done, ignore_errors=True)
            rows.append((label, statistics.median(branch_times), statistics.median(push_times),
                         max(peaks), max(p[0] for p in large_peaks),
                         max(p[1] for p in large_peaks)))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print_table(rows, args)
    return 0


def brz_revno(home: str, location: str) -> int:
    env = {"HOME": home, "BRZ_HOME": home, "BRZ_LOG": os.devnull, "PATH": os.environ["PATH"]}
    out = subprocess.run([BRZ, "revno", location], env=env, capture_output=True, text=True,
                         check=True).stdout
    return int(out.strip())


def print_table(rows, args) -> None:
    reference = next(row for row in rows if row[0].startswith("brz serve"))
    print(f"Bazaar hosting: `brz branch` of {args.revisions} revisions, `brz push` of "
          f"{args.push} revisions (median of {args.repeat}, after one warm-up branch); server "
          f"memory: growth of the serving process tree's RSS during the timed branch and "
          f"during `brz branch` of a {args.large_mib} MiB branch (its reply is that large); "
          f"Python {platform.python_version()}, {os.cpu_count()} CPUs\n")
    print("| server | brz branch (s) | × brz serve | brz push (s) | × brz serve | "
          f"RSS growth, branch (MiB) | RSS growth, {args.large_mib} MiB reply (MiB) | "
          "peak RSS (MiB) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for label, branch, push, growth, large_growth, large_peak in rows:
        print(f"| {label} | {branch:.2f} | {branch / reference[1]:.2f} | {push:.2f} | "
              f"{push / reference[2]:.2f} | {growth / 1024:.1f} | {large_growth / 1024:.1f} | "
              f"{large_peak / 1024:.1f} |")


if __name__ == "__main__":
    raise SystemExit(main())
