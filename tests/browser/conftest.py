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
