"""The deployment probes of ``codeyard check URL`` over the real application, in process.

Each front-server fault is a small WSGI middleware standing where Apache would: it answers
some URLs itself (with a page that is not codeyard's) or changes what reaches the
application, as the misconfiguration does.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys

from werkzeug.test import Client

from codeyard.env import forget_environment
from codeyard.web.probe import Answer, probe_deployment
from codeyard.web.wsgi import application
from tests.unit.web.conftest import htpasswd

USER, PASSWORD = "alice", "s3cret-pw"
APACHE_PAGE = b"<html><head><title>Apache</title></head><body>nope</body></html>"


def wsgi_fetch(app, scheme_seen: str | None = None):
    """A probe ``fetch`` over a WSGI app; ``scheme_seen`` is the scheme the app is told (a
    TLS front that does not say it is one tells it http)."""
    client = Client(app)

    def fetch(method, url, body, headers):
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        scheme = scheme_seen or parts.scheme
        response = client.open(parts.path + (f"?{parts.query}" if parts.query else ""),
                               method=method, data=body, headers=headers,
                               base_url=f"{scheme}://{parts.netloc}")
        answer = Answer(response.status_code, {k.lower(): v for k, v in response.headers.items()},
                        response.get_data(), url)
        response.close()
        return answer
    return fetch


def front(answer_status: str, body: bytes = APACHE_PAGE, content_type: str = "text/html",
          extra=()):
    def respond(start_response):
        start_response(answer_status, [("Content-Type", content_type), *extra])
        return [body]
    return respond


def site_app(env_path: str, **environ):
    def app(wsgi_environ, start_response):
        wsgi_environ.update({"codeyard.env_path": env_path, **environ})
        return application(wsgi_environ, start_response)
    return app


def apache_login(app, exact: bool = True, everything: bool = False):
    """Apache's Basic auth on /login (or, unanchored, anything starting with it; or every URL)."""
    good = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

    def middleware(environ, start_response):
        path = environ.get("PATH_INFO", "")
        guarded = everything or (path == "/login" if exact else path.startswith("/login"))
        if guarded:
            if environ.get("HTTP_AUTHORIZATION") != good:
                return front("401 Unauthorized", extra=[
                    ("WWW-Authenticate", 'Basic realm="Projects"')])(start_response)
            environ["REMOTE_USER"] = USER
        return app(environ, start_response)
    return middleware


def run(app, url="http://localhost/", user=USER, password=PASSWORD, scheme_seen=None):
    return probe_deployment(url, wsgi_fetch(app, scheme_seen), user, password)


def levels(found, subject):
    return [level for level, s, _m in found if s == subject]


def failures(found):
    return [f"{s}: {m}" for level, s, m in found if level == "FAIL"]


def test_a_good_deployment_passes_clean(env):
    found = run(apache_login(site_app(env.path)))
    assert failures(found) == [], found
    assert levels(found, "page") == ["ok"] and levels(found, "static") == ["ok"]
    assert levels(found, "login") == ["ok", "ok"]
    assert levels(found, "forms") == ["ok"] and levels(found, "bzr") == ["ok"]
    assert any("codeyard 0." in m for _l, s, m in found if s == "page")


def test_the_site_index_leads_to_its_first_project(tmp_path):
    from tests.functional.conftest import make_project

    make_project(str(tmp_path), "one", "One")
    make_project(str(tmp_path), "two", "Two")

    def app(environ, start_response):
        environ["codeyard.env_parent_dir"] = str(tmp_path)
        return application(environ, start_response)

    try:
        found = run(app, user=None, password=None)
        assert found[0][:2] == ("ok", "site") and "probing http://localhost/one/" in found[0][2]
        assert failures(found) == [], found
    finally:
        for name in ("one", "two"):
            forget_environment(str(tmp_path / name))


def test_stylesheet_missing_or_of_the_wrong_type(env):
    app = site_app(env.path)

    def missing(environ, start_response):
        if "/chrome/common/" in environ["PATH_INFO"]:
            return front("404 Not Found")(start_response)
        return app(environ, start_response)

    found = run(missing, user=None)
    assert "static" in failures(found)[0] and "answers 404" in failures(found)[0]
    assert "Alias /chrome/common /path/to/deploy/htdocs/common" in failures(found)[0]

    def plain(environ, start_response):
        if "/chrome/common/" in environ["PATH_INFO"]:
            return front("200 OK", b"body{}", "text/plain")(start_response)
        return app(environ, start_response)

    found = run(plain, user=None)
    assert len(failures(found)) == 1 and "served as text/plain" in failures(found)[0]
    assert "AddType text/css .css" in failures(found)[0]


def test_an_alias_or_document_root_over_the_project(env):
    found = run(lambda environ, start_response: front("403 Forbidden")(start_response))
    assert len(failures(found)) == 1, found
    assert "answers 403 from the front server" in failures(found)[0]
    assert "WSGIScriptAlias /" in failures(found)[0]
    found = run(lambda environ, start_response: front("200 OK")(start_response))
    assert "is not codeyard's page" in failures(found)[0] and "Alias" in failures(found)[0]


