"""Fixtures of the compatibility tests with the real Trac 1.6."""

from tests.support.trac import trac, trac_svn  # noqa: F401 - the session fixtures
