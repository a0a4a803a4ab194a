"""Internal URLs are built from route names: a route can move without hunting strings, and
the URLs equal the ones Trac (and TracLinks' Href) write."""

from __future__ import annotations

import pathlib
import re

import pytest
from werkzeug.routing import Rule

from codeyard.core import hookimpl
from codeyard.util.href import Href
from codeyard.web.request import Request
from codeyard.web.routing import router
from tests.unit.web.conftest import text

pytestmark = pytest.mark.db

SRC = pathlib.Path(__file__).resolve().parents[3] / "src" / "codeyard"


def _req(env, script_name="/proj"):
    return Request({"REQUEST_METHOD": "GET", "PATH_INFO": "/", "SCRIPT_NAME": script_name,
                    "SERVER_NAME": "localhost", "SERVER_PORT": "80", "wsgi.url_scheme": "http",
                    "QUERY_STRING": ""}, env)


@pytest.mark.parametrize("name", ["WikiStart", "Sub/Page", "A&B c", "x?y#z%", "é ü;=+@", "(!*'~)"])
def test_url_for_quotes_as_href(env, name):
    req = _req(env)
    href = Href("/proj")
    assert req.url_for("wiki", page=name) == href.wiki(name)
    assert req.url_for("wiki", page=name, action="edit", version=None) == \
        href.wiki(name, action="edit")
    assert req.url_for("attachment", realm="wiki", path=f"{name}/f.txt") == \
        href.attachment("wiki", name, "f.txt")


def test_url_for_picks_the_rule_the_values_fill(env):
    req = _req(env, "")
    assert req.url_for("wiki") == "/wiki"
    assert req.url_for("wiki", page="X", b=2, a=1) == "/wiki/X?a=1&b=2"
    assert req.url_for("start") == "/"
    assert _req(env).url_for("start") == "/proj"
    assert req.url_for("admin.panel", category="general", panel="basics") == "/admin/general/basics"
    with pytest.raises(LookupError, match="no route named 'nonesuch'"):
        req.url_for("nonesuch")


def test_a_moved_route_moves_every_link(served):
    """A plugin that serves the wiki under another prefix: pages, redirects and navigation
    follow, because nothing pastes /wiki."""
    from codeyard.wiki import web as wiki_web

    class Moved:
        @hookimpl(tryfirst=True)
        def web_routes(self):
            methods = ["GET", "HEAD", "POST"]
            return [(Rule("/pages", endpoint="wiki", methods=methods), wiki_web.wiki_page),
                    (Rule("/pages/<path:page>", endpoint="wiki", methods=methods),
                     wiki_web.wiki_page)]

    env, site = served("moved")
    env.plugins.register(Moved())
    env._memo.clear()
    assert router(env).build("wiki", {"page": "WikiStart"}) == "/pages/WikiStart"
    page = site.get("/pages/WikiStart")
    assert page.status_code == 200
    body = text(page)
    assert 'href="/pages/WikiStart?action=history"' in body
    assert 'href="/pages"' in body  # the Wiki tab of the navigation
    assert site.get("/pages/WikiStart/").headers["Location"].endswith("/pages/WikiStart")


def test_handlers_and_templates_paste_no_internal_paths():
    """Internal URLs go through url_for; ``href`` stays for TracLinks and configured paths."""
    pasted = re.compile(r"\bhref\.(wiki|attachment|admin|prefs|login|logout|register|about|chrome"
                        r"|wiki_render)\(|\bhref\('raw-attachment'")
    offenders = []
    for path in list((SRC / "templates").rglob("*.html")) + list(SRC.rglob("templates/**/*.html")):
        if pasted.search(path.read_text(encoding="utf-8")):
            offenders.append(str(path))
    for path in SRC.rglob("*.py"):
        if path.parts[-2] == "wiki" and path.name in ("builtin_links.py", "links.py", "macros.py",
                                                      "macros.py", "render.py", "inline.py"):
            continue  # TracLinks build Trac's URLs with Href on purpose
        if re.search(r"\breq\.href\.\w+\(", path.read_text(encoding="utf-8")):
            offenders.append(str(path))
    assert sorted(set(offenders)) == []


@pytest.mark.parametrize("value", ["plain", "a/b c", "x?y#z%", "é ü;=+@", "(!*'~)", ""])
def test_built_urls_equal_werkzeugs_for_every_rule(env, value):
    """URLs are built by joining a rule's text around its quoted arguments: the same for
    every rule of every enabled plugin as werkzeug's own build."""
    routes = router(env)
    for rule in routes.map.iter_rules():
        if rule.defaults:
            continue
        values = {name: value.replace("/", "") if name != "path" and "path" not in
                  type(rule._converters[name]).__name__.lower() else value
                  for name in rule.arguments}
        expected = routes._builder.build(rule.endpoint, values, append_unknown=False)
        assert routes.build(rule.endpoint, {**values, "q": "1 2"}) == expected + "?q=1+2", \
            rule.rule


def test_query_strings_quote_as_urlencode_does():
    """The query string is written without urlencode (a page builds hundreds), quoted
    exactly as ``urlencode(..., safe=QUERY_SAFE)`` quotes: checked over many strings."""
    import random
    from urllib.parse import urlencode

    from codeyard.util.href import QUERY_SAFE, query_string

    chars = "aZ9 _.-~!*'()/?&=#%+:;,$@[]é\u00ff\u4e2d\n\t\"<>"
    rnd = random.Random(7)
    for _ in range(3000):
        key = "".join(rnd.choice(chars) for _ in range(rnd.randint(1, 6)))
        value = "".join(rnd.choice(chars) for _ in range(rnd.randint(0, 8)))
        assert query_string({}, [(key, value)]) == "?" + urlencode([(key, value)],
                                                                   safe=QUERY_SAFE)
    assert query_string({"b": "x y", "a": 1, "c": None, "class_": [1, 2], "t": True}) == \
        "?a=1&b=x+y&class=1&class=2&t="
    assert query_string({"only": None}) == "" and query_string({}) == ""


def test_one_value_builds_as_the_general_way(env):
    """A single path value takes a short way; the edge cases still come out as werkzeug's
    rules build them."""
    req = _req(env)
    assert req.url_for("wiki", page="") == "/proj/wiki/"
    assert req.url_for("wiki", page=None) == "/proj/wiki"
    assert req.url_for("wiki", page="A b/c") == "/proj/wiki/A%20b/c"
    assert req.url_for("ticket", id=0) == "/proj/ticket/0"
    assert req.url_for("milestone", name="m 1/2") == "/proj/milestone/m%201/2"
    assert req.url_for("timeline", page="A b/c") == "/proj/timeline?page=A+b%2Fc"
    assert req.url_for("wiki", format="rss") == "/proj/wiki?format=rss"


@pytest.mark.parametrize("script_name", ["/proj", ""])
def test_a_url_builder_builds_what_url_for_builds(env, script_name):
    req = _req(env, script_name)
    cases = [("wiki", "page", ["WikiStart", "A b/c", "é ü;=+@", "", None]),
             ("ticket", "id", [1, 0, "12", ""]),
             ("milestone", "name", ["m 1/2", "x?y#z%"]),
             ("timeline", "format", ["rss", ""])]  # not a path argument: the general way
    for endpoint, name, values in cases:
        build = req.url_builder(endpoint, name)
        for value in values:
            if endpoint == "ticket" and value == "":
                continue  # no ticket URL without an id, either way
            assert build(value) == req.url_for(endpoint, **{name: value}), (endpoint, value)