def test_a_directory_on_disk_gets_a_slash_added(env):
    app = apache_login(site_app(env.path))

    def directory_slash(environ, start_response):
        if environ["PATH_INFO"] == "/wiki":
            return front("301 Moved Permanently", extra=[
                ("Location", "http://localhost/wiki/")])(start_response)
        return app(environ, start_response)

    found = run(directory_slash)
    assert len(failures(found)) == 1 and "is redirected to http://localhost/wiki/" in \
        failures(found)[0]
    assert "WSGIScriptAlias /" in failures(found)[0]


def test_login_challenges(env):
    app = site_app(env.path)
    # <Location /> swallowing /login: every page asks.
    found = run(apache_login(app, everything=True))
    assert len(failures(found)) == 1 and "covers the whole project" in failures(found)[0]
    assert '<Location "/login">' in failures(found)[0]
    # An unanchored LocationMatch: /loginfoo asks too.
    found = run(apache_login(app, exact=False))
    assert len(failures(found)) == 1, found
    assert "loginfoo asks for a password too" in failures(found)[0]
    assert '<LocationMatch "^/login$">' in failures(found)[0]
    # Only codeyard's form, without a password file, while --user is given.
    found = run(app)
    assert len(failures(found)) == 1 and "nothing checks the password" in failures(found)[0]
    assert "[account-manager] password_file" in failures(found)[0]


def test_login_not_challenged_when_nothing_guards_it(env):
    app = site_app(env.path)

    def no_login(environ, start_response):
        if environ["PATH_INFO"] == "/login":
            return front("404 Not Found")(start_response)
        return app(environ, start_response)

    found = run(no_login)
    assert len(failures(found)) == 1 and "does not ask for a password" in failures(found)[0]
    assert '<Location "/login">' in failures(found)[0]
    assert levels(run(no_login, user=None, password=None), "login") == ["warn"]


def test_wrong_credentials_are_named_as_such(env):
    found = run(apache_login(site_app(env.path)), password="not-it")
    assert len(failures(found)) == 1 and "does not log in" in failures(found)[0]


def test_authorization_header_kept_from_the_application(make_env, tmp_path):
    passwords = tmp_path / "users.htpasswd"
    htpasswd(passwords, USER, PASSWORD, "B")
    env = make_env("basic", options=[("account-manager", "password_file", str(passwords))])
    app = site_app(env.path)
    # The application checks Basic against its own file: it logs in.
    assert failures(run(app)) == []

    def no_pass_authorization(environ, start_response):
        environ.pop("HTTP_AUTHORIZATION", None)
        return app(environ, start_response)

    found = run(no_pass_authorization)
    assert len(failures(found)) == 1, found
    assert "auth: " in failures(found)[0] and "WSGIPassAuthorization On" in failures(found)[0]


def test_form_post_shadowed_by_a_static_file(env):
    app = site_app(env.path)

    def static_prefs(environ, start_response):
        if environ["PATH_INFO"] == "/prefs":
            if environ["REQUEST_METHOD"] == "POST":
                return front("405 Method Not Allowed", extra=[("Allow", "GET")])(start_response)
            return front("200 OK")(start_response)
        return app(environ, start_response)

    found = run(apache_login(static_prefs))
    assert len(failures(found)) == 1 and "forms" in failures(found)[0]
    assert "405 from the front server" in failures(found)[0]


def test_https_front_without_setenv_https(env):
    app = apache_login(site_app(env.path))
    found = run(app, url="https://localhost/", scheme_seen="http")
    assert len(failures(found)) == 1, found
    assert "drops to http" in failures(found)[0] and "SetEnv HTTPS 1" in failures(found)[0]
    # With HTTPS passed on, the redirect stays https.
    found = run(apache_login(site_app(env.path, HTTPS="1")), url="https://localhost/",
                scheme_seen="http")
    assert failures(found) == [] and levels(found, "urls") == ["ok"]


def test_base_url_disagreeing_with_the_url_asked(make_env):
    env = make_env("based", options=[("trac", "base_url", "http://elsewhere.example/based"),
                                     ("trac", "use_base_url_for_redirect", "true")])
    found = run(apache_login(site_app(env.path)))
    assert failures(found) == []
    warned = [m for level, s, m in found if (level, s) == ("warn", "base_url")]
    assert warned and "http://elsewhere.example" in warned[0]
    assert "[trac] base_url = http://localhost" in warned[0]


def test_bazaar_route_missing(env):
    app = apache_login(site_app(env.path))

    def no_bzr(environ, start_response):
        if environ["PATH_INFO"].endswith("/.bzr/smart"):
            return front("404 Not Found")(start_response)
        return app(environ, start_response)

    found = run(no_bzr)
    assert len(failures(found)) == 1 and failures(found)[0].startswith("bzr: ")
    assert 'WSGIScriptAliasMatch "^(?=/[^/]+/bzr(/|$))"' in failures(found)[0]


