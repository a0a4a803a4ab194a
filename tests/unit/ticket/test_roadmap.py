"""The roadmap and milestone pages: progress by [milestone-groups], iCalendar, and
creating, editing, completing (with retargeting) and deleting milestones."""

from __future__ import annotations

import html
import re

import pytest

from codeyard.perm import PermissionSystem
from codeyard.ticket import roadmap, values
from tests.unit.web.conftest import text

pytestmark = pytest.mark.db

T0 = 1_700_000_000_000_000


def add_ticket(env, summary, milestone, status="new", component="component1", resolution=""):
    with env.db_transaction as db:
        db("INSERT INTO ticket (type, time, changetime, component, priority, owner, reporter, "
           "status, resolution, summary, milestone, description) "
           "VALUES ('defect', %s, %s, %s, 'major', 'bob', 'alice', %s, %s, %s, %s, '')",
           (T0, T0, component, status, resolution, summary, milestone))
        return db.last_id("ticket")


@pytest.fixture
def site(served):
    env, site = served(options=[("codeyard", "config_check_interval", "0")])
    for i, status in enumerate(["new", "closed", "closed", "accepted"]):
        add_ticket(env, f"t{i}", "milestone1", status, "component1" if i % 2 else "component2",
                   "fixed" if status == "closed" else "")
    add_ticket(env, "other", "milestone2", "new")
    return env, site


def test_default_groups_count_closed_and_active(site):
    env, _ = site
    stats = roadmap.stats_by_milestone(env, ["milestone1", "milestone2", "milestone3"])
    m1 = stats["milestone1"]
    assert m1.count == 4
    assert [(i.title, i.count, i.percent) for i in m1.intervals] == [("closed", 2, 50), ("active", 2, 50)]
    assert m1.done_percent == 50
    assert m1.intervals[0].query_args == {"status": ["closed"], "group": ["resolution"]}
    assert stats["milestone3"].count == 0


def test_configured_groups_and_bad_configuration(site):
    env, _ = site
    for key, value in [("closed", "closed"), ("closed.order", "0"), ("closed.overall_completion", "true"),
                       ("new", "new"), ("new.order", "1"), ("new.css_class", "new"),
                       ("active", "*"), ("active.order", "2"), ("active.label", "in progress")]:
        env.config.set("milestone-groups", key, value)
    env.config.save()
    m1 = roadmap.stats_by_milestone(env, ["milestone1"])["milestone1"]
    assert [(i.title, i.count, i.css_class) for i in m1.intervals] == [
        ("closed", 2, "closed"), ("new", 1, "new"), ("in progress", 1, "active")]
    # Rounded parts still fill the bar.
    assert sum(i.percent for i in m1.intervals) == 100
    env.config.set("milestone-groups", "new", "*")
    env.config.save()
    with pytest.raises(roadmap.MilestoneGroupsError, match="both catch-all"):
        roadmap.stats_by_milestone(env, ["milestone1"])


def test_roadmap_page_lists_open_milestones_with_progress(site):
    env, site = site
    values.update_milestone(env, "milestone4", completed=T0)
    page = site.get("/roadmap")
    assert page.status_code == 200
    body = text(page)
    assert 'id="content" class="roadmap"' in body
    assert "Milestone: <em>milestone1</em>" in body and "milestone4" not in body
    assert "50%" in body and "Total number of tickets:</dt><dd>4</dd>" in body
    shown = text(site.get("/roadmap?show=completed"))
    assert "Milestone: <em>milestone4</em>" in shown and "Completed" in shown
    values.update_milestone(env, "milestone2", due=T0)
    hidden = text(site.get("/roadmap?show=noduedate"))
    assert "milestone2" in hidden and "milestone1" not in hidden
    assert 'class="nav-roadmap"' in body or ">Roadmap</a>" in body


def test_roadmap_needs_roadmap_view(site):
    env, site = site
    PermissionSystem(env).revoke("anonymous", "ROADMAP_VIEW")
    assert site.get("/roadmap").status_code == 403


