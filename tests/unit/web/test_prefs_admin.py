"""Sessions, preferences and the General admin panels through the web."""

from __future__ import annotations

import pytest

from codeyard.perm import PermissionSystem
from tests.unit.web.conftest import set_cookie_headers, text

pytestmark = pytest.mark.db


def rows(env, sql, params=()):
    with env.db_query as db:
        return db(sql, params)


def test_anonymous_session_is_stored_only_when_something_is_saved(served):
    env, site = served()
    page = site.get("/prefs")
    assert page.status_code == 200
    assert not set_cookie_headers(page, "trac_session")
    assert rows(env, "SELECT COUNT(*) FROM session")[0][0] == 0
    for field in ("name", "email", "tz", "dateinfo", "date_format", "language"):
        assert f'id="{field}"' in text(page) and f'<label for="{field}"' in text(page)
    saved = site.post("/prefs", {"name": "Ann", "email": "ann@example.org", "tz": "Europe/Paris",
                                 "dateinfo": "absolute", "date_format": "iso8601", "language": "fr"})
    assert saved.status_code == 303
    sid = site.cookie("trac_session").value
    assert set_cookie_headers(saved, "trac_session")
    attrs = dict(rows(env, "SELECT name, value FROM session_attribute WHERE sid=%s AND authenticated=0",
                      (sid,)))
    assert attrs == {"name": "Ann", "email": "ann@example.org", "tz": "Europe/Paris",
                     "dateinfo": "absolute", "date_format": "iso8601", "language": "fr"}
    page = text(site.get("/prefs?saved=1"))
    assert "have been saved" in page and 'value="Ann"' in page
    assert "<option selected>Europe/Paris</option>" in page
    assert '<html lang="fr">' in page


def test_preferences_refuse_bad_values(served):
    env, site = served()
    page = site.post("/prefs", {"tz": "Mars/Olympus", "email": "not an address"})
    assert page.status_code == 200
    assert "Unknown time zone" in text(page) and "not an e-mail address" in text(page)
    assert rows(env, "SELECT COUNT(*) FROM session_attribute")[0][0] == 0


def test_login_promotes_the_anonymous_session(served):
    env, site = served()
    site.post("/prefs", {"name": "Anon Name", "tz": "UTC"})
    anonymous = site.cookie("trac_session").value
    site.get("/login", environ={"REMOTE_USER": "bob"})
    assert dict(rows(env, "SELECT name, value FROM session_attribute WHERE sid='bob' "
                          "AND authenticated=1")) == {"name": "Anon Name", "tz": "UTC"}
    assert rows(env, "SELECT COUNT(*) FROM session WHERE sid=%s", (anonymous,))[0][0] == 0
    page = text(site.get("/prefs"))
    assert 'value="Anon Name"' in page
    site.post("/prefs", {"name": "Bob B", "email": "bob@example.org"})
    site.post("/prefs/datetime", {"action": "save", "tz": "Asia/Tokyo"})  # Trac's panel form
    attrs = dict(rows(env, "SELECT name, value FROM session_attribute WHERE sid='bob'"))
    assert attrs == {"name": "Bob B", "email": "bob@example.org", "tz": "Asia/Tokyo"}


def admin_site(served):
    env, site = served()
    PermissionSystem(env).grant("root", "TRAC_ADMIN")
    site.get("/login", environ={"REMOTE_USER": "root"})
    return env, site


def test_admin_needs_permission(served):
    env, site = served()
    page = site.get("/admin")
    assert page.status_code == 403 and "/login?referer=" in text(page)
    assert 'href="/admin"' not in text(site.get("/about"))


def test_admin_basics_write_trac_ini(served):
    env, site = admin_site(served)
    first = site.get("/admin")
    assert first.status_code == 303 and first.headers["Location"].endswith("/admin/general/basics")
    page = site.get("/admin/general/basics")
    assert page.status_code == 200 and 'href="/admin"' in text(page)
    for panel in ("Basic Settings", "Logging", "Permissions", "Plugins"):
        assert panel in text(page)
    done = site.post("/admin/general/basics", {"name": "Renamed", "descr": "New words",
                                               "url": "https://example.org",
                                               "default_timezone": "Europe/Berlin",
                                               "default_date_format": "iso8601",
                                               "default_dateinfo_format": "absolute"})
    assert done.status_code == 303
    with open(f"{env.path}/conf/trac.ini") as fh:
        ini = fh.read()
    assert "name = Renamed" in ini and "default_timezone = Europe/Berlin" in ini
    assert "<title>About codeyard – Renamed</title>" in text(site.get("/about"))
    bad = site.post("/admin/general/basics", {"name": "X", "default_timezone": "Nowhere/City"})
    assert "Unknown time zone" in text(bad)


