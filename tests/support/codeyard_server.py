"""``codeyard serve`` as a real process for functional tests (own process group, stopped by PID)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

from tests.support.servers import free_port, stop_process, wait_for_port


def codeyard_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "codeyard", *args]


def run_codeyard(*args: str, timeout: float = 60, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(codeyard_command(*args), capture_output=True, text=True,
                          timeout=timeout, env=env)


class CodeyardServer:
    """``codeyard serve ARGS --port P``; ``url`` is the site root, ``log()`` its output."""

    def __init__(self, *args: str, workers: int = 1, extra_env: dict[str, str] | None = None,
                 hostname: str = "127.0.0.1", base_path: str = "") -> None:
        self.port = free_port()
        self.args = list(args)
        self.workers = workers
        self.hostname = hostname
        self.base_path = base_path
        self.extra_env = extra_env or {}
        self.proc: subprocess.Popen | None = None
        fd, self.log_path = tempfile.mkstemp(prefix="codeyard-serve-", suffix=".log")
        os.close(fd)

    @property
    def url(self) -> str:
        return f"http://{self.hostname}:{self.port}{self.base_path}/"

    def start(self, timeout: float = 60) -> CodeyardServer:
        command = codeyard_command("serve", "--port", str(self.port), "--hostname", self.hostname,
                                   "--workers", str(self.workers), *self.args)
        if self.base_path:
            command += ["--base-path", self.base_path]
        environ = dict(os.environ)
        environ.update(self.extra_env)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=environ,
                                         start_new_session=True)
        try:
            wait_for_port(self.port, timeout, self.proc)
        except RuntimeError as exc:
            output = self.log()  # read before stop() removes the log
            self.stop()
            raise RuntimeError(f"{exc}\n--- server output ---\n{output}") from None
        return self

    def log(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as fh:
            return fh.read()

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
        try:
            os.unlink(self.log_path)
        except OSError:
            pass

    def __enter__(self) -> CodeyardServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
