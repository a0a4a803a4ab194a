"""What every project used to build for itself, and now shares with the others in the process
when it is the same: hook markers, compiled templates, URL maps. And what a change of
trac.ini no longer redoes: the readiness of the database."""

from __future__ import annotations

import jinja2
import pluggy
import pytest

from codeyard.core import ComponentRules, make_plugin_manager
from codeyard.web import chrome, routing

pytestmark = pytest.mark.db


def test_hook_markers_are_read_once_per_module(monkeypatch):
    make_plugin_manager(ComponentRules([]))
    calls = []
    original = pluggy.PluginManager.parse_hookimpl_opts

    def counting(self, plugin, name):
        calls.append(name)
        return original(self, plugin, name)

    monkeypatch.setattr(pluggy.PluginManager, "parse_hookimpl_opts", counting)
    pm = make_plugin_manager(ComponentRules([]))
    assert calls == []  # every built-in plugin is a module already read
    assert pm.hook.web_routes.get_hookimpls()

    class Extra:  # an object, not a module: pluggy reads it as it always did
        @staticmethod
        def web_routes():
            return []

    pm.register(Extra())
    assert "web_routes" in calls


def test_projects_share_compiled_templates_but_not_their_own(make_env, tmp_path, monkeypatch):
    one, two = make_env("one"), make_env("two")
    compiled = []
    original = jinja2.Environment.compile

    def counting(self, source, name=None, filename=None, *args, **kw):
        compiled.append(name)
        return original(self, source, name, filename, *args, **kw)

    monkeypatch.setattr(jinja2.Environment, "compile", counting)
    monkeypatch.setattr(chrome, "_SHARED_CODE", chrome.SharedCode())
    first = chrome.template_env(one).get_template("about.html")
    second = chrome.template_env(two).get_template("about.html")
    assert chrome.template_env(one) is not chrome.template_env(two)
    assert compiled.count("about.html") == 1
    assert first is not second  # each project's template object, on its own environment
    assert second.environment is chrome.template_env(two)

    # A project's own copy of a template is compiled from its own text.
    (tmp_path / "two" / "templates" / "about.html").write_text("<p>two's own</p>")
    own = chrome.template_env(two).get_template("about.html")
    assert own.render() == "<p>two's own</p>"
    assert compiled.count("about.html") == 2
    assert chrome.template_env(one).get_template("about.html").filename == first.filename
    assert own.filename != first.filename


def test_compiler_settings_are_part_of_the_key(tmp_path):
    page = tmp_path / "p.html"
    page.write_text("{% if 1 %}\n  x\n{% endif %}\n")
    shared = chrome.SharedCode()
    plain = chrome._Environment(loader=jinja2.FileSystemLoader(str(tmp_path)), autoescape=True)
    trimmed = chrome._Environment(loader=jinja2.FileSystemLoader(str(tmp_path)), autoescape=True,
                                  trim_blocks=True, lstrip_blocks=True)
    plain.bytecode_cache = trimmed.bytecode_cache = shared
    assert trimmed.get_template("p.html").render() == "  x\n"
    assert plain.get_template("p.html").render() == "\n  x\n"


def test_projects_with_the_same_plugins_share_their_url_map(make_env):
    one, two = make_env("one"), make_env("two")
    off = make_env("off", options=[("components", "codeyard.wiki.web", "disabled")])
    r1, r2, r3 = routing.router(one), routing.router(two), routing.router(off)
    assert r1 is not r2 and r1.map is r2.map
    assert r3.map is not r1.map
    assert "wiki" in {rule.endpoint.split(".")[0] for rule in r1.map.iter_rules()}
    assert r1.build("wiki", {"page": "A B"}) == r2.build("wiki", {"page": "A B"})
    with pytest.raises(LookupError):
        r3.build("wiki", {"page": "WikiStart"})


def test_a_trac_ini_change_does_not_redo_the_database_setup(served, monkeypatch):
    env, site = served()
    assert site.get("/about").status_code == 200
    done = []
    original = type(env).ensure_own_tables
    monkeypatch.setattr(type(env), "ensure_own_tables",
                        lambda self: (done.append(self.path), original(self))[1])
    env.config.set("project", "descr", "changed")
    env.config.save()
    env.config.reload_if_changed()
    page = site.get("/about")
    assert page.status_code == 200 and done == []
    # Enabling a plugin may bring tables of its own: then it is done again.
    env.config.set("components", "codeyard.wiki.web", "disabled")
    env.config.save()
    env.config.reload_if_changed()
    assert site.get("/about").status_code == 200
    assert done == [env.path]


def test_the_plugin_manager_outlives_changes_that_leave_components_alone(make_env):
    env = make_env("p")
    pm = env.plugins
    env.config.set("project", "descr", "another")
    env.config.save()
    env.config.reload_if_changed()
    assert env.plugins is pm
    env.config.set("components", "codeyard.wiki.web", "disabled")
    env.config.save()
    env.config.reload_if_changed()
    assert env.plugins is not pm
    assert not env.is_enabled("codeyard.wiki.web")
