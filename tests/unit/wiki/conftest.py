"""Fixtures of the wiki tests."""

from __future__ import annotations

import pytest

from codeyard.env import forget_environment, open_environment


@pytest.fixture
def project(make_env):
    """(the project as the site sees it, a client for its pages)."""
    from tests.unit.wiki.test_web import Site

    env = make_env("project")
    site_env = open_environment(env.path)
    yield site_env, Site(env.path)
    forget_environment(env.path)
