"""The page chrome: layout, project templates, logo, footer, navigation."""

from __future__ import annotations

import os

import pytest

from tests.unit.web.conftest import text

pytestmark = pytest.mark.db


def test_layout_landmarks_and_accessibility(served):
    _, site = served()
    page = text(site.get("/about"))
    for landmark in ('<header class="site-header">', '<div id="banner"', '<nav id="metanav"',
                     '<nav id="mainnav"', '<main id="main"', '<div id="content" class="about">',
                     '<footer id="footer"'):
        assert landmark in page
    assert '<a class="skip-link" href="#main">' in page
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in page
    css = text(site.get("/chrome/common/codeyard.css"))
    assert "prefers-color-scheme: dark" in css and ":focus-visible" in css and "@media (max-width" in css


def test_project_templates_override_and_site_includes(served, tmp_path):
    env, site = served(options=[("project", "footer", "<em>Hosted by us</em>")])
    with open(f"{env.templates_dir}/site_footer.html", "w") as fh:
        fh.write("<p id='custom-footer'>{{ project.name }} footer</p>")
    with open(f"{env.templates_dir}/site_head.html", "w") as fh:
        fh.write("<meta name='x-site' content='1'>")
    page = text(site.get("/about"))
    assert "<p id='custom-footer'>project footer</p>" in page
    assert "<meta name='x-site' content='1'>" in page
    assert "<em>Hosted by us</em>" in page
    shared = tmp_path / "shared-templates"
    shared.mkdir()
    (shared / "about.html").write_text("{% extends 'layout.html' %}{% block content %}SHARED ABOUT{% endblock %}")
    env.config.set("inherit", "templates_dir", str(shared))
    env.config.save()
    assert "SHARED ABOUT" in text(site.get("/about"))
    with open(f"{env.templates_dir}/about.html", "w") as fh:
        fh.write("{% extends 'layout.html' %}{% block content %}PROJECT ABOUT{% endblock %}")
    assert "PROJECT ABOUT" in text(site.get("/about"))


def test_a_site_include_holding_only_comments_adds_nothing_until_it_is_filled(served):
    import os

    env, site = served(options=[("codeyard", "config_check_interval", "0")])
    header = f"{env.templates_dir}/site_header.html"
    with open(header, "w") as fh:
        fh.write("{# our header, later #}\n\n")
    page = text(site.get("/about"))
    assert "our header" not in page and "<main" in page
    with open(header, "w") as fh:
        fh.write("{# now #}<div id='our-header'>{{ project.name }}</div>")
    stat = os.stat(header)
    os.utime(header, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))
    assert "<div id='our-header'>project</div>" in text(site.get("/about"))


def test_header_logo_from_site_htdocs(served):
    env, site = served(options=[("header_logo", "src", "site/logo.png"),
                                ("header_logo", "alt", "Our logo"),
                                ("header_logo", "width", "120")])
    page = text(site.get("/about"))
    assert "<img" not in page.split("</header>")[0]  # the file does not exist yet: the name shows
    with open(f"{env.htdocs_dir}/logo.png", "wb") as fh:
        fh.write(b"\x89PNG\r\n")
    page = text(site.get("/about"))
    assert '<img src="/chrome/site/logo.png" alt="Our logo" width="120">' in page
    logo = site.get("/chrome/site/logo.png")
    assert logo.status_code == 200 and logo.mimetype == "image/png"


def test_shared_htdocs(served, tmp_path):
    env, site = served()
    shared = tmp_path / "shared-htdocs"
    shared.mkdir()
    (shared / "brand.css").write_text("body{}")
    assert site.get("/chrome/shared/brand.css").status_code == 404
    env.config.set("inherit", "htdocs_dir", str(shared))
    env.config.save()
    assert site.get("/chrome/shared/brand.css").status_code == 200


def test_start_page_falls_back_to_wikistart_text(served):
    # Without a routable WikiModule the root shows the WikiStart text (or a placeholder).
    env, site = served(options=[("components", "codeyard.wiki.web", "disabled")])
    page = site.get("/")
    assert page.status_code == 200
    with env.db_query as db:
        rows = db("SELECT text FROM wiki WHERE name='WikiStart'")
    if rows:
        assert '<pre class="wiki-source">' in text(page)
    else:
        assert "start page of the project" in text(page)


def test_default_handler_option_and_session_choice(served):
    env, site = served(options=[("trac", "default_handler", "AboutModule")])
    assert "<h1>About codeyard</h1>" in text(site.get("/"))
    site.get("/login", environ={"REMOTE_USER": "dana"})
    site.post("/prefs", {"name": "Dana"})
    with env.db_transaction as db:
        db("INSERT INTO session_attribute (sid, authenticated, name, value) "
           "VALUES ('dana', 1, 'default_handler', 'PreferencesModule')")
    assert "<h1>Preferences</h1>" in text(site.get("/"))


