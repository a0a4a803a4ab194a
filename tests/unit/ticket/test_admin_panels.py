"""The Ticket System admin panels, with Trac's form field names."""

from __future__ import annotations

import html

import pytest

from codeyard.perm import PermissionSystem
from codeyard.ticket import values
from tests.unit.web.conftest import text

pytestmark = pytest.mark.db


@pytest.fixture
def admin_site(served):
    env, site = served(options=[("codeyard", "config_check_interval", "0")])
    PermissionSystem(env).grant("root", "TRAC_ADMIN")
    site.get("/login", environ={"REMOTE_USER": "root"})
    return env, site


def test_panels_are_listed_for_admins_only(admin_site, served):
    env, site = admin_site
    page = text(site.get("/admin/ticket/components"))
    for label in ("Components", "Milestones", "Versions", "Priorities", "Resolutions",
                  "Severities", "Ticket Types"):
        assert f">{label}</a>" in page
    _, anonymous = served("other")
    assert anonymous.get("/admin/ticket/components").status_code == 403


def test_components_add_rename_owner_remove(admin_site):
    env, site = admin_site
    assert site.post("/admin/ticket/components", {"name": "ui", "owner": "ann", "add": "Add"}).status_code == 303
    assert ("ui", "ann") in [(c.name, c.owner) for c in values.list_components(env)]
    dup = site.post("/admin/ticket/components", {"name": "ui", "add": "Add"})
    assert dup.status_code == 400 and 'Component "ui" already exists' in html.unescape(text(dup))
    page = site.post("/admin/ticket/components/ui", {"name": "frontend", "owner": "bea",
                                                     "description": "The pages", "save": "Save"})
    assert page.status_code == 303
    comp = values.get_component(env, "frontend")
    assert (comp.owner, comp.description) == ("bea", "The pages")
    assert site.get("/admin/ticket/components/nonesuch").status_code == 404
    nothing = site.post("/admin/ticket/components", {"remove": "1"})
    assert nothing.status_code == 400 and "No component selected" in text(nothing)
    gone = site.post("/admin/ticket/components", {"sel": ["frontend", "component1"], "remove": "1"})
    assert gone.status_code == 303
    assert {c.name for c in values.list_components(env)} == {"component2"}


def test_enum_order_and_default(admin_site):
    env, site = admin_site
    names = [e.name for e in values.list_enum(env, "priority")]
    assert names == ["blocker", "critical", "major", "minor", "trivial"]
    order = {f"value_{n}": str(len(names) - i) for i, n in enumerate(names)}  # reversed
    done = site.post("/admin/ticket/priority", {**order, "default": "minor", "apply": "1"})
    assert done.status_code == 303
    assert [e.name for e in values.list_enum(env, "priority")] == list(reversed(names))
    assert env.config.get("ticket", "default_priority") == "minor"
    bad = site.post("/admin/ticket/priority", {**order, "value_major": "x", "apply": "1"})
    assert bad.status_code == 400 and "not a number" in text(bad)
    unknown = site.post("/admin/ticket/type", {"default": "nonesuch", "apply": "1"})
    assert unknown.status_code == 400


def test_milestones_and_versions_with_dates(admin_site):
    env, site = admin_site
    assert site.post("/admin/ticket/milestones", {"name": "m9", "duedate": "2031-02-03",
                                                  "add": "Add"}).status_code == 303
    assert values.get_milestone(env, "m9").due is not None
    bad = site.post("/admin/ticket/versions", {"name": "3.0", "time": "soon", "add": "Add"})
    assert bad.status_code == 400 and "not a valid release date" in text(bad)
    assert "3.0" not in [v.name for v in values.list_versions(env)]
    assert site.post("/admin/ticket/versions/1.0", {"name": "1.0.1", "time": "2020-01-01",
                                                    "description": "x", "save": "1"}).status_code == 303
    assert values.get_version(env, "1.0.1").time is not None


def test_forms_need_the_form_token(admin_site):
    env, site = admin_site
    refused = site.post("/admin/ticket/components", {"name": "x", "add": "Add"}, token=False)
    assert refused.status_code == 400
    assert "x" not in {c.name for c in values.list_components(env)}