def test_environment_needing_upgrade(env):
    env.set_system_value("database_version", "44")
    try:
        found = run(apache_login(site_app(env.path)))
        assert failures(found) == [f"environment: http://localhost/ needs an upgrade of its "
                                   f"database: run `codeyard admin {env.path} upgrade`"]
    finally:
        env.set_system_value("database_version", "45")


def test_nothing_listening():
    found = probe_deployment("http://127.0.0.1:9/", __import__(
        "codeyard.web.probe", fromlist=["http_fetch"]).http_fetch(timeout=5))
    assert [(level, s) for level, s, _m in found] == [("FAIL", "connect")]


def test_the_command_reports_and_exits(env, tmp_path):
    env.set_system_value("database_version", "44")
    try:
        result = subprocess.run([sys.executable, "-m", "codeyard", "check", "--env", env.path,
                                 "http://127.0.0.1:9/", "--json"], capture_output=True, text=True,
                                timeout=60, env={**os.environ})
        assert result.returncode == 1, result.stderr
        import json

        report = json.loads(result.stdout)
        assert report["http://127.0.0.1:9/"][0]["subject"] == "connect"
        assert any("upgrade" in f["message"] for f in report[env.path])
    finally:
        env.set_system_value("database_version", "45")
    bad = subprocess.run([sys.executable, "-m", "codeyard", "check", "ftp://x/"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "not an http:// or https:// URL" in bad.stderr
    lone = subprocess.run([sys.executable, "-m", "codeyard", "check", "http://x/", "--user", "a"],
                          capture_output=True, text=True, timeout=60)
    assert lone.returncode == 2 and "go together" in lone.stderr


def test_a_plugin_that_does_not_load_is_named_on_disk(tmp_path, monkeypatch, make_env):
    from codeyard.web.check import environment_findings

    plugins = tmp_path / "site-packages"
    plugins.mkdir()
    (plugins / "yard_broken.py").write_text("import no_such_module_anywhere\n")
    info = plugins / "yard_broken-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: yard-broken\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[codeyard.plugins]\nbroken = yard_broken\n")
    monkeypatch.syspath_prepend(str(plugins))
    off = make_env("off")
    assert [f for f in environment_findings(off.path) if f[1] == "plugins"] == []
    on = make_env("on", options=[("components", "yard_broken", "enabled")])
    found = [f for f in environment_findings(on.path) if f[1] == "plugins"]
    assert len(found) == 1 and found[0][0] == "FAIL", found
    assert "yard_broken (from yard-broken) does not load: ModuleNotFoundError" in found[0][2]
    assert "[components] yard_broken = disabled" in found[0][2]


def test_directories_the_server_cannot_write(make_env):
    from codeyard.web.check import environment_findings

    env = make_env("perms")
    if os.geteuid() == 0:
        import pwd

        user = "www-data"
        pwd.getpwnam(user)
        found = [f for f in environment_findings(env.path, user) if f[1] == "permissions"]
        assert {f[0] for f in found} == {"FAIL"}, found
        assert any(f"{env.path}/db is not writable by www-data: chown -R www-data" in f[2]
                   for f in found), found
        entry = pwd.getpwnam(user)
        for root, dirs, files in os.walk(env.path):
            for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
                os.chown(name, entry.pw_uid, entry.pw_gid)
        found = [f for f in environment_findings(env.path, user) if f[1] == "permissions"]
        assert [f[0] for f in found] == ["ok"], found
    else:
        db = os.path.join(env.path, "db")
        os.chmod(db, 0o555)
        try:
            found = [f for f in environment_findings(env.path) if f[1] == "permissions"]
            assert [f[0] for f in found] == ["FAIL"] and f"{db} is not writable" in found[0][2]
        finally:
            os.chmod(db, 0o755)
    bad = subprocess.run([sys.executable, "-m", "codeyard", "check", "--env", env.path,
                          "--server-user", "no-such-user-here"], capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 2 and "no such user" in bad.stderr


def test_postgresql_connections_against_processes_and_threads(postgres, make_env):
    import uuid

    from codeyard.web.check import postgres_findings

    paths = [make_env(name, url=postgres.url(schema="t_" + uuid.uuid4().hex[:12])).path
             for name in ("pg1", "pg2")]
    where = f"PostgreSQL 127.0.0.1:{postgres.port}"
    # The suite's server takes 200 connections, 3 of them reserved.
    report = postgres_findings(paths, processes=2, threads=15)
    assert list(report) == [where]
    # Each process keeps 2 per project and opens one per busy thread: 2 × (4 + 15).
    (level, _subject, message), = report[where]
    assert level == "ok" and message.startswith("2 project(s) × 2 process(es) need up to 38 ")
    assert message.endswith(f"; {where} takes 197")
    # Threads beyond a project's pool (2 kept + 13 more) wait for a connection.
    report = postgres_findings(paths, processes=7, threads=64)
    (level, _subject, message), = report[where]
    assert level == "FAIL" and "need up to 210" in message and "takes 197" in message
    assert "raise max_connections in postgresql.conf to at least 213" in message
    sqlite = make_env("lite", url="sqlite:db/trac.db")
    assert postgres_findings([sqlite.path], 2, 15) == {}
