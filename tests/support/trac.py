"""The real Trac 1.6, installed by the suite into a side virtualenv (``var/trac-venv``).

The environment is built once with ``python3 -m venv`` and ``pip install trac==1.6 Pygments
docutils psycopg2-binary`` and reused while it works. A failed installation fails the tests that
need it, with pip's output: the compatibility tests must not pass without Trac.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
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
        """Run ``trac-admin ENV args...``; with ``check`` a failure fails the test."""
        result = subprocess.run([self.trac_admin_path, str(env_path), *args], capture_output=True,
                                text=True, input=stdin if stdin is not None else "",
                                env=_clean_env(), timeout=300)
        if check and result.returncode != 0:
            pytest.fail(f"trac-admin {env_path} {' '.join(args)} exited with "
                        f"{result.returncode}:\n{result.stdout}\n{result.stderr}")
        return result

    def out(self, env_path, *args: str) -> str:
        return self.admin(env_path, *args).stdout


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
