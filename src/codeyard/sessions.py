"""Sessions and their attributes (Trac's ``session`` and ``session_attribute`` tables).

A session is keyed by ``(sid, authenticated)``: the user name for a logged-in user
(authenticated = 1), the ``trac_session`` cookie value for an anonymous visitor (0). Its
attributes are free-form name/value pairs (``name``, ``email``, ``tz``, ``default_handler``,
…). ``last_visit`` is in seconds since the epoch, as Trac stores it.
"""

from __future__ import annotations

import time as _time
from dataclasses import dataclass, field

from codeyard import cachekeys

__all__ = [
    "ADMIN_ATTRIBUTES", "KNOWN_USERS_CACHE_KEY", "PURGE_AGE",
    "UPDATE_INTERVAL", "Session", "SessionError", "SessionExists", "SessionNotFound",
    "split_sid", "get_session", "session_exists", "get_attribute", "create_session",
    "set_attribute", "save_session", "touch_session", "delete_session", "delete_anonymous",
    "purge_anonymous", "list_sessions", "known_users",
]

UPDATE_INTERVAL = 86400
"""Seconds after which a visit refreshes a session's ``last_visit``."""

PURGE_AGE = 90 * 86400
"""Seconds an anonymous session cookie lives."""

ADMIN_ATTRIBUTES = ("name", "email", "default_handler")
"""The attributes ``session set`` may change."""

KNOWN_USERS_CACHE_KEY = cachekeys.KNOWN_USERS


class SessionError(ValueError):
    """Bad input for a session operation; nothing was written."""


class SessionExists(SessionError):
    pass


class SessionNotFound(SessionError):
    pass


@dataclass
class Session:
    sid: str
    authenticated: bool
    last_visit: int = 0
    attributes: dict[str, str] = field(default_factory=dict)

    def get(self, name: str, default=None):
        return self.attributes.get(name, default)


def split_sid(text: str) -> tuple[str, bool]:
    """``sid:0`` is an anonymous session, ``sid:1`` or a bare ``sid`` an authenticated one."""
    if text.endswith(":0"):
        return text[:-2], False
    if text.endswith(":1"):
        return text[:-2], True
    return text, True


def _now() -> int:
    return int(_time.time())


def _users_changed(env, authenticated: bool) -> None:
    if authenticated:
        env.invalidate(*cachekeys.KNOWN_USERS_KEYS)


def get_session(env, sid: str, authenticated: bool) -> Session | None:
    auth = int(bool(authenticated))
    with env.db_query as db:
        rows = db("SELECT last_visit FROM session WHERE sid=%s AND authenticated=%s", (sid, auth))
        if not rows:
            return None
        attributes = dict(db("SELECT name, value FROM session_attribute "
                             "WHERE sid=%s AND authenticated=%s", (sid, auth)))
    return Session(sid, bool(authenticated), int(rows[0][0] or 0), attributes)


def session_exists(env, sid: str, authenticated: bool) -> bool:
    with env.db_query as db:
        return bool(db("SELECT 1 FROM session WHERE sid=%s AND authenticated=%s",
                       (sid, int(bool(authenticated)))))


def get_attribute(env, sid: str, authenticated: bool, name: str, default=None):
    with env.db_query as db:
        rows = db("SELECT value FROM session_attribute WHERE sid=%s AND authenticated=%s "
                  "AND name=%s", (sid, int(bool(authenticated)), name))
    return rows[0][0] if rows else default


def create_session(env, sid: str, authenticated: bool, attributes: dict | None = None,
                   last_visit: int | None = None) -> Session:
    """A new session with its attributes (empty values are not stored)."""
    if not sid:
        raise SessionError("The session id is empty.")
    auth = int(bool(authenticated))
    values = {k: v for k, v in (attributes or {}).items() if v}
    with env.db_transaction as db:
        when = _now() if last_visit is None else last_visit
        with db.unique(SessionExists(f"Session '{sid}' already exists")):
            db("INSERT INTO session (sid, authenticated, last_visit) VALUES (%s, %s, %s)",
               (sid, auth, when))
        db.executemany("INSERT INTO session_attribute (sid, authenticated, name, value) "
                       "VALUES (%s, %s, %s, %s)", [(sid, auth, k, v) for k, v in values.items()])
        _users_changed(env, authenticated)
    return Session(sid, bool(authenticated), when, values)


