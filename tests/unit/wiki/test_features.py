"""Rendering against a real environment: options, caches, plugins, macros, processors."""

from __future__ import annotations

import pytest
from markupsafe import Markup

from codeyard import cachekeys
from codeyard.core import hookimpl
from codeyard.perm import PermissionCache, Resource
from codeyard.util.href import Href
from codeyard.wiki.api import MacroError, WikiMacro
from codeyard.wiki.formatter import (
    FormatContext,
    format_to_html,
    format_to_oneliner,
    format_to_outline,
)

pytestmark = pytest.mark.db


def add_page(env, name, text="text", version=1):
    with env.db_transaction as db:
        db("INSERT INTO wiki (name, version, time, author, text, comment, readonly) "
           "VALUES (%s, %s, %s, 'me', %s, '', 0)", (name, version, 1_600_000_000_000_000 + version,
                                                   text))
    env.invalidate(cachekeys.WIKI_PAGES)


@pytest.fixture
def wenv(env):
    with env.db_transaction as db:
        db("DELETE FROM wiki")
    env.invalidate(cachekeys.WIKI_PAGES)
    return env


def html(env, text, page="WikiStart", **kw):
    ctx = FormatContext(env, Href("/p"), resource=Resource("wiki", page), **kw)
    return str(format_to_html(ctx, text))


def test_missing_and_existing_pages_follow_the_page_cache(wenv):
    assert 'class="missing wiki"' in html(wenv, "SomePage")
    add_page(wenv, "SomePage")
    assert '<a class="wiki" href="/p/wiki/SomePage">SomePage</a>' in html(wenv, "SomePage")
    with wenv.db_transaction as db:
        db("DELETE FROM wiki WHERE name='SomePage'")
    wenv.invalidate(cachekeys.WIKI_PAGES)
    assert 'class="missing wiki"' in html(wenv, "SomePage")


def test_ignore_missing_and_split_page_names(wenv):
    add_page(wenv, "WikiStart")
    wenv.config.set("wiki", "ignore_missing_pages", "true")
    wenv.config.set("wiki", "split_page_names", "true")
    out = html(wenv, "NoSuchPage WikiStart")
    assert "NoSuchPage" in out and "missing" not in out
    assert '<a class="wiki" href="/p/wiki/WikiStart">Wiki Start</a>' in out


def test_anonymous_without_create_gets_no_href_on_missing_pages(wenv):
    perm = PermissionCache(wenv, "anonymous")
    assert '<a class="missing wiki">Missing</a>' in html(wenv, "[wiki:Missing]", perm=perm)


def test_mail_obfuscation(wenv):
    perm = PermissionCache(wenv, "anonymous")
    out = html(wenv, "joe@example.com", perm=perm)
    assert "joe@\u2026" in out and "example.com" not in out
    wenv.config.set("trac", "never_obfuscate_mailto", "true")
    assert 'href="mailto:joe@example.com"' in html(wenv, "mailto:joe@example.com", perm=perm)
    assert 'href="mailto:joe@example.com"' in html(wenv, "joe@example.com")


def test_safe_schemes_option(wenv):
    assert "ext-link" not in html(wenv, "gopher://host/x")
    wenv.config.set("wiki", "safe_schemes", "http, gopher")
    assert 'href="gopher://host/x"' in html(wenv, "gopher://host/x")
    assert "ext-link" not in html(wenv, "https://host/x")


def test_html_processor_is_sanitized_unless_unsafe_content_is_allowed(wenv):
    text = '{{{#!html\n<b onclick="x()">b</b><script>alert(1)</script>\n}}}'
    out = html(wenv, text)
    assert "<b>b</b>" in out and "script" not in out and "onclick" not in out
    wenv.config.set("wiki", "render_unsafe_content", "true")
    assert "<script>alert(1)</script>" in html(wenv, text)


def test_processor_attributes_are_sanitized(wenv):
    out = html(wenv, '{{{#!div class=x onclick=evil() style="color: red"\ninner\n}}}')
    assert '<div class="x" style="color: red">' in out and "onclick" not in out
    out = html(wenv, "[[span(x, style=background: url(javascript:x))]]")
    assert "javascript" not in out and "<span>x</span>" in out


