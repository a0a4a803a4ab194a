"""Failed logins slow down the (account, address) pair that makes them, with a growing
wait, and never lock the owner out from another address."""

from __future__ import annotations

import base64

import pytest

from codeyard.env import forget_environment
from codeyard.web import auth
from tests.unit.web.conftest import Site, htpasswd, text

pytestmark = pytest.mark.db

ATTACKER = "203.0.113.66"
OWNER = "198.51.100.7"


class Clock:
    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(auth, "time", clock)
    return clock


@pytest.fixture
def accounts(tmp_path):
    path = tmp_path / "users.htpasswd"
    htpasswd(path, "bob", "bob-secret", "B")
    htpasswd(path, "alice", "alice-secret", "B")
    return path


def make(served, accounts, *options):
    return served(options=[("account-manager", "password_file", str(accounts)), *options])


def attempt(site, user, password, addr):
    return site.post("/login", {"user": user, "password": password},
                     environ={"REMOTE_ADDR": addr})


def test_the_owner_and_neighbours_get_in_while_the_attacker_waits(served, accounts, clock):
    env, site = make(served, accounts)
    for _ in range(5):
        assert "Wrong user name" in text(attempt(site, "bob", "guess", ATTACKER))
    blocked = attempt(site, "bob", "bob-secret", ATTACKER)
    assert blocked.status_code == 429
    assert blocked.headers["Retry-After"] == "30"
    assert "Too many failed logins for bob from your address" in text(blocked)
    assert "Wait 30 seconds" in text(blocked)
    plain = site.post("/login", {"user": "bob", "password": "x"}, headers={"Accept": "text/plain"},
                      environ={"REMOTE_ADDR": ATTACKER})
    assert plain.status_code == 429 and plain.text.startswith("429 Too Many Requests")
    # HTTP Basic from the same pair waits too.
    token = base64.b64encode(b"bob:bob-secret").decode()
    basic = site.get("/about", headers={"Authorization": f"Basic {token}"},
                     environ={"REMOTE_ADDR": ATTACKER})
    assert basic.status_code == 429
    # Another process (no shared memory) sees the same wait.
    forget_environment(env.path)
    other = Site(site.environ)
    assert attempt(other, "bob", "bob-secret", ATTACKER).status_code == 429
    # Bob at his own address, and Alice behind the attacker's address, log in.
    owner = Site(site.environ)
    assert attempt(owner, "bob", "bob-secret", OWNER).status_code == 303
    neighbour = Site(site.environ)
    assert attempt(neighbour, "alice", "alice-secret", ATTACKER).status_code == 303


def test_the_wait_doubles_with_each_further_failure_up_to_a_ceiling(served, accounts, clock):
    env, site = make(served, accounts, ("account-manager", "login_attempt_max_delay", "100"))
    for _ in range(5):
        attempt(site, "bob", "guess", ATTACKER)
    waits = []
    for _ in range(4):
        refused = attempt(site, "bob", "guess", ATTACKER)
        assert refused.status_code == 429
        waits.append(int(refused.headers["Retry-After"]))
        clock.now += waits[-1] - 1
        assert attempt(site, "bob", "guess", ATTACKER).status_code == 429  # not yet
        clock.now += 1
        assert "Wrong user name" in text(attempt(site, "bob", "guess", ATTACKER))
    assert waits == [30, 60, 100, 100]
    # A good password from the pair, once its wait is over, starts it afresh.
    clock.now += 100
    assert attempt(site, "bob", "bob-secret", ATTACKER).status_code == 303
    fresh = Site(site.environ)
    assert "Wrong user name" in text(attempt(fresh, "bob", "guess", ATTACKER))


def test_an_account_failing_from_everywhere_is_refused_to_failing_addresses_only(
        served, accounts, clock):
    env, site = make(served, accounts,
                     ("account-manager", "login_attempt_account_max_count", "8"))
    for n in range(8):  # eight addresses, one failure each: no pair reaches five
        assert "Wrong user name" in text(attempt(site, "bob", "guess", f"192.0.2.{n}"))
    refused = attempt(site, "bob", "bob-secret", "192.0.2.3")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) <= 300
    # A new address may try: a wrong password is answered, then that address waits too.
    assert "Wrong user name" in text(attempt(site, "bob", "guess", "192.0.2.99"))
    assert attempt(site, "bob", "guess", "192.0.2.99").status_code == 429
    # The owner, from an address without failures, gets in; other accounts are untouched.
    assert attempt(Site(site.environ), "bob", "bob-secret", OWNER).status_code == 303
    assert attempt(Site(site.environ), "alice", "alice-secret", "192.0.2.3").status_code == 303
    # Once the window has passed, the failing addresses may try again.
    clock.now += 301
    assert attempt(Site(site.environ), "bob", "bob-secret", "192.0.2.3").status_code == 303