def set_attribute(env, sid: str, authenticated: bool, name: str, value: str | None) -> None:
    """Set one attribute of an existing session; an empty value removes it."""
    auth = int(bool(authenticated))
    with env.db_transaction as db:
        if not session_exists(env, sid, authenticated):
            raise SessionNotFound(f"Session '{sid}' not found")
        db("DELETE FROM session_attribute WHERE sid=%s AND authenticated=%s AND name=%s",
           (sid, auth, name))
        if value:
            db("INSERT INTO session_attribute (sid, authenticated, name, value) "
               "VALUES (%s, %s, %s, %s)", (sid, auth, name, value))
        _users_changed(env, authenticated)


def save_session(env, sid: str, authenticated: bool, attributes: dict[str, str]) -> None:
    """Replace all attributes of a session, creating it when needed. An anonymous session
    left without attributes is not kept (it would only fill the table)."""
    auth = int(bool(authenticated))
    values = {k: v for k, v in attributes.items() if v}
    with env.db_transaction as db:
        exists = session_exists(env, sid, authenticated)
        if not values and not authenticated:
            if exists:
                delete_session(env, sid, False)
            return
        if not exists:
            db("INSERT INTO session (sid, authenticated, last_visit) VALUES (%s, %s, %s)",
               (sid, auth, _now()))
        db("DELETE FROM session_attribute WHERE sid=%s AND authenticated=%s", (sid, auth))
        db.executemany("INSERT INTO session_attribute (sid, authenticated, name, value) "
                       "VALUES (%s, %s, %s, %s)", [(sid, auth, k, v) for k, v in values.items()])
        _users_changed(env, authenticated)


def touch_session(env, sid: str, authenticated: bool, when: int | None = None) -> None:
    """Record a visit (``last_visit`` in seconds)."""
    with env.db_transaction as db:
        db("UPDATE session SET last_visit=%s WHERE sid=%s AND authenticated=%s",
           (_now() if when is None else when, sid, int(bool(authenticated))))


def delete_session(env, sid: str, authenticated: bool) -> bool:
    """Remove a session and its attributes; False when there was none."""
    auth = int(bool(authenticated))
    with env.db_transaction as db:
        found = session_exists(env, sid, authenticated)
        db("DELETE FROM session WHERE sid=%s AND authenticated=%s", (sid, auth))
        db("DELETE FROM session_attribute WHERE sid=%s AND authenticated=%s", (sid, auth))
        _users_changed(env, authenticated)
    return found


def delete_anonymous(env) -> int:
    """Remove every anonymous session; returns how many there were."""
    with env.db_transaction as db:
        count = db("SELECT COUNT(*) FROM session WHERE authenticated=0")[0][0]
        db("DELETE FROM session WHERE authenticated=0")
        db("DELETE FROM session_attribute WHERE authenticated=0")
    return int(count)


def purge_anonymous(env, before: int) -> int:
    """Remove anonymous sessions last seen before ``before`` (seconds since the epoch), and
    attributes left without a session. Returns the number of sessions removed."""
    with env.db_transaction as db:
        count = db("SELECT COUNT(*) FROM session WHERE authenticated=0 AND last_visit<%s",
                   (before,))[0][0]
        db("DELETE FROM session WHERE authenticated=0 AND last_visit<%s", (before,))
        db("DELETE FROM session_attribute WHERE authenticated=0 AND NOT EXISTS "
           "(SELECT 1 FROM session AS s WHERE s.sid=session_attribute.sid "
           "AND s.authenticated=0)")
    return int(count)


def list_sessions(env) -> list[tuple[str, int, int, str | None, str | None, str | None]]:
    """(sid, authenticated, last_visit, name, email, default_handler) of every session,
    sorted by sid then authenticated."""
    with env.db_query as db:
        rows = db(
            "SELECT s.sid, s.authenticated, s.last_visit, n.value, e.value, h.value "
            "FROM session AS s "
            "LEFT JOIN session_attribute AS n ON n.sid=s.sid "
            "AND n.authenticated=s.authenticated AND n.name='name' "
            "LEFT JOIN session_attribute AS e ON e.sid=s.sid "
            "AND e.authenticated=s.authenticated AND e.name='email' "
            "LEFT JOIN session_attribute AS h ON h.sid=s.sid "
            "AND h.authenticated=s.authenticated AND h.name='default_handler'")
    return sorted(((sid, int(auth or 0), int(visit or 0), name, email, handler)
                   for sid, auth, visit, name, email, handler in rows),
                  key=lambda r: (r[0], r[1]))


def known_users(env) -> list[tuple[str, str | None, str | None]]:
    """(user name, full name, e-mail) of every authenticated session, by user name."""
    def compute():
        return [(sid, name, email) for sid, auth, _visit, name, email, _h in list_sessions(env)
                if auth]

    return env.cached(KNOWN_USERS_CACHE_KEY, compute)
