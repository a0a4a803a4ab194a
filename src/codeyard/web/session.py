"""Per-user sessions in Trac's ``session`` and ``session_attribute`` tables.

An anonymous visitor gets a ``trac_session`` cookie and rows only once something is
stored for them; a logged-in user's session is keyed by the user name. Logging in
promotes the anonymous session (its preferences follow the user) unless the user
already has one, as Trac does.
"""

from __future__ import annotations

import re
import secrets
import time

from codeyard import cachekeys
from codeyard.config import IntOption

SESSION_COOKIE = "trac_session"
COOKIE_AGE = 90 * 86400  # the anonymous session cookie lasts 90 days
UPDATE_INTERVAL = 86400  # refresh last_visit at most once a day
ANONYMOUS_LIFETIME = IntOption(
    "trac", "anonymous_session_lifetime", 90,
    "Days after which unused anonymous sessions are purged (0: never).")

_SID_RE = re.compile(r"^[_A-Za-z0-9]{1,64}$")


class Session(dict):
    """The attributes of one session; ``save()`` writes only what changed."""

    def __init__(self, env, sid: str, authenticated: bool) -> None:
        super().__init__()
        self.env = env
        self.sid = sid
        self.authenticated = authenticated
        self.last_visit = 0
        self._old: dict[str, str] = {}
        self._exists = False
        self.load()

    def load(self) -> None:
        with self.env.db_query as db:
            rows = db("SELECT last_visit FROM session WHERE sid=%s AND authenticated=%s",
                      (self.sid, int(self.authenticated)))
            self.clear()
            if rows:
                self._exists = True
                self.last_visit = rows[0][0] or 0
                for name, value in db("SELECT name, value FROM session_attribute "
                                      "WHERE sid=%s AND authenticated=%s",
                                      (self.sid, int(self.authenticated))):
                    self[name] = value
        self._old = dict(self)

    @property
    def stored(self) -> bool:
        """Whether the session has a row in the database (an anonymous visitor's gets one
        only once something is kept for them)."""
        return self._exists

    @property
    def changed(self) -> bool:
        return self._old != dict(self)

    def save(self) -> bool:
        """Write the session; return True when rows were written (the cookie is then due)."""
        now = int(time.time())
        flag = int(self.authenticated)
        items = [(k, str(v)) for k, v in self.items() if v is not None and v != ""]
        if not self.authenticated and not self._exists and not items:
            return False
        if self._exists and not self.changed and now - (self.last_visit or 0) <= UPDATE_INTERVAL:
            return False  # nothing to write: no write transaction for an ordinary page view
        wrote = False
        with self.env.db_transaction as db:
            if not self._exists:
                db("INSERT INTO session (sid, authenticated, last_visit) VALUES (%s, %s, %s) "
                   "ON CONFLICT DO NOTHING", (self.sid, flag, now))
                self._exists = True
                self.last_visit = now
                wrote = True
            elif now - (self.last_visit or 0) > UPDATE_INTERVAL:
                db("UPDATE session SET last_visit=%s WHERE sid=%s AND authenticated=%s",
                   (now, self.sid, flag))
                self.last_visit = now
                self._purge(db, now)
            if self.authenticated and (wrote or self._old.get("name") != self.get("name")
                                       or self._old.get("email") != self.get("email")):
                self.env.invalidate(*cachekeys.KNOWN_USERS_KEYS)
            if self.changed:
                db("DELETE FROM session_attribute WHERE sid=%s AND authenticated=%s",
                   (self.sid, flag))
                if items:
                    db.executemany("INSERT INTO session_attribute (sid, authenticated, name, value) "
                                   "VALUES (%s, %s, %s, %s)",
                                   [(self.sid, flag, k, v) for k, v in items])
                elif not self.authenticated:
                    db("DELETE FROM session WHERE sid=%s AND authenticated=0", (self.sid,))
                    self._exists = False
                self._old = dict(self)
                wrote = True
        return wrote

    def _purge(self, db, now: int) -> None:
        days = ANONYMOUS_LIFETIME(self.env.config)
        if days <= 0:
            return
        from codeyard.sessions import purge_anonymous

        purge_anonymous(self.env, now - days * 86400)


