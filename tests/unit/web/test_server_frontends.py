"""The pieces around the application: serve's site middleware, the mod_python adapter."""

from __future__ import annotations

import io

import pytest
from click.testing import CliRunner

from codeyard.web import modpython_frontend as mp
from codeyard.web.server import (
    PasswordFile,
    ServeError,
    SiteMiddleware,
    SiteSettings,
    build_settings,
    parse_password_option,
    serve_command,
    warm_up,
    warm_up_paths,
)


def capture_app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    capture_app.seen = dict(environ)
    return [b"ok"]


def call(middleware, path, script_name=""):
    statuses = []
    body = b"".join(middleware({"PATH_INFO": path, "SCRIPT_NAME": script_name},
                               lambda status, headers: statuses.append(status)))
    return statuses[0], body, getattr(capture_app, "seen", None)


def test_site_middleware_sets_the_environ_keys_and_base_path():
    settings = SiteSettings(env_parent_dir="/srv/projects", base_path="/projects",
                            auths={"alpha": PasswordFile("basic", "alpha", "/etc/pw", "Realm"),
                                   "*": PasswordFile("digest", "*", "/etc/dg", "All")})
    app = SiteMiddleware(capture_app, settings)
    status, _, seen = call(app, "/projects/alpha/login")
    assert status.startswith("200")
    assert seen["codeyard.env_parent_dir"] == "/srv/projects"
    assert seen["SCRIPT_NAME"] == "/projects" and seen["PATH_INFO"] == "/alpha/login"
    assert seen["codeyard.basic_auth"] == ("/etc/pw", "Realm")
    assert "codeyard.digest_auth" not in seen
    _, _, seen = call(app, "/projects/beta/login")
    assert seen["codeyard.digest_auth"] == ("/etc/dg", "All")
    _, _, seen = call(app, "/projects/")
    assert "codeyard.digest_auth" not in seen and "codeyard.basic_auth" not in seen
    capture_app.seen = None
    status, body, seen = call(app, "/projectsX/alpha")
    assert status.startswith("404") and seen is None and b"/projects/" in body


def test_site_middleware_single_env_and_env_list():
    single = SiteMiddleware(capture_app, SiteSettings(env_paths=["/srv/one"], single_env=True,
                            auths={"one": PasswordFile("basic", "one", "/pw", "R")}))
    _, _, seen = call(single, "/login")
    assert seen["codeyard.env_path"] == "/srv/one" and seen["codeyard.basic_auth"] == ("/pw", "R")
    several = SiteMiddleware(capture_app, SiteSettings(env_paths=["/srv/one", "/srv/two"]))
    _, _, seen = call(several, "/two/wiki")
    assert seen["codeyard.env_paths"] == ["/srv/one", "/srv/two"]
    seen["codeyard.env_paths"].append("changed")  # a request cannot change the next one
    _, _, seen = call(several, "/two/wiki")
    assert seen["codeyard.env_paths"] == ["/srv/one", "/srv/two"]


def test_warm_up_asks_for_a_page_of_each_project(tmp_path):
    for name in ("beta", "alpha", ".hidden", "notenv"):
        (tmp_path / name).mkdir()
    for name in ("alpha", "beta", ".hidden"):
        (tmp_path / name / "VERSION").write_text("Trac Environment Version 1\n")
    assert warm_up_paths(SiteSettings(env_paths=["/srv/one"], single_env=True)) == ["/"]
    assert warm_up_paths(SiteSettings(env_paths=["/srv/one/", "/srv/two"])) == [
        "/", "/one/", "/two/"]
    parent = SiteSettings(env_parent_dir=str(tmp_path), base_path="/p")
    assert warm_up_paths(parent) == ["/", "/alpha/", "/beta/"]
    assert warm_up_paths(parent, limit=1) == ["/", "/alpha/"]

    seen, logged = [], []

    def app(environ, start_response):
        seen.append((environ["REQUEST_METHOD"], environ["SCRIPT_NAME"], environ["PATH_INFO"],
                     "HTTP_COOKIE" in environ))
        if environ["PATH_INFO"] == "/beta/":
            raise RuntimeError("broken project")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    warm_up(SiteMiddleware(app, parent), parent, logged.append)
    assert seen == [("GET", "/p", "/", False), ("GET", "/p", "/alpha/", False),
                    ("GET", "/p", "/beta/", False)]
    assert len(logged) == 1 and "/beta/" in logged[0] and "broken project" in logged[0]


