"""Fixtures of the admin command tests: run the real console in-process."""

from __future__ import annotations

import io
import sys
from dataclasses import dataclass

import pytest

from codeyard.admin.console import main


@dataclass
class Result:
    rc: int
    out: str
    err: str


@pytest.fixture
def admin(env, capsys, monkeypatch):
    """admin('component', 'list') runs `codeyard admin ENV component list` in-process."""

    def run(*args: str, stdin: str | None = None) -> Result:
        capsys.readouterr()
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        rc = main([env.path, *args])
        captured = capsys.readouterr()
        return Result(rc, captured.out, captured.err)

    return run
