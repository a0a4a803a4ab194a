"""The real ``tracd`` of the Trac 1.6 side virtualenv as a process (own group, stopped by PID)."""

from __future__ import annotations

import os

from tests.support.servers import ServerProcess
from tests.support.trac import TracInstall, _clean_env


class TracdServer(ServerProcess):
    """``tracd -s ENV`` on 127.0.0.1; ``url`` is the project root, ``log()`` its output."""

    label = "tracd"

    def __init__(self, trac: TracInstall, env_path: str) -> None:
        super().__init__()
        self.trac = trac
        self.env_path = str(env_path)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def command(self) -> list[str]:
        tracd = os.path.join(os.path.dirname(self.trac.python), "tracd")
        return [tracd, "--hostname", "127.0.0.1", "--port", str(self.port), "-s", self.env_path]

    def environ(self) -> dict[str, str]:
        return _clean_env()
