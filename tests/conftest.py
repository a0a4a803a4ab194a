"""Shared fixtures: temporary environments on SQLite, or on a real PostgreSQL when
CODEYARD_TEST_DB=postgres (the database-facing tests, marked ``db``, run again there)."""

from __future__ import annotations

import os
import uuid

import pytest

from codeyard.env import Environment

USE_POSTGRES = os.environ.get("CODEYARD_TEST_DB") == "postgres"


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL server for this test session (started lazily, stopped at the end)."""
    from tests.support.postgres import PostgresServer

    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture
def db_url(request):
    """The database string new test environments use."""
    if USE_POSTGRES:
        server = request.getfixturevalue("postgres")
        return server.url(schema="t_" + uuid.uuid4().hex[:12])
    return "sqlite:db/trac.db"


@pytest.fixture
def make_env(tmp_path, db_url):
    """Create environments: make_env(name='p', **options)."""
    made: list[Environment] = []

    def factory(name: str = "project", options=(), url: str | None = None, **kw) -> Environment:
        opts = [("project", "name", name), ("trac", "database", url or db_url), *options]
        if USE_POSTGRES and url is None and made:
            # Each environment of one test gets a schema of its own.
            opts[1] = ("trac", "database", db_url.rsplit("=", 1)[0] + "=t_" + uuid.uuid4().hex[:12])
        env = Environment.create(str(tmp_path / name), opts, **kw)
        made.append(env)
        return env

    yield factory
    for env in made:
        env.shutdown()


@pytest.fixture
def env(make_env):
    return make_env()


@pytest.fixture
def served(make_env):
    """make a project and return (env as the site sees it, Site client for it)."""
    from codeyard.env import forget_environment, open_environment
    from tests.unit.web.conftest import Site

    paths = []

    def factory(name: str = "project", options=(), **environ):
        env = make_env(name, options=options)
        paths.append(env.path)
        site_env = open_environment(env.path)
        return site_env, Site({"codeyard.env_path": env.path, **environ})

    yield factory
    for path in paths:
        forget_environment(path)
