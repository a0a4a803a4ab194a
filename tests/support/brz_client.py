"""The real ``brz`` client for tests: a throwaway home so no user configuration leaks in,
credentials in the URL, and small builders of branches and shared repositories."""

from __future__ import annotations

import os
import subprocess
import sys
from urllib.parse import quote, urlsplit, urlunsplit

BRZ = os.path.join(os.path.dirname(sys.executable), "brz")


class Brz:
    def __init__(self, home: str) -> None:
        if not os.path.exists(BRZ):
            raise RuntimeError(f"{BRZ} is missing: install breezy in the test virtualenv")
        self.home = home
        os.makedirs(home, exist_ok=True)
        self.env = {"HOME": home, "BRZ_HOME": home, "BRZ_LOG": os.path.join(home, "brz.log"),
                    "BRZ_EMAIL": "Test Pusher <pusher@example.org>", "BRZ_PLUGIN_PATH": "-site",
                    "BRZ_DISABLE_PLUGINS": "launchpad", "PATH": os.environ.get("PATH", ""),
                    "LANG": "C.UTF-8"}

    def run(self, *args: str, cwd: str | None = None, check: bool = True,
            timeout: float = 120) -> subprocess.CompletedProcess:
        done = subprocess.run([BRZ, *args], cwd=cwd, env=self.env, capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        if check and done.returncode != 0:
            raise AssertionError(f"brz {' '.join(args)} failed ({done.returncode}):\n"
                                 f"{done.stdout}\n{done.stderr}")
        return done

    def popen(self, *args: str, cwd: str | None = None) -> subprocess.Popen:
        return subprocess.Popen([BRZ, *args], cwd=cwd, env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)

    def commit_file(self, tree: str, name: str, text: str, message: str) -> None:
        path = os.path.join(tree, name)
        existed = os.path.exists(path)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
        if not existed:
            self.run("add", "-q", name, cwd=tree)
        self.run("commit", "-q", "-m", message, cwd=tree)

    def revno(self, location: str) -> int:
        return int(self.run("revno", location).stdout.strip())


def shared_repository(brz: Brz, root: str, branch: str = "trunk", revisions: int = 2) -> str:
    """A shared repository at ``root`` with one branch of ``revisions`` revisions; returns
    the branch's directory."""
    brz.run("init-shared-repo", "-q", "--no-trees", root)
    target = os.path.join(root, branch)
    work = root + "-work"
    brz.run("init", "-q", work)
    for number in range(1, revisions + 1):
        brz.commit_file(work, "file.txt", f"line {number}\n", f"Revision {number}")
    brz.run("push", "-q", "--create-prefix", target, cwd=work)
    return target


def with_credentials(url: str, user: str, password: str) -> str:
    parts = urlsplit(url)
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{parts.netloc}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
