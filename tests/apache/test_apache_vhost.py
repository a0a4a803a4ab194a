"""A virtual host serving one project at its root with /login still protected (the set-up
Trac's deployment notes say "does not work in all cases"), made by `codeyard deploy
apache-wsgi --env ENV --url-root /`, in a real Apache: pages, static files and login work,
and `codeyard check` finds nothing wrong with it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile

import pytest

from tests.apache.test_apache_wsgi import python_path
from tests.functional.conftest import make_project
from tests.support.apache import ApacheServer, require_module, share_with_apache
from tests.support.codeyard_server import run_codeyard
from tests.support.http import Client
from tests.support.servers import require_binary

pytestmark = pytest.mark.slow

USER, PASSWORD = "bob", "vhost-secret"
REALM = "Alpha"


@pytest.fixture(scope="module")
def vhost():
    require_module("wsgi")
    root = tempfile.mkdtemp(prefix="codeyard-vhost-")
    os.chmod(root, 0o755)
    os.makedirs(os.path.join(root, "projects"))
    alpha = make_project(os.path.join(root, "projects"), "alpha", "Alpha At The Root")
    htpasswd = os.path.join(root, "htpasswd")
    subprocess.run([require_binary("htpasswd"), "-cbB", htpasswd, USER, PASSWORD], check=True,
                   capture_output=True)
    password_file = os.path.join(root, "password.txt")
    with open(password_file, "w", encoding="utf-8") as fh:
        fh.write(PASSWORD + "\n")
    out = os.path.join(root, "deploy")
    made = run_codeyard("deploy", "apache-wsgi", "--env", alpha, "--url-root", "/",
                        "--htpasswd", htpasswd, "--realm", REALM, "--python-path", python_path(),
                        "--processes", "1", "--threads", "4", out)
    assert made.returncode == 0, made.stderr
    with open(os.path.join(out, "apache-wsgi.conf"), encoding="utf-8") as fh:
        snippet = fh.read()
    share_with_apache(root)
    server = ApacheServer(os.path.join(root, "apache"), [], ["wsgi"])
    os.makedirs(server.root)
    vhost_conf = os.path.join(root, "vhost.conf")
    with open(vhost_conf, "w", encoding="utf-8") as fh:
        fh.write(f"<VirtualHost 127.0.0.1:{server.port}>\n    ServerName 127.0.0.1\n"
                 + "".join("    " + line + "\n" for line in snippet.splitlines())
                 + "</VirtualHost>\n")
    server.includes.append(vhost_conf)
    with server:
        yield {"server": server, "alpha": alpha, "password_file": password_file, "out": out}
    shutil.rmtree(root, ignore_errors=True)


def test_the_project_is_the_site_root(vhost):
    client = Client(vhost["server"].url)
    start = client.get("")
    assert start.status == 200, start.text[:1500]
    assert "Alpha At The Root" in start.text and 'id="banner"' in start.text
    assert client.get("wiki/WikiStart").status == 200
    css = client.get("chrome/common/codeyard.css")
    assert css.status == 200 and css.header("Content-Type").startswith("text/css")
    assert 'href="/wiki' in start.text  # links start at the root, not /alpha


def test_login_stays_protected_and_sets_the_cookie(vhost):
    anonymous = Client(vhost["server"].url).get("login")
    assert anonymous.status == 401
    assert anonymous.header("WWW-Authenticate") == f'Basic realm="{REALM}"'
    assert Client(vhost["server"].url).get("loginfoo").status != 401  # only /login asks
    client = Client(vhost["server"].url, auth=(USER, PASSWORD))
    response = client.get("login")
    assert response.status in (302, 303), response.text[:1500]
    client.auth = None
    assert "trac_auth" in client.cookies
    prefs = client.get("prefs")
    assert prefs.status == 200 and f'<span class="trac-author-user">{USER}</span>' in prefs.text


def test_check_finds_nothing_wrong(vhost):
    result = run_codeyard("check", vhost["server"].url, "--env", vhost["alpha"],
                          "--user", USER, "--password-file", vhost["password_file"], "--json")
    report = json.loads(result.stdout)
    failures = [line for lines in report.values() for line in lines if line["level"] == "FAIL"]
    assert result.returncode == 0 and not failures, result.stdout
