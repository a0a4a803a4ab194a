"""``codeyard serve`` as a real process for functional tests (own process group, stopped by PID)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.servers import ServerProcess


def codeyard_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "codeyard", *args]


def run_codeyard(*args: str, timeout: float = 60, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(codeyard_command(*args), capture_output=True, text=True,
                          timeout=timeout, env=env)


class CodeyardServer(ServerProcess):
    """``codeyard serve ARGS --port P``; ``url`` is the site root, ``log()`` its output."""

    label = "codeyard-serve"

    def __init__(self, *args: str, workers: int = 1, extra_env: dict[str, str] | None = None,
                 hostname: str = "127.0.0.1", base_path: str = "") -> None:
        super().__init__()
        self.args = list(args)
        self.workers = workers
        self.hostname = hostname
        self.base_path = base_path
        self.extra_env = extra_env or {}

    @property
    def url(self) -> str:
        return f"http://{self.hostname}:{self.port}{self.base_path}/"

    def command(self) -> list[str]:
        command = codeyard_command("serve", "--port", str(self.port), "--hostname", self.hostname,
                                   "--workers", str(self.workers), *self.args)
        if self.base_path:
            command += ["--base-path", self.base_path]
        return command

    def environ(self) -> dict[str, str]:
        return {**os.environ, **self.extra_env}
