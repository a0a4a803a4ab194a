"""The standalone smart server `codeyard.hosting.bzr_wsgi:application` under gunicorn with
the `bzr_wsgi.*` variables a front server's SetEnv would give, and the real brz client."""

from __future__ import annotations

import os
import sys

import pytest

from tests.support.brz_client import Brz, shared_repository
from tests.support.servers import ServerProcess

pytestmark = pytest.mark.slow

SETENV_APP = '''
from codeyard.hosting.bzr_wsgi import application as _smart

SETTINGS = {settings!r}


def application(environ, start_response):
    environ.update(SETTINGS)  # what Apache's SetEnv does under mod_wsgi
    environ.pop("REQUEST_URI", None)  # missing under many servers
    return _smart(environ, start_response)
'''


class Gunicorn(ServerProcess):
    label = "gunicorn-bzr"

    def __init__(self, directory: str, settings: dict[str, str]) -> None:
        super().__init__()
        self.directory = directory
        with open(os.path.join(directory, "setenv_app.py"), "w", encoding="utf-8") as fh:
            fh.write(SETENV_APP.format(settings=settings))

    def command(self) -> list[str]:
        return [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{self.port}",
                "--chdir", self.directory, "--worker-class", "gthread", "--threads", "4",
                "--no-control-socket", "setenv_app:application"]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("standalone"))
    brz = Brz(os.path.join(root, "home"))
    served = os.path.join(root, "srv")
    os.makedirs(served)
    shared_repository(brz, os.path.join(served, "project"), "trunk", revisions=3)
    outside = os.path.join(root, "outside")
    shared_repository(brz, outside, "secret", revisions=1)
    os.symlink(os.path.join(outside, "secret"), os.path.join(served, "escape"))
    return root, served, brz


@pytest.fixture(scope="module")
def smart(tree):
    root, served, _brz = tree
    app_dir = os.path.join(root, "app")
    os.makedirs(app_dir)
    settings = {"bzr_wsgi.root": served, "bzr_wsgi.prefix": "/code/",
                "bzr_wsgi.readonly": "false"}
    with Gunicorn(app_dir, settings) as server:
        yield server


def test_branch_push_and_log_in_a_shared_repository(tree, smart):
    root, served, brz = tree
    work = os.path.join(root, "work")
    brz.run("branch", "-q", f"{smart.url}/code/project/trunk", work)
    assert brz.revno(work) == 3
    brz.commit_file(work, "file.txt", "four\n", "Revision 4")
    brz.run("push", f"{smart.url}/code/project/trunk", cwd=work)
    assert brz.revno(os.path.join(served, "project", "trunk")) == 4
    brz.run("push", "--create-prefix", f"{smart.url}/code/project/people/ann/idea", cwd=work)
    idea = os.path.join(served, "project", "people", "ann", "idea")
    assert brz.revno(idea) == 4
    assert not os.path.exists(os.path.join(idea, ".bzr", "repository"))
    log = brz.run("log", "--line", "-r", "-1", f"{smart.url}/code/project/people/ann/idea").stdout
    assert "Revision 4" in log
    brz.run("check", os.path.join(served, "project"))


def test_nothing_outside_the_root(tree, smart):
    root, _served, brz = tree
    through_link = brz.run("branch", f"{smart.url}/code/escape", os.path.join(root, "stolen"),
                           check=False)
    assert through_link.returncode != 0
    assert not os.path.exists(os.path.join(root, "stolen", ".bzr"))
    assert "outside the served root" in through_link.stderr or "Not a branch" in \
        through_link.stderr, through_link.stderr
    up = brz.run("branch", f"{smart.url}/code/%2e%2e/outside/secret",
                 os.path.join(root, "stolen2"), check=False)
    assert up.returncode != 0 and not os.path.exists(os.path.join(root, "stolen2", ".bzr"))


def test_a_root_inside_a_shared_repository_says_so(tree):
    root, served, brz = tree
    app_dir = os.path.join(root, "app-bad")
    os.makedirs(app_dir)
    settings = {"bzr_wsgi.root": os.path.join(served, "project", "trunk"), "bzr_wsgi.prefix": "/"}
    with Gunicorn(app_dir, settings) as server:
        done = brz.run("branch", f"{server.url}/", os.path.join(root, "nothing"), check=False)
    assert done.returncode != 0
    assert "misconfigured" in done.stderr and "inside the shared repository" in done.stderr, \
        done.stderr
    assert "NoRepositoryPresent" not in done.stderr