def promote(env, anonymous_sid: str, user: str) -> None:
    """Move an anonymous session to ``user`` unless the user already has a session."""
    if not _SID_RE.match(anonymous_sid or ""):
        return
    with env.db_transaction as db:
        if not db("SELECT 1 FROM session WHERE sid=%s AND authenticated=0", (anonymous_sid,)):
            return
        if db("SELECT 1 FROM session WHERE sid=%s AND authenticated=1", (user,)):
            db("DELETE FROM session_attribute WHERE sid=%s AND authenticated=0", (anonymous_sid,))
            db("DELETE FROM session WHERE sid=%s AND authenticated=0", (anonymous_sid,))
            return
        db("UPDATE session SET sid=%s, authenticated=1 WHERE sid=%s AND authenticated=0",
           (user, anonymous_sid))
        db("UPDATE session_attribute SET sid=%s, authenticated=1 WHERE sid=%s AND authenticated=0",
           (user, anonymous_sid))
        env.invalidate(*cachekeys.KNOWN_USERS_KEYS)


def session_for(req) -> Session:
    """The session of this request (anonymous by cookie, or the logged-in user's)."""
    env = req.env
    if req.is_authenticated:
        return Session(env, req.authname, True)
    sid = req.cookies.get(SESSION_COOKIE, "")
    if not _SID_RE.match(sid):
        sid = secrets.token_hex(12)
        session = Session.__new__(Session)
        dict.__init__(session)
        session.env, session.sid, session.authenticated = env, sid, False
        session.last_visit, session._old, session._exists = 0, {}, False
        session.is_new = True  # type: ignore[attr-defined]
        return session
    return Session(env, sid, False)


def cookie_first(session) -> bool:
    """True for a visitor who brought no session cookie (a first visit, or a client that
    keeps no cookies: a crawler, a load tool): such a visitor is offered the cookie, and
    what would only be a convenience for them (the query trail) waits until they come
    back with it — so cookie-less clients never make a session row per request."""
    if session.authenticated or not getattr(session, "is_new", False):
        return False
    session.offer_cookie = True
    return True


MESSAGE_KINDS = ("notices", "warnings")


def keep_messages_over_redirect(req, response) -> None:
    """Notices and warnings of a request answered by a redirect are shown by the next page,
    kept in the session under Trac's keys (``chrome.notices.0``, ``chrome.warnings.0``…)."""
    from markupsafe import escape

    if not 300 <= response.status_code < 400 or not any(req.chrome[k] for k in MESSAGE_KINDS):
        return
    if req.session is None:
        return
    for kind in MESSAGE_KINDS:
        for i, message in enumerate(req.chrome[kind]):
            req.session[f"chrome.{kind}.{i}"] = str(escape(message))


def take_kept_messages(req) -> None:
    """Move the messages kept by a redirect into this page's chrome (they are shown once)."""
    from markupsafe import Markup

    session = req.session
    if session is None:
        return
    for kind in MESSAGE_KINDS:
        prefix = f"chrome.{kind}."
        keys = sorted((k for k in session if k.startswith(prefix)),
                      key=lambda k: int(k[len(prefix):]) if k[len(prefix):].isdigit() else 0)
        for key in keys:
            # Kept messages were escaped or marked safe when first added.
            req.chrome[kind].append(Markup(session.pop(key)))


def finish(req) -> None:
    """Save the session after the handler ran and (re)issue the anonymous cookie if needed."""
    session = req.loaded_session
    if session is None:  # never used by this request
        return
    try:
        wrote = session.save()
    except Exception:
        req.env.log.exception("could not save session %s", session.sid)
        return
    if not session.authenticated and (wrote and session._exists
                                      or getattr(session, "offer_cookie", False)):
        req.set_cookie(SESSION_COOKIE, session.sid, max_age=COOKIE_AGE)
