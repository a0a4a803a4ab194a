"""Per-user API tokens: made, listed and revoked in ``/prefs/api-tokens``, sent as
``Authorization: Bearer <token>`` (or ``Authorization: token <token>``).

A token is ``secrets.token_urlsafe(32)``; only its SHA-256 is stored (table
``codeyard_api_token``), so the secret is shown once, when it is made. The lookup is by
hash, then the hashes are compared in constant time. An unknown or revoked token is
refused (401) rather than taken for an anonymous request.
"""

from __future__ import annotations

import hashlib
import secrets
import time

from sqlalchemy import Column, Index, Integer, MetaData, Table, Text

from codeyard.core import hookimpl
from codeyard.db.api import row_id
from codeyard.db.schema import INT64
from codeyard.web.api import HTTPBadRequest, HTTPForbidden, HTTPUnauthorized

_metadata = MetaData()
API_TOKEN = Table(
    "codeyard_api_token", _metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("token_hash", Text, nullable=False, unique=True),
    Column("created", INT64),
    Column("last_used", INT64),
    Index("codeyard_api_token_user_idx", "username"),
)

MAX_NAME = 100
# A token's "last used" time is written at most this often (seconds): a script calling in a
# loop does not turn every read into a write.
LAST_USED_PRECISION = 60


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _now_us() -> int:
    return int(time.time() * 1_000_000)


def create_token(env, username: str, name: str) -> str:
    """Make a token for ``username`` and return its secret (stored only as its hash)."""
    name = name.strip()
    if not name:
        raise ValueError("Give the token a name (what it is for).")
    if len(name) > MAX_NAME:
        raise ValueError(f"A token's name has at most {MAX_NAME} characters.")
    secret = secrets.token_urlsafe(32)
    with env.db_transaction as db:
        db("INSERT INTO codeyard_api_token (username, name, token_hash, created, last_used) "
           "VALUES (%s, %s, %s, %s, NULL)", (username, name, _hash(secret), _now_us()))
    return secret


def list_tokens(env, username: str) -> list[dict]:
    with env.db_query as db:
        rows = db("SELECT id, name, created, last_used FROM codeyard_api_token "
                  "WHERE username=%s ORDER BY created, id", (username,))
    return [{"id": int(r[0]), "name": r[1], "created": r[2], "last_used": r[3]} for r in rows]


def revoke_token(env, username: str, token_id: int) -> bool:
    """Delete one of ``username``'s tokens; False when they have no such token."""
    with env.db_transaction as db:
        return db.execute_rowcount("DELETE FROM codeyard_api_token WHERE id=%s AND username=%s",
                                   (token_id, username)) > 0


def user_of_token(env, secret: str) -> str | None:
    """The user a token speaks for (noting when it was used), or None."""
    wanted = _hash(secret)
    with env.db_query as db:
        rows = db("SELECT id, username, token_hash, last_used FROM codeyard_api_token "
                  "WHERE token_hash=%s", (wanted,))
    for token_id, username, stored, last_used in rows:
        if secrets.compare_digest(stored, wanted):
            now = _now_us()
            if not last_used or now - int(last_used) > LAST_USED_PRECISION * 1_000_000:
                with env.db_transaction as db:
                    db("UPDATE codeyard_api_token SET last_used=%s WHERE id=%s", (now, token_id))
            return username
    return None


def token_of(req) -> str | None:
    """The token an ``Authorization: Bearer …`` or ``Authorization: token …`` header sends."""
    header = req.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() in ("bearer", "token") and value.strip():
        return value.strip()
    return None


def authenticate_token(req) -> str | None:
    secret = token_of(req)
    if secret is None:
        return None
    user = user_of_token(req.env, secret)
    if user is None:
        raise HTTPUnauthorized("The API token is unknown or has been revoked.",
                               headers=[("WWW-Authenticate", 'Bearer realm="api"')])
    req.auth_method = "token"
    return user


@hookimpl
def database_tables():
    return [API_TOKEN]


@hookimpl
def request_authenticators():
    return [authenticate_token]


# ---------------------------------------------------------------------------
# /prefs/api-tokens

@hookimpl
def preference_panels(req):
    return [("api-tokens", "API tokens", tokens_panel)]


def tokens_panel(req, panel: str):
    """/prefs/api-tokens — the user's API tokens: make one (its secret shown once), revoke."""
    from codeyard.prefs.web import plugin_panels

    if not req.is_authenticated:
        raise HTTPForbidden("Log in to manage your API tokens.")
    errors: list[str] = []
    secret = None
    made = None
    if req.method == "POST":
        action = req.form.get("action", "")
        if action == "create":
            made = req.form.get("name", "")
            try:
                secret = create_token(req.env, req.authname, made)
            except ValueError as exc:
                errors.append(str(exc))
        elif action.startswith("revoke_"):
            try:
                token_id = row_id(action.removeprefix("revoke_"))
            except ValueError:
                raise HTTPBadRequest(f"Unknown action {action!r}.") from None
            if not revoke_token(req.env, req.authname, token_id):
                raise HTTPBadRequest("You have no such token (it may be revoked already).")
            return req.redirect(req.url_for("prefs.panel", panel=panel, revoked=1))
        else:
            raise HTTPBadRequest(f"Unknown action {action!r}: create or revoke_<id>.")
    if req.args.get("revoked") == "1":
        req.add_notice("The token has been revoked.")
    return "rest/prefs_tokens.html", {
        "tokens": list_tokens(req.env, req.authname), "secret": secret,
        "made": made if secret else None, "errors": errors,
        "panels": plugin_panels(req), "panel": panel,
    }, 400 if errors else 200
