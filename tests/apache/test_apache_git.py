"""`git clone` and `git push` with Basic auth through a real Apache httpd configured by
`codeyard deploy apache-wsgi`: Apache checks a pusher's password, codeyard the permission;
in a project with its own password file codeyard checks the credentials itself."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

import pytest

from codeyard.env import open_environment
from codeyard.perm import PermissionSystem
from codeyard.vcs.manager import RepositoryManager
from tests.apache.test_apache_wsgi import python_path
from tests.functional.conftest import make_project
from tests.functional.test_git_hosting import Git, with_user
from tests.support.apache import ApacheServer, require_module, share_with_apache
from tests.support.codeyard_server import run_codeyard
from tests.support.servers import require_binary

pytestmark = pytest.mark.slow

PUSHER, PUSHER_PW = "dev", "apache-push"
READER, READER_PW = "reader", "apache-read"
REALM = "Git Projects"


@pytest.fixture(scope="module")
def git_apache():
    require_module("wsgi")
    root = tempfile.mkdtemp(prefix="codeyard-apache-git-")
    os.chmod(root, 0o755)
    home = os.path.join(root, "home")
    os.makedirs(home)
    with open(os.path.join(home, ".gitconfig"), "w", encoding="utf-8") as fh:
        fh.write("[safe]\n\tdirectory = *\n")  # the repositories belong to Apache's user
    git = Git(home)
    htpasswd = os.path.join(root, "htpasswd")
    binary = require_binary("htpasswd")
    subprocess.run([binary, "-cbB", htpasswd, PUSHER, PUSHER_PW], check=True, capture_output=True)
    subprocess.run([binary, "-bB", htpasswd, READER, READER_PW], check=True, capture_output=True)
    parent = os.path.join(root, "projects")
    os.makedirs(parent)
    seed = os.path.join(root, "seed")
    git.run("init", "-q", "-b", "master", seed)
    git.commit(seed, "README", b"hello\n", "the first commit")
    repos = {}
    for name, options in (("open", []),
                          ("closed", [("account-manager", "password_file", htpasswd)])):
        path = make_project(parent, name, f"Git {name}", options)
        bare = os.path.join(root, "repos", f"{name}.git")
        git.run("clone", "-q", "--bare", seed, bare)
        env = open_environment(path, use_cache=False)
        RepositoryManager(env).add_repository("main", bare, "git")
        perms = PermissionSystem(env)
        perms.grant(PUSHER, "REPOSITORY_PUSH")
        if name == "closed":
            perms.revoke("anonymous", "BROWSER_VIEW")
            perms.revoke("anonymous", "FILE_VIEW")
            perms.grant("authenticated", "BROWSER_VIEW")
            perms.grant("authenticated", "FILE_VIEW")
        env.shutdown()
        repos[name] = bare
    out = os.path.join(root, "deploy")
    result = run_codeyard("deploy", "apache-wsgi", "-e", parent, "--url-root", "/projects",
                          "--htpasswd", htpasswd, "--realm", REALM,
                          "--python-path", python_path(), out)
    assert result.returncode == 0, result.stderr
    server_root = os.path.join(root, "httpd")
    os.makedirs(server_root)
    share_with_apache(root)
    server = ApacheServer(server_root, [os.path.join(out, "apache-wsgi.conf")], ["wsgi"])
    with server:
        yield {"server": server, "git": git, "root": root, "repos": repos, "out": out}
    shutil.rmtree(root, ignore_errors=True)


def url(site, project: str) -> str:
    return f"{site['server'].url}projects/{project}/git/main"


def heads(site, project: str) -> str:
    return site["git"].out("--git-dir", site["repos"][project], "for-each-ref")


def test_the_configuration_has_the_git_routes(git_apache):
    with open(os.path.join(git_apache["out"], "apache-wsgi.conf"), encoding="utf-8") as fh:
        conf = fh.read()
    assert "WSGIPassAuthorization On" in conf
    assert "WSGIChunkedRequest On" in conf
    assert '<LocationMatch "^/projects/[^/]+/git(/.*)?/git-receive-pack$">' in conf


def test_clone_and_push_through_apache(git_apache):
    site, git = git_apache, git_apache["git"]
    work = os.path.join(site["root"], "work-open")
    result = git.run("clone", "-q", url(site, "open"), work, check=False)
    assert result.returncode == 0, result.stderr + site["server"].error_log()[-3000:]
    small = git.commit(work, "small.txt", b"small\n", "a small change")
    git.run("push", "-q", with_user(url(site, "open"), PUSHER, PUSHER_PW), "master", cwd=work)
    assert git.out("--git-dir", site["repos"]["open"], "rev-parse", "master") == small

    big = git.commit(work, "big.bin", os.urandom(3 * 1024 * 1024), "more than 1 MiB")
    pushed = git.run("-c", "http.postBuffer=65536", "push",
                     with_user(url(site, "open"), PUSHER, PUSHER_PW), "master", cwd=work,
                     check=False)
    assert pushed.returncode == 0, pushed.stderr + site["server"].error_log()[-3000:]
    assert git.out("--git-dir", site["repos"]["open"], "rev-parse", "master") == big
    git.run("--git-dir", site["repos"]["open"], "fsck", "--no-progress")


def test_denied_pushes_through_apache_change_nothing(git_apache):
    site, git = git_apache, git_apache["git"]
    work = os.path.join(site["root"], "work-denied")
    git.run("clone", "-q", url(site, "open"), work)
    before = heads(site, "open")
    git.commit(work, "no.txt", b"no\n", "must not arrive")
    anonymous = git.run("push", url(site, "open"), "HEAD:master", cwd=work, check=False)
    assert anonymous.returncode != 0
    wrong = git.run("push", with_user(url(site, "open"), PUSHER, "wrong"), "HEAD:master",
                    cwd=work, check=False)
    assert wrong.returncode != 0
    reader = git.run("push", with_user(url(site, "open"), READER, READER_PW), "HEAD:master",
                     cwd=work, check=False)
    assert reader.returncode != 0 and "403" in reader.stderr
    assert heads(site, "open") == before


def test_a_project_with_its_own_password_file_checks_pulls_itself(git_apache):
    site, git = git_apache, git_apache["git"]
    anonymous = git.run("clone", "-q", url(site, "closed"), os.path.join(site["root"], "anon"),
                        check=False)
    assert anonymous.returncode != 0
    work = os.path.join(site["root"], "work-closed")
    cloned = git.run("clone", "-q", with_user(url(site, "closed"), READER, READER_PW), work,
                     check=False)
    assert cloned.returncode == 0, cloned.stderr + site["server"].error_log()[-3000:]
    change = git.commit(work, "c.txt", b"c\n", "pushed with the project's own accounts")
    git.run("push", "-q", with_user(url(site, "closed"), PUSHER, PUSHER_PW), "HEAD:master",
            cwd=work)
    assert git.out("--git-dir", site["repos"]["closed"], "rev-parse", "master") == change
