"""The ``#!html`` sanitizer: Trac 1.6's ``[wiki] safe_schemes`` / ``safe_origins`` /
``render_unsafe_content`` rules, and no fake login forms."""

from __future__ import annotations

import pytest

from codeyard.perm import Resource
from codeyard.util.href import Href
from codeyard.wiki.formatter import FormatContext, format_to_html

pytestmark = pytest.mark.db


def html(env, markup: str, site: str | None = "http://wiki.example.org/p") -> str:
    ctx = FormatContext(env, Href("/p"), abs_href=Href(site) if site else None,
                        resource=Resource("wiki", "WikiStart"))
    return str(format_to_html(ctx, "{{{#!html\n" + markup + "\n}}}")).strip()


def test_password_fields_are_dropped(env):
    out = html(env, '<form action="/p/search"><input type="PassWord" name="pw">'
                    '<input name="q"></form>')
    assert out == '<form action="/p/search"><input name="q"></form>'
    assert "password" not in html(env, '<input type=" password " name="pw">').lower()
    # With render_unsafe_content, the HTML is used as written.
    markup = ('<form action="http://elsewhere.example/"><input type="password" name="pw">'
              '</form><a href="data:text/html,x">x</a>')
    env.config.set("wiki", "render_unsafe_content", "true")
    assert html(env, markup) == markup


OFF_SITE = ["http://evil.example/steal", "https://wiki.example.org.evil.example/p",
            "//evil.example/steal", "\\\\evil.example/steal", "/\\evil.example/steal",
            " https://evil.example/", "ftp://wiki.example.org/p", "HTTP://EVIL.example/"]
ON_SITE = ["", "/p/search", "search", "?q=1", "#top", "http://wiki.example.org/p/search",
           "//wiki.example.org/p/x", "HTTP://Wiki.Example.org/p"]


def test_only_forms_posting_to_this_site_stay(env):
    for action in OFF_SITE:
        out = html(env, f'<form action="{action}" method="post"><input name="user">'
                        '<button>Log in</button></form>')
        assert "<form" not in out and "</form>" not in out and "evil" not in out, action
        assert '<input name="user">' in out  # the rest stays, inert
    for action in ON_SITE:
        attr = f' action="{action}"' if action else ""
        out = html(env, f'<form{attr} method="post"><input name="q"></form>')
        assert out.startswith("<form") and out.endswith("</form>"), action


def test_without_a_known_site_only_relative_actions_stay(env):
    assert "<form" not in html(env, '<form action="http://wiki.example.org/p"></form>', site=None)
    assert "<form" in html(env, '<form action="/p/x"></form>', site=None)


def test_urls_follow_safe_schemes_as_trac_does(env):
    # data:, mailto: and javascript: are not in the default safe_schemes.
    assert html(env, '<a href="data:text/html,x">x</a>') == "<a>x</a>"
    assert html(env, '<img src="data:image/png;base64,AAAA">') == "<img>"
    assert html(env, '<a href="mailto:a@example.org">m</a>') == "<a>m</a>"
    assert html(env, '<a href="jav&#x09;ascript:alert(1)">j</a>') == "<a>j</a>"
    assert html(env, '<blockquote cite="javascript:x">q</blockquote>') == "<blockquote>q</blockquote>"
    for url in ("https://example.com/", "svn+ssh://host/repo", "/p/wiki/Other", "Other#x"):
        assert f'href="{url}"' in html(env, f'<a href="{url}">a</a>'), url
    env.config.set("wiki", "safe_schemes", "https, data")
    assert html(env, '<a href="data:text/html,x">x</a>') == '<a href="data:text/html,x">x</a>'
    assert html(env, '<img src="data:image/png;base64,AAAA">') == '<img src="data:image/png;base64,AAAA">'
    assert html(env, '<a href="http://example.com/">a</a>') == "<a>a</a>"


def test_pictures_from_other_origins_load_without_credentials(env):
    assert (html(env, '<img src="http://img.example.com/a.png">')
            == '<img src="http://img.example.com/a.png" crossorigin="anonymous">')
    assert 'crossorigin="anonymous"' in html(env, '<img src="//img.example.com/a.png">')
    assert 'crossorigin="anonymous"' in html(env, '<input type="image" src="https://x.example/a">')
    assert html(env, '<img src="/p/chrome/site/a.png">') == '<img src="/p/chrome/site/a.png">'
    env.config.set("wiki", "safe_origins", "http://img.example.com, data:")
    assert html(env, '<img src="http://img.example.com/a.png">') == '<img src="http://img.example.com/a.png">'
    assert 'crossorigin' in html(env, '<img src="http://img.example.com.evil.example/a.png">')
    assert 'crossorigin' in html(env, '<img src="https://img.example.com/a.png">')
    env.config.set("wiki", "safe_origins", "*")
    assert 'crossorigin' not in html(env, '<img src="https://anywhere.example/a.png">')


def test_css_urls_follow_safe_schemes_and_origins(env):
    assert html(env, '<div style="background: url(http://img.example.com/a.png)">x</div>') == "<div>x</div>"
    assert html(env, '<div style="background: url(data:image/png;base64,AA)">x</div>') == "<div>x</div>"
    assert "url(" in html(env, '<div style="background: url(/p/chrome/site/a.png)">x</div>')
    env.config.set("wiki", "safe_origins", "http://img.example.com, data:")
    assert "url(" in html(env, '<div style="background: url(http://img.example.com/a.png)">x</div>')
    assert "url(" not in html(env, '<div style="background: url(http://other.example/a.png)">x</div>')


def test_processor_parameters_follow_the_same_rules(env):
    ctx = FormatContext(env, Href("/p"))
    text = '{{{#!div style="background: url(http://x.example/a.png)"\ninner\n}}}'
    assert "x.example" not in str(format_to_html(ctx, text))
    env.config.set("wiki", "safe_origins", "http://x.example")
    assert "url(http://x.example/a.png)" in str(format_to_html(ctx, text))