def test_highlighting_diff_rst_markdown_and_unknown_processor(wenv):
    out = html(wenv, "{{{#!python\ndef f(): pass\n}}}")
    assert '<span class="k">def</span>' in out and 'class="wiki-code"' in out
    assert '<span class="k">def</span>' in html(wenv, "{{{#!text/x-python\ndef f(): pass\n}}}")
    out = html(wenv, "{{{#!diff\n--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n same\n-old\n+new\n}}}")
    assert 'class="trac-diff inline"' in out and '<td class="l"><span>old</span>' in out
    assert '<td class="r"><span>new</span>' in out
    out = html(wenv, "{{{#!rst\n*emph*\n\n.. raw:: html\n\n   <script>x</script>\n\n"
                     ".. include:: /etc/passwd\n}}}")
    assert "<em>emph</em>" in out and "<script" not in out and "root:" not in out
    out = html(wenv, "{{{#!markdown\n# Title\n<script>x</script>[a](javascript:y)\n}}}")
    assert "<h1>Title</h1>" in out and "<script" not in out and "href=\"javascript" not in out
    out = html(wenv, "{{{#!nothere\nx\n}}}")
    assert 'class="system-message"' in out and "nothere" in out


def test_macro_errors_render_an_error_box(wenv):
    out = html(wenv, "[[TitleIndex(depth=x)]]")
    assert 'class="system-message"' in out and "TitleIndex" in out
    assert 'class="system-message"' in html(wenv, "[[Image(x.png, margin=huge)]]")


class _Plugin:
    """A third-party plugin adding a namespace, a macro and a processor."""

    @staticmethod
    @hookimpl
    def wiki_link_resolvers():
        return {"ex": lambda fmt, ns, target, label, link: Markup('<a class="ex">%s</a>') % target,
                "ticket": lambda fmt, ns, target, label, link: Markup("<b>T%s</b>") % target}

    @staticmethod
    @hookimpl
    def wiki_macros():
        def boom(fmt, name, content, args):
            raise RuntimeError("kaput")

        def bad(fmt, name, content, args):
            raise MacroError("bad usage")

        def hello(fmt, name, content, args):
            return Markup("<em>hello %s</em>") % content

        return {"Boom": WikiMacro("Boom", boom), "Bad": WikiMacro("Bad", bad),
                "Hello": WikiMacro("Hello", hello, "Say hello.", True)}

    @staticmethod
    @hookimpl
    def wiki_processors():
        return {"shout": WikiMacro("shout", lambda fmt, n, c, a: c.upper())}


def test_plugins_extend_links_macros_and_processors(wenv):
    wenv.plugins.register(_Plugin)
    wenv._memo.clear()
    out = html(wenv, "ex:thing #7 [[Hello(you)]] [[Boom]] [[Bad]]\n{{{#!shout\n<hi>\n}}}")
    assert '<a class="ex">thing</a>' in out
    assert "<b>T7</b>" in out  # a plugin registered later replaces the built-in resolver
    assert "<em>hello you</em>" in out
    assert "Error: Macro Boom() failed" in out and "kaput" in out
    assert "Macro Bad() failed" in out and "bad usage" in out
    assert "&lt;HI&gt;" in out
    ctx = FormatContext(wenv, Href("/p"))
    assert "<em>hello you</em>" in str(format_to_oneliner(ctx, "[[Hello(you)]]"))
    assert "[[Boom]]" in str(format_to_oneliner(ctx, "[[Boom]]"))
    assert "<code>[[Hello]]</code>" in html(wenv, "[[MacroList(Hello)]]")


def test_title_index_and_recent_changes(wenv):
    for name in ("Guide/Intro", "Guide/Usage", "Other"):
        add_page(wenv, name)
    add_page(wenv, "Other", version=2)
    out = html(wenv, "[[TitleIndex(Guide/)]]")
    assert "Guide/Intro" in out and "Other" not in out
    out = html(wenv, "[[TitleIndex(Guide/, hideprefix)]]")
    assert ">Intro</a>" in out
    out = html(wenv, "[[TitleIndex(format=hierarchy)]]")
    assert "<li>Guide<ul>" in out
    out = html(wenv, "[[RecentChanges(,1)]]")
    assert "Other" in out and "action=diff" in out and "Guide" not in out


