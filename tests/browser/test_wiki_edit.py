"""Debian's Chromium, driven by Playwright: edit a wiki page with the live preview, save it."""

from __future__ import annotations

import pytest

from tests.browser.conftest import logged_in_page

pytestmark = pytest.mark.slow


def test_edit_with_live_preview_then_save(demo_server, browser_context):
    project, page = logged_in_page(demo_server, browser_context)
    renders = []
    page.on("request", lambda r: renders.append(r) if r.url.endswith("/wiki_render") else None)

    page.goto(project + "/wiki/BrowserNotes")
    with page.expect_navigation():
        page.get_by_role("button", name="Create this page").click()
    assert "action=edit" in page.url

    editor = page.get_by_label("Page source")
    editor.fill("")
    editor.press_sequentially("= Live heading =\n * first point\n * see WikiStart\n", delay=5)
    preview = page.locator("#preview")
    preview.locator("h1", has_text="Live heading").wait_for()
    assert preview.locator("li").count() == 2
    assert preview.locator('a.wiki[href$="/wiki/WikiStart"]').count() == 1
    assert renders, "the preview came from /wiki_render"
    assert all(r.method == "POST" for r in renders)

    # Typing more updates the same pane.
    editor.press_sequentially(" * '''bold''' third\n", delay=5)
    preview.locator("li strong", has_text="bold").wait_for()

    page.get_by_label("Comment about this change").fill("written in a browser")
    with page.expect_navigation():
        page.get_by_role("button", name="Save changes").click()
    assert page.url.endswith("/wiki/BrowserNotes")
    content = page.locator("#wikipage")
    assert content.locator("h1", has_text="Live heading").count() == 1
    assert content.locator("li strong", has_text="bold").count() == 1

    history = page.goto(project + "/wiki/BrowserNotes?action=history")
    assert history is not None and history.status == 200
    assert "written in a browser" in page.inner_text("body")
