"""Subversion repositories made by the tests with the real ``svnadmin`` and ``svn`` clients
(``file://`` URLs, a configuration directory of their own, fixed authors and dates)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from urllib.parse import quote

from tests.unit.vcs.contract import GUIDE, GUIDE_2, LOGO, MAIN_PY, MAIN_PY_2, TAG

# A hook that lets the tests set svn:date and svn:log after the commit.
REVPROP_HOOK = "#!/bin/sh\nexit 0\n"


class Svn:
    """A repository and one working copy of it, driven through the command-line tools."""

    def __init__(self, base: Path, name: str = "repo") -> None:
        base.mkdir(parents=True, exist_ok=True)
        self.base = base
        self.path = base / name
        self.config = base / f"{name}-config"
        self.config.mkdir(exist_ok=True)
        self.env = {**os.environ, "LC_ALL": "C.UTF-8", "HOME": str(self.config)}
        subprocess.run(["svnadmin", "create", str(self.path)], check=True, env=self.env)
        hook = self.path / "hooks" / "pre-revprop-change"
        hook.write_text(REVPROP_HOOK)
        hook.chmod(0o755)
        self.url = "file://" + quote(str(self.path))
        self.wc = base / f"{name}-wc"
        self.count = 0
        self.run("checkout", "-q", self.url, str(self.wc))

    def run(self, *args: str, cwd: Path | None = None, user: str = "alice") -> str:
        done = subprocess.run(["svn", "--non-interactive", "--config-dir", str(self.config),
                               "--username", user, *args], cwd=cwd or self.base, env=self.env,
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise AssertionError(f"svn {' '.join(args)} failed: {done.stderr}")
        return done.stdout

    def wc_run(self, *args: str, user: str = "alice") -> str:
        return self.run(*args, cwd=self.wc, user=user)

    def write(self, path: str, data: bytes, add: bool = True) -> None:
        target = self.wc / path
        existed = target.exists()
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        if add and not existed:
            self.wc_run("add", "-q", "--parents", path)

    def youngest(self) -> str:
        done = subprocess.run(["svnlook", "youngest", str(self.path)], check=True,
                              capture_output=True, text=True, env=self.env)
        return done.stdout.strip()

    def _stamp(self, rev: str) -> None:
        """Date the revision on the n-th day of 2024 (reproducible order and times)."""
        self.count += 1
        date = f"2024-{1 + self.count // 28:02d}-{1 + self.count % 28:02d}T12:00:00.000000Z"
        self.run("propset", "-q", "--revprop", "-r", rev, "svn:date", date, self.url)

    def commit(self, message: str, user: str = "alice") -> str:
        self.wc_run("commit", "-q", "-m", message, user=user)
        rev = self.youngest()
        self._stamp(rev)
        self.wc_run("update", "-q", "--ignore-externals")
        return rev

    def remote(self, *args: str, message: str, user: str = "alice") -> str:
        """A commit straight to the repository (``svn cp URL URL``, ``svn mkdir URL``)."""
        self.run(*args, "-m", message, user=user)
        rev = self.youngest()
        self._stamp(rev)
        self.wc_run("update", "-q", "--ignore-externals")
        return rev


def build_contract_history(svn: Svn) -> dict[str, str]:
    """The history of tests/unit/vcs/contract.py in the trunk/branches/tags layout; returns
    the named revisions (r1…r5, f1) and, under ``tag`` and ``branch``, the revisions that
    made the tag and the branch (Subversion makes them by copies)."""
    revs = {}
    for directory in ("trunk", "branches", "tags"):
        (svn.wc / directory).mkdir()
        svn.wc_run("add", "-q", directory)
    svn.write("trunk/README", b"hello\n")
    svn.write("trunk/src/main.py", MAIN_PY)
    svn.write("trunk/docs/guide.txt", GUIDE)
    revs["r1"] = svn.commit("Initial import, see #1")
    svn.write("trunk/src/main.py", MAIN_PY_2)
    svn.write("trunk/logo.png", LOGO)
    revs["r2"] = svn.commit("Print two, add the logo")
    svn.wc_run("move", "-q", "trunk/docs/guide.txt", "trunk/docs/manual.txt")
    revs["r3"] = svn.commit("Rename the guide")
    svn.wc_run("delete", "-q", "trunk/README")
    svn.write("trunk/docs/manual.txt", GUIDE_2)
    revs["r4"] = svn.commit("Drop the README, say more")
    revs["tag"] = svn.remote("copy", f"{svn.url}/trunk", f"{svn.url}/tags/{TAG}",
                             message="The first release")
    revs["branch"] = svn.remote("copy", f"{svn.url}/trunk", f"{svn.url}/branches/feature",
                                message="Start the feature branch")
    svn.write("branches/feature/feature.txt", b"A feature.\n")
    revs["f1"] = svn.commit("Add the feature", user="bob")
    svn.wc_run("merge", "-q", f"{svn.url}/branches/feature", "trunk")
    revs["r5"] = svn.commit("Merge the feature")
    return revs
