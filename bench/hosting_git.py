"""Git hosting speed: ``git clone --bare`` of the benchmark repository (5,000 commits, from
``bench.vcs_data``) and a push of its whole history, through codeyard's Git smart HTTP
served by ``codeyard serve -s`` (2 workers, 4 threads), against plain ``git http-backend``
behind a minimal WSGI wrapper (``plain_backend`` below) under gunicorn with the same worker
and thread counts, and against a local ``git clone --no-local``.

codeyard's push includes what every push does there before it returns: the changeset
cache filled with the pushed history and the ticket updater run over it.

``python -m bench.hosting_git [--commits N] [--clones N] [--pushes N]`` prints a markdown
table (not part of ``make bench``).
"""

from __future__ import annotations

import argparse
import os
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

from tests.support.servers import free_port, stop_process, wait_for_port  # noqa: E402

from bench import vcs_data  # noqa: E402

USER, PASSWORD = "bench", "bench-push"


# ---------------------------------------------------------------------------
# The reference: git http-backend as a CGI program behind the smallest WSGI wrapper


def plain_backend(environ, start_response):
    """WSGI -> CGI for ``git http-backend`` serving ``$GIT_PROJECT_ROOT``, nothing else."""
    cgi = {k: v for k, v in environ.items() if isinstance(v, str)}
    cgi.update(GIT_PROJECT_ROOT=os.environ["GIT_PROJECT_ROOT"], GIT_HTTP_EXPORT_ALL="1",
               PATH=os.environ.get("PATH", ""))
    if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        cgi.pop("CONTENT_LENGTH", None)
    proc = subprocess.Popen(["git", "http-backend"], env=cgi, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, bufsize=0)

    def feed():
        with proc.stdin:
            while data := environ["wsgi.input"].read(65536):
                proc.stdin.write(data)

    threading.Thread(target=feed, daemon=True).start()
    head = b""
    while b"\r\n\r\n" not in head and (data := proc.stdout.read(65536)):
        head += data
    head, _, rest = head.partition(b"\r\n\r\n")
    headers = [tuple(p.strip() for p in line.decode("latin-1").split(":", 1))
               for line in head.split(b"\r\n") if line]
    status = next((v for k, v in headers if k.lower() == "status"), "200 OK")
    start_response(status, [(k, v) for k, v in headers if k.lower() != "status"])

    def body():
        yield rest
        while data := proc.stdout.read(65536):
            yield data
        proc.wait()

    return body()


# ---------------------------------------------------------------------------
# The run


def gunicorn(port: int, app: str, env_vars: dict[str, str], log: str) -> subprocess.Popen:
    return start([sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", "2",
                  "-k", "gthread", "--threads", "4", "--timeout", "900", "--chdir", REPO,
                  *(arg for k, v in env_vars.items() for arg in ("-e", f"{k}={v}")), app],
                 port, log)


def codeyard_serve(port: int, env_path: str, log: str) -> subprocess.Popen:
    return start([sys.executable, "-m", "codeyard", "serve", "-s", env_path, "--port", str(port),
                  "--workers", "2", "--threads", "4", "--no-access-log"], port, log)


def start(command: list[str], port: int, log: str) -> subprocess.Popen:
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    wait_for_port(port, 60, proc)
    return proc


def git_environ(home: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(HOME=home, GIT_CONFIG_NOSYSTEM="1", GIT_TERMINAL_PROMPT="0")
    return env


def timed(command: list[str], env: dict[str, str]) -> float:
    began = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True, timeout=1800)
    return time.perf_counter() - began


def make_environment(root: str, served: str) -> str:
    import bcrypt

    from codeyard.env import Environment
    from codeyard.perm import PermissionSystem
    from codeyard.vcs import cache
    from codeyard.vcs.manager import RepositoryManager

    htpasswd = os.path.join(root, "htpasswd")
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    with open(htpasswd, "w", encoding="ascii") as fh:
        fh.write(f"{USER}:$2y${hashed[4:]}\n")
    env = Environment.create(os.path.join(root, "env"), [
        ("project", "name", "Git hosting bench"), ("logging", "log_type", "none"),
        ("account-manager", "password_file", htpasswd),
        ("git", "maintain_after_pushes", "0"), ("git", "maintain_loose_objects", "0"),
        ("git", "maintain_packs", "0")])
    manager = RepositoryManager(env)
    manager.add_repository("main", served, "git")
    cache.sync(env, manager.get_repository("main"))  # as a hosted repository would be
    PermissionSystem(env).grant(USER, "REPOSITORY_PUSH")
    path = env.path
    env.shutdown()
    return path


def add_push_target(env_path: str, name: str, directory: str) -> None:
    from codeyard.env import open_environment
    from codeyard.vcs.manager import RepositoryManager

    env = open_environment(env_path, use_cache=False)
    try:
        RepositoryManager(env).add_repository(name, directory, "git")
    finally:
        env.shutdown()


