"""Property-based test: any mix of wiki syntax renders, yields well-formed HTML, and nothing
written in ``#!html`` (or anywhere else) comes out executable."""

from __future__ import annotations

import os
import uuid
from html.parser import HTMLParser

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codeyard.env import Environment
from codeyard.perm import PermissionCache, Resource
from codeyard.util.href import Href
from codeyard.wiki.formatter import FormatContext, format_to_html, format_to_oneliner

USE_POSTGRES = os.environ.get("CODEYARD_TEST_DB") == "postgres"

VOID = {"br", "img", "hr", "col", "input", "meta", "link", "area", "wbr", "source", "embed"}

FRAGMENTS = [
    "'''", "''", "'''''", "__", "~~", "^", ",,", "**", "//", "`", "{{{", "}}}", "!", "\\\\",
    "[[BR]]", "[[br(clear=left)]]", "= ", " =", "== H ==", "----", " * ", " 1. ", " a. ", "  ",
    "    ", " term:: ", "> ", ">> ", "||", "||=", "=||", "|| ", "\\", "|----", "\n", "\n\n",
    "CamelCase", "WikiStart", "!CamelCase", "#1", "#2", "r1", "[1]", "{1}", "[1:2]",
    "wiki:WikiStart", "[wiki:Page label]", "[[Page|label]]", "[[Page]]", "[..]", "[./Sub]",
    "http://example.com/x", "[http://example.com ex]", "<http://example.com>", "a@b.com",
    "mailto:a@b.com", "[=#anchor label]", "[[=#x|y]]", "[[Image(x.png)]]", "[[TitleIndex]]",
    "[[PageOutline]]", "[[NoSuchMacro(a, b=c)]]", "[[span(x, style=color: red)]]",
    "[[html(<b onclick=\"x()\">b</b>)]]", "[[html(<div>d</div>)]]",
    "{{{#!html\n<script>alert(1)</script><b onmouseover=\"evil()\">x</b>\n}}}",
    "{{{#!html\n<a href=\"javascript:alert(1)\">j</a><img src=x onerror=alert(1)>\n}}}",
    "{{{#!html\n<div style=\"background: url(javascript:x)\">s</div><iframe src=x></iframe>\n}}}",
    "{{{#!html\n<p>unclosed <b>tags<div>\n}}}", "{{{#!div class=x onclick=evil()\ninner\n}}}",
    "{{{#!span style=\"color: red\" onmouseover=x\ns\n}}}", "{{{#!td\ncell\n}}}",
    "{{{#!th\nh\n}}}", "{{{#!tr\n||a||\n}}}", "{{{#!table\n||a||\n}}}", "{{{#!comment\nc\n}}}",
    "{{{#!python\ndef f(): pass\n}}}", "{{{#!diff\n--- a\n+++ b\n@@ -1 +1 @@\n-x\n+y\n}}}",
    "{{{#!rst\n*emph* `link <javascript:alert(1)>`_\n.. raw:: html\n\n   <script>x</script>\n}}}",
    "{{{#!markdown\n# T\n<script>x</script>[a](javascript:alert(1))\n}}}",
    "{{{#!htmlcomment\nc\n}}}", "{{{#!nothere\nx\n}}}", "[javascript:alert(1) x]",
    "javascript:alert(1)", "&", "<", ">", "\"", "text", " ", "x", "é", "\t",
]


class _Checker(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        self._check_attrs(tag, attrs)
        if tag == "script":
            self.problems.append("script element")
        if tag == "p" and "p" in self.stack:
            self.problems.append("p inside p")
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self._check_attrs(tag, attrs)

    def _check_attrs(self, tag, attrs):
        for key, value in attrs:
            if key.lower().startswith("on"):
                self.problems.append(f"event attribute {key} on {tag}")
            compact = "".join((value or "").lower().split())
            if key.lower() in ("href", "src", "action") and compact.startswith(
                    ("javascript:", "vbscript:", "data:text/html")):
                self.problems.append(f"script URL in {key} of {tag}")
            if key.lower() == "style" and ("javascript:" in compact or "expression(" in compact
                                           or "url(" in compact):
                self.problems.append(f"active style on {tag}")

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"unbalanced </{tag}> with open {self.stack[-3:]}")
            if tag in self.stack:
                del self.stack[self.stack.index(tag):]
            return
        self.stack.pop()


def check_html(html: str) -> list[str]:
    checker = _Checker()
    checker.feed(html)
    checker.close()
    if checker.stack:
        checker.problems.append(f"unclosed {checker.stack}")
    return checker.problems


@pytest.fixture(scope="module")
def fuzz_env(tmp_path_factory, request):
    url = "sqlite:db/trac.db"
    if USE_POSTGRES:
        url = request.getfixturevalue("postgres").url(schema="t_" + uuid.uuid4().hex[:12])
    env = Environment.create(str(tmp_path_factory.mktemp("fuzz") / "p"),
                             [("project", "name", "p"), ("trac", "database", url)])
    yield env
    env.shutdown()


@pytest.mark.db  # link resolution reads the database
@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=25), st.booleans())
def test_any_mix_renders_safely(fuzz_env, pieces, anonymous):
    text = "".join(pieces)
    perm = PermissionCache(fuzz_env, "anonymous") if anonymous else None
    ctx = FormatContext(fuzz_env, Href("/p"), perm=perm, resource=Resource("wiki", "Sub/Page"))
    html = str(format_to_html(ctx, text))
    assert check_html(html) == [], (text, html)
    line = str(format_to_oneliner(ctx, text))
    assert check_html(line) == [], (text, line)


# Nesting openers, repeated: citations, indentation, lists, wiki processors, table rows and
# cells inside citations, styles.
NESTING = [">", "> ", " ", "  * ", " 1. ", "{{{#!div\n", "{{{#!td\n", "{{{#!tr\n", "}}}\n",
           "|| ", "||", "'''", "''", "//", "**", "__", "\n", "x"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(NESTING), st.integers(1, 1500)), min_size=1,
                max_size=6))
def test_deep_nesting_renders(fuzz_env, runs):
    text = "".join(piece * count for piece, count in runs)
    ctx = FormatContext(fuzz_env, Href("/p"), resource=Resource("wiki", "Deep"))
    html = str(format_to_html(ctx, text))
    assert check_html(html) == [], text[:200]
    assert "Wiki text not rendered" not in html
    assert "Wiki text not rendered" not in str(format_to_oneliner(ctx, text))


def test_checker_catches_problems():
    assert check_html("<p><b>x</p>")
    assert check_html('<a href=" JavaScript:alert(1)">x</a>')
    assert check_html('<img src="x" onerror="y" />')
    assert check_html("<p><p>x</p></p>")
    assert check_html("<script>x</script>")
    assert check_html('<p>ok <br /> <a href="/x">y</a></p>') == []