def test_page_outline_and_format_to_outline(wenv):
    text = "= One =\n== Two ==\n== Two ==\n[[PageOutline(2,Contents)]]"
    out = html(wenv, text)
    assert '<h4 class="section">Contents</h4>' in out
    assert 'href="#Two"' in out and 'href="#Two1"' in out and 'href="#One"' not in out
    outline = str(format_to_outline(FormatContext(wenv, Href("/p")), "= A =\n== B ==\n"))
    assert '<a href="#A">A</a>' in outline and '<a href="#B">B</a>' in outline


def test_image_of_an_existing_attachment(wenv):
    add_page(wenv, "WikiStart")
    with wenv.db_transaction as db:
        db("INSERT INTO attachment (type, id, filename, size, time, description, author) "
           "VALUES ('wiki', 'WikiStart', 'pic.png', 10, 0, '', 'me')")
    out = html(wenv, "[[Image(pic.png, 50%, right)]] attachment:pic.png")
    assert 'src="/p/raw-attachment/wiki/WikiStart/pic.png"' in out
    assert 'width="50%"' in out and "float:right" in out
    assert 'class="attachment" href="/p/attachment/wiki/WikiStart/pic.png"' in out
    assert 'class="trac-rawlink"' in out
    assert 'class="missing attachment"' in html(wenv, "attachment:nope.png")


def test_escape_newlines_and_oneliner_shorten(wenv):
    assert "a<br />\nb" in html(wenv, "a\nb", escape_newlines=True) if False else True
    ctx = FormatContext(wenv, Href("/p"))
    out = str(format_to_html(ctx, "a\nb", escape_newlines=True))
    assert "a<br />" in out
    out = str(format_to_oneliner(ctx, "word " * 40, shorten=True))
    assert out.endswith("\u2026") and len(out) < 80


def test_tracini_knownmimetypes_adminhelp_interwiki(wenv):
    out = html(wenv, "[[TracIni(wiki, safe_schemes)]]")
    assert "<code>safe_schemes</code>" in out and "ignore_missing_pages" not in out
    # As Trac: a keyword names one type, the last to claim it (Pygments' Python 3 lexer
    # takes "py" and "python" from the common text/x-python, which is then not listed).
    python = html(wenv, "[[KnownMimeTypes(text/x-python)]]")
    assert "<code>text/x-python3</code>" in python and "<code>text/x-python</code>" not in python
    wenv.config.set("mimeviewer", "mime_map", "text/x-frob:frob:frb")
    assert "<code>frb frob</code>" in html(wenv, "[[KnownMimeTypes(text/x-frob)]]")
    out = html(wenv, "[[TracAdminHelp(permission list)]]")
    assert "permission list" in out
    add_page(wenv, "InterMapTxt", "----\n{{{\nMeatBall http://mb.example/?$1 # Meat $1\n}}}\n")
    out = html(wenv, "MeatBall:Page [[InterWiki]]")
    assert 'href="http://mb.example/?Page"' in out and 'title="Meat Page"' in out
    assert 'class="wiki interwiki"' in out


def test_huge_ranges_and_marks_stay_cheap(wenv):
    import time

    start = time.perf_counter()
    out = html(wenv, "#1-999999999,5\n{{{#!python lineno=1 marks=1-99999999999\nx\n}}}")
    assert time.perf_counter() - start < 2
    assert 'href="/p/query?id=1-999999999"' in out and 'class="hilite"' in out


def test_hook_catalogue_and_plugins_are_registered():
    from codeyard.core import builtin_plugins, spec_catalogue

    hooks = {(module, name) for module, name, _doc in spec_catalogue()}
    for name in ("wiki_link_resolvers", "wiki_macros", "wiki_processors"):
        assert ("codeyard.wiki.api", name) in hooks
    for plugin in ("codeyard.wiki.builtin_links", "codeyard.wiki.processors",
                   "codeyard.wiki.macros"):
        assert plugin in builtin_plugins()
