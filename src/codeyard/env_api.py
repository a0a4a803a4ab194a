"""Hooks of the environment: creation, upgrades, database tables of plugins."""

from __future__ import annotations

from codeyard.core import hookspec


@hookspec
def environment_created(env, db):
    """Fill a newly created environment with this plugin's default data, inside the creating transaction."""


@hookspec
def database_tables():
    """Return SQLAlchemy Table objects this plugin adds to the schema (names start with codeyard_)."""


@hookspec
def database_extras(env, db):
    """Create what ``database_tables`` cannot declare (full-text tables, special indexes) when missing; return the names of such tables: derived data that copies of the database leave out."""


@hookspec
def config_options():
    """Return the Option and ConfigSection declarations this plugin reads (see ``config.options_in``)."""


@hookspec
def new_environment_config(config):
    """Add settings beyond option defaults to a new environment's trac.ini (before it is saved)."""


@hookspec
def environment_checks(env):
    """(level, subject, message) findings about a project's set-up, ``level`` one of ``ok``,
    ``warn``, ``FAIL``, the message naming the problem and its fix: what ``codeyard check``
    prints (repositories that do not open, …)."""


@hookspec
def environment_served(env):
    """The project is about to answer its first request in this process (start background work such as a mail sender here); called once per environment and process."""
