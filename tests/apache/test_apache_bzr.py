"""Bazaar hosting behind a real Apache from `codeyard deploy apache-wsgi --bzr-root`: the
projects' /bzr/ routes and the standalone smart server (WSGIScriptAliasMatch
^.*/\\.bzr/smart$ with SetEnv bzr_wsgi.*), `brz branch` and `brz push` into shared
repositories with HTTP Basic."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

import pytest

from codeyard.env import open_environment
from codeyard.perm import PermissionSystem
from tests.apache.test_apache_wsgi import python_path, read
from tests.functional.conftest import make_project
from tests.support.apache import ApacheServer, require_module, share_with_apache
from tests.support.brz_client import Brz, shared_repository, with_credentials
from tests.support.codeyard_server import run_codeyard
from tests.support.servers import require_binary

pytestmark = pytest.mark.slow

USER, PASSWORD = "carol", "bzr-through-apache"
REALM = "Code"


@pytest.fixture(scope="module")
def bzr_site():
    require_module("wsgi")
    root = tempfile.mkdtemp(prefix="codeyard-apache-bzr-")
    os.chmod(root, 0o755)
    brz = Brz(os.path.join(root, "home"))
    hosted = os.path.join(root, "repos", "hosted")
    shared_repository(brz, hosted, "trunk", revisions=2)
    tree = os.path.join(root, "tree")
    shared_repository(brz, os.path.join(tree, "lib"), "trunk", revisions=3)
    htpasswd = os.path.join(root, "htpasswd")
    subprocess.run([require_binary("htpasswd"), "-cbB", htpasswd, USER, PASSWORD], check=True,
                   capture_output=True)
    parent = os.path.join(root, "projects")
    os.makedirs(parent)
    project = make_project(parent, "code", "Code Through Apache", [
        ("account-manager", "password_file", htpasswd),
        ("repositories", ".dir", hosted), ("repositories", ".type", "bzr")])
    env = open_environment(project, use_cache=False)
    try:
        PermissionSystem(env).grant(USER, "REPOSITORY_PUSH")
    finally:
        env.shutdown()
    out = os.path.join(root, "deploy")
    result = run_codeyard("deploy", "apache-wsgi", "-e", parent, "--url-root", "/projects",
                          "--htpasswd", htpasswd, "--realm", REALM, "--python-path",
                          python_path(), "--bzr-root", tree, "--process-group", "codeyard-bzr",
                          "--processes", "1", out)
    assert result.returncode == 0, result.stderr
    server_root = os.path.join(root, "httpd")
    os.makedirs(server_root)
    share_with_apache(root)
    server = ApacheServer(server_root, [os.path.join(out, "apache-wsgi.conf")], ["wsgi"])
    with server:
        yield {"root": root, "brz": brz, "hosted": hosted, "tree": tree, "out": out,
               "server": server}
    shutil.rmtree(root, ignore_errors=True)


def _url(site, path: str, auth: bool = True) -> str:
    url = site["server"].url + path
    return with_credentials(url, USER, PASSWORD) if auth else url


def test_deploy_writes_the_bazaar_routes(bzr_site):
    conf = read(bzr_site["out"], "apache-wsgi.conf")
    script = os.path.join(bzr_site["out"], "cgi-bin", "bzr.wsgi")
    assert f'WSGIScriptAliasMatch ^.*/\\.bzr/smart$ "{script}"' in conf
    assert f'SetEnv bzr_wsgi.root "{os.path.realpath(bzr_site["tree"])}"' in conf
    assert 'SetEnv bzr_wsgi.prefix "/"' in conf
    assert 'WSGIScriptAliasMatch "^/projects(?=/[^/]+/bzr(/|$))"' in conf
    assert "WSGIPassAuthorization On" in conf
    # The projects' route and the smart server's come before the site's own alias.
    assert conf.index("(?=/[^/]+/bzr") < conf.index("^.*/\\.bzr/smart$") < conf.index(
        "WSGIScriptAlias /projects")
    assert "from codeyard.hosting.bzr_wsgi import application" in read(script)


def test_project_branch_and_push_into_its_shared_repository(bzr_site):
    brz, root = bzr_site["brz"], bzr_site["root"]
    work = os.path.join(root, "project-work")
    done = brz.run("branch", _url(bzr_site, "projects/code/bzr/trunk", auth=False), work,
                   check=False)
    assert done.returncode == 0, done.stderr + bzr_site["server"].error_log()[-3000:]
    assert brz.revno(work) == 2
    brz.commit_file(work, "file.txt", "through apache\n", "Pushed through Apache")
    anonymous = brz.run("push", _url(bzr_site, "projects/code/bzr/trunk", auth=False),
                        cwd=work, check=False)
    assert anonymous.returncode != 0
    assert brz.revno(os.path.join(bzr_site["hosted"], "trunk")) == 2
    brz.run("push", _url(bzr_site, "projects/code/bzr/trunk"), cwd=work)
    assert brz.revno(os.path.join(bzr_site["hosted"], "trunk")) == 3
    brz.run("push", _url(bzr_site, "projects/code/bzr/apache-feature"), cwd=work)
    feature = os.path.join(bzr_site["hosted"], "apache-feature")
    assert brz.revno(feature) == 3
    assert not os.path.exists(os.path.join(feature, ".bzr", "repository"))
    brz.run("check", bzr_site["hosted"])


def test_standalone_smart_server_branch_and_push(bzr_site):
    brz, root, tree = bzr_site["brz"], bzr_site["root"], bzr_site["tree"]
    work = os.path.join(root, "standalone-work")
    anonymous = brz.run("branch", _url(bzr_site, "lib/trunk", auth=False), work + "-anon",
                        check=False)
    assert anonymous.returncode != 0  # Apache asks for a login on this route
    done = brz.run("branch", _url(bzr_site, "lib/trunk"), work, check=False)
    assert done.returncode == 0, done.stderr + bzr_site["server"].error_log()[-3000:]
    assert brz.revno(work) == 3
    brz.commit_file(work, "file.txt", "standalone\n", "Through the standalone server")
    brz.run("push", _url(bzr_site, "lib/trunk"), cwd=work)
    assert brz.revno(os.path.join(tree, "lib", "trunk")) == 4
    brz.run("push", "--create-prefix", _url(bzr_site, "lib/people/carol/idea"), cwd=work)
    idea = os.path.join(tree, "lib", "people", "carol", "idea")
    assert brz.revno(idea) == 4
    assert not os.path.exists(os.path.join(idea, ".bzr", "repository"))
    brz.run("check", os.path.join(tree, "lib"))
