"""A project that sends its notifications to a real SMTP server of the test."""

from __future__ import annotations

import pytest

from codeyard.sessions import create_session
from tests.support.smtp_server import SmtpServer

USERS = {"alice": "alice@example.org", "bob": "bob@example.org", "carol": "carol@example.org",
         "dave": "dave@example.org"}


@pytest.fixture
def smtp():
    with SmtpServer() as server:
        yield server


def mail_options(port: int, *extra):
    return [("notification", "smtp_enabled", "enabled"),
            ("notification", "smtp_server", "127.0.0.1"),
            ("notification", "smtp_port", str(port)),
            ("notification", "smtp_from", "trac@example.org"),
            ("trac", "base_url", "http://example.org/proj"),
            *extra]


def add_users(env) -> None:
    for sid, address in USERS.items():
        create_session(env, sid, True, {"email": address, "name": sid.title()})


@pytest.fixture
def mail_env(make_env, smtp):
    env = make_env("proj", options=mail_options(smtp.port))
    add_users(env)
    return env
