"""API tokens without the web: made with a high-entropy secret stored as its SHA-256 only,
found by their secret, noted when used, revoked by their owner only."""

from __future__ import annotations

import hashlib
import time

import pytest

from codeyard.rest import tokens
from codeyard.rest.tokens import create_token, list_tokens, revoke_token, user_of_token

pytestmark = pytest.mark.db


@pytest.fixture
def env(env):
    env.ensure_own_tables()
    return env


def test_a_token_is_stored_as_its_hash_and_found_by_its_secret(env):
    secret = create_token(env, "alice", "laptop")
    other = create_token(env, "alice", "laptop")  # names need not be unique
    assert secret != other and len(secret) >= 43  # 32 random bytes, URL-safe base64
    with env.db_query as db:
        stored = [r[0] for r in db("SELECT token_hash FROM codeyard_api_token")]
    assert hashlib.sha256(secret.encode()).hexdigest() in stored
    assert secret not in stored and all(secret not in h for h in stored)
    assert user_of_token(env, secret) == "alice"
    assert user_of_token(env, secret + "x") is None
    assert user_of_token(env, "") is None
    assert [t["name"] for t in list_tokens(env, "alice")] == ["laptop", "laptop"]
    assert list_tokens(env, "bob") == []


def test_last_use_is_noted_at_most_once_a_minute(env, monkeypatch):
    secret = create_token(env, "alice", "ci")
    assert list_tokens(env, "alice")[0]["last_used"] is None
    user_of_token(env, secret)
    first = list_tokens(env, "alice")[0]["last_used"]
    assert first is not None
    user_of_token(env, secret)
    assert list_tokens(env, "alice")[0]["last_used"] == first
    later = time.time() + tokens.LAST_USED_PRECISION + 1
    monkeypatch.setattr(tokens.time, "time", lambda: later)
    user_of_token(env, secret)
    assert list_tokens(env, "alice")[0]["last_used"] > first


def test_only_the_owner_revokes_a_token(env):
    secret = create_token(env, "alice", "ci")
    token_id = list_tokens(env, "alice")[0]["id"]
    assert revoke_token(env, "bob", token_id) is False
    assert user_of_token(env, secret) == "alice"
    assert revoke_token(env, "alice", token_id) is True
    assert user_of_token(env, secret) is None
    assert revoke_token(env, "alice", token_id) is False


def test_names_are_required_and_bounded(env):
    with pytest.raises(ValueError, match="name"):
        create_token(env, "alice", "  ")
    with pytest.raises(ValueError, match="at most"):
        create_token(env, "alice", "x" * 101)
