"""A site stylesheet written against Trac's element ids, as teams bring it from Trac
(``templates/site_head.html`` linking ``htdocs/style.css``), takes effect in Chromium."""

from __future__ import annotations

import os

import pytest

from codeyard.demo import DEMO_PROJECT, create_demo
from tests.support.codeyard_server import CodeyardServer

pytestmark = pytest.mark.slow

SITE_CSS = """
#ctxtnav { display: none; }
#mainnav { background-color: rgb(10, 20, 30); }
#mainnav li.active a { color: rgb(200, 100, 50); }
#banner #header h1 a, #banner #header a#logo { letter-spacing: 7px; }
#metanav .trac-author-user { text-transform: uppercase; }
#content.wiki { border-left: 9px solid rgb(1, 2, 3); }
#footer { display: none; }
"""


@pytest.fixture
def styled_server(tmp_path):
    parent = str(tmp_path / "demo")
    create_demo(parent, out=lambda *a: None)
    project = os.path.join(parent, DEMO_PROJECT.strip("/"))
    with open(os.path.join(project, "htdocs", "style.css"), "w") as fh:
        fh.write(SITE_CSS)
    with open(os.path.join(project, "templates", "site_head.html"), "w") as fh:
        fh.write('<link rel="stylesheet" href="{{ chrome_url(\'site/style.css\') }}">\n')
    with CodeyardServer("-e", parent) as server:
        yield server


def test_site_css_written_for_trac_ids_takes_effect(styled_server, browser_context):
    from tests.browser.conftest import logged_in_page

    project, page = logged_in_page(styled_server, browser_context)
    page.goto(project + "/wiki/WikiStart")

    def style(selector: str, prop: str) -> str:
        return page.eval_on_selector(selector, f"e => getComputedStyle(e).{prop}")

    assert page.locator("#ctxtnav li").count() >= 2  # Start Page, Index… are there, hidden
    assert not page.locator("#ctxtnav").is_visible()
    assert style("#mainnav", "backgroundColor") == "rgb(10, 20, 30)"
    assert style("#mainnav li.active a", "color") == "rgb(200, 100, 50)"
    assert style("#header h1 a", "letterSpacing") == "7px"
    assert page.locator("#metanav .trac-author-user").inner_text() == "ADMIN"
    assert style("#content", "borderLeftWidth") == "9px"
    assert not page.locator("#footer").is_visible()
    # The per-page class of #content is what the rule keys on: /about keeps no border.
    page.goto(project + "/about")
    assert style("#content", "borderLeftWidth") == "0px"
