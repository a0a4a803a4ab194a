"""The environment's own setup: nothing beyond the core rows yet, kept as a plugin so that
``[components]`` and the plugin list show it like any other."""

from __future__ import annotations

from codeyard.core import hookimpl


@hookimpl
def database_tables():
    return []
