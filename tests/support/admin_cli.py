"""Run ``codeyard admin`` in-process and capture what it prints."""

from __future__ import annotations

import io
from dataclasses import dataclass

from codeyard.admin.api import AdminContext
from codeyard.admin.console import run_command


@dataclass
class AdminResult:
    rc: int
    out: str
    err: str


def run_admin(env_path: str, *args: str) -> AdminResult:
    out, err = io.StringIO(), io.StringIO()
    ctx = AdminContext(str(env_path), out=out, err=err)
    rc = run_command(ctx, list(args))
    return AdminResult(rc, out.getvalue(), err.getvalue())


def admin_ok(env_path: str, *args: str) -> str:
    """Run a command that must succeed; return its output."""
    result = run_admin(env_path, *args)
    assert result.rc == 0, f"codeyard admin {' '.join(args)} failed: {result.err}{result.out}"
    return result.out
