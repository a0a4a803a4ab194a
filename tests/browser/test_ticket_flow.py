"""Chromium through a real `codeyard serve`: create a ticket, move it through the workflow,
edit a comment, look at a diff of the description at phone width, find the ticket in a
query — with the pages' own forms, no JavaScript needed."""

from __future__ import annotations

import pytest

from tests.browser.conftest import logged_in_page

pytestmark = pytest.mark.slow


def test_create_accept_resolve_and_query(demo_server, browser_context):
    project, page = logged_in_page(demo_server, browser_context)

    page.goto(project + "/newticket")
    page.get_by_label("Summary").fill("Browser-made ticket")
    page.get_by_label("Description").fill("Found with ''Chromium''.")
    with page.expect_navigation():
        page.get_by_role("button", name="Create ticket").click()
    assert "/ticket/" in page.url
    number = page.url.rsplit("/", 1)[1]
    assert page.locator("h2.summary", has_text="Browser-made ticket").count() == 1
    assert page.locator(".description em", has_text="Chromium").count() == 1

    page.get_by_label("Comment").fill("Taking this one.")
    page.locator("#action_accept").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Submit changes").click()
    assert page.locator(".trac-status", has_text="accepted").count() == 1
    assert page.locator(".comment", has_text="Taking this one.").count() == 1

    page.locator("#action_resolve").check()
    page.locator("select[name=action_resolve_resolve_resolution]").select_option("fixed")
    with page.expect_navigation():
        page.get_by_role("button", name="Submit changes").click()
    assert page.locator(".trac-status", has_text="closed").count() == 1

    # Edit the first comment with its own form, then change the description.
    with page.expect_navigation():
        page.locator("#edit-comment-1 button").click()
    page.get_by_label("Edit comment 1").fill("Taking this one, for real.")
    with page.expect_navigation():
        page.locator("#trac-comment-editor button[name=edit_comment]").click()
    assert page.locator(".comment", has_text="for real").count() == 1
    assert page.locator(".trac-lastedit", has_text="last modified by").count() == 1
    page.locator("#propertyform details summary").click()
    page.locator("#field_description").fill("Found with ''Chromium''.\nAnd a second line.")
    with page.expect_navigation():
        page.locator("#propertyform button[name=submit]").click()
    with page.expect_navigation():
        page.locator("#changelog a", has_text="diff").last.click()
    assert "action=diff" in page.url
    assert page.locator("table.diff ins", has_text="second line").count() >= 1
    # Readable on a phone: nothing wider than the screen.
    page.set_viewport_size({"width": 360, "height": 740})
    for style in ("inline", "sidebyside"):
        page.goto(page.url.split("&style=")[0] + f"&style={style}")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), style
    page.set_viewport_size({"width": 1280, "height": 800})

    page.goto(project + "/query?status=closed&resolution=fixed&order=id&col=id&col=summary")
    row = page.locator(f"td.id a[href$='/ticket/{number}']")
    assert row.count() == 1
    assert page.locator("td.summary", has_text="Browser-made ticket").count() == 1
