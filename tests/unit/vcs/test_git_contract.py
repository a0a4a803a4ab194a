"""The repository contract on a Git repository made with the real ``git`` command."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from codeyard.vcs.git import open_repository
from tests.unit.vcs.contract import *  # noqa: F403
from tests.unit.vcs.contract import GUIDE, GUIDE_2, LOGO, MAIN_PY, MAIN_PY_2, TAG, Scenario


class GitWorkTree:
    """A work tree driven through the ``git`` command, with fixed people and dates (the
    n-th commit is dated the n-th day of 2024), away from the user's configuration."""

    def __init__(self, path: Path, *init_args: str) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
                    "HOME": str(path), "LC_ALL": "C"}
        self.count = 0
        self.git("init", "-q", *init_args)

    def git(self, *args: str, input: bytes | None = None) -> str:
        done = subprocess.run(["git", "-c", "init.defaultBranch=master", *args], cwd=self.path,
                              env=self.env, input=input, capture_output=True, check=True)
        return done.stdout.decode().strip()

    def write(self, path: str, data: bytes) -> None:
        target = self.path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)

    def _stamp(self, author: str, committer: str | None) -> None:
        self.count += 1
        date = f"2024-{1 + self.count // 28:02d}-{1 + self.count % 28:02d}T12:00:00+0000"
        name, email = author.removesuffix(">").split(" <")
        cname, cemail = (committer or author).removesuffix(">").split(" <")
        self.env.update(GIT_AUTHOR_NAME=name, GIT_AUTHOR_EMAIL=email, GIT_AUTHOR_DATE=date,
                        GIT_COMMITTER_NAME=cname, GIT_COMMITTER_EMAIL=cemail,
                        GIT_COMMITTER_DATE=date)

    def commit(self, message: str, author: str = "Alice <alice@example.org>",
               committer: str | None = None) -> str:
        self._stamp(author, committer)
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")

    def merge(self, branch: str, message: str) -> str:
        self._stamp("Alice <alice@example.org>", None)
        self.git("merge", "-q", "--no-ff", "-m", message, branch)
        return self.git("rev-parse", "HEAD")


def build_history(tree: GitWorkTree) -> dict[str, str]:
    """The history of tests/unit/vcs/contract.py, in ``tree``."""
    revs = {}
    tree.write("README", b"hello\n")
    tree.write("src/main.py", MAIN_PY)
    tree.write("docs/guide.txt", GUIDE)
    revs["r1"] = tree.commit("Initial import, see #1")
    tree.write("src/main.py", MAIN_PY_2)
    tree.write("logo.png", LOGO)
    revs["r2"] = tree.commit("Print two, add the logo")
    tree.git("mv", "docs/guide.txt", "docs/manual.txt")
    revs["r3"] = tree.commit("Rename the guide")
    tree.git("rm", "-q", "README")
    tree.write("docs/manual.txt", GUIDE_2)
    revs["r4"] = tree.commit("Drop the README, say more")
    tree.git("tag", "-a", "-m", "The first release", TAG)
    tree.git("checkout", "-q", "-b", "feature")
    tree.write("feature.txt", b"A feature.\n")
    revs["f1"] = tree.commit("Add the feature", author="Bob <bob@example.org>")
    tree.git("checkout", "-q", "master")
    revs["r5"] = tree.merge("feature", "Merge the feature")
    return revs


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    tree = GitWorkTree(tmp_path_factory.mktemp("git") / "work")
    revs = build_history(tree)
    repos = open_repository(None, "", str(tree.path), {})
    yield Scenario(repos=repos, revs=revs)
    repos.close()
