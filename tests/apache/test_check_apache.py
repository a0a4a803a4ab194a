"""`codeyard check URL` against a real Apache: one good `codeyard deploy apache-wsgi`
deployment that passes clean, and next to it, under other URL roots of the same server,
the same deployment broken on purpose — each break named by `check`.

One Apache serves every variant (one mod_wsgi daemon process group shared by all), plus an
https virtual host (mod_ssl, a self-signed certificate) for the scheme checks.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile

import pytest

from codeyard.env import Environment
from tests.apache.test_apache_wsgi import python_path
from tests.functional.conftest import make_project
from tests.support.apache import ApacheServer, require_module, run_user, share_with_apache
from tests.support.codeyard_server import run_codeyard
from tests.support.servers import free_port, require_binary

pytestmark = pytest.mark.slow

USER, PASSWORD = "bob", "check-secret"
REALM = "Projects"
GROUP = "codeyard-check"


def _deploy(site, name: str, *extra: str) -> tuple[str, str]:
    out = os.path.join(site["root"], f"deploy-{name}")
    result = run_codeyard("deploy", "apache-wsgi", "-e", site["parent"], "--url-root", f"/{name}",
                          "--python-path", python_path(), "--process-group", GROUP,
                          "--processes", "1", "--threads", "4", *extra, out)
    assert result.returncode == 0, result.stderr
    conf = os.path.join(out, "apache-wsgi.conf")
    with open(conf, encoding="utf-8") as fh:
        return conf, fh.read()


def _write(path: str, text: str) -> str:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    return path


def _edit(text: str, old: str, new: str) -> str:
    assert old in text, (old, text)
    return text.replace(old, new)


def _without_daemon(text: str) -> str:
    """The variants share the good deployment's daemon process group."""
    return re.sub(r"(?m)^WSGIDaemonProcess .*$", "", text)


