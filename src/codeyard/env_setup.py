"""The environment's own settings and tables, as a plugin like any other, so that
``[components]`` and the plugin list show it."""

from __future__ import annotations

from codeyard import env
from codeyard.config import options_in
from codeyard.core import hookimpl


@hookimpl
def config_options():
    return options_in(env)


@hookimpl
def database_tables():
    return []
