"""Logging in and out: front-server users, the form against htpasswd, Basic, Digest."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from codeyard.util.descrypt import crypt_des
from codeyard.web.htpasswd import htpasswd_file, verify_password
from tests.unit.web.conftest import htpasswd, set_cookie_headers, text

pytestmark = pytest.mark.db

SCHEMES = {"bcrypt": "B", "apr1": "m", "sha1": "s", "crypt": "d"}


@pytest.fixture
def accounts(tmp_path):
    path = tmp_path / "users.htpasswd"
    for name, flag in SCHEMES.items():
        htpasswd(path, f"user_{name}", f"pw-{name}", flag)
    with open(path, "a") as fh:
        fh.write("this line is garbage\n:nouser\nbroken:$unknown$hash\n")
    return path


@pytest.fixture
def project(served, accounts):
    return served(options=[("account-manager", "password_file", str(accounts))])


def basic(user: str, password: str) -> dict:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}", "Accept": "text/html"}


def login_form(site, user, password, referer=""):
    return site.post("/login", {"user": user, "password": password, "referer": referer})


def test_entries_written_by_apache_htpasswd_verify(accounts):
    entries = htpasswd_file(str(accounts)).entries()
    assert set(entries) == {f"user_{n}" for n in SCHEMES}  # malformed lines skipped
    assert entries["user_bcrypt"].startswith("$2y$")
    assert entries["user_apr1"].startswith("$apr1$")
    assert entries["user_sha1"].startswith("{SHA}")
    assert len(entries["user_crypt"]) == 13
    for name in SCHEMES:
        assert verify_password(entries[f"user_{name}"], f"pw-{name}")
        assert not verify_password(entries[f"user_{name}"], f"x-{name}")
    assert crypt_des("secret", "ab") == "abNANd1rDfiNc"


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_form_login_with_each_hash_scheme(project, scheme):
    env, site = project
    page = site.get("/login")
    assert page.status_code == 200
    body = text(page)
    for field in ('name="user"', 'name="password"', 'name="referer"', 'name="__FORM_TOKEN"'):
        assert field in body
    assert '<label for="user">' in body and '<label for="password">' in body
    done = login_form(site, f"user_{scheme}", f"pw-{scheme}", referer="http://localhost/about")
    assert done.status_code == 303
    assert done.headers["Location"] == "http://localhost/about"
    cookie = set_cookie_headers(done, "trac_auth")[0]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    about = site.get("/about")
    assert f'logged in as <span class="trac-author-user">user_{scheme}</span>' in text(about)
    with env.db_query as db:
        assert db("SELECT name FROM auth_cookie") == [(f"user_{scheme}",)]


def test_wrong_password_shows_the_form_again(project):
    env, site = project
    page = login_form(site, "user_bcrypt", "wrong")
    assert page.status_code == 200
    assert "Wrong user name or password." in text(page)
    assert not set_cookie_headers(page, "trac_auth")
    assert "Login</a>" in text(site.get("/about"))


def test_login_redirect_stays_on_the_site(project):
    _, site = project
    away = login_form(site, "user_sha1", "pw-sha1", referer="http://evil.example/phish")
    assert away.headers["Location"] == "http://localhost/"
    site.post("/logout")
    rel = login_form(site, "user_sha1", "pw-sha1", referer="/prefs?x=1")
    assert rel.headers["Location"] == "http://localhost/prefs?x=1"
    site.post("/logout")
    proto = login_form(site, "user_sha1", "pw-sha1", referer="//evil.example/x")
    assert proto.headers["Location"] == "http://localhost/"


def test_failed_logins_are_rate_limited(project):
    env, site = project
    for _ in range(5):
        assert "Wrong user name" in text(login_form(site, "user_apr1", "nope"))
    blocked = login_form(site, "user_apr1", "pw-apr1")
    assert blocked.status_code == 429
    assert "Too many failed logins" in text(blocked)
    assert blocked.headers["Retry-After"]
    with env.db_query as db:
        assert db("SELECT COUNT(*) FROM codeyard_login_failure WHERE subject='user:user_apr1'")[0][0] == 5
    # Basic auth is limited too, for the same account
    assert site.get("/about", headers=basic("user_apr1", "pw-apr1")).status_code == 429


def test_remote_user_login_sets_cookie_and_redirects_back(served):
    env, site = served()
    page = site.get("/login", environ={"REMOTE_USER": "alice"},
                    headers={"Referer": "http://localhost/about", "Accept": "text/html"})
    assert page.status_code == 303 and page.headers["Location"] == "http://localhost/about"
    assert set_cookie_headers(page, "trac_auth")
    # later requests carry no REMOTE_USER, only the cookie
    assert 'logged in as <span class="trac-author-user">alice</span>' in text(site.get("/about"))


def test_login_without_any_source_explains(served):
    _, site = served()
    page = login_form(site, "someone", "pw")
    assert page.status_code == 200
    assert "no password file is configured" in text(page)


def test_basic_auth_on_any_url(project):
    _, site = project
    page = site.get("/about", headers=basic("user_crypt", "pw-crypt"))
    assert page.status_code == 200 and 'logged in as <span class="trac-author-user">user_crypt</span>' in text(page)
    assert not set_cookie_headers(page, "trac_auth")
    wrong = site.get("/about", headers=basic("user_crypt", "bad"))
    assert wrong.status_code == 401
    assert wrong.headers["WWW-Authenticate"].startswith("Basic realm=")
    garbage = site.get("/about", headers={"Authorization": "Basic !!!notbase64"})
    assert garbage.status_code == 401


def test_logout_clears_cookie_and_row(project):
    env, site = project
    login_form(site, "user_bcrypt", "pw-bcrypt")
    confirm = site.get("/logout")
    assert confirm.status_code == 200 and 'action="/logout"' in text(confirm)
    with env.db_query as db:
        assert db("SELECT COUNT(*) FROM auth_cookie")[0][0] == 1
    done = site.post("/logout")
    assert done.status_code == 303
    expired = set_cookie_headers(done, "trac_auth")[0]
    assert "Max-Age=0" in expired or "expires=Thu, 01 Jan 1970" in expired
    with env.db_query as db:
        assert db("SELECT COUNT(*) FROM auth_cookie")[0][0] == 0
    assert "Login</a>" in text(site.get("/about"))


def test_stale_auth_cookie_is_dropped(project):
    _, site = project
    site.client.set_cookie("trac_auth", "0123456789abcdef0123456789abcdef", domain="localhost")
    page = site.get("/about")
    assert "Login</a>" in text(page)
    assert set_cookie_headers(page, "trac_auth")


def test_cookies_under_https_are_secure(project):
    _, site = project
    site.environ["wsgi.url_scheme"] = "https"
    done = site.post("/login", {"user": "user_sha1", "password": "pw-sha1",
                                "__FORM_TOKEN": "a" * 32},
                     token=False, base_url="https://localhost")
    # no token cookie yet under this scheme: refused
    assert done.status_code == 400
    # the error page hands out a token cookie, Secure under https, so a retry works
    assert "Secure" in set_cookie_headers(done, "trac_form_token")[0]
    assert site.get("/login", base_url="https://localhost").status_code == 200
    token = site.client.get_cookie("trac_form_token", domain="localhost").value
    done = site.post("/login", {"user": "user_sha1", "password": "pw-sha1", "__FORM_TOKEN": token},
                     token=False, base_url="https://localhost")
    assert done.status_code == 303 and done.headers["Location"].startswith("https://localhost/")
    cookie = set_cookie_headers(done, "trac_auth")[0]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_secure_cookies_option_marks_http_cookies(served):
    _, site = served(options=[("trac", "secure_cookies", "enabled")])
    assert "Secure" in set_cookie_headers(site.get("/about"), "trac_form_token")[0]


def test_auth_cookie_lifetime_and_ip_check(project):
    env, site = project
    env.config.set("trac", "auth_cookie_lifetime", "3600")
    env.config.set("trac", "check_auth_ip", "enabled")
    env.config.save()
    done = login_form(site, "user_sha1", "pw-sha1")
    assert "Max-Age=3600" in set_cookie_headers(done, "trac_auth")[0]
    assert 'logged in as <span class="trac-author-user">user_sha1</span>' in text(site.get("/about"))
    other = site.get("/about", environ={"REMOTE_ADDR": "10.9.8.7"})
    assert "Login</a>" in text(other)


def test_registration_and_password_change(project, accounts):
    env, site = project
    assert site.get("/register").status_code == 404
    env.config.set("account-manager", "allow_registration", "enabled")
    env.config.set("account-manager", "allow_password_change", "enabled")
    env.config.save()
    assert 'href="/register"' in text(site.get("/about"))
    taken = site.post("/register", {"user": "user_sha1", "password": "longpassword",
                                    "password_confirm": "longpassword"})
    assert "is taken" in text(taken)
    short = site.post("/register", {"user": "newbie", "password": "short", "password_confirm": "short"})
    assert "at least 8" in text(short)
    done = site.post("/register", {"user": "newbie", "password": "longpassword",
                                   "password_confirm": "longpassword", "name": "New Bie"})
    assert done.status_code == 303
    content = accounts.read_text()
    assert re.search(r"^newbie:\$2y\$", content, re.M)
    assert "this line is garbage" in content  # the rest of the file is kept
    assert 'logged in as <span class="trac-author-user">newbie</span>' in text(site.get("/about"))
    prefs = text(site.get("/prefs"))
    assert 'value="New Bie"' in prefs and 'id="password-form"' in prefs
    wrong = site.post("/prefs", {"action": "change_password", "old_password": "nope",
                                 "password": "anotherpass", "password_confirm": "anotherpass"})
    assert "current password is wrong" in text(wrong)
    changed = site.post("/prefs", {"action": "change_password", "old_password": "longpassword",
                                   "password": "anotherpass", "password_confirm": "anotherpass"})
    assert changed.status_code == 303
    assert htpasswd_file(str(accounts)).check("newbie", "anotherpass")
    assert not htpasswd_file(str(accounts)).check("newbie", "longpassword")


def test_tracd_style_basic_auth_on_login(project, accounts):
    _, site = project
    environ = {"codeyard.basic_auth": (str(accounts), "Team")}
    challenge = site.get("/login", environ=environ)
    assert challenge.status_code == 401
    assert challenge.headers["WWW-Authenticate"] == 'Basic realm="Team"'
    ok = site.get("/login", environ=environ, headers=basic("user_bcrypt", "pw-bcrypt"))
    assert ok.status_code == 303 and set_cookie_headers(ok, "trac_auth")
    assert 'logged in as <span class="trac-author-user">user_bcrypt</span>' in text(site.get("/about"))


def test_tracd_style_digest_auth_on_login(served, tmp_path):
    digest_file = tmp_path / "users.htdigest"
    ha1 = hashlib.md5(b"carol:Team:s3cret").hexdigest()
    digest_file.write_text(f"carol:Team:{ha1}\nbad line\n")
    _, site = served()
    environ = {"codeyard.digest_auth": (str(digest_file), "Team")}
    challenge = site.get("/login", environ=environ)
    assert challenge.status_code == 401
    header = challenge.headers["WWW-Authenticate"]
    assert header.startswith('Digest realm="Team"')
    nonce = re.search(r'nonce="([^"]+)"', header).group(1)

    def answer(password):
        ha1 = hashlib.md5(f"carol:Team:{password}".encode()).hexdigest()
        ha2 = hashlib.md5(b"GET:/login").hexdigest()
        response = hashlib.md5(f"{ha1}:{nonce}:00000001:abc:auth:{ha2}".encode()).hexdigest()
        return {"Authorization": f'Digest username="carol", realm="Team", nonce="{nonce}", '
                                 f'uri="/login", qop=auth, nc=00000001, cnonce="abc", '
                                 f'response="{response}"', "Accept": "text/html"}

    assert site.get("/login", environ=environ, headers=answer("wrong")).status_code == 401
    ok = site.get("/login", environ=environ, headers=answer("s3cret"))
    assert ok.status_code == 303
    assert 'logged in as <span class="trac-author-user">carol</span>' in text(site.get("/about"))
    # the same answer sent again (a captured request replayed) is refused
    assert site.get("/login", environ=environ, headers=answer("s3cret")).status_code == 401
