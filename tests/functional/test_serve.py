"""`codeyard serve` as a real process: logins, cookies across workers, CSRF, https, index."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import time

import pytest

from tests.functional.conftest import PASSWORD, USER
from tests.support.codeyard_server import CodeyardServer, run_codeyard
from tests.support.http import Client, fail_on_basic_auth_gap
from tests.support.servers import free_port, require_binary, wait_for_port

pytestmark = pytest.mark.slow

REALM = "Codeyard Realm"


@pytest.fixture(scope="module")
def server(site):
    with CodeyardServer("-e", site.parent, "--basic-auth", f"alpha,{site.htpasswd},{REALM}",
                        workers=2) as srv:
        yield srv


def basic_login(server, auth=(USER, PASSWORD), headers=None) -> tuple[Client, object]:
    client = Client(server.url, auth=auth)
    response = client.get("alpha/login", headers=headers)
    client.auth = None
    return client, response


def form_login(server, user=USER, password=PASSWORD, project="beta",
               headers=None) -> tuple[Client, object]:
    client = Client(server.url)
    page = client.get(f"{project}/login")
    assert page.status == 200, page.text
    token = client.cookies.get("trac_form_token")
    assert token, page.set_cookies()
    response = client.post(f"{project}/login", {"user": user, "password": password,
                                                "__FORM_TOKEN": token, "referer": ""},
                           headers=headers)
    return client, response


def logged_in_as(response, user: str) -> bool:
    return response.status == 200 and re.search(rf"\b{re.escape(user)}\b", response.text) is not None


def test_basic_auth_challenge_and_login(server):
    anonymous = Client(server.url).get("alpha/login")
    assert anonymous.status == 401
    assert anonymous.header("WWW-Authenticate") == f'Basic realm="{REALM}"'

    _, wrong = basic_login(server, auth=(USER, "not-the-password"))
    assert wrong.status == 401

    client, response = basic_login(server)
    fail_on_basic_auth_gap(response)
    assert response.status in (302, 303), response.text
    cookie_lines = [c for c in response.set_cookies() if c.startswith("trac_auth=")]
    assert cookie_lines and "HttpOnly" in cookie_lines[0]
    assert "Secure" not in cookie_lines[0]
    assert "trac_auth" in client.cookies

    # The next request carries only the cookie.
    page = client.get("alpha/prefs")
    assert logged_in_as(page, USER), page.text[:2000]
    assert not logged_in_as(Client(server.url).get("alpha/prefs"), USER)

    # Browsers keep sending the credentials to the pages next to /login: still logged in.
    client.auth = (USER, PASSWORD)
    again = client.get("alpha/prefs")
    fail_on_basic_auth_gap(again)
    assert logged_in_as(again, USER), again.text[:500]


def test_basic_auth_is_per_project(server):
    # beta has no --basic-auth: its /login is the form, not a challenge.
    response = Client(server.url).get("beta/login")
    assert response.status == 200
    assert 'name="password"' in response.text


def test_cookie_reused_across_worker_processes(server, site):
    from concurrent.futures import ThreadPoolExecutor

    client, response = form_login(server)
    assert response.status in (302, 303)
    pids = set()

    def view(_) -> bool:
        return logged_in_as(Client(server.url, cookies=dict(client.cookies)).get("beta/prefs"),
                            USER)

    # Requests at once: a worker busy with one leaves the next connection to the other
    # (one after another, the worker just done tends to take the next one too).
    with ThreadPoolExecutor(4) as pool:
        for _ in range(30):
            assert all(pool.map(view, range(4)))
            pids |= set(re.findall(r'"GET /beta/prefs HTTP/1.1" 200 .* pid=<?(\d+)>?',
                                   server.log()))
            if len(pids) >= 2:
                break
    assert len(pids) >= 2, "both workers should have answered\n" + server.log()[-2000:]

    # A separate server process over the same projects accepts the same cookie.
    with CodeyardServer("-e", site.parent) as other:
        page = Client(other.url, cookies=dict(client.cookies)).get("beta/prefs")
        assert logged_in_as(page, USER)


def test_form_login_and_logout(server):
    _, wrong = form_login(server, password="wrong")
    assert wrong.status == 200
    assert "Wrong user name or password" in wrong.text

    client, response = form_login(server)
    assert response.status in (302, 303), response.text[:2000]
    assert "trac_auth" in client.cookies
    assert logged_in_as(client.get("beta/prefs"), USER)

    # The cookie of beta is not a login for alpha (another project, another path).
    token = client.cookies["trac_form_token"]
    out = client.post("beta/logout", {"__FORM_TOKEN": token})
    assert out.status in (302, 303)
    assert "trac_auth" not in client.cookies
    assert not logged_in_as(client.get("beta/prefs"), USER)


def test_csrf_refused_without_or_with_a_wrong_token(server):
    client = Client(server.url)
    client.get("beta/login")
    assert "trac_form_token" in client.cookies
    missing = client.post("beta/login", {"user": USER, "password": PASSWORD})
    assert missing.status == 400
    wrong = client.post("beta/login", {"user": USER, "password": PASSWORD,
                                       "__FORM_TOKEN": "0" * 32})
    assert wrong.status == 400
    assert "trac_auth" not in client.cookies
    fresh = Client(server.url)  # no token cookie at all
    assert fresh.post("beta/login", {"user": USER, "password": PASSWORD,
                                     "__FORM_TOKEN": "0" * 32}).status == 400


def test_https_urls_from_trusted_forwarded_proto(server):
    # gamma trusts X-Forwarded-* ([trac] use_xforwarded_headers = true).
    _, plain = form_login(server, project="gamma")
    assert plain.location.startswith(f"http://127.0.0.1:{server.port}/gamma")
    client, secure = form_login(server, project="gamma", headers={
        "X-Forwarded-Proto": "https", "X-Forwarded-Host": "example.org"})
    assert secure.status in (302, 303)
    assert secure.location.startswith("https://example.org/gamma"), secure.location
    auth_cookie = next(c for c in secure.set_cookies() if c.startswith("trac_auth="))
    assert "Secure" in auth_cookie

    # beta does not trust them: the redirect stays on the request's own scheme and host.
    _, untrusted = form_login(server, headers={"X-Forwarded-Proto": "https",
                                               "X-Forwarded-Host": "evil.example"})
    assert untrusted.status in (302, 303)
    assert untrusted.location.startswith(f"http://127.0.0.1:{server.port}/beta"), untrusted.location
    auth_cookie = next(c for c in untrusted.set_cookies() if c.startswith("trac_auth="))
    assert "Secure" not in auth_cookie


def test_basic_auth_login_behind_https_proxy(server):
    _, plain = basic_login(server)
    fail_on_basic_auth_gap(plain)
    assert plain.location.startswith("http://")
    _, secure = basic_login(server, headers={"X-Forwarded-Proto": "https",
                                             "X-Forwarded-Host": "example.org"})
    assert secure.status in (302, 303), secure.text
    assert secure.location.startswith("https://example.org/alpha"), secure.location


def test_project_index_and_unknown_project(server):
    index = Client(server.url).get("")
    assert index.status == 200
    assert "Alpha Project" in index.text and "Beta Project" in index.text
    assert 'href="/alpha' in index.text and 'href="/beta' in index.text
    assert index.text.index("Alpha Project") < index.text.index("Beta Project")
    assert "not-a-project" not in index.text
    missing = Client(server.url).get("nosuch/wiki")
    assert missing.status == 404
    assert Client(server.url).get("not-a-project/").status == 404


def test_static_site_files_come_from_the_project(server):
    response = Client(server.url).get("alpha/chrome/site/hello.txt")
    assert response.status == 200
    assert response.text == "static hello from alpha\n"
    assert Client(server.url).get("beta/chrome/site/hello.txt").status == 404


def test_index_template_and_template_vars(site, tmp_path):
    template = tmp_path / "index.html"
    template.write_text(
        "<html><body><h1>{{ site_title }}</h1><ul>"
        "{% for project in projects %}<li><a href=\"{{ project.href }}\">{{ project.name }}</a>"
        " [{{ project.description }}]</li>{% endfor %}</ul><p>{{ motto }}</p></body></html>",
        encoding="utf-8")
    extra = {"TRAC_ENV_INDEX_TEMPLATE": str(template),
             "TRAC_TEMPLATE_VARS": "site_title=Our Forge,motto=Build things"}
    with CodeyardServer("-e", site.parent, extra_env=extra, base_path="/projects") as srv:
        index = Client(srv.url).get("")
        assert index.status == 200, index.text
        assert "<h1>Our Forge</h1>" in index.text
        assert "<p>Build things</p>" in index.text
        assert re.search(r'<a href="/projects/alpha/?">Alpha Project</a>', index.text), index.text
        assert "[The Beta Project description]" in index.text
        # --base-path: the mount point is part of every URL, and nothing is served outside it.
        page = Client(f"http://127.0.0.1:{srv.port}/").get("projects/alpha/chrome/site/hello.txt")
        assert page.status == 200
        assert Client(f"http://127.0.0.1:{srv.port}/").get("alpha/").status == 404


def test_single_env(site):
    with CodeyardServer("-s", site.beta) as srv:
        client = Client(srv.url)
        page = client.get("login")
        assert page.status == 200 and 'name="password"' in page.text
        token = client.cookies["trac_form_token"]
        response = client.post("login", {"user": USER, "password": PASSWORD, "__FORM_TOKEN": token})
        assert response.status in (302, 303)
        assert logged_in_as(client.get("prefs"), USER)


# -- bad input: one clear line, exit status 2


def _error_of(result) -> str:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_basic_auth_without_realm_is_a_cli_error(site):
    line = _error_of(run_codeyard("serve", "--basic-auth", f"alpha,{site.htpasswd}", "-e", site.parent))
    assert line.startswith("Error: --basic-auth")
    assert "realm" in line


def test_basic_auth_with_an_empty_realm_serves_as_tracd_does(site):
    # tracd accepts PROJECT,FILE, (an empty realm): so do we, the realm then defaults.
    with CodeyardServer("-e", site.parent, "--basic-auth", f"alpha,{site.htpasswd},") as srv:
        challenge = Client(srv.url).get("alpha/login")
        assert challenge.status == 401
        assert challenge.header("WWW-Authenticate") == 'Basic realm="alpha"'
        client, response = basic_login(srv)
        assert response.status in (302, 303), response.text
        assert logged_in_as(client.get("alpha/prefs"), USER)


def test_bad_inputs_are_refused_before_starting(site, tmp_path):
    assert "no such file" in _error_of(run_codeyard(
        "serve", "--basic-auth", f"*,{tmp_path}/missing,R", "-e", site.parent))
    assert "not a project environment" in _error_of(run_codeyard("serve", str(tmp_path)))
    assert "no such project" in _error_of(run_codeyard(
        "serve", "--basic-auth", f"delta,{site.htpasswd},R", "-e", site.parent))
    assert "--env-parent-dir" in _error_of(run_codeyard("serve"))
    assert "--certfile" in _error_of(run_codeyard("serve", "--protocol", "https", site.alpha))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        line = _error_of(run_codeyard("serve", "--port", str(port), site.alpha))
    assert f"port {port}" in line


def test_https_protocol_with_certificate(site, tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run([require_binary("openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1"],
                   check=True, capture_output=True)
    with CodeyardServer("--protocol", "https", "--certfile", str(cert), "--keyfile", str(key),
                        "-e", site.parent) as srv:
        client = Client(f"https://127.0.0.1:{srv.port}/")
        page = client.get("beta/login")
        assert page.status == 200
        token = client.cookies["trac_form_token"]
        response = client.post("beta/login", {"user": USER, "password": PASSWORD,
                                              "__FORM_TOKEN": token})
        assert response.status in (302, 303)
        assert response.location.startswith(f"https://127.0.0.1:{srv.port}/beta")
        auth_cookie = next(c for c in response.set_cookies() if c.startswith("trac_auth="))
        assert "Secure" in auth_cookie
        assert logged_in_as(client.get("beta/prefs"), USER)


def test_daemonize_with_pidfile(site, tmp_path):
    pidfile = tmp_path / "serve.pid"
    port = free_port()
    result = run_codeyard("serve", "-d", "--pidfile", str(pidfile), "--port", str(port),
                          "--workers", "1", "-e", site.parent, timeout=30)
    assert result.returncode == 0, result.stderr
    deadline = time.monotonic() + 30
    while not pidfile.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    pid = int(pidfile.read_text().strip())
    try:
        wait_for_port(port, 30)
        assert Client(f"http://127.0.0.1:{port}/").get("").status == 200
    finally:
        os.kill(pid, signal.SIGTERM)
        while time.monotonic() < deadline + 15:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def digest_header(challenge: str, user: str, password: str, method: str, uri: str) -> str:
    fields = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
    realm, nonce = fields["realm"], fields["nonce"]

    def md5(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()

    cnonce, nc = "0a4f113b", "00000001"
    ha1, ha2 = md5(f"{user}:{realm}:{password}"), md5(f"{method}:{uri}")
    response = md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
    return (f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
            f'qop=auth, nc={nc}, cnonce="{cnonce}", response="{response}", algorithm=MD5')


def test_digest_auth_login(site, tmp_path):
    realm = "Digest Realm"
    htdigest = tmp_path / "htdigest"
    ha1 = hashlib.md5(f"{USER}:{realm}:{PASSWORD}".encode()).hexdigest()
    htdigest.write_text(f"{USER}:{realm}:{ha1}\n")
    with CodeyardServer("-a", f"alpha,{htdigest},{realm}", "-e", site.parent) as srv:
        client = Client(srv.url)
        challenge = client.get("alpha/login")
        assert challenge.status == 401
        offer = challenge.header("WWW-Authenticate")
        assert offer.startswith("Digest ") and f'realm="{realm}"' in offer
        wrong = client.get("alpha/login", headers={
            "Authorization": digest_header(offer, USER, "bad", "GET", "/alpha/login")})
        assert wrong.status == 401
        response = client.get("alpha/login", headers={
            "Authorization": digest_header(offer, USER, PASSWORD, "GET", "/alpha/login")})
        assert response.status in (302, 303), response.text
        assert logged_in_as(client.get("alpha/prefs"), USER)


def test_several_envs_without_parent_dir(site):
    with CodeyardServer(site.alpha, site.beta) as srv:
        client = Client(srv.url)
        index = client.get("")
        assert index.status == 200
        assert "Alpha Project" in index.text and "Beta Project" in index.text
        assert "Gamma Project" not in index.text
        assert client.get("beta/about").status == 200
        assert client.get("gamma/about").status == 404


def test_check_warns_of_a_base_url_that_disagrees(site, tmp_path):
    # A project whose [trac] base_url names another host, served by `codeyard serve`.
    from codeyard.env import Environment

    env = Environment(site.alpha)
    env.config.set("trac", "base_url", "http://elsewhere.example/alpha")
    env.config.set("trac", "use_base_url_for_redirect", "true")
    env.config.save()
    env.shutdown()
    try:
        password = tmp_path / "password"
        password.write_text(PASSWORD + "\n")
        with CodeyardServer("-e", site.parent, "--basic-auth",
                            f"alpha,{site.htpasswd},{REALM}") as srv:
            result = run_codeyard("check", srv.url + "alpha/", "--json", "--user", USER,
                                  "--password-file", str(password))
        assert result.returncode in (0, 1), result.stderr
        report = json.loads(result.stdout)
        warned = [f["message"] for findings in report.values() for f in findings
                  if (f["level"], f["subject"]) == ("warn", "base_url")]
        assert warned and "http://elsewhere.example" in warned[0], result.stdout
    finally:
        env = Environment(site.alpha)
        env.config.remove("trac", "base_url")
        env.config.remove("trac", "use_base_url_for_redirect")
        env.config.save()
        env.shutdown()
