"""Debian's Chromium, driven by Playwright: log in through the form, keep a preference."""

from __future__ import annotations

import os

import pytest

from codeyard.demo import ADMIN_PASSWORD, ADMIN_USER, DEMO_PROJECT, create_demo
from tests.support.codeyard_server import CodeyardServer

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture
def demo_server(tmp_path):
    parent = str(tmp_path / "demo")
    create_demo(parent, out=lambda *a: None)
    with CodeyardServer("-e", parent) as server:
        yield server


@pytest.fixture
def browser_context(tmp_path):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run `make system-deps` (Debian's chromium package)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, headless=True,
            args=CHROMIUM_ARGS)
        try:
            yield context
        finally:
            context.close()


def test_login_form_then_preference_is_kept(demo_server, browser_context):
    project = demo_server.url + DEMO_PROJECT
    page = browser_context.new_page()
    page.set_default_timeout(20_000)

    page.goto(project + "/login")
    page.get_by_label("User name").fill(ADMIN_USER)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()
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
