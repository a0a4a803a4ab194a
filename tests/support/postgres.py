"""A throwaway PostgreSQL cluster started by the suite (initdb + postgres in a temp dir)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time

from tests.support.servers import free_port, stop_process, wait_for_port


def _bin(name: str) -> str:
    for path in sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True):
        return path
    found = shutil.which(name)
    if found:
        return found
    raise RuntimeError(f"PostgreSQL's {name} is not installed: run `make system-deps`")


def _memory_dir() -> str | None:
    """/dev/shm when it has room: each test's schema is a few hundred files, which PostgreSQL
    creates and the suite deletes at its end (seconds per thousand tests on a disk)."""
    try:
        st = os.statvfs("/dev/shm")
    except OSError:
        return None
    if st.f_bavail * st.f_frsize < 4 << 30 or not os.access("/dev/shm", os.W_OK):
        return None
    return "/dev/shm"


class PostgresServer:
    def __init__(self, max_connections: int = 200) -> None:
        self.max_connections = max_connections
        self.port = free_port()
        self.base = tempfile.mkdtemp(prefix="codeyard-pg-", dir=_memory_dir())
        os.chmod(self.base, 0o755)
        self.data = os.path.join(self.base, "data")
        self.sock = os.path.join(self.base, "sock")
        os.makedirs(self.sock)
        self.proc: subprocess.Popen | None = None
        self.as_postgres = os.getuid() == 0

    def _run_as(self, args: list[str], **kw):
        if self.as_postgres:
            pw = pwd.getpwnam("postgres")

            def demote():
                os.setgid(pw.pw_gid)
                os.setuid(pw.pw_uid)

            kw["preexec_fn"] = demote
        return kw

    def start(self) -> PostgresServer:
        if self.as_postgres:
            pw = pwd.getpwnam("postgres")
            for path in (self.base, self.sock):
                os.chown(path, pw.pw_uid, pw.pw_gid)
        kw = self._run_as([])
        subprocess.run([_bin("initdb"), "-D", self.data, "-A", "trust", "-U", "postgres",
                        "-E", "UTF8", "--no-locale"], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, **kw)
        log = open(os.path.join(self.base, "log"), "w")
        self.proc = subprocess.Popen(
            [_bin("postgres"), "-D", self.data, "-p", str(self.port), "-h", "127.0.0.1",
             "-k", self.sock, "-c", "fsync=off", "-c", "synchronous_commit=off",
             "-c", "full_page_writes=off", "-c", f"max_connections={self.max_connections}"],
            stdout=subprocess.DEVNULL, stderr=log,
            start_new_session=True, **self._run_as([]))
        log.close()  # the child keeps its own descriptor
        wait_for_port(self.port, 60, self.proc)
        # Ready to accept connections a moment after the port opens.
        for _ in range(100):
            r = subprocess.run([_bin("psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                                "-c", "SELECT 1", "postgres"], capture_output=True)
            if r.returncode == 0:
                break
            time.sleep(0.1)
        self.psql("CREATE DATABASE codeyard_test")
        return self

    def psql(self, sql: str, db: str = "postgres") -> str:
        r = subprocess.run([_bin("psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                            "-v", "ON_ERROR_STOP=1", "-tA", "-c", sql, db],
                           capture_output=True, text=True)
        if r.returncode:
            raise RuntimeError(r.stderr)
        return r.stdout

    def url(self, schema: str | None = None, db: str = "codeyard_test") -> str:
        query = f"?schema={schema}" if schema else ""
        return f"postgres://postgres@127.0.0.1:{self.port}/{db}{query}"

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
        shutil.rmtree(self.base, ignore_errors=True)
