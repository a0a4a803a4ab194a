"""The Bazaar parts of `codeyard deploy apache-wsgi`: the projects' /bzr/ route, the
standalone smart server's route and script, and refused settings."""

from __future__ import annotations

import os
import runpy

from breezy import controldir
from breezy.bzr import bzrdir  # noqa: F401  (registers the formats)
from click.testing import CliRunner

from codeyard.web.deploy import deploy_command


def deploy(*args):
    return CliRunner().invoke(deploy_command, [str(a) for a in args])


def read(*parts) -> str:
    with open(os.path.join(*parts), encoding="utf-8") as fh:
        return fh.read()


def shared_repo(path) -> str:
    fmt = controldir.format_registry.make_controldir("2a")
    controldir.ControlDir.create(str(path), format=fmt).create_repository(shared=True)
    controldir.ControlDir.create_branch_convenience(str(path / "trunk"), format=fmt,
                                                   force_new_tree=False)
    return str(path)


def test_single_project_routes_and_the_standalone_server(make_env, tmp_path):
    env = make_env("alpha")
    tree = tmp_path / "tree"
    tree.mkdir()
    shared_repo(tree / "lib")
    out = tmp_path / "out"
    result = deploy("apache-wsgi", out, "--env", env.path, "--url-root", "/code",
                    "--bzr-root", tree, "--bzr-prefix", "branches", "--python-path", "/a")
    assert result.exit_code == 0, result.output
    conf = read(out, "apache-wsgi.conf")
    assert 'WSGIScriptAliasMatch "^/code(?=/bzr(/|$))"' in conf
    assert f'WSGIScriptAliasMatch ^.*/\\.bzr/smart$ "{out}/cgi-bin/bzr.wsgi"' in conf
    assert '<LocationMatch "^(?!/code/bzr(/|$)).*/\\.bzr/smart$">' in conf
    assert f'SetEnv bzr_wsgi.root "{os.path.realpath(tree)}"' in conf
    assert 'SetEnv bzr_wsgi.prefix "/branches/"' in conf
    assert "AuthType Basic" not in conf.split("<LocationMatch")[1]  # no --htpasswd
    assert "Wrote " + str(out / "cgi-bin" / "bzr.wsgi") in result.output
    script = runpy.run_path(str(out / "cgi-bin" / "bzr.wsgi"))
    from codeyard.hosting.bzr_wsgi import application

    assert script["application"] is application


def test_without_a_bazaar_root_only_the_projects_route(make_env, tmp_path):
    env = make_env("alpha")
    out = tmp_path / "out"
    assert deploy("apache-wsgi", out, "--env", env.path).exit_code == 0
    conf = read(out, "apache-wsgi.conf")
    assert 'WSGIScriptAliasMatch "^(?=/bzr(/|$))"' in conf
    assert "# WSGIScriptAliasMatch ^.*/\\.bzr/smart$" in conf
    assert "SetEnv bzr_wsgi.root" not in conf
    assert not os.path.exists(out / "cgi-bin" / "bzr.wsgi")


def test_refused_bazaar_settings(make_env, tmp_path):
    env = make_env("alpha")
    lib = shared_repo(tmp_path / "lib")
    inside = deploy("apache-wsgi", tmp_path / "o1", "--env", env.path, "--bzr-root",
                    os.path.join(lib, "trunk"))
    assert inside.exit_code == 2
    assert "--bzr-root" in inside.output and "inside the shared repository" in inside.output
    nginx = deploy("nginx", tmp_path / "o2", "--env", env.path, "--bzr-root", lib)
    assert nginx.exit_code == 2 and "apache-wsgi" in nginx.output
    quote = deploy("apache-wsgi", tmp_path / "o3", "--env", env.path, "--bzr-root", lib,
                   "--bzr-prefix", 'a"b')
    assert quote.exit_code == 2 and "--bzr-prefix" in quote.output
