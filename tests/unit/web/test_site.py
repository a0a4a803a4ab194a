"""Site dispatch: projects chosen per request from the WSGI environ."""

from __future__ import annotations

import os
import shutil
import time

import pytest

from codeyard.env import forget_environment
from codeyard.web import wsgi
from tests.unit.web.conftest import Site, text

pytestmark = pytest.mark.db


@pytest.fixture
def two_projects(make_env):
    a = make_env("alpha", options=[("project", "descr", "First project")])
    b = make_env("beta", options=[("project", "descr", "Second project")])
    a.config.set("project", "name", "Alpha Project")
    a.config.save()
    yield a, b
    forget_environment(a.path)
    forget_environment(b.path)


def test_two_projects_in_one_process_by_environ(two_projects):
    a, b = two_projects
    site = Site({})
    first = site.get("/about", environ={"codeyard.env_path": a.path})
    second = site.get("/about", environ={"trac.env_path": b.path})
    assert first.status_code == second.status_code == 200
    assert "<title>About codeyard – Alpha Project</title>" in text(first)
    assert "– beta</title>" in text(second)
    again = site.get("/", environ={"codeyard.env_path": a.path})
    assert "Alpha Project" in text(again) and "beta" not in text(again)


def test_parent_dir_index_with_template_vars_and_tracignore(two_projects, tmp_path):
    a, b = two_projects
    parent = os.path.dirname(a.path)
    (tmp_path / "hidden-dir").mkdir()
    (tmp_path / ".tracignore").write_text("# comment\nbet*\n")
    template = tmp_path / "tpl" / "projects.html"
    template.parent.mkdir()
    template.write_text("<h1>{{ title }} for {{ team }}</h1>{% for p in projects %}"
                        "<a href='{{ p.href }}'>{{ p.name }}: {{ p.description }}</a>{% endfor %}")
    site = Site({"trac.env_parent_dir": parent, "trac.env_index_template": str(template),
                 "trac.template_vars": "title=Our Projects,team=Core"})
    page = site.get("/")
    assert page.status_code == 200
    body = text(page)
    assert body.startswith("<h1>Our Projects for Core</h1>")
    assert "<a href='/alpha'>Alpha Project: First project</a>" in body
    assert "beta" not in body and "hidden-dir" not in body
    # hidden projects are not served either
    assert site.get("/beta/about").status_code == 404
    assert site.get("/alpha/about").status_code == 200
    # mod_python's "key,val key,val" form, and the default template
    site = Site({"codeyard.env_parent_dir": parent, "trac.template_vars": {"x": "1"}})
    (tmp_path / ".tracignore").unlink()
    body = text(site.get("/"))
    assert 'href="/alpha/"' in body and 'href="/beta/"' in body and "Second project" in body
    assert wsgi.parse_template_vars("a,1 b,two") == {"a": "1", "b": "two"}


def test_mounted_below_a_path_and_project_links(two_projects):
    a, _ = two_projects
    parent = os.path.dirname(a.path)
    site = Site({"codeyard.env_parent_dir": parent, "SCRIPT_NAME": "/projects"})
    index = site.get("/")
    assert 'href="/projects/alpha/"' in text(index)
    page = site.get("/alpha/about")
    assert page.status_code == 200
    assert 'href="/projects/alpha/chrome/common/codeyard.css' in text(page)
    assert 'href="/projects/alpha/prefs"' in text(page)


def test_unknown_project_is_a_404_page(two_projects):
    a, _ = two_projects
    site = Site({"codeyard.env_parent_dir": os.path.dirname(a.path)})
    page = site.get("/nope/wiki")
    assert page.status_code == 404
    assert "There is no project named" in text(page) and "<html" in text(page)
    plain = site.get("/nope/", headers={"Accept": "*/*"})
    assert plain.status_code == 404 and plain.mimetype == "text/plain"
    assert site.get("/.hidden/").status_code == 404


def test_env_paths_list_serves_each_directory(two_projects):
    a, b = two_projects
    site = Site({"codeyard.env_paths": [a.path, b.path]})
    body = text(site.get("/"))
    assert "Alpha Project" in body and "beta" in body
    assert site.get("/beta/about").status_code == 200


def test_process_variables_apply_only_without_environ_settings(two_projects, monkeypatch):
    a, b = two_projects
    monkeypatch.setenv("TRAC_ENV", b.path)
    site = Site({})
    assert "– beta</title>" in text(site.get("/about"))
    assert "Alpha Project" in text(site.get("/about", environ={"trac.env_path": a.path}))
    monkeypatch.delenv("TRAC_ENV")
    assert site.get("/about").status_code == 500  # nothing configured: a readable error
    assert "No project is configured" in text(site.get("/about"))


def test_index_of_1000_projects_opens_no_database(tmp_path, monkeypatch):
    parent = tmp_path / "many"
    parent.mkdir()
    for i in range(1000):
        project = parent / f"p{i:04d}"
        (project / "conf").mkdir(parents=True)
        (project / "VERSION").write_text("Trac Environment Version 1\n")
        (project / "conf" / "trac.ini").write_text(
            f"[project]\nname = Project {i:04d}\ndescr = Number {i}\n"
            "[trac]\ndatabase = sqlite:db/trac.db\n")
    opened = []
    monkeypatch.setattr(wsgi, "open_environment", lambda path: opened.append(path))
    site = Site({"codeyard.env_parent_dir": str(parent)})
    started = time.monotonic()
    page = site.get("/")
    first = time.monotonic() - started
    assert page.status_code == 200
    body = text(page)
    assert body.count("<li>") == 1000
    assert "Project 0999" in body and "Number 500" in body
    started = time.monotonic()
    assert site.get("/").status_code == 200
    cached = time.monotonic() - started
    assert opened == []
    assert not any((parent / f"p{i:04d}" / "db").exists() for i in range(1000))
    assert first < 10 and cached < 2, (first, cached)
    # a changed trac.ini is seen without restart, once the index's one-second reuse is over
    ini = parent / "p0001" / "conf" / "trac.ini"
    ini.write_text("[project]\nname = Renamed One\n")
    os.utime(ini, (time.time() + 5, time.time() + 5))
    monkeypatch.setattr(wsgi, "INDEX_TTL", 0)
    assert "Renamed One" in text(site.get("/"))
    # a new project shows at once: the parent directory changed
    monkeypatch.setattr(wsgi, "INDEX_TTL", 3600)
    shutil.copytree(parent / "p0002", parent / "p1000")
    assert text(site.get("/")).count("<li>") == 1001


def test_environment_needing_upgrade_gets_a_503_page(served):
    env, site = served()
    env.set_system_value("database_version", "44")
    page = site.get("/about")
    assert page.status_code == 503
    assert "upgrade" in text(page) and f"codeyard admin {env.path} upgrade" in text(page)
    env.set_system_value("database_version", "45")
    assert site.get("/about").status_code == 200
