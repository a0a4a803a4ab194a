"""Debian's Chromium, driven by Playwright: log in through the form, keep a preference."""

from __future__ import annotations

import pytest

from codeyard.demo import ADMIN_USER
from tests.browser.conftest import logged_in_page

pytestmark = pytest.mark.slow


def test_login_form_then_preference_is_kept(demo_server, browser_context):
    project, page = logged_in_page(demo_server, browser_context)
    assert "/login" not in page.url, page.content()[:2000]
    cookies = {c["name"]: c for c in browser_context.cookies()}
    assert "trac_auth" in cookies and cookies["trac_auth"]["httpOnly"]

    page.goto(project + "/prefs")
    assert ADMIN_USER in page.inner_text("body")
    page.get_by_label("Full name").fill("Ada Lovelace")
    page.get_by_label("Time zone").select_option("Europe/Paris")
    with page.expect_navigation():
        page.get_by_role("button", name="Save changes").click()
    assert "saved=1" in page.url
    assert "Your preferences have been saved" in page.inner_text("body")

    page.reload()
    assert page.get_by_label("Full name").input_value() == "Ada Lovelace"
    assert page.get_by_label("Time zone").input_value() == "Europe/Paris"

    # Another tab of the same browser: the login and the preference are both still there.
    other = browser_context.new_page()
    other.goto(project + "/prefs")
    assert other.get_by_label("Full name").input_value() == "Ada Lovelace"
    assert ADMIN_USER in other.inner_text("body")
