"""The hosting gate: who may pull and push, the challenge, the write lock, after a push."""

from __future__ import annotations

import multiprocessing
import os
import time

import pytest

from codeyard.hosting import gate
from codeyard.perm import PermissionCache, PermissionSystem
from codeyard.web.api import HTTPForbidden, HTTPUnauthorized

pytestmark = pytest.mark.db


class Req:
    def __init__(self, env, user: str) -> None:
        self.env, self.authname = env, user
        self.perm = PermissionCache(env, user)

    @property
    def is_authenticated(self) -> bool:
        return self.authname != "anonymous"


def test_pull_and_push_permissions(env):
    perms = PermissionSystem(env)
    perms.grant("dev", "REPOSITORY_PUSH")
    perms.grant("admin", "VERSIONCONTROL_ADMIN")
    gate.check_access(Req(env, "anonymous"), "", write=False)  # anonymous may browse by default
    with pytest.raises(HTTPUnauthorized) as denied:
        gate.check_access(Req(env, "anonymous"), "", write=True)
    assert dict(denied.value.extra_headers)["WWW-Authenticate"].startswith('Basic realm="')
    with pytest.raises(HTTPForbidden, match="REPOSITORY_PUSH"):
        gate.check_access(Req(env, "someone"), "proj", write=True)
    gate.check_access(Req(env, "dev"), "proj", write=True)
    gate.check_access(Req(env, "admin"), "proj", write=True)
    perms.revoke("anonymous", "FILE_VIEW")
    with pytest.raises(HTTPUnauthorized, match="Log in to read"):
        gate.check_access(Req(env, "anonymous"), "", write=False)


def _hold(directory: str, seconds: float, started) -> None:
    with gate.write_lock(directory):
        started.set()
        time.sleep(seconds)


def test_the_write_lock_serializes_processes_and_dies_with_them(tmp_path):
    ctx = multiprocessing.get_context("fork")
    started = ctx.Event()
    holder = ctx.Process(target=_hold, args=(str(tmp_path), 0.6, started))
    holder.start()
    assert started.wait(10)
    began = time.monotonic()
    with gate.write_lock(str(tmp_path)):
        waited = time.monotonic() - began
    holder.join()
    assert waited > 0.3
    killed = ctx.Process(target=_hold, args=(str(tmp_path), 60, started))
    started.clear()
    killed.start()
    assert started.wait(10)
    os.kill(killed.pid, 9)
    killed.join()
    began = time.monotonic()
    with gate.write_lock(str(tmp_path)):
        assert time.monotonic() - began < 5


def test_after_push_never_raises(env, caplog):
    class Broken:
        name = "broken"
        id = 0

    assert gate.after_push(env, Broken(), "dev") == []
    assert "updating the changeset cache failed" in caplog.text
