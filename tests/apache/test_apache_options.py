"""The deployment notes' per-location options in a real Apache: a custom project index with
template variables and ``TracLocale``, given as ``PythonOption`` (mod_python) and as
``SetEnv`` (mod_wsgi), and ``PythonDebug On`` showing a failing request's traceback — only
where it is set."""

from __future__ import annotations

import os
import re
import shutil
import tempfile

import pytest

from tests.apache.test_apache_wsgi import python_path
from tests.functional.conftest import make_project
from tests.support.apache import ApacheServer, require_module, share_with_apache
from tests.support.codeyard_server import run_codeyard
from tests.support.http import Client

pytestmark = pytest.mark.slow

INDEX = """<!DOCTYPE html>
<html><head><title>{{ motto }}</title></head><body>
<h1 id="motto">{{ motto }} / {{ team }}</h1>
<ul>{% for p in projects %}<li><a class="project" href="{{ p.href }}">{{ p.name }}</a></li>{% endfor %}</ul>
</body></html>
"""
BROKEN_ABOUT = "{% extends 'layout.html' %}{% block content %}{{ 1 // 0 }}{% endblock %}\n"


def _deploy(target: str, parent: str, out: str, url_root: str) -> str:
    made = run_codeyard("deploy", target, "-e", parent, "--url-root", url_root,
                        "--python-path", python_path(), out)
    assert made.returncode == 0, made.stderr
    with open(os.path.join(out, f"{target}.conf"), encoding="utf-8") as fh:
        return fh.read()


def _write(path: str, text: str) -> str:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    return path


@pytest.fixture(scope="module")
def site():
    root = tempfile.mkdtemp(prefix="codeyard-options-")
    os.chmod(root, 0o755)
    parent = os.path.join(root, "projects")
    os.makedirs(parent)
    delta = make_project(parent, "delta", "Delta Options")
    _write(os.path.join(delta, "templates", "about.html"), BROKEN_ABOUT)
    index = _write(os.path.join(root, "index.html"), INDEX)
    yield {"root": root, "parent": parent, "index": index}
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def modpython(site):
    require_module("python")
    root = site["root"]
    confs = []
    for name, debug in (("mpdebug", True), ("mpquiet", False)):
        text = _deploy("apache-modpython", site["parent"], os.path.join(root, f"deploy-{name}"),
                       f"/{name}")
        extra = [f'    PythonOption TracEnvIndexTemplate "{site["index"]}"',
                 '    PythonOption TracTemplateVars "motto,Welcome team,Options"',
                 "    PythonOption TracLocale de_DE"]
        if debug:
            extra.append("    PythonDebug On")
        text = text.replace("    SetHandler mod_python\n",
                            "    SetHandler mod_python\n" + "\n".join(extra) + "\n", 1)
        confs.append(_write(os.path.join(root, f"{name}.conf"), text))
    share_with_apache(root)
    server = ApacheServer(os.path.join(root, "httpd-modpython"), confs, ["python"])
    os.makedirs(server.root)
    server.modules = ["mpm_prefork" if m == "mpm_event" else m for m in server.modules]
    with server:
        yield server


@pytest.fixture(scope="module")
def wsgi(site):
    require_module("wsgi")
    root = site["root"]
    text = _deploy("apache-wsgi", site["parent"], os.path.join(root, "deploy-wsgiopts"),
                   "/wsgiopts")
    text += "\n".join(['<Location "/wsgiopts">',
                       f'    SetEnv trac.env_index_template "{site["index"]}"',
                       '    SetEnv trac.template_vars "motto=Bienvenue,team=SetEnv"',
                       "    SetEnv trac.locale fr_FR", "</Location>", ""])
    conf = _write(os.path.join(root, "wsgiopts.conf"), text)
    share_with_apache(root)
    server = ApacheServer(os.path.join(root, "httpd-wsgi"), [conf], ["wsgi"])
    os.makedirs(server.root)
    with server:
        yield server


def test_python_options_give_the_index_template_its_variables_and_the_locale(modpython):
    client = Client(modpython.url, timeout=60)
    index = client.get("mpdebug/")
    assert index.status == 200, index.text[:1500] + modpython.error_log()[-2000:]
    assert '<h1 id="motto">Welcome / Options</h1>' in index.text
    assert '<a class="project" href="/mpdebug/delta">' in index.text
    page = client.get("mpdebug/delta/wiki/WikiStart")
    assert page.status == 200 and '<html lang="de-DE">' in page.text


def test_setenv_gives_the_same_under_mod_wsgi(wsgi):
    client = Client(wsgi.url, timeout=60)
    index = client.get("wsgiopts/")
    assert index.status == 200, index.text[:1500] + wsgi.error_log()[-2000:]
    assert '<h1 id="motto">Bienvenue / SetEnv</h1>' in index.text
    assert '<a class="project" href="/wsgiopts/delta">' in index.text
    page = client.get("wsgiopts/delta/wiki/WikiStart")
    assert page.status == 200 and '<html lang="fr-FR">' in page.text


def test_python_debug_shows_tracebacks_only_where_it_is_set(modpython):
    client = Client(modpython.url, timeout=60)
    debug = client.get("mpdebug/delta/about")
    assert debug.status == 500
    assert "Traceback" in debug.text and "ZeroDivisionError" in debug.text
    quiet = client.get("mpquiet/delta/about")
    assert quiet.status == 500
    assert "Traceback" not in quiet.text and "ZeroDivisionError" not in quiet.text
    assert re.search(r"Something went wrong", quiet.text)