def test_admin_logging_panel(served):
    env, site = admin_site(served)
    done = site.post("/admin/general/logging", {"log_type": "file", "log_level": "DEBUG",
                                                "log_file": "debug.log"})
    assert done.status_code == 303
    assert env.config.get("logging", "log_level") == "DEBUG"
    assert env.config.get("logging", "log_file") == "debug.log"
    bad = site.post("/admin/general/logging", {"log_type": "file", "log_level": "DEBUG",
                                               "log_file": "../escape.log"})
    assert "a file name inside the project" in text(bad)


def test_admin_perm_grant_and_revoke(served):
    env, site = admin_site(served)
    done = site.post("/admin/general/perm", {"add": "1", "subject": "dev", "action": "WIKI_ADMIN"})
    assert done.status_code == 303
    system = PermissionSystem(env)
    assert "WIKI_DELETE" in system.user_actions("dev")
    site.post("/admin/general/perm", {"add": "1", "subject": "carol", "group": "dev"})
    assert "WIKI_RENAME" in system.user_actions("carol")
    page = text(site.get("/admin/general/perm"))
    assert "carol" in page and "WIKI_ADMIN" in page
    bad = site.post("/admin/general/perm", {"add": "1", "subject": "x", "action": "NOPE"})
    assert "not a valid action" in text(bad)
    from codeyard.admin.web_ui import encode_selection

    assert f'value="{encode_selection("carol", "dev")}"' in page
    site.post("/admin/general/perm", {"remove": "1", "sel": [encode_selection("carol", "dev"),
                                                            encode_selection("dev", "WIKI_ADMIN")]})
    assert "WIKI_DELETE" not in system.user_actions("carol")
    assert ("dev", "WIKI_ADMIN") not in system.all_grants()
    # without the token nothing changes
    refused = site.post("/admin/general/perm", {"add": "1", "subject": "eve",
                                                "action": "TRAC_ADMIN"}, token=False)
    assert refused.status_code == 400
    assert "TRAC_ADMIN" not in system.user_actions("eve")


def test_perm_grant_limited_to_own_actions(served):
    env, site = served()
    system = PermissionSystem(env)
    system.grant("helper", "PERMISSION_GRANT")
    site.get("/login", environ={"REMOTE_USER": "helper"})
    assert site.get("/admin/general/basics").status_code == 404
    page = site.post("/admin/general/perm", {"add": "1", "subject": "x", "action": "TRAC_ADMIN"})
    assert "you do not hold it" in text(page)
    ok = site.post("/admin/general/perm", {"add": "1", "subject": "x", "action": "PERMISSION_GRANT"})
    assert ok.status_code == 303


def test_admin_plugin_disable_hides_its_navigation(served):
    env, site = admin_site(served)
    assert 'href="/prefs"' in text(site.get("/about"))
    page = text(site.get("/admin/general/plugin"))
    assert "codeyard.prefs.web" in page and "(required)" in page
    from codeyard.core import known_plugins

    names = [name for name, _ in known_plugins()]
    keep = [name for name in names if name != "codeyard.prefs.web"]
    done = site.post("/admin/general/plugin", {"component": names, "enable": keep})
    assert done.status_code == 303
    assert env.config.get("components", "codeyard.prefs.web") == "disabled"
    about = text(site.get("/about"))
    assert 'href="/prefs"' not in about
    assert site.get("/prefs").status_code == 404
    # the panel itself cannot be switched off from the panel
    site.post("/admin/general/plugin", {"component": ["codeyard.prefs.web", "codeyard.admin.web_ui"],
                                        "enable": ["codeyard.prefs.web"]})
    assert site.get("/admin/general/plugin").status_code == 200
    assert 'href="/prefs"' in text(site.get("/about"))


def test_mainnav_order_and_label_overrides(served):
    env, site = admin_site(served)
    env.config.set("metanav", "about.label", "What is this")
    env.config.set("metanav", "about.order", "1")
    env.config.save()
    page = text(site.get("/about"))
    assert "What is this" in page
    assert page.index("What is this") < page.index('logged in as <span class="trac-author-user">root</span>')
