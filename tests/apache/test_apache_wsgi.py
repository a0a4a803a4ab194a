"""`codeyard deploy apache-wsgi` and `apache-modpython` configurations in a real Apache httpd."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.functional.conftest import make_project
from tests.support.admin_cli import admin_ok
from tests.support.apache import ApacheServer, require_module, share_with_apache
from tests.support.codeyard_server import run_codeyard
from tests.support.http import Client, fail_on_basic_auth_gap
from tests.support.servers import require_binary
from tests.unit.vcs.contract import MAIN_PY_2
from tests.unit.vcs.svn_fixtures import Svn, build_contract_history

pytestmark = pytest.mark.slow

USER, PASSWORD = "bob", "apache-secret"
REALM = "Projects"


def read(*parts: str) -> str:
    with open(os.path.join(*parts), encoding="utf-8") as fh:
        return fh.read()


def python_path() -> str:
    """Where mod_wsgi's Python (the system's 3.11) finds codeyard and its dependencies."""
    import site

    import codeyard

    src = os.path.dirname(os.path.dirname(os.path.abspath(codeyard.__file__)))
    return ":".join([*site.getsitepackages(), src])


@pytest.fixture(scope="module")
def apache_site():
    root = tempfile.mkdtemp(prefix="codeyard-apache-")
    os.chmod(root, 0o755)
    parent = os.path.join(root, "projects")
    os.makedirs(parent)
    alpha = make_project(parent, "alpha", "Alpha Through Apache")
    with open(os.path.join(alpha, "htdocs", "hello.txt"), "w", encoding="utf-8") as fh:
        fh.write("site file via apache\n")
    htpasswd = os.path.join(root, "htpasswd")
    subprocess.run([require_binary("htpasswd"), "-cbB", htpasswd, USER, PASSWORD], check=True,
                   capture_output=True)
    # A Subversion repository: the Trac deployment notes' binding troubles (APR libraries,
    # sub-interpreters) must not happen under either module.
    svn = Svn(Path(root) / "svn")
    build_contract_history(svn)
    admin_ok(alpha, "repository", "add", "(default)", str(svn.path), "svn")
    admin_ok(alpha, "repository", "resync", "(default)")
    yield {"root": root, "parent": parent, "alpha": alpha, "htpasswd": htpasswd}
    shutil.rmtree(root, ignore_errors=True)


def deploy(site, target: str, outdir: str, url_root: str, *extra: str) -> str:
    result = run_codeyard("deploy", target, "-e", site["parent"], "--url-root", url_root,
                          "--htpasswd", site["htpasswd"], "--realm", REALM,
                          "--python-path", python_path(), *extra, outdir)
    assert result.returncode == 0, result.stderr
    return outdir


@pytest.fixture(scope="module")
def wsgi_apache(apache_site):
    require_module("wsgi")
    root = apache_site["root"]
    plain = deploy(apache_site, "apache-wsgi", os.path.join(root, "deploy-plain"), "/projects")
    secure = deploy(apache_site, "apache-wsgi", os.path.join(root, "deploy-https"), "/secure",
                    "--https", "--process-group", "codeyard-https", "--processes", "1")
    server_root = os.path.join(root, "httpd-wsgi")
    os.makedirs(server_root)
    share_with_apache(root)
    server = ApacheServer(server_root, [os.path.join(plain, "apache-wsgi.conf"),
                                        os.path.join(secure, "apache-wsgi.conf")], ["wsgi"])
    with server:
        yield server


def test_deploy_writes_the_apache_snippet_script_and_static_files(wsgi_apache, apache_site):
    out = os.path.join(apache_site["root"], "deploy-plain")
    conf = read(out, "apache-wsgi.conf")
    assert "WSGIDaemonProcess codeyard " in conf
    assert f'WSGIScriptAlias /projects "{out}/cgi-bin/codeyard.wsgi"' in conf
    assert '<LocationMatch "^/projects/[^/]+/login$">' in conf
    assert "# WSGIScriptAliasMatch ^.*/\\.bzr/smart$" in conf
    assert "SetEnv HTTPS 1" not in conf
    assert "SetEnv HTTPS 1" in read(apache_site["root"], "deploy-https", "apache-wsgi.conf")
    script = read(out, "cgi-bin", "codeyard.wsgi")
    assert "from codeyard.web.wsgi import application" in script
    assert os.path.isdir(os.path.join(out, "htdocs", "common"))


def _retry_get(client: Client, path: str, **kw):
    # The first request waits for the daemon process to import the application.
    return client.get(path, **kw)


def test_project_page_through_apache(wsgi_apache):
    client = Client(wsgi_apache.url, timeout=60)
    page = _retry_get(client, "projects/alpha/")
    assert page.status == 200, page.text[:2000] + wsgi_apache.error_log()[-3000:]
    assert "Alpha Through Apache" in page.text
    # Links carry the mount point.
    assert 'href="/projects/alpha/' in page.text
    index = client.get("projects/")
    assert index.status == 200 and "Alpha Through Apache" in index.text
    assert client.get("projects/nosuch/").status == 404


def test_static_files_served_by_apache(wsgi_apache):
    response = Client(wsgi_apache.url).get("projects/alpha/chrome/site/hello.txt")
    assert response.status == 200
    assert response.text == "site file via apache\n"


def test_login_with_apache_basic_auth_sets_the_cookie(wsgi_apache):
    anonymous = Client(wsgi_apache.url).get("projects/alpha/login")
    assert anonymous.status == 401
    assert f'realm="{REALM}"' in anonymous.header("WWW-Authenticate", "")
    assert Client(wsgi_apache.url, auth=(USER, "wrong")).get("projects/alpha/login").status == 401

    client = Client(wsgi_apache.url, auth=(USER, PASSWORD), timeout=60)
    response = client.get("projects/alpha/login")
    assert response.status in (302, 303), response.text[:2000] + wsgi_apache.error_log()[-3000:]
    assert response.location.startswith(f"http://127.0.0.1:{wsgi_apache.port}/projects/alpha")
    assert "trac_auth" in client.cookies
    client.auth = None
    page = client.get("projects/alpha/prefs")
    assert page.status == 200
    assert re.search(rf"\b{USER}\b", page.text)
    anonymous_page = Client(wsgi_apache.url).get("projects/alpha/prefs")
    assert not re.search(rf"\b{USER}\b", anonymous_page.text)

    # Browsers keep sending the credentials to the pages next to /login: still logged in.
    client.auth = (USER, PASSWORD)
    again = client.get("projects/alpha/prefs")
    fail_on_basic_auth_gap(again)
    assert again.status == 200, again.text[:500]
    assert re.search(rf"\b{USER}\b", again.text)


def test_setenv_https_makes_absolute_urls_https(wsgi_apache):
    client = Client(wsgi_apache.url, auth=(USER, PASSWORD), timeout=60)
    response = client.get("secure/alpha/login")
    assert response.status in (302, 303), response.text[:2000] + wsgi_apache.error_log()[-3000:]
    assert response.location.startswith(f"https://127.0.0.1:{wsgi_apache.port}/secure/alpha"), \
        response.location
    cookie = next(c for c in response.set_cookies() if c.startswith("trac_auth="))
    assert "Secure" in cookie


@pytest.fixture(scope="module")
def modpython_apache(apache_site):
    require_module("python")
    root = apache_site["root"]
    out = deploy(apache_site, "apache-modpython", os.path.join(root, "deploy-modpython"), "/mp",
                 "--https")
    server_root = os.path.join(root, "httpd-modpython")
    os.makedirs(server_root)
    share_with_apache(root)
    # mod_python needs the prefork MPM (it is not thread-safe under event).
    server = ApacheServer(server_root, [os.path.join(out, "apache-modpython.conf")], ["python"])
    server.modules = ["mpm_prefork" if m == "mpm_event" else m for m in server.modules]
    with server:
        yield server


def test_modpython_frontend(modpython_apache):
    client = Client(modpython_apache.url, timeout=60)
    page = client.get("mp/alpha/")
    assert page.status == 200, page.text[:2000] + modpython_apache.error_log()[-3000:]
    assert "Alpha Through Apache" in page.text
    assert 'href="/mp/alpha/' in page.text
    assert client.get("mp/nosuch/").status == 404

    login = Client(modpython_apache.url, auth=(USER, PASSWORD), timeout=60)
    response = login.get("mp/alpha/login")
    assert response.status in (302, 303), response.text[:2000] + modpython_apache.error_log()[-3000:]
    # SetEnv HTTPS 1 reaches the application as HTTPS through the adapter.
    assert response.location.startswith(f"https://127.0.0.1:{modpython_apache.port}/mp/alpha")
    login.auth = None
    prefs = login.get("mp/alpha/prefs")
    assert prefs.status == 200 and re.search(rf"\b{USER}\b", prefs.text)


def _check_subversion_pages(client: Client, base: str, server) -> None:
    for path, expected in (("browser/trunk", "logo.png"),
                           ("browser/trunk/src/main.py?format=raw", MAIN_PY_2.decode()),
                           ("log/trunk/docs/manual.txt", "Rename the guide"),
                           ("changeset/3", "guide.txt")):
        page = client.get(f"{base}/{path}")
        assert page.status == 200, (path, page.text[:2000], server.error_log()[-3000:])
        main = re.search(r"<main.*?</main>", page.text, re.S)
        assert expected in page.text, (path, main.group(0) if main else page.text[:2000])


def test_subversion_under_mod_wsgi(wsgi_apache):
    _check_subversion_pages(Client(wsgi_apache.url, timeout=60), "projects/alpha", wsgi_apache)


def test_subversion_under_mod_python(modpython_apache):
    _check_subversion_pages(Client(modpython_apache.url, timeout=60), "mp/alpha",
                            modpython_apache)