def test_icalendar_export(site):
    env, site = site
    values.update_milestone(env, "milestone1", due=T0, description="Semi; colon, and\nnewline")
    page = site.get("/roadmap?format=ics")
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/calendar")
    body = page.get_data(as_text=True)
    assert body.startswith("BEGIN:VCALENDAR\r\n") and body.endswith("END:VCALENDAR\r\n")
    assert "SUMMARY:Milestone milestone1\r\n" in body
    assert "DTSTART;VALUE=DATE:20231114\r\n" in body
    assert "DESCRIPTION:Semi\\; colon\\, and\\nnewline\r\n" in body
    assert body.count("BEGIN:VEVENT") == 1  # milestones without a date have no event
    assert all(len(line.encode()) <= 75 for line in body.split("\r\n"))


def test_milestone_page_shows_progress_and_breakdown(site):
    env, site = site
    page = site.get("/milestone/milestone1")
    assert page.status_code == 200
    body = text(page)
    assert "<h1>Milestone milestone1</h1>" in body
    assert re.search(r"<th scope=\"row\">component1</th><td>2</td><td>\d+%</td>", body)
    assert site.get("/milestone/nonesuch").status_code == 404
    assert site.get("/milestone/milestone1?by=nonesuch").status_code == 400


def test_create_edit_complete_with_retarget_and_delete(site):
    env, site = site
    site.get("/login", environ={"REMOTE_USER": "admin"})
    PermissionSystem(env).grant("admin", "MILESTONE_ADMIN")
    # Bad input: readable errors, the form keeps what was typed, nothing saved.
    bad = site.post("/milestone", {"action": "new", "name": "v9", "due": "1", "duedate": "next tuesday",
                                   "description": "keep me"})
    assert bad.status_code == 400
    assert "is not a valid due date" in text(bad) and "keep me" in text(bad)
    assert "v9" not in [m.name for m in values.list_milestones(env)]
    made = site.post("/milestone", {"action": "new", "name": "v9", "due": "1",
                                    "duedate": "2030-01-02", "description": "''Next''"})
    assert made.status_code == 303
    assert values.get_milestone(env, "v9").due is not None
    dup = site.post("/milestone", {"action": "new", "name": "v9"})
    assert dup.status_code == 400 and 'Milestone "v9" already exists' in html.unescape(text(dup))
    # Complete milestone1, moving its open tickets to v9.
    done = site.post("/milestone/milestone1", {"action": "edit", "name": "milestone1",
                                               "completed": "1", "completeddate": "2023-11-14",
                                               "target": "v9", "description": ""})
    assert done.status_code == 303
    with env.db_query as db:
        moved = db("SELECT summary, milestone FROM ticket WHERE summary LIKE 't%%' ORDER BY summary")
        changes = db("SELECT field, oldvalue, newvalue FROM ticket_change WHERE field='milestone'")
    assert moved == [("t0", "v9"), ("t1", "milestone1"), ("t2", "milestone1"), ("t3", "v9")]
    assert ("milestone", "milestone1", "v9") in changes and len(changes) == 2
    # Delete v9: its tickets lose the milestone (or move to the one chosen).
    gone = site.post("/milestone/v9", {"action": "delete", "target": "milestone2"})
    assert gone.status_code == 303
    with env.db_query as db:
        assert db("SELECT COUNT(*) FROM ticket WHERE milestone='milestone2'")[0][0] == 3
    assert "v9" not in [m.name for m in values.list_milestones(env)]


def test_anonymous_cannot_change_milestones(site):
    env, site = site
    assert site.get("/milestone/milestone1?action=edit").status_code == 403
    assert site.post("/milestone/milestone1", {"action": "delete"}).status_code == 403
    assert site.post("/milestone", {"action": "new", "name": "x"}).status_code == 403
    assert "milestone1" in [m.name for m in values.list_milestones(env)]


def test_progress_bars_are_kept_by_what_they_show(site, monkeypatch):
    from codeyard.util import lru

    env, site = site
    drawn = []  # the bars drawn (and then kept)
    real_put = lru.BoundedCache.put
    monkeypatch.setattr(lru.BoundedCache, "put", lambda self, key, value, size=None: (
        drawn.append(key) if isinstance(value, str) and "progress" in value else None)
        or real_put(self, key, value, size))
    first = text(site.get("/roadmap"))
    assert len(drawn) == 2 and "Total number of tickets:</dt><dd>4</dd>" in first
    drawn.clear()
    assert text(site.get("/roadmap")) == first and drawn == []
    add_ticket(env, "t9", "milestone1", "closed", resolution="fixed")
    again = text(site.get("/roadmap"))
    assert len(drawn) == 1 and "Total number of tickets:</dt><dd>5</dd>" in again
    assert "60%" in again
