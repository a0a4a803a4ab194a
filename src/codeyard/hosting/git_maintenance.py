"""Keeping hosted Git repositories fast to serve: one pack with a reachability bitmap
(so clones and fetches count objects from the bitmap instead of walking history) and a
commit graph.

``maintain`` does it now (the ``repository maintain`` admin command); ``note_push``
counts pushes and loose objects and says when it is due, and ``start_in_background``
runs it on a thread so that the push that triggered it returns at once.

Maintenance runs beside pushes, not under their write lock: ``git repack -a -d`` only
deletes the packs it has rewritten and loose objects it has packed, so a pack or object
a concurrent push brings in stays. Two maintenance runs of one repository never
overlap (a lock file of their own; a second one is skipped).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

LOCK_NAME = ".codeyard-maintain.lock"
COUNTER_NAME = ".codeyard-pushes"
TIMEOUT = 6 * 3600


class MaintenanceBusy(Exception):
    """Another maintenance run of the same repository is going on."""


class MaintenanceError(Exception):
    """A git command of the maintenance failed; the message has its output."""


@dataclass
class Thresholds:
    """When maintenance is due after a push (0 turns a criterion off)."""

    pushes: int = 50
    loose_objects: int = 2000
    packs: int = 20


@contextlib.contextmanager
def _exclusive(git_dir: str) -> Iterator[None]:
    fd = os.open(os.path.join(git_dir, LOCK_NAME), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise MaintenanceBusy(f"{git_dir}: maintenance is already running") from None
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _run(git_bin: str, git_dir: str, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("GIT_DIR", "GIT_WORK_TREE",
                                                          "GIT_OBJECT_DIRECTORY")}
    result = subprocess.run([git_bin, f"--git-dir={git_dir}", *args], env=env,
                            capture_output=True, text=True, timeout=TIMEOUT,
                            stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        output = (result.stderr or result.stdout).strip()
        raise MaintenanceError(f"git {' '.join(args)} failed in {git_dir}: {output}")


def pack_count(git_dir: str) -> int:
    try:
        return sum(1 for name in os.listdir(os.path.join(git_dir, "objects", "pack"))
                   if name.endswith(".pack"))
    except OSError:
        return 0


def loose_object_estimate(git_dir: str) -> int:
    """About how many loose objects there are, from one of the 256 fan-out directories
    (as ``git gc --auto`` estimates them)."""
    try:
        return len(os.listdir(os.path.join(git_dir, "objects", "17"))) * 256
    except OSError:
        return 0


def maintain(git_bin: str, git_dir: str) -> dict[str, int]:
    """Repack everything into one pack with a bitmap and write the commit graph. Returns
    the pack counts before and after. Raises ``MaintenanceBusy`` or ``MaintenanceError``."""
    with _exclusive(git_dir):
        before = pack_count(git_dir)
        loose = loose_object_estimate(git_dir)
        _run(git_bin, git_dir, "repack", "-a", "-d", "-q", "--write-bitmap-index")
        _run(git_bin, git_dir, "commit-graph", "write", "--reachable")
        _reset_counter(git_dir)
        return {"packs_before": before, "packs_after": pack_count(git_dir), "loose_before": loose}


def _reset_counter(git_dir: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(os.path.join(git_dir, COUNTER_NAME))


def note_push(git_dir: str, thresholds: Thresholds) -> bool:
    """Count one accepted push; True when maintenance is due. Called under the push
    write lock, so the counter needs no lock of its own."""
    path = os.path.join(git_dir, COUNTER_NAME)
    try:
        with open(path, encoding="ascii") as fh:
            count = int(fh.read().strip() or 0)
    except (OSError, ValueError):
        count = 0
    count += 1
    due = ((thresholds.pushes > 0 and count >= thresholds.pushes)
           or (thresholds.loose_objects > 0
               and loose_object_estimate(git_dir) >= thresholds.loose_objects)
           or (thresholds.packs > 0 and pack_count(git_dir) >= thresholds.packs))
    try:
        with open(path + ".tmp", "w", encoding="ascii") as fh:
            fh.write(f"{0 if due else count}\n")
        os.replace(path + ".tmp", path)
    except OSError:
        pass
    return due


def start_in_background(git_bin: str, git_dir: str, log: logging.Logger) -> threading.Thread:
    """Run ``maintain`` on a thread of its own; failures are logged, never raised."""

    def work() -> None:
        began = time.monotonic()
        try:
            counts = maintain(git_bin, git_dir)
        except MaintenanceBusy:
            return
        except (MaintenanceError, OSError, subprocess.SubprocessError) as exc:
            log.warning("maintenance of %s failed: %s", git_dir, exc)
            return
        log.info("maintained %s in %.1f s: %d packs -> %d", git_dir, time.monotonic() - began,
                 counts["packs_before"], counts["packs_after"])

    thread = threading.Thread(target=work, name="git-maintenance", daemon=False)
    thread.start()
    return thread