def test_a_warmed_up_worker_sets_its_heap_aside_from_the_collector():
    """(in a process of its own: freezing is for the life of the process)"""
    import subprocess
    import sys

    script = ("import gc\n"
              "from codeyard.web import server\n"
              "assert gc.get_freeze_count() == 0\n"
              "server.settle_heap()\n"
              "print(gc.get_freeze_count(), len(gc.get_objects()))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True)
    frozen, tracked = map(int, done.stdout.split())
    assert frozen > 1000 and tracked < frozen / 10


def test_password_option_parsing(tmp_path):
    pw = tmp_path / "htpasswd"
    pw.write_text("")
    parsed = parse_password_option("basic", f"*,{pw},My Realm, with comma")
    assert parsed == PasswordFile("basic", "*", str(pw), "My Realm, with comma")
    assert parse_password_option("digest", f"/srv/projects/alpha/,{pw},R").project == "alpha"
    with pytest.raises(ServeError, match="the realm is missing"):
        parse_password_option("basic", f"alpha,{pw}")
    with pytest.raises(ServeError, match="the file and the realm are missing"):
        parse_password_option("basic", "alpha")
    # An empty realm is accepted, as tracd accepts it: basic takes the project's name, digest
    # the realm the file's entries were made for (no other realm could match them).
    assert parse_password_option("basic", f"alpha,{pw},").realm == "alpha"
    assert parse_password_option("basic", f"*,{pw},").realm == "codeyard"
    digest = tmp_path / "htdigest"
    digest.write_text("bob:Dev Team:0123456789abcdef0123456789abcdef\n")
    assert parse_password_option("digest", f"alpha,{digest},").realm == "Dev Team"
    with pytest.raises(ServeError, match="no such file"):
        parse_password_option("digest", f"alpha,{tmp_path}/nope,R")


def test_settings_validation(tmp_path, monkeypatch):
    template = tmp_path / "index.html"
    template.write_text("{{ projects }}")
    monkeypatch.setenv("TRAC_ENV_INDEX_TEMPLATE", str(template))
    monkeypatch.setenv("TRAC_TEMPLATE_VARS", "a=1")
    settings = build_settings((), str(tmp_path), False, (), (), "/base/")
    assert settings.base_path == "/base"
    assert settings.base_environ() == {"codeyard.env_parent_dir": str(tmp_path),
                                       "trac.env_index_template": str(template),
                                       "trac.template_vars": "a=1"}
    monkeypatch.setenv("TRAC_ENV_INDEX_TEMPLATE", str(tmp_path / "missing.html"))
    with pytest.raises(ServeError, match="TRAC_ENV_INDEX_TEMPLATE: .* no such file"):
        build_settings((), str(tmp_path), False, (), (), "")
    monkeypatch.delenv("TRAC_ENV_INDEX_TEMPLATE")
    with pytest.raises(ServeError, match="not both"):
        build_settings((str(tmp_path),), str(tmp_path), False, (), (), "")
    with pytest.raises(ServeError, match="exactly one"):
        build_settings((), str(tmp_path), True, (), (), "")
    with pytest.raises(ServeError, match="no such directory"):
        build_settings((), str(tmp_path / "missing"), False, (), (), "")


def test_serve_command_errors_exit_2(tmp_path):
    result = CliRunner().invoke(serve_command, ["--basic-auth", "alpha,file", "-e", str(tmp_path)])
    assert result.exit_code == 2
    assert "Error: --basic-auth 'alpha,file': expected PROJECT,HTPASSWD,REALM" in result.output
    result = CliRunner().invoke(serve_command, ["--umask", "99", "-e", str(tmp_path)])
    assert result.exit_code == 2 and "not an octal number" in result.output
    result = CliRunner().invoke(serve_command, ["-r", "-d", "-e", str(tmp_path)])
    assert result.exit_code == 2 and "cannot be combined" in result.output


# -- mod_python


class FakeTable(list):
    def add(self, name, value):
        self.append((name, value))


class FakeRequest:
    """What the adapter uses of mod_python's request object."""

    def __init__(self, uri, body=b"", user=None, https=False):
        self.uri = uri
        self.unparsed_uri = uri
        self.user = user
        self._https = https
        self._body = io.BytesIO(body)
        self.headers_out = FakeTable()
        self.status = None
        self.content_type = None
        self.content_length = None
        self.written: list[bytes] = []
        self.errors: list[str] = []

    def is_https(self):
        return self._https

    def read(self, size=-1):
        return self._body.read(size)

    def readline(self, size=-1):
        return self._body.readline(size)

    def readlines(self, hint=-1):
        return self._body.readlines(hint)

    def set_content_length(self, n):
        self.content_length = n

    def write(self, data):
        self.written.append(data)

    def log_error(self, text):
        self.errors.append(text)


def test_modpython_environ_from_options():
    req = FakeRequest("/projects/alpha/wiki/Start%20Page", user="carol", https=True)
    cgi = {"REQUEST_URI": "/projects/alpha/wiki/Start%20Page?version=2", "QUERY_STRING": "version=2",
           "SCRIPT_NAME": "/projects/alpha/wiki", "PATH_INFO": "/Start Page",
           "REQUEST_METHOD": "GET", "HTTP_HOST": "example.org"}
    options = {"TracEnvParentDir": "/srv/projects", "TracEnvIndexTemplate": "/t/i.html",
               "TracTemplateVars": "a,1 b,2", "TracLocale": "fr_FR", "TracUriRoot": "/projects/"}
    environ = mp.build_environ(req, options, cgi)
    assert environ["trac.env_parent_dir"] == "/srv/projects"
    assert environ["trac.env_index_template"] == "/t/i.html"
    assert environ["trac.template_vars"] == "a,1 b,2"
    assert environ["trac.locale"] == "fr_FR"
    assert environ["SCRIPT_NAME"] == "/projects"
    assert environ["PATH_INFO"] == "/alpha/wiki/Start Page"
    assert environ["REMOTE_USER"] == "carol"
    assert environ["HTTPS"] == "on" and environ["wsgi.url_scheme"] == "https"
    assert "trac.env_path" not in environ
    with pytest.raises(ValueError, match="TracUriRoot"):
        mp.build_environ(FakeRequest("/other/x"), {"TracUriRoot": "/projects"},
                         {"REQUEST_URI": "/other/x"})
    plain = mp.build_environ(FakeRequest("/x"), {"TracEnv": "/srv/one"},
                             {"SCRIPT_NAME": "/x", "PATH_INFO": "", "HTTPS": "1"})
    assert plain["trac.env_path"] == "/srv/one" and plain["wsgi.url_scheme"] == "https"


def test_modpython_streams_body_and_response():
    req = FakeRequest("/p/echo", body=b"line one\nline two\n")
    environ = mp.build_environ(req, {"TracUriRoot": "/p"}, {"REQUEST_URI": "/p/echo"})

    def echo(environ, start_response):
        first = environ["wsgi.input"].readline()
        rest = environ["wsgi.input"].read()
        start_response("201 Created", [("Content-Type", "text/plain"), ("Content-Length", "18"),
                                       ("X-Seen", first.decode().strip())])
        yield first
        yield rest

    mp.serve(req, echo, environ)
    assert req.status == 201
    assert req.content_type == "text/plain" and req.content_length == 18
    assert ("X-Seen", "line one") in req.headers_out
    assert b"".join(req.written) == b"line one\nline two\n"
    environ["wsgi.errors"].write("oops\nsecond line\n")
    assert req.errors == ["oops", "second line"]


def test_modpython_module_imports_without_mod_python():
    import sys

    assert "mod_python" not in sys.modules or not hasattr(sys.modules["mod_python"], "apache")
    assert callable(mp.handler)
