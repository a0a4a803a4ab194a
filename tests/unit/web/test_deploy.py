"""`codeyard deploy` (front-server configurations) and the admin command `deploy <dir>`."""

from __future__ import annotations

import os
import runpy

import pytest
from click.testing import CliRunner

from codeyard.admin.console import main as admin_main
from codeyard.web.deploy import BUILTIN_HTDOCS, deploy_command


def read(*parts) -> str:
    with open(os.path.join(*parts), encoding="utf-8") as fh:
        return fh.read()


@pytest.fixture
def project(make_env):
    env = make_env("alpha")
    with open(os.path.join(env.path, "htdocs", "logo.txt"), "w", encoding="utf-8") as fh:
        fh.write("site logo\n")
    return env


def deploy(*args):
    return CliRunner().invoke(deploy_command, [str(a) for a in args])


def test_apache_wsgi_single_env(project, tmp_path):
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text("")
    out = tmp_path / "out"
    result = deploy("apache-wsgi", out, "--env", project.path, "--url-root", "/tracker",
                    "--htpasswd", htpasswd, "--realm", "Team", "--https", "--python-path", "/a:/b")
    assert result.exit_code == 0, result.output
    conf = read(out, "apache-wsgi.conf")
    assert "WSGIDaemonProcess codeyard processes=2 threads=15 display-name=%{GROUP} " \
           "python-path=/a:/b" in conf
    assert f'WSGIScriptAlias /tracker "{out}/cgi-bin/codeyard.wsgi"' in conf
    assert f'Alias /tracker/chrome/site "{out}/htdocs/site"' in conf
    assert '<Location "/tracker/login">' in conf and 'AuthName "Team"' in conf
    assert f'AuthUserFile "{htpasswd}"' in conf
    assert "SetEnv HTTPS 1" in conf and "WSGIPassAuthorization On" in conf
    assert "# WSGIScriptAliasMatch ^.*/\\.bzr/smart$" in conf
    assert read(out, "htdocs", "site", "logo.txt") == "site logo\n"
    assert sorted(os.listdir(out / "htdocs" / "common")) == sorted(os.listdir(BUILTIN_HTDOCS))
    script = read(out, "cgi-bin", "codeyard.wsgi")
    namespace = runpy.run_path(str(out / "cgi-bin" / "codeyard.wsgi"))
    assert namespace["SITE"] == {"codeyard.env_path": project.path}
    assert "from codeyard.web.wsgi import application as _site_application" in script


def test_the_wsgi_script_serves_its_site(project, tmp_path):
    out = tmp_path / "out"
    assert deploy("apache-wsgi", out, "--env", project.path).exit_code == 0
    from werkzeug.test import Client

    app = runpy.run_path(str(out / "cgi-bin" / "codeyard.wsgi"))["application"]
    response = Client(app).get("/about", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert project.project_name in response.get_data(as_text=True)


def test_apache_parent_dir_and_modpython_and_nginx(project, tmp_path):
    parent = os.path.dirname(project.path)
    out = tmp_path / "out"
    assert deploy("apache-wsgi", out, "-e", parent, "--url-root", "/projects").exit_code == 0
    conf = read(out, "apache-wsgi.conf")
    assert 'AliasMatch "^/projects/[^/]+/chrome/common/(.*)$"' in conf
    assert f'"{parent}/$1/htdocs/$2"' in conf
    assert "SetEnv HTTPS" not in conf and "AuthType" not in conf
    assert not (out / "htdocs" / "site").exists()

    assert deploy("apache-modpython", out, "-e", parent, "--url-root", "/projects",
                  "--htpasswd", __file__, "--realm", "R").exit_code == 0
    conf = read(out, "apache-modpython.conf")
    assert "PythonHandler codeyard.web.modpython_frontend" in conf
    assert f'PythonOption TracEnvParentDir "{parent}"' in conf
    assert 'PythonOption TracUriRoot "/projects"' in conf
    assert '<LocationMatch "^/projects/[^/]+/login$">' in conf

    assert deploy("nginx", out, "-e", parent, "--url-root", "/projects",
                  "--upstream-port", "8123", "--server-name", "forge.example").exit_code == 0
    conf = read(out, "nginx.conf")
    assert "server 127.0.0.1:8123;" in conf and "server_name forge.example;" in conf
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in conf
    assert f"codeyard serve --hostname 127.0.0.1 --port 8123 --base-path /projects -e {parent}" in conf
    # Every run left the earlier files in place.
    assert (out / "apache-wsgi.conf").exists()


@pytest.mark.parametrize("args, message", [
    ([], "exactly one of --env-parent-dir and --env"),
    (["--env", "/nonexistent"], "not a project environment"),
    (["-e", "/nonexistent"], "no such directory"),
    (["-e", "/", "--htpasswd", "/nonexistent", "--realm", "R"], "no such file"),
    (["-e", "/", "--htpasswd", __file__], "--htpasswd needs --realm"),
    (["-e", "/", "--realm", "R"], "--realm needs --htpasswd"),
    (["-e", "/", "--url-root", "/a b"], "not allowed"),
])
def test_bad_input_writes_nothing(tmp_path, args, message):
    out = tmp_path / "out"
    result = deploy("apache-wsgi", out, *args)
    assert result.exit_code == 2
    assert message in result.output
    assert not out.exists()
    assert os.listdir(tmp_path) == []


def test_admin_deploy_command(project, tmp_path, capsys):
    target = tmp_path / "deployed"
    assert admin_main([project.path, "deploy", str(target)]) == 0
    out = capsys.readouterr().out
    assert "Copying resources from:" in out and "Creating scripts." in out
    assert read(target, "htdocs", "site", "logo.txt") == "site logo\n"
    assert os.path.isdir(target / "htdocs" / "common")
    namespace = runpy.run_path(str(target / "cgi-bin" / "codeyard.wsgi"))
    assert namespace["SITE"] == {"codeyard.env_path": project.path}
    assert admin_main([project.path, "deploy"]) == 2
