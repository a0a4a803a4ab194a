"""Logging in and out: the ``trac_auth`` cookie, front-server users, HTTP Basic and Digest,
a login form against an Apache htpasswd file, registration and rate limiting.

Identities come from one place per project: the front server's ``REMOTE_USER``, or the
htpasswd file named by ``[account-manager] password_file`` (also used for HTTP Basic on
every URL). A login stores a random cookie value in Trac's ``auth_cookie`` table.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import sys
import time
import urllib.parse

from markupsafe import Markup
from sqlalchemy import Column, Index, Integer, MetaData, Table, Text
from sqlalchemy.exc import IntegrityError
from werkzeug.routing import Rule

from codeyard.config import BoolOption, ConfigSection, IntOption, Option, PathOption, options_in
from codeyard.core import hookimpl
from codeyard.db.schema import INT64
from codeyard.web.api import HTTPBadRequest, HTTPTooManyRequests, HTTPUnauthorized, NavItem
from codeyard.web.htpasswd import htdigest_file, htpasswd_file
from codeyard.web.session import SESSION_COOKIE, promote

AUTH_COOKIE = "trac_auth"

CHECK_AUTH_IP = BoolOption("trac", "check_auth_ip", False,
                           "Accept an auth cookie only from the address it was issued to.")
IGNORE_AUTH_CASE = BoolOption("trac", "ignore_auth_case", False,
                              "Treat user names case-insensitively (lower-case them).")
AUTH_COOKIE_LIFETIME = IntOption("trac", "auth_cookie_lifetime", 0,
                                 "Seconds the auth cookie lives; 0 ends it with the browser session.")
AUTH_COOKIE_PATH = Option("trac", "auth_cookie_path", "",
                          "Path of the auth cookie; set a common parent to share logins between projects.")
AUTH_COOKIE_DOMAIN = Option("trac", "auth_cookie_domain", "",
                            "Domain of the auth cookie, to share it between subdomains.")
PASSWORD_FILE = PathOption("account-manager", "password_file", "",
                           "Apache htpasswd file checked by the login form and HTTP Basic "
                           "(relative to the environment's conf directory).")
ALLOW_REGISTRATION = BoolOption("account-manager", "allow_registration", False,
                                "Let visitors create an account (written to the password file).")
ALLOW_PASSWORD_CHANGE = BoolOption("account-manager", "allow_password_change", False,
                                   "Let users change their password on the preferences page.")
HTTP_REALM = Option("account-manager", "realm", "codeyard",
                    "Realm named in HTTP Basic challenges.")
MAX_FAILURES = IntOption("account-manager", "login_attempt_max_count", 5,
                         "Failed logins for one account from one address before that pair "
                         "has to wait (`login_attempt_delay`); 0 turns throttling off.")
FAILURE_WINDOW = IntOption("account-manager", "login_attempt_window", 300,
                           "Seconds over which the failed logins of an account from all "
                           "addresses are counted against `login_attempt_account_max_count`.")
FAILURE_DELAY = IntOption("account-manager", "login_attempt_delay", 30,
                          "Seconds an (account, address) pair waits after "
                          "`login_attempt_max_count` failures; the wait doubles with every "
                          "further failure, up to `login_attempt_max_delay`.")
MAX_FAILURE_DELAY = IntOption("account-manager", "login_attempt_max_delay", 3600,
                              "Longest wait, in seconds, of an (account, address) pair.")
ACCOUNT_MAX_FAILURES = IntOption(
    "account-manager", "login_attempt_account_max_count", 50,
    "Failed logins for one account from all addresses within `login_attempt_window` after "
    "which only addresses without failures of their own may try that account; 0 for no "
    "such ceiling.")
ACCOUNT_MANAGER_SECTION = ConfigSection("account-manager", "Accounts kept in an Apache htpasswd file.")

_metadata = MetaData()
LOGIN_FAILURE = Table(
    "codeyard_login_failure", _metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("subject", Text),
    Column("time", INT64),
    Index("codeyard_login_failure_subject_time_idx", "subject", "time"),
)

# Digest answers already accepted, so that a captured one cannot be replayed (in any process)
# while its nonce is fresh.
DIGEST_SEEN = Table(
    "codeyard_digest_seen", _metadata,
    Column("answer", Text, primary_key=True),
    Column("time", INT64),
)

_USER_RE = re.compile(r"^[^\s:/\\]{1,64}$")


# ---------------------------------------------------------------------------
# Plugin hooks


@hookimpl
def database_tables():
    return [LOGIN_FAILURE, DIGEST_SEEN]


@hookimpl
def config_options():
    return options_in(sys.modules[__name__])


@hookimpl
def web_routes():
    return [
        (Rule("/login", endpoint="login", methods=["GET", "POST"]), login),
        (Rule("/logout", endpoint="logout", methods=["GET", "POST"]), logout),
        (Rule("/register", endpoint="register", methods=["GET", "POST"]), register),
    ]


@hookimpl
def navigation_items(req):
    if req.is_authenticated:
        return [
            NavItem("metanav", "login",
                    Markup('logged in as <span class="trac-author-user">{}</span>').format(req.authname),
                    "", order=10),
            NavItem("metanav", "logout", "Logout", req.url_for("logout"), order=90, form=True),
        ]
    items = [NavItem("metanav", "login", "Login", req.url_for("login"), order=10)]
    if ALLOW_REGISTRATION(req.env.config) and password_file_path(req.env):
        items.append(NavItem("metanav", "register", "Register", req.url_for("register"), order=11))
    return items


# ---------------------------------------------------------------------------
# Who is asking


def password_file_path(env) -> str:
    path = PASSWORD_FILE(env.config)
    return path or ""


def _basic_password_file(req) -> str:
    """The htpasswd file HTTP Basic is checked against: the project's, else `serve --basic-auth`'s."""
    path = password_file_path(req.env)
    if path:
        return path
    basic = req.environ.get("codeyard.basic_auth")
    return basic[0] if basic else ""


def normalise_user(env, user: str) -> str:
    user = user.strip()
    return user.lower() if IGNORE_AUTH_CASE(env.config) else user


def authenticate(req) -> str | None:
    """The user this request speaks for, from the front server, Basic or the auth cookie."""
    env = req.env
    remote = req.environ.get("REMOTE_USER")
    if remote:
        req.auth_method = "remote"
        return normalise_user(env, remote)
    header = req.headers.get("Authorization", "")
    basic_file = _basic_password_file(req)
    if header[:6].lower() == "basic " and basic_file:
        user = _check_basic_header(req, header, basic_file)
        if user is None:
            raise _challenge(req, "Wrong user name or password.")
        req.auth_method = "basic"
        return user
    # Without a password file of ours, a Basic header belongs to the front server (a browser
    # repeats the credentials Apache asked for on /login to every page below it): the
    # auth cookie that /login set is what identifies the user.
    cookie = req.cookies.get(AUTH_COOKIE)
    if cookie:
        name = cookie_user(req, cookie)
        if name:
            req.auth_method = "cookie"
            return name
        req.expire_cookie(AUTH_COOKIE, path=cookie_path(req), domain=AUTH_COOKIE_DOMAIN(env.config))
    for result in env.hook.request_authenticators():
        for authenticator in result or ():
            name = authenticator(req)
            if name:
                return normalise_user(env, name)
    return None


def _challenge(req, message: str, realm: str | None = None) -> HTTPUnauthorized:
    realm = realm or HTTP_REALM(req.env.config)
    return HTTPUnauthorized(message, headers=[("WWW-Authenticate", f'Basic realm="{realm}"')])


def _decode_basic(header: str) -> tuple[str, str] | None:
    try:
        raw = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    user, sep, password = raw.partition(":")
    if not sep or not user:
        return None
    return user, password


def _check_basic_header(req, header: str, path: str) -> str | None:
    decoded = _decode_basic(header)
    if decoded is None or not path:
        return None
    user, password = decoded
    user = normalise_user(req.env, user)
    check_rate_limit(req, user)
    if htpasswd_file(path).check(user, password):
        return user
    record_failure(req, user)
    return None


def cookie_user(req, cookie: str) -> str | None:
    env = req.env
    if not re.match(r"^[0-9a-fA-F]{16,64}$", cookie):
        return None
    lifetime = AUTH_COOKIE_LIFETIME(env.config)
    sql = "SELECT name, time FROM auth_cookie WHERE cookie=%s"
    args: tuple = (cookie,)
    if CHECK_AUTH_IP(env.config):
        sql += " AND ipnr=%s"
        args += (req.remote_addr or "",)
    with env.db_query as db:
        rows = db(sql, args)
    for name, issued in rows:
        if lifetime > 0 and (issued or 0) < time.time() - lifetime:
            continue
        return name
    return None


def cookie_path(req) -> str:
    return AUTH_COOKIE_PATH(req.env.config) or req.base_path or "/"


def start_login(req, user: str):
    """Record a login: the auth cookie row, the cookie, and the promoted session."""
    env = req.env
    now = int(time.time())
    cookie = secrets.token_hex(16)
    lifetime = AUTH_COOKIE_LIFETIME(env.config)
    with env.db_transaction as db:
        # Forget logins unused for ten days (or the configured cookie lifetime, if longer).
        db("DELETE FROM auth_cookie WHERE time < %s", (now - max(86400 * 10, lifetime),))
        db("INSERT INTO auth_cookie (cookie, name, ipnr, time) VALUES (%s, %s, %s, %s)",
           (cookie, user, req.remote_addr or "", now))
    req.set_cookie(AUTH_COOKIE, cookie, max_age=lifetime if lifetime > 0 else None,
                   path=cookie_path(req), domain=AUTH_COOKIE_DOMAIN(env.config))
    anonymous_sid = req.cookies.get(SESSION_COOKIE)
    if anonymous_sid:
        promote(env, anonymous_sid, user)
    req.authname = user
    req.session = None  # the next use loads the user's own session
    clear_failures(req, user)


# ---------------------------------------------------------------------------
# Rate limiting, shared by every process through the database
#
# Failures are counted per (account, address) pair: a pair that failed
# ``login_attempt_max_count`` times waits ``login_attempt_delay`` seconds after its last
# failure, twice as long after each further one. Nobody else is slowed down by it: not the
# owner at another address, not the other users behind the same address. Only when one
# account fails very often from everywhere (``login_attempt_account_max_count`` within
# ``login_attempt_window``) are the addresses that have failed on it refused for a while;
# an address without failures still gets in with the right password.


def _pair_subject(req, user: str) -> str:
    # An address holds no "|", so the pair reads back unambiguously.
    return f"pair:{req.remote_addr or ''}|{user[:200]}"


def _user_subject(user: str) -> str:
    return f"user:{user[:200]}"


def _keep_seconds(config) -> int:
    return max(FAILURE_WINDOW(config), MAX_FAILURE_DELAY(config), 1)


def _pair_wait(config, failures: int) -> int:
    """Seconds a pair waits after its last failure, having failed ``failures`` times."""
    extra = failures - MAX_FAILURES(config)
    if extra < 0:
        return 0
    delay = FAILURE_DELAY(config)
    cap = MAX_FAILURE_DELAY(config)
    return min(delay * 2 ** min(extra, 40), cap) if delay > 0 else 0


def check_rate_limit(req, user: str | None) -> None:
    """Refuse (429) an attempt for ``user`` from this address while it has to wait."""
    env = req.env
    config = env.config
    if MAX_FAILURES(config) <= 0 or not user:
        return
    now = int(time.time())
    with env.db_query as db:
        count, last = db("SELECT COUNT(*), MAX(time) FROM codeyard_login_failure "
                         "WHERE subject=%s AND time >= %s",
                         (_pair_subject(req, user), now - _keep_seconds(config)))[0]
        count = int(count or 0)
        wait = int(last or 0) + _pair_wait(config, count) - now if count else 0
        ceiling = ACCOUNT_MAX_FAILURES(config)
        if wait <= 0 and count and ceiling > 0:
            since = now - FAILURE_WINDOW(config)
            recent = db("SELECT COUNT(*), MIN(time) FROM codeyard_login_failure "
                        "WHERE subject=%s AND time >= %s", (_user_subject(user), since))[0]
            pair_recent = db("SELECT COUNT(*) FROM codeyard_login_failure "
                             "WHERE subject=%s AND time >= %s",
                             (_pair_subject(req, user), since))[0][0]
            if int(recent[0] or 0) >= ceiling and int(pair_recent or 0):
                wait = max(int(recent[1] or now) + FAILURE_WINDOW(config) - now, 1)
    if wait > 0:
        raise HTTPTooManyRequests(
            f"Too many failed logins for {user} from your address. Wait {_duration(wait)} "
            "before trying again; other addresses are not affected.",
            headers=[("Retry-After", str(wait))])


def _duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} seconds"
    minutes = -(-seconds // 60)
    return f"{minutes} minutes"


def record_failure(req, user: str | None) -> None:
    env = req.env
    if not user:
        return
    now = int(time.time())
    env.log.warning("failed login for %r from %s", user, req.remote_addr)
    with env.db_transaction as db:
        db("DELETE FROM codeyard_login_failure WHERE time < %s", (now - _keep_seconds(env.config),))
        db.executemany("INSERT INTO codeyard_login_failure (subject, time) VALUES (%s, %s)",
                       [(_pair_subject(req, user), now), (_user_subject(user), now)])


def clear_failures(req, user: str) -> None:
    """A good password from this address: its pair starts afresh (the account's count stays)."""
    with req.env.db_transaction as db:
        db("DELETE FROM codeyard_login_failure WHERE subject=%s", (_pair_subject(req, user),))


# ---------------------------------------------------------------------------
# Digest (RFC 2617) for `codeyard serve -a`


def _digest_secret(env) -> bytes:
    def compute():
        value = env.get_system_value("codeyard_digest_secret")
        if not value:
            value = secrets.token_hex(16)
            env.set_system_value("codeyard_digest_secret", value)
        return value.encode()

    return env.memo("auth.digest_secret", compute)


def _make_nonce(env) -> str:
    stamp = str(int(time.time()))
    mac = hmac.new(_digest_secret(env), stamp.encode(), hashlib.sha256).hexdigest()[:32]
    return f"{stamp}.{mac}"


def _nonce_fresh(env, nonce: str) -> bool:
    stamp, _, mac = nonce.partition(".")
    expected = hmac.new(_digest_secret(env), stamp.encode(), hashlib.sha256).hexdigest()[:32]
    return (stamp.isdigit() and hmac.compare_digest(mac, expected)
            and time.time() - int(stamp) < 3600)


def _parse_digest(header: str) -> dict[str, str]:
    return {k.lower(): v1 or v2 for k, v1, v2 in
            re.findall(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))', header[7:])}


def _digest_user(req, htdigest: str, realm: str) -> str | None:
    header = req.headers.get("Authorization", "")
    if header[:7].lower() != "digest ":
        return None
    fields = _parse_digest(header)
    user = fields.get("username", "")
    if not user or fields.get("realm") != realm or not _nonce_fresh(req.env, fields.get("nonce", "")):
        return None
    uri = fields.get("uri", "")
    if urllib.parse.unquote(uri.split("?", 1)[0]) != req.script_root + req.path:
        return None  # an answer computed for another URL
    check_rate_limit(req, user)
    ha1 = htdigest_file(htdigest).ha1(user, realm)
    ha2 = hashlib.md5(f"{req.method}:{uri}".encode()).hexdigest()
    if fields.get("qop"):
        data = f"{ha1}:{fields.get('nonce')}:{fields.get('nc', '')}:{fields.get('cnonce', '')}:{fields.get('qop')}:{ha2}"
    else:
        data = f"{ha1}:{fields.get('nonce')}:{ha2}"
    expected = hashlib.md5(data.encode()).hexdigest()
    if ha1 and hmac.compare_digest(expected, fields.get("response", "")):
        if not _first_use(req.env, f"{fields.get('nonce')}:{fields.get('nc', '')}:{fields.get('cnonce', '')}"):
            return None  # a replayed answer
        return normalise_user(req.env, user)
    record_failure(req, user)
    return None


def _first_use(env, answer: str) -> bool:
    """Record a Digest (nonce, count, client nonce); False when it was seen before."""
    now = int(time.time() * 1_000_000)
    try:
        with env.db_transaction as db:
            db("DELETE FROM codeyard_digest_seen WHERE time < %s", (now - 3600 * 1_000_000,))
            if db("SELECT 1 FROM codeyard_digest_seen WHERE answer=%s", (answer,)):
                return False
            db("INSERT INTO codeyard_digest_seen (answer, time) VALUES (%s, %s)", (answer, now))
    except IntegrityError:  # the same answer arrived at another process at the same moment
        return False
    return True


# ---------------------------------------------------------------------------
# Pages


def redirect_back(req, referer: str | None = None):
    """Back to the page the user came from when it belongs to this project, else its root."""
    target = referer if referer is not None else (req.form.get("referer") or req.args.get("referer")
                                                  or req.headers.get("Referer", ""))
    base = urllib.parse.urlsplit(req.project_url)
    url = req.project_url + "/"
    if target:
        parts = urllib.parse.urlsplit(target)
        same_host = not parts.netloc or parts.netloc == base.netloc
        relative_ok = parts.netloc or target.startswith("/") and not target.startswith("//")
        prefix = base.path.rstrip("/")
        path_ok = parts.path == prefix or parts.path.startswith(prefix + "/") or not prefix and parts.path.startswith("/")
        loop = parts.path.rstrip("/") in (prefix + "/login", prefix + "/logout", prefix + "/register")
        if same_host and relative_ok and path_ok and not loop and "\\" not in target:
            url = f"{base.scheme}://{base.netloc}{parts.path}" + (f"?{parts.query}" if parts.query else "")
    return req.redirect(url)


def login(req):
    """/login — sign in: front-server user, tracd-style Basic/Digest, or the login form."""
    env = req.env
    basic = req.environ.get("codeyard.basic_auth")
    digest = req.environ.get("codeyard.digest_auth")
    if basic or digest:
        if digest:
            path, realm = digest
            user = _digest_user(req, path, realm)
            challenge = (f'Digest realm="{realm}", nonce="{_make_nonce(env)}", qop="auth", '
                         'algorithm=MD5')
        else:
            path, realm = basic
            header = req.headers.get("Authorization", "")
            user = _check_basic_header(req, header, path) if header[:6].lower() == "basic " else None
            challenge = f'Basic realm="{realm}"'
        if user is None:
            raise HTTPUnauthorized("This server needs your user name and password.",
                                   headers=[("WWW-Authenticate", challenge)])
        start_login(req, user)
        return redirect_back(req)
    remote = req.environ.get("REMOTE_USER")
    if remote:
        start_login(req, normalise_user(env, remote))
        return redirect_back(req)
    if req.is_authenticated and req.auth_method in ("cookie", "basic"):
        if req.auth_method == "basic":
            start_login(req, req.authname)
        return redirect_back(req)
    data = {"referer": req.values.get("referer") or req.headers.get("Referer", ""),
            "user": "", "error": None, "configured": bool(password_file_path(env)),
            "allow_registration": ALLOW_REGISTRATION(env.config)}
    if req.method == "POST":
        user = normalise_user(env, req.form.get("user", ""))
        password = req.form.get("password", "")
        data["user"] = user
        if not data["configured"]:
            data["error"] = "Login is not set up here: no password file is configured."
        elif not user or not password:
            data["error"] = "Enter your user name and password."
        else:
            check_rate_limit(req, user)
            if htpasswd_file(password_file_path(env)).check(user, password):
                start_login(req, user)
                return redirect_back(req, data["referer"])
            record_failure(req, user)
            data["error"] = "Wrong user name or password."
    return "login.html", data


def logout(req):
    """/logout — sign out (POST); a GET shows a confirmation button."""
    if req.method != "POST":
        return "logout.html", {"referer": req.headers.get("Referer", "")}
    cookie = req.cookies.get(AUTH_COOKIE)
    with req.env.db_transaction as db:
        if cookie:
            db("DELETE FROM auth_cookie WHERE cookie=%s", (cookie,))
        elif req.is_authenticated and req.auth_method != "basic":
            db("DELETE FROM auth_cookie WHERE name=%s", (req.authname,))
    req.expire_cookie(AUTH_COOKIE, path=cookie_path(req), domain=AUTH_COOKIE_DOMAIN(req.env.config))
    req.authname = "anonymous"
    redirect = req.env.config.get("metanav", "logout.redirect", "")
    if redirect and (redirect.startswith("/") and not redirect.startswith("//")):
        return req.redirect(redirect)
    return req.redirect(req.url_for("start"))


def register(req):
    """/register — create an account in the password file (when enabled)."""
    env = req.env
    path = password_file_path(env)
    if not (ALLOW_REGISTRATION(env.config) and path):
        from codeyard.web.api import HTTPNotFound

        raise HTTPNotFound("Registration is not enabled for this project.")
    if req.is_authenticated:
        return req.redirect(req.url_for("start"))
    data = {"user": "", "name": "", "email": "", "error": None}
    if req.method == "POST":
        user = normalise_user(env, req.form.get("user", ""))
        data.update(user=user, name=req.form.get("name", "").strip(),
                    email=req.form.get("email", "").strip())
        password, again = req.form.get("password", ""), req.form.get("password_confirm", "")
        accounts = htpasswd_file(path)
        if not _USER_RE.match(user) or user in ("anonymous", "authenticated") or user.isupper():
            data["error"] = "Choose a user name without spaces, colons or slashes."
        elif accounts.has_user(user):
            data["error"] = f"The user name {user} is taken."
        elif len(password) < 8:
            data["error"] = "Choose a password of at least 8 characters."
        elif password != again:
            data["error"] = "The two passwords differ."
        else:
            try:
                accounts.set_password(user, password)
            except (OSError, ValueError) as exc:
                raise HTTPBadRequest(f"The account could not be created: {exc}") from None
            start_login(req, user)
            from codeyard.web.session import Session

            session = Session(env, user, True)
            if data["name"]:
                session["name"] = data["name"]
            if data["email"]:
                session["email"] = data["email"]
            session.save()
            req.session = session
            return req.redirect(req.url_for("prefs"))
    return "register.html", data