def test_plugin_template_static_and_authenticator_hooks(served, tmp_path):
    from werkzeug.routing import Rule

    from codeyard.core import hookimpl

    templates = tmp_path / "plugin-templates"
    templates.mkdir()
    (templates / "hello.html").write_text(
        "{% extends 'layout.html' %}{% block content %}<p id='hi'>Hi {{ authname }}: {{ url_for('hello') }}</p>{% endblock %}")
    static = tmp_path / "plugin-static"
    static.mkdir()
    (static / "thing.js").write_text("console.log(1)")

    class Plugin:
        @hookimpl
        def web_routes(self):
            def hello(req):
                """/hello — a page from a plugin template."""
                return "hello.html", {}

            return [(Rule("/hello", endpoint="hello"), hello)]

        @hookimpl
        def template_dirs(self):
            return [str(templates)]

        @hookimpl
        def static_dirs(self):
            return {"myplugin": str(static)}

        @hookimpl
        def request_authenticators(self):
            return [lambda req: req.headers.get("X-Test-User")]

    env, site = served()
    env.plugins.register(Plugin())
    env._memo.clear()
    page = site.get("/hello", headers={"X-Test-User": "robot", "Accept": "text/html"})
    assert "<p id='hi'>Hi robot: /hello</p>" in text(page)
    js = site.get("/chrome/myplugin/thing.js")
    assert js.status_code == 200 and text(js) == "console.log(1)"


def test_feature_templates_live_in_their_package_and_a_project_overrides_them(served):
    import codeyard.wiki

    env, site = served()
    packaged = os.path.join(os.path.dirname(codeyard.wiki.__file__), "templates", "wiki", "view.html")
    assert os.path.isfile(packaged)
    assert "<p id='mine'>" not in text(site.get("/wiki/WikiStart"))
    os.makedirs(os.path.join(env.templates_dir, "wiki"), exist_ok=True)
    with open(os.path.join(env.templates_dir, "wiki", "view.html"), "w", encoding="utf-8") as fh:
        fh.write("{% extends 'layout.html' %}{% block content %}<p id='mine'>{{ page.name }}</p>"
                 "{% endblock %}")
    page = site.get("/wiki/WikiStart")
    assert page.status_code == 200
    assert "<p id='mine'>WikiStart</p>" in text(page)


def test_a_large_piece_goes_out_as_its_bytes_in_its_place():
    from markupsafe import Markup

    from codeyard.web.chrome import SPLICE_MIN, Spliced, _spliced_body, splice

    class Req:
        pass

    req = Req()
    small = Markup("<b>small</b>")
    assert splice(req, small) is small and _spliced_body(req, "page") == "page"
    big = Markup("<td>é</td>" * (SPLICE_MIN // 5))
    kept = Spliced(big)
    first, second = splice(req, kept), splice(req, big)
    assert str(first) != str(second) and "\x00" in first
    # Text that looks like a marker but lacks the request's token is left as it is.
    body = f"<p>a\x000000:0\x00</p>{first}<hr>{second}<p>ü</p>"
    chunks = _spliced_body(req, body)
    assert isinstance(chunks, list) and kept.encoded in chunks
    expected = f"<p>a\x000000:0\x00</p>{big}<hr>{big}<p>ü</p>".encode()
    assert b"".join(chunks) == expected
    # Another request gets another token.
    other = Req()
    assert str(splice(other, kept)).split(":")[0] != str(first).split(":")[0]


def test_template_files_are_checked_at_most_once_an_interval(tmp_path, monkeypatch):
    """A project's templates are looked at again for changes once per
    ``config_check_interval``, not at every page; 0 looks at every page."""
    import os

    import jinja2

    from codeyard.web import chrome

    page = tmp_path / "p.html"
    page.write_text("one")
    clock = [1000.0]
    monkeypatch.setattr(chrome.time, "monotonic", lambda: clock[0])
    checks = []
    real_getmtime = os.path.getmtime
    monkeypatch.setattr(os.path, "getmtime", lambda p: checks.append(p) or real_getmtime(p))

    def bump(text: str) -> None:
        page.write_text(text)
        stamp = real_getmtime(page) + 5
        os.utime(page, (stamp, stamp))

    throttled = jinja2.Environment(loader=chrome._CheckedLoader([str(tmp_path)], 1),
                                   auto_reload=True)
    assert throttled.get_template("p.html").render() == "one"
    checks.clear()
    for _ in range(20):
        assert throttled.get_template("p.html").render() == "one"
    assert checks == []  # within the interval: no stat at all
    bump("two")
    assert throttled.get_template("p.html").render() == "one"
    clock[0] += 1.5
    assert throttled.get_template("p.html").render() == "two"

    every = jinja2.Environment(loader=chrome._CheckedLoader([str(tmp_path)], 0), auto_reload=True)
    assert every.get_template("p.html").render() == "two"
    bump("three")
    assert every.get_template("p.html").render() == "three"


def test_template_attributes_of_dicts_read_as_jinja_reads_them(tmp_path):
    """``d.name`` on a plain dict goes straight to the item; the answers stay Jinja's."""
    import collections

    import jinja2

    from codeyard.web import chrome

    ours = chrome._Environment(loader=jinja2.DictLoader({}), autoescape=True,
                               undefined=jinja2.StrictUndefined)
    plain = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    source = ("{{ d.name }}|{{ d['name'] }}|{{ d.items()|list|length }}|{{ d.get('x', 'no') }}"
              "|{{ d.keys is callable }}|{{ d.missing is defined }}|{{ o.name }}|{{ o.x is defined }}")
    values = {"d": {"name": "<n>", "items": "not the method", "keys": 1},
              "o": collections.OrderedDict(name="ordered")}
    expected = plain.from_string(source).render(values)
    assert ours.from_string(source).render(values) == expected
    assert expected == "&lt;n&gt;|&lt;n&gt;|3|no|True|False|ordered|False"
    with pytest.raises(jinja2.UndefinedError):
        ours.from_string("{{ d.missing }}").render(d={})
