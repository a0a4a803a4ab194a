"""The real Trac 1.6, installed by the suite into a side virtualenv (``var/trac-venv``).

The environment is built once with ``python3 -m venv`` and ``pip install trac==1.6 Pygments
docutils psycopg2-binary`` and reused while it works. A failed installation fails the tests that
need it, with pip's output: the compatibility tests must not pass without Trac.
"""

from __future__ import annotations

import atexit
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TRAC_VENV = REPO_ROOT / "var" / "trac-venv"
TRAC_REQUIREMENTS = ["trac==1.6", "psycopg2-binary", "Pygments", "docutils"]
_PROBE = "import trac, psycopg2, pygments, docutils; assert trac.__version__ == '1.6', trac.__version__"


@dataclass
class TracInstall:
    venv: Path

    @property
    def python(self) -> str:
        return str(self.venv / "bin" / "python")

    @property
    def trac_admin_path(self) -> str:
        return str(self.venv / "bin" / "trac-admin")

    def admin(self, env_path, *args: str, check: bool = True, stdin: str | None = None
              ) -> subprocess.CompletedProcess:
        """Run ``trac-admin ENV args...``; with ``check`` a failure fails the test.

        Each command runs in a process of its own, forked from one that has imported Trac
        (``trac_admin_server``): the same fresh start as ``trac-admin``, a second sooner."""
        argv = [str(env_path), *args]
        rc, out, err = _admin_server(self).run(
            {"argv0": self.trac_admin_path, "argv": argv, "stdin": stdin or "",
             "env": _clean_env(), "cwd": os.getcwd()})
        result = subprocess.CompletedProcess([self.trac_admin_path, *argv], rc, out, err)
        if check and result.returncode != 0:
            pytest.fail(f"trac-admin {env_path} {' '.join(args)} exited with "
                        f"{result.returncode}:\n{result.stdout}\n{result.stderr}")
        return result

    def out(self, env_path, *args: str) -> str:
        return self.admin(env_path, *args).stdout


class _AdminServer:
    """A ``trac_admin_server`` process of one Trac virtualenv, for this test process."""

    def __init__(self, install: TracInstall) -> None:
        self.proc = subprocess.Popen(
            [install.python, str(Path(__file__).with_name("trac_admin_server.py"))],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=_clean_env(),
            start_new_session=True)
        self.lock = threading.Lock()

    def run(self, request: dict, timeout: float = 300) -> tuple[int, str, str]:
        with self.lock:
            assert self.proc.stdin is not None and self.proc.stdout is not None
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
            ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
            line = self.proc.stdout.readline() if ready else ""
            if not line:
                died = self.proc.poll()
                self.stop()
                why = (f"its server exited with {died} (its error output is above)"
                       if died is not None else f"no answer within {timeout} s")
                pytest.fail(f"trac-admin {' '.join(request['argv'])}: {why}")
            reply = json.loads(line)
            return reply["rc"], reply["out"], reply["err"]

    def stop(self) -> None:
        _servers.pop(id(self), None)
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()


_servers: dict[int, _AdminServer] = {}
_by_venv: dict[str, _AdminServer] = {}


def _admin_server(install: TracInstall) -> _AdminServer:
    server = _by_venv.get(str(install.venv))
    if server is None or server.proc.poll() is not None:
        server = _by_venv[str(install.venv)] = _AdminServer(install)
        _servers[id(server)] = server
    return server


@atexit.register
def _stop_servers() -> None:
    for server in list(_servers.values()):
        server.stop()


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _works(venv: Path, probe_code: str = _PROBE) -> bool:
    python = venv / "bin" / "python"
    if not python.exists() or not (venv / "bin" / "trac-admin").exists():
        return False
    probe = subprocess.run([str(python), "-c", probe_code], capture_output=True,
                           env=_clean_env())
    return probe.returncode == 0


def _base_python() -> str:
    return shutil.which("python3") or sys.executable


def _ensure(venv: Path, make_venv: list[str], requirements: list[str], probe: str,
            what: str) -> TracInstall:
    """Build (or reuse) a side virtualenv with ``make_venv`` and ``requirements``, checked
    by ``probe``; calls pytest.fail with the output on failure."""
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(str(venv) + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel test workers build it once
        try:
            if _works(venv, probe):
                return TracInstall(venv)
            shutil.rmtree(venv, ignore_errors=True)
            log = []
            for step in ([*make_venv, str(venv)],
                         [str(venv / "bin" / "python"), "-m", "pip", "install",
                          "--disable-pip-version-check", *requirements]):
                result = subprocess.run(step, capture_output=True, text=True, env=_clean_env())
                log.append(f"$ {' '.join(step)}\n{result.stdout}{result.stderr}")
                if result.returncode != 0:
                    shutil.rmtree(venv, ignore_errors=True)
                    pytest.fail(f"could not install {what}:\n" + "\n".join(log),
                                pytrace=False)
            if not _works(venv, probe):
                pytest.fail(f"{what} installed but does not import in {venv}:\n"
                            + "\n".join(log), pytrace=False)
            return TracInstall(venv)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def ensure_trac(venv: Path = TRAC_VENV) -> TracInstall:
    """Build (or reuse) the side virtualenv; calls pytest.fail with the output on failure."""
    return _ensure(venv, [_base_python(), "-m", "venv"], TRAC_REQUIREMENTS, _PROBE,
                   "Trac 1.6 for the compatibility tests")


# Trac's Subversion support needs the Subversion bindings, which exist only as Debian's
# python3-subversion for Debian's own Python: that venv is made from /usr/bin/python3 with
# the system site-packages visible.
TRAC_SVN_VENV = REPO_ROOT / "var" / "trac-svn-venv"
TRAC_SVN_REQUIREMENTS = ["trac==1.6", "psycopg2-binary", "Pygments", "docutils"]
_SVN_PROBE = _PROBE + "; import svn.fs, svn.repos, svn.core, svn.delta"
DEBIAN_PYTHON = "/usr/bin/python3"


def ensure_trac_svn(venv: Path = TRAC_SVN_VENV) -> TracInstall:
    """Trac 1.6 with the Subversion bindings (``tracopt.versioncontrol.svn``), built once in
    a virtualenv of Debian's Python; pytest.fail with the output when it cannot be."""
    return _ensure(venv, [DEBIAN_PYTHON, "-m", "venv", "--system-site-packages"],
                   TRAC_SVN_REQUIREMENTS, _SVN_PROBE,
                   "Trac 1.6 with the Subversion bindings (Debian's python3-subversion)")


@pytest.fixture(scope="session")
def trac_svn() -> TracInstall:
    """Trac 1.6 able to read Subversion repositories."""
    return ensure_trac_svn()


@pytest.fixture(scope="session")
def trac() -> TracInstall:
    """The real Trac 1.6 (``trac.admin(env, ...)`` runs trac-admin)."""
    return ensure_trac()
