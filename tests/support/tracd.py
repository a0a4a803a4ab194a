"""The real ``tracd`` of the Trac 1.6 side virtualenv as a process (own group, stopped by PID)."""

from __future__ import annotations

import os
import subprocess
import tempfile

from tests.support.servers import free_port, stop_process, wait_for_port
from tests.support.trac import TracInstall, _clean_env


class TracdServer:
    """``tracd -s ENV`` on 127.0.0.1; ``url`` is the project root, ``log()`` its output."""

    def __init__(self, trac: TracInstall, env_path: str) -> None:
        self.trac = trac
        self.env_path = str(env_path)
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        fd, self.log_path = tempfile.mkstemp(prefix="tracd-", suffix=".log")
        os.close(fd)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self, timeout: float = 60) -> TracdServer:
        tracd = os.path.join(os.path.dirname(self.trac.python), "tracd")
        command = [tracd, "--hostname", "127.0.0.1", "--port", str(self.port), "-s",
                   self.env_path]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=_clean_env(),
                                         start_new_session=True)
        try:
            wait_for_port(self.port, timeout, self.proc)
        except RuntimeError as exc:
            self.stop()
            raise RuntimeError(f"{exc}\n--- tracd output ---\n{self.log()}") from None
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

    def __enter__(self) -> TracdServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
