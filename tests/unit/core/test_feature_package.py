"""Adding a feature touches no core file: a package announced through entry points brings a
route, a macro, an option, an admin command and a hook catalogue of its own.

This is the worked example of docs/architecture.md ("Adding a feature").
"""

from __future__ import annotations

import sys
import textwrap

import pytest

from codeyard.env import forget_environment
from tests.unit.web.conftest import Site, text

pytestmark = pytest.mark.db

FEATURE = '''
"""A greeting page, a macro, an option and an admin command."""
import sys

from werkzeug.routing import Rule

from codeyard.admin.api import AdminCommand
from codeyard.config import Option, options_in
from codeyard.core import hookimpl
from codeyard.wiki.api import WikiMacro

GREETING = Option("greeter", "greeting", "Hello", "What the greeter says.")


def hello_page(req, name):
    """/hello/<name> — a greeting, and what the feature's own hook adds to it."""
    extras = [x for found in req.env.hook.greeting_extras(name=name) for x in found]
    return f"{GREETING(req.env.config)}, {name}! {' '.join(extras)}"


@hookimpl
def web_routes():
    return [(Rule("/hello/<name>", endpoint="greeter.hello"), hello_page)]


@hookimpl
def wiki_macros():
    return {"Greet": WikiMacro("Greet", lambda fmt, name, content, args:
                               f"{GREETING(fmt.env.config)} from a macro, {content}")}


@hookimpl
def admin_commands():
    return [AdminCommand("greet", "<name>", "Greet someone",
                         lambda ctx, name: ctx.print(f"{GREETING(ctx.env.config)}, {name}"))]


@hookimpl
def config_options():
    return options_in(sys.modules[__name__])


@hookimpl
def greeting_extras(name):
    return ["(said the greeter)"]
'''

SPECS = '''
from codeyard.core import hookspec


@hookspec
def greeting_extras(name):
    """Return words to add to the greeting for name."""
'''


@pytest.fixture
def greeter(tmp_path, monkeypatch):
    """A distribution installed the way pip installs one: a module and a .dist-info."""
    root = tmp_path / "site"
    (root / "greeter").mkdir(parents=True)
    (root / "greeter" / "__init__.py").write_text(textwrap.dedent(FEATURE))
    (root / "greeter" / "api.py").write_text(textwrap.dedent(SPECS))
    info = root / "greeter-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: greeter\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[codeyard.plugins]\ngreeter = greeter\n\n[codeyard.hookspecs]\ngreeter.api = greeter.api\n")
    monkeypatch.syspath_prepend(str(root))
    yield "greeter"
    for name in ("greeter", "greeter.api"):
        sys.modules.pop(name, None)


def test_a_feature_package_works_without_touching_the_core(greeter, make_env, capsys):
    from codeyard.admin.console import main
    from codeyard.core import known_plugins

    assert ("greeter", False) in known_plugins()
    env = make_env("p", options=[("components", "greeter", "enabled"),
                                 ("codeyard", "config_check_interval", "0")])
    try:
        # The option: declared by the enabled plugin, so the new trac.ini documents it.
        assert env.options.get("greeter", "greeting").doc == "What the greeter says."
        assert env.config.get("greeter", "greeting") == "Hello"
        env.config.set("greeter", "greeting", "Howdy")
        env.config.save()
        # The route, answering through the whole site, with the feature's own hook.
        site = Site({"codeyard.env_path": env.path})
        page = site.get("/hello/ada")
        assert page.status_code == 200
        assert text(page) == "Howdy, ada! (said the greeter)"
        # The macro.
        site_page = site.get("/wiki/WikiStart")
        assert site_page.status_code == 200
        from codeyard.wiki.api import FormatContext
        from codeyard.wiki.formatter import format_to_html

        html = str(format_to_html(FormatContext(env), "[[Greet(bob)]]"))
        assert "Howdy from a macro, bob" in html
        # The admin command.
        assert main([env.path, "greet", "carol"]) == 0
        assert "Howdy, carol" in capsys.readouterr().out
        # Off again: all four disappear for this project.
        env.config.set("components", "greeter", "disabled")
        env.config.save()
        assert site.get("/hello/ada").status_code == 404
        assert env.options.get("greeter", "greeting") is None
        assert "Howdy from a macro" not in str(format_to_html(FormatContext(env), "[[Greet(bob)]]"))
        assert main([env.path, "greet", "carol"]) == 2
    finally:
        forget_environment(env.path)


def test_a_feature_is_off_in_projects_that_do_not_enable_it(greeter, make_env):
    env = make_env("q")
    try:
        assert not env.is_enabled("greeter")
        assert Site({"codeyard.env_path": env.path}).get("/hello/ada").status_code == 404
        with open(env.config.filename, encoding="utf-8") as fh:
            assert "[greeter]" not in fh.read()
    finally:
        forget_environment(env.path)
