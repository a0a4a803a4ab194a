"""Chromium through a real `codeyard serve`: create a ticket, move it through the workflow,
find it in a query — with the pages' own forms, no JavaScript needed."""

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

    page.goto(project + "/query?status=closed&resolution=fixed&order=id&col=id&col=summary")
    row = page.locator(f"td.id a[href$='/ticket/{number}']")
    assert row.count() == 1
    assert page.locator("td.summary", has_text="Browser-made ticket").count() == 1
