"""`codeyard deploy nginx`: a real nginx in front of `codeyard serve`, as generated."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.functional.conftest import PASSWORD, USER
from tests.support.codeyard_server import CodeyardServer, run_codeyard
from tests.support.http import Client
from tests.support.servers import free_port, require_binary, stop_process, wait_for_port

pytestmark = pytest.mark.slow


def nginx_main_conf(prefix: str, site_conf: str) -> str:
    user = "user root;\n" if os.geteuid() == 0 else ""
    temps = "\n".join(f"    {kind}_temp_path {prefix}/{kind};"
                      for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return (f"{user}daemon off;\nworker_processes 1;\npid {prefix}/nginx.pid;\n"
            f"error_log {prefix}/error.log info;\nevents {{ worker_connections 64; }}\n"
            f"http {{\n    access_log off;\n{temps}\n    include /etc/nginx/mime.types;\n"
            f"    include {site_conf};\n}}\n")


@pytest.fixture(scope="module")
def nginx_site(site, tmp_path_factory):
    nginx = require_binary("nginx", "/usr/sbin/nginx")
    root = tmp_path_factory.mktemp("nginx")
    port = free_port()
    with CodeyardServer("-e", site.parent, base_path="/projects") as backend:
        out = root / "deploy"
        result = run_codeyard("deploy", "nginx", "-e", site.parent, "--url-root", "/projects",
                              "--listen", f"127.0.0.1:{port}", "--server-name", "localhost",
                              "--upstream-port", str(backend.port), str(out))
        assert result.returncode == 0, result.stderr
        prefix = root / "prefix"
        prefix.mkdir()
        conf = prefix / "nginx-main.conf"
        conf.write_text(nginx_main_conf(str(prefix), str(out / "nginx.conf")))
        check = subprocess.run([nginx, "-t", "-p", str(prefix), "-c", str(conf)],
                               capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
        proc = subprocess.Popen([nginx, "-p", str(prefix), "-c", str(conf)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            wait_for_port(port, 30, proc)
            yield {"url": f"http://127.0.0.1:{port}/", "port": port, "out": out}
        finally:
            stop_process(proc)


def test_generated_nginx_config_proxies_the_site(nginx_site):
    conf = (nginx_site["out"] / "nginx.conf").read_text()
    assert "proxy_pass http://codeyard;" in conf
    client = Client(nginx_site["url"])
    index = client.get("projects/")
    assert index.status == 200
    assert "Alpha Project" in index.text and 'href="/projects/alpha' in index.text
    page = client.get("projects/alpha/chrome/site/hello.txt")
    assert page.status == 200 and page.text == "static hello from alpha\n"
    # Built-in static files come straight from the exported copy.
    common = client.get("projects/alpha/chrome/common/codeyard.css")
    exported = nginx_site["out"] / "htdocs" / "common" / "codeyard.css"
    assert common.status == 200 and common.body == exported.read_bytes()
    assert client.get("projects/nosuch/").status == 404


def test_login_redirect_keeps_the_public_host_and_port(nginx_site):
    # gamma trusts X-Forwarded-*; nginx passes the Host with its port.
    client = Client(nginx_site["url"])
    client.get("projects/gamma/login")
    token = client.cookies["trac_form_token"]
    response = client.post("projects/gamma/login", {"user": USER, "password": PASSWORD,
                                                    "__FORM_TOKEN": token})
    assert response.status in (302, 303), response.text[:1000]
    assert response.location.startswith(f"http://127.0.0.1:{nginx_site['port']}/projects/gamma")
    prefs = client.get("projects/gamma/prefs")
    assert prefs.status == 200 and USER in prefs.text
