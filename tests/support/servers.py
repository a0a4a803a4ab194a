"""Real servers for the tests: free ports, waiting for readiness, stopping by PID."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with status {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listened on port {port} within {timeout} s")


def stop_process(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(5)


def require_binary(name: str, *candidates: str) -> str:
    """The path of a real component; a missing one fails the test (never a skip)."""
    for candidate in (name, *candidates):
        path = shutil.which(candidate) or (candidate if os.path.isfile(candidate) else None)
        if path:
            return path
    raise RuntimeError(f"{name} is not installed: run `make system-deps` (scripts/install-system-deps.sh)")


class ServerProcess:
    """A server started as a process of its own group on a free 127.0.0.1 port, its output
    in a temporary log; stopped by PID. Subclasses say how to start it (``command``)."""

    label = "server"

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        fd, self.log_path = tempfile.mkstemp(prefix=f"{self.label}-", suffix=".log")
        os.close(fd)

    def command(self) -> list[str]:
        raise NotImplementedError

    def environ(self) -> dict[str, str]:
        return dict(os.environ)

    def start(self, timeout: float = 60):
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=self.environ(),
                                         start_new_session=True)
        try:
            wait_for_port(self.port, timeout, self.proc)
        except RuntimeError as exc:
            output = self.log()  # read before stop() removes the log
            self.stop()
            raise RuntimeError(f"{exc}\n--- {self.label} output ---\n{output}") from None
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

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