def sync_time(env_path: str, name: str, directory: str) -> float:
    """How long the after-push work takes alone: the cache filled with the whole history
    and the ticket updater told of every changeset, in process."""
    from codeyard.env import open_environment
    from codeyard.hosting import gate
    from codeyard.vcs.manager import RepositoryManager

    add_push_target(env_path, name, directory)
    env = open_environment(env_path, use_cache=False)
    try:
        repos = RepositoryManager(env).get_repository(name)
        began = time.perf_counter()
        gate.after_push(env, repos, USER)
        return time.perf_counter() - began
    finally:
        env.shutdown()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commits", type=int, default=5000)
    parser.add_argument("--clones", type=int, default=3, help="clones per server (median)")
    parser.add_argument("--pushes", type=int, default=2, help="pushes per server (median)")
    args = parser.parse_args(argv)

    source = vcs_data.git_repository(args.commits)  # shared data: only read
    root = tempfile.mkdtemp(prefix="codeyard-bench-git-")
    genv = git_environ(root)
    procs: list[subprocess.Popen] = []
    try:
        repos_root = os.path.join(root, "repos")
        os.makedirs(repos_root)
        served = os.path.join(repos_root, "main.git")
        subprocess.run(["git", "clone", "-q", "--bare", "--no-local", source, served],
                       env=genv, check=True)
        # Both servers serve the same repository, kept as codeyard keeps it.
        subprocess.run(["git", f"--git-dir={served}", "repack", "-a", "-d", "-q",
                        "--write-bitmap-index"], env=genv, check=True)
        subprocess.run(["git", f"--git-dir={served}", "commit-graph", "write", "--reachable"],
                       env=genv, check=True, capture_output=True)
        env_path = make_environment(root, served)

        cy_port, plain_port = free_port(), free_port()
        procs.append(codeyard_serve(cy_port, env_path, os.path.join(root, "codeyard.log")))
        procs.append(gunicorn(plain_port, "bench.hosting_git:plain_backend",
                              {"GIT_PROJECT_ROOT": repos_root}, os.path.join(root, "plain.log")))
        cy_url = f"http://127.0.0.1:{cy_port}/git"
        plain_url = f"http://127.0.0.1:{plain_port}"
        cy_push_url = f"http://{USER}:{PASSWORD}@127.0.0.1:{cy_port}/git"

        sources = {"codeyard": f"{cy_url}/main", "plain": f"{plain_url}/main.git", "local": None}
        clones: dict[str, list[float]] = {label: [] for label in sources}
        for n in range(args.clones + 1):  # interleaved; the first round warms up the caches
            for label, url in sources.items():
                target = os.path.join(root, f"clone-{label}-{n}")
                command = (["git", "clone", "-q", "--bare", url, target] if url else
                           ["git", "clone", "-q", "--bare", "--no-local", served, target])
                elapsed = timed(command, genv)
                shutil.rmtree(target)
                if n:
                    clones[label].append(elapsed)

        pushes: dict[str, list[float]] = {"codeyard": [], "plain": []}
        for n in range(args.pushes):
            for label in ("codeyard", "plain"):
                name = f"push-{label}-{n}"
                target = os.path.join(repos_root, f"{name}.git")
                subprocess.run(["git", "init", "-q", "--bare", "-b", "master", target],
                               env=genv, check=True)
                if label == "codeyard":
                    add_push_target(env_path, name, target)
                    url = f"{cy_push_url}/{name}"
                else:
                    subprocess.run(["git", f"--git-dir={target}", "config", "http.receivepack",
                                    "true"], env=genv, check=True)
                    url = f"{plain_url}/{name}.git"
                pushes[label].append(timed(["git", f"--git-dir={served}", "push", "-q", url,
                                            "refs/heads/*:refs/heads/*"], genv))
                head = subprocess.run(["git", f"--git-dir={target}", "rev-parse", "master"],
                                      env=genv, capture_output=True, text=True, check=True)
                assert head.stdout.strip(), f"the push to {name} arrived empty"
        sync = sync_time(env_path, "sync-only", os.path.join(repos_root, "push-plain-0.git"))
    finally:
        for proc in procs:
            stop_process(proc, timeout=15)
        shutil.rmtree(root, ignore_errors=True)

    def med(values: list[float]) -> float:
        return statistics.median(values)

    rows = [
        ("`git clone --bare`", med(clones["codeyard"]), med(clones["plain"]), med(clones["local"])),
        ("`git push` of the whole history", med(pushes["codeyard"]), med(pushes["plain"]), None),
    ]
    print(f"Git hosting, {args.commits} commits ({args.clones} clones / {args.pushes} pushes "
          "each, median; `codeyard serve` and gunicorn -k gthread, both 2 workers of 4 "
          "threads)\n")
    print("| operation | codeyard | plain git http-backend | ratio | local `clone --no-local` |")
    print("|---|---:|---:|---:|---:|")
    for label, ours, plain, local in rows:
        local_text = f"{local:.2f} s" if local is not None else "–"
        print(f"| {label} | {ours:.2f} s | {plain:.2f} s | {ours / plain:.2f}× | {local_text} |")
    print(f"\nThe after-push work alone (the changeset cache and the ticket updater over "
          f"{args.commits} changesets, run apart on the pushed repository) takes {sync:.2f} s; "
          "codeyard's push includes it.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
