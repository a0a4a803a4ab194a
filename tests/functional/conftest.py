"""Sites on disk for the functional tests: a parent directory of projects and accounts."""

from __future__ import annotations

import os

import bcrypt
import pytest

from codeyard.env import Environment

USER, PASSWORD = "alice", "wonder-land"


def write_htpasswd(path: str, entries: dict[str, str]) -> str:
    with open(path, "w", encoding="ascii") as fh:
        for user, password in entries.items():
            hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
            fh.write(f"{user}:$2y${hashed[4:]}\n")
    return path


def serve_with_accounts(tmp_path, env_path: str, users, password: str):
    """``codeyard serve`` of one project, two workers, HTTP Basic on /login against an
    htpasswd file holding ``users`` (all with ``password``)."""
    from tests.support.codeyard_server import CodeyardServer

    htpasswd = write_htpasswd(str(tmp_path / "htpasswd"), {u: password for u in users})
    return CodeyardServer("-s", env_path, "--basic-auth", f"*,{htpasswd},Kettles", workers=2)


def login(server, user: str, password: str):
    """(a client logged in as ``user`` by its cookie, its form token)."""
    from tests.support.http import Client

    client = Client(server.url, auth=(user, password))
    assert client.get("login").status in (200, 302, 303)
    client.auth = None
    page = client.get("newticket")
    assert page.status == 200 and user in page.text, page.text[:300]
    return client, client.cookies["trac_form_token"]


def make_project(parent: str, name: str, title: str, options=()) -> str:
    env = Environment.create(os.path.join(parent, name), [
        ("project", "name", title),
        ("project", "descr", f"The {title} description"),
        ("logging", "log_type", "none"),
        *options,
    ])
    env.shutdown()
    return env.path


class Site:
    """``parent``: alpha (Basic auth from the server, trusts X-Forwarded-*), beta (login
    form against ``htpasswd``), gamma (login form, trusts X-Forwarded-*), and a directory
    that is not a project."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.parent = os.path.join(root, "projects")
        os.makedirs(self.parent)
        self.htpasswd = write_htpasswd(os.path.join(root, "htpasswd"), {USER: PASSWORD})
        self.alpha = make_project(self.parent, "alpha", "Alpha Project", [
            ("trac", "use_xforwarded_headers", "true")])
        self.beta = make_project(self.parent, "beta", "Beta Project", [
            ("account-manager", "password_file", self.htpasswd)])
        self.gamma = make_project(self.parent, "gamma", "Gamma Project", [
            ("account-manager", "password_file", self.htpasswd),
            ("trac", "use_xforwarded_headers", "true")])
        os.makedirs(os.path.join(self.parent, "not-a-project"))
        with open(os.path.join(self.alpha, "htdocs", "hello.txt"), "w", encoding="utf-8") as fh:
            fh.write("static hello from alpha\n")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Site:
    return Site(str(tmp_path_factory.mktemp("site")))
