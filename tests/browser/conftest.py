"""Debian's Chromium through Playwright, against a real `codeyard serve` of the demo site."""

from __future__ import annotations

import os

import pytest

from codeyard.demo import create_demo
from tests.support.codeyard_server import CodeyardServer

CHROMIUM = "/usr/bin/chromium"
# Without the networking switches Chromium stalls on look-ups this closed network refuses.
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


def logged_in_page(demo_server, browser_context):
    """(project URL, a page logged in through the login form as the demo's admin)."""
    from codeyard.demo import ADMIN_PASSWORD, ADMIN_USER, DEMO_PROJECT

    project = demo_server.url + DEMO_PROJECT
    page = browser_context.new_page()
    page.set_default_timeout(20_000)
    page.goto(project + "/login")
    page.get_by_label("User name").fill(ADMIN_USER)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()
    return project, page