@pytest.fixture(scope="module")
def site():
    require_module("wsgi")
    require_module("ssl")
    root = tempfile.mkdtemp(prefix="codeyard-check-")
    os.chmod(root, 0o755)
    parent = os.path.join(root, "projects")
    os.makedirs(parent)
    htpasswd = os.path.join(root, "htpasswd")
    subprocess.run([require_binary("htpasswd"), "-cbB", htpasswd, USER, PASSWORD], check=True,
                   capture_output=True)
    alpha = make_project(parent, "alpha", "Alpha Checked")
    # beta checks HTTP Basic itself (its own password file): the Authorization header matters.
    make_project(parent, "beta", "Beta Basic", [("account-manager", "password_file", htpasswd)])
    gamma = make_project(parent, "gamma", "Gamma Old")
    env = Environment(gamma)
    env.set_system_value("database_version", "44")
    env.shutdown()
    password_file = _write(os.path.join(root, "password.txt"), PASSWORD + "\n")
    site = {"root": root, "parent": parent, "htpasswd": htpasswd, "password_file": password_file,
            "gamma": gamma, "alpha": alpha}
    auth = ("--htpasswd", htpasswd, "--realm", REALM)

    includes = []
    good, text = _deploy(site, "good", *auth)
    includes.append(good)

    # The exported stylesheet is not where the Alias points (files not deployed).
    conf, text = _deploy(site, "nocss", *auth)
    text = _edit(_without_daemon(text), f'"{root}/deploy-nocss/htdocs/common/$1"',
                 f'"{root}/not-exported/$1"')
    includes.append(_write(conf, text))

    # The stylesheet served, but as plain text (a ForceType over the exported files).
    conf, text = _deploy(site, "csstype", *auth)
    text = _without_daemon(text) + "\n".join([
        f'<Directory "{root}/deploy-csstype/htdocs/common">', "    ForceType text/plain",
        "</Directory>", ""])
    includes.append(_write(conf, text))

    # A <Location> over the whole URL root asks for a password on every page.
    conf, text = _deploy(site, "locroot", *auth)
    text = _without_daemon(text) + "\n".join([
        '<Location "/locroot">', "    AuthType Basic", f'    AuthName "{REALM}"',
        f'    AuthUserFile "{htpasswd}"', "    Require valid-user", "</Location>", ""])
    includes.append(_write(conf, text))

    # An unanchored LocationMatch: /loginfoo asks too.
    conf, text = _deploy(site, "unanchored", *auth)
    text = _edit(_without_daemon(text), '<LocationMatch "^/unanchored/[^/]+/login$">',
                 '<LocationMatch "^/unanchored/[^/]+/login">')
    includes.append(_write(conf, text))

    # mod_wsgi keeping the Authorization header from the application.
    conf, text = _deploy(site, "nopass")
    text = _edit(_without_daemon(text), "WSGIPassAuthorization On", "WSGIPassAuthorization Off")
    includes.append(_write(conf, text))

    # A static copy of a page (an Alias or DocumentRoot) shadows a form URL, and an Alias
    # over a whole project answers 403 (no index file, no listing).
    conf, text = _deploy(site, "shadow", *auth)
    static = os.path.join(root, "static")
    os.makedirs(os.path.join(static, "empty"))
    _write(os.path.join(static, "prefs.html"), "<html><body>old copy</body></html>\n")
    text = _without_daemon(text) + "\n".join([
        f'Alias /shadow/alpha/prefs "{static}/prefs.html"',
        f'Alias /shadow/beta "{static}/empty"',
        f'<Directory "{static}">', "    Options -Indexes", "    Require all granted",
        "</Directory>", f'<Directory "{static}/empty">', "    Require all denied",
        "</Directory>", ""])
    includes.append(_write(conf, text))

    # A directory of the project's pages on disk: Apache adds a slash to /wiki.
    conf, text = _deploy(site, "slash", *auth)
    os.makedirs(os.path.join(static, "wiki"))
    text = _without_daemon(text) + f'Alias /slash/alpha/wiki "{static}/wiki"\n'
    includes.append(_write(conf, text))

    # The projects' Bazaar route swallowed by another alias.
    conf, text = _deploy(site, "nobzr", *auth)
    text = _without_daemon(text)
    text = re.sub(r"(?m)^WSGIScriptAliasMatch \"\^/nobzr\(\?=.*$",
                  f'AliasMatch "^/nobzr/.*/\\\\.bzr/smart$" "{root}/no-bzr-here"', text)
    assert "no-bzr-here" in text
    includes.append(_write(conf, text))

    # https: a TLS virtual host with a deployment that says so, and one that does not.
    key, cert = os.path.join(root, "key.pem"), os.path.join(root, "cert.pem")
    subprocess.run([require_binary("openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1"],
                   check=True, capture_output=True)
    ssl_port = free_port()
    conf, text = _deploy(site, "tls", "--https", *auth)
    includes.append(_write(conf, _without_daemon(text)))
    conf, text = _deploy(site, "plaintls", *auth)
    includes.append(_write(conf, _without_daemon(text)))
    # The TLS front ends the connection and hands the request to the plain-http server
    # (as a load balancer would): only SetEnv HTTPS 1 tells the application.
    vhost = os.path.join(root, "vhost-tls.conf")
    _write(vhost, "\n".join([
        f"Listen 127.0.0.1:{ssl_port} https", f"<VirtualHost 127.0.0.1:{ssl_port}>",
        "    SSLEngine on", f'    SSLCertificateFile "{cert}"',
        f'    SSLCertificateKeyFile "{key}"', "    ProxyPreserveHost On",
        "    ProxyPass / http://127.0.0.1:{port}/", "</VirtualHost>", ""]))
    includes.append(vhost)

    server_root = os.path.join(root, "httpd")
    os.makedirs(server_root)
    share_with_apache(root)
    server = ApacheServer(server_root, includes, ["wsgi", "ssl", "socache_shmcb", "proxy",
                                                  "proxy_http"])
    # The front's proxy target is the server's own plain port, known once it is chosen.
    with open(vhost, encoding="utf-8") as fh:
        _write(vhost, fh.read().replace("{port}", str(server.port)))
    site["https"] = f"https://127.0.0.1:{ssl_port}/"
    with server:
        site["url"] = server.url
        site["server"] = server
        yield site
    shutil.rmtree(root, ignore_errors=True)


def check(site, path: str, *extra: str, user: bool = True, base: str | None = None):
    args = ["check", (base or site["url"]) + path, "--json", "--timeout", "60", *extra]
    if user:
        args += ["--user", USER, "--password-file", site["password_file"]]
    result = run_codeyard(*args, timeout=180)
    assert result.returncode in (0, 1), result.stderr
    report = json.loads(result.stdout)
    found = [(f["level"], f["subject"], f["message"]) for findings in report.values()
             for f in findings]
    return result.returncode, found


def failures(found) -> list[str]:
    return [f"{subject}: {message}" for level, subject, message in found if level == "FAIL"]


def explain(site, found) -> str:
    return f"{found}\n{site['server'].error_log()[-3000:]}"


def test_a_good_deployment_passes_clean(site):
    server_user = ["--server-user", run_user()] if run_user() else []
    status, found = check(site, "good/alpha/", "--env", site["alpha"], *server_user)
    assert status == 0 and failures(found) == [], explain(site, found)
    assert ("ok", "permissions") in {(level, subject) for level, subject, _m in found}, found
    subjects = {subject for level, subject, _m in found if level == "ok"}
    assert {"page", "static", "login", "forms", "urls", "bzr"} <= subjects, found
    # The site's index leads to its first project; the https virtual host with SetEnv
    # HTTPS 1 passes too.
    status, found = check(site, "good/")
    assert status == 0 and found[0][:2] == ("ok", "site"), found
    assert f"probing {site['url']}good/alpha/" in found[0][2]
    status, found = check(site, "tls/alpha/", "--insecure", base=site["https"])
    assert status == 0 and failures(found) == [], explain(site, found)


def test_environment_needing_upgrade(site):
    status, found = check(site, "good/gamma/")
    assert status == 1
    assert failures(found) == [f"environment: {site['url']}good/gamma/ needs an upgrade of its "
                               f"database: run `codeyard admin {site['gamma']} upgrade`"]


def test_stylesheet_not_deployed(site):
    status, found = check(site, "nocss/alpha/")
    assert status == 1 and len(failures(found)) == 1, found
    assert failures(found)[0].startswith("static: ") and "are not served" in failures(found)[0]
    assert "Alias /nocss/alpha/chrome/common" in failures(found)[0]


def test_stylesheet_of_the_wrong_type(site):
    status, found = check(site, "csstype/alpha/")
    assert status == 1 and len(failures(found)) == 1, explain(site, found)
    assert failures(found)[0].startswith("static: ") and "text/plain" in failures(found)[0]


def test_location_over_every_page(site):
    status, found = check(site, "locroot/alpha/")
    assert status == 1 and len(failures(found)) == 1, found
    assert "covers the whole project" in failures(found)[0]
    assert '<Location "/locroot/alpha/login">' in failures(found)[0]


def test_unanchored_location_match(site):
    status, found = check(site, "unanchored/alpha/")
    assert status == 1 and len(failures(found)) == 1, found
    assert "loginfoo asks for a password too" in failures(found)[0]
    assert '<LocationMatch "^/unanchored/alpha/login$">' in failures(found)[0]


def test_authorization_header_not_passed(site):
    status, found = check(site, "nopass/beta/")
    assert status == 1 and len(failures(found)) == 1, explain(site, found)
    assert failures(found)[0].startswith("auth: ")
    assert "WSGIPassAuthorization On" in failures(found)[0]
    # With the header passed (the good deployment), beta's own Basic check logs bob in.
    status, found = check(site, "good/beta/")
    assert status == 0, found


def test_static_files_shadowing_the_application(site):
    status, found = check(site, "shadow/alpha/")
    assert status == 1 and len(failures(found)) == 1, found
    assert failures(found)[0].startswith("forms: ") and "from the front server" in failures(found)[0]
    status, found = check(site, "shadow/beta/")
    assert status == 1 and len(failures(found)) == 1, found
    assert "answers 403 from the front server" in failures(found)[0]


def test_directory_on_disk_gets_a_slash(site):
    status, found = check(site, "slash/alpha/")
    assert status == 1 and len(failures(found)) == 1, found
    assert f"slash/alpha/wiki is redirected to {site['url']}slash/alpha/wiki/" in failures(found)[0]


def test_bazaar_route_missing(site):
    status, found = check(site, "nobzr/alpha/")
    assert status == 1 and len(failures(found)) == 1, found
    assert failures(found)[0].startswith("bzr: ")
    assert 'WSGIScriptAliasMatch "^/nobzr(?=/[^/]+/bzr(/|$))"' in failures(found)[0]


def test_https_front_without_setenv_https(site):
    status, found = check(site, "plaintls/alpha/", "--insecure", base=site["https"])
    assert status == 1 and len(failures(found)) == 1, explain(site, found)
    assert failures(found)[0].startswith("https: ") and "SetEnv HTTPS 1" in failures(found)[0]
    # Without --insecure the self-signed certificate is refused: a connection failure.
    status, found = check(site, "tls/alpha/", base=site["https"])
    assert status == 1 and [s for level, s, _m in found] == ["connect"], found
