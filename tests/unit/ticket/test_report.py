"""SQL reports: the default reports on both databases, variables as parameters, special
columns, paging, exports, broken and hostile SQL; the pages through the test client."""

from __future__ import annotations

import csv
import io

import pytest

from codeyard.perm import PermissionSystem
from codeyard.ticket import report as rp
from tests.unit.web.conftest import text

pytestmark = pytest.mark.db

BASE = 1_700_000_000_000_000
SLOW = ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
        "SELECT COUNT(*) FROM c")


def add_tickets(env, count=5):
    with env.db_transaction as db:
        for i in range(1, count + 1):
            db("INSERT INTO ticket (id, type, time, changetime, component, priority, owner, "
               "reporter, status, summary, description, milestone, version) "
               "VALUES (%s, 'defect', %s, %s, 'c1', %s, %s, 'bob', %s, %s, %s, 'm1', '')",
               (i, BASE + i * 1_000_000, BASE + i * 1_000_000,
                "major" if i % 2 else "critical", "alice" if i % 2 else "bob",
                "accepted" if i <= 2 else ("closed" if i == 5 else "new"),
                f"Summary {i}", f"Text of '''{i}'''"))


def count_tickets(env):
    with env.db_query as db:
        return db("SELECT COUNT(*) FROM ticket")[0][0]


def test_default_reports_run(env):
    add_tickets(env)
    found = rp.reports(env)
    assert [r.id for r in found] == list(range(1, 9))
    for report in found:
        result = rp.execute_report(env, report.query, rp.var_args({}, "alice"),
                                   report_id=report.id, limit=100)
        assert "ticket" in result.columns, report.title
    mine = rp.execute_report(env, found[6].query, rp.var_args({}, "alice"))
    assert sorted(r[mine.columns.index("ticket")] for r in mine.rows) == [1, 3]
    active = rp.execute_report(env, found[0].query, {})
    assert len(active.rows) == 4 and active.total == 4


def test_variables_are_parameters(env):
    add_tickets(env)
    attack = "x' OR '1'='1"
    result = rp.execute_report(
        env, "SELECT id AS ticket, $NAME AS v, 'pre-$NAME-post' AS w FROM ticket "
             "WHERE owner = $NAME OR summary LIKE '%Summary 1%'", {"NAME": attack})
    assert result.rows == [(1, attack, f"pre-{attack}-post")]
    mine = rp.execute_report(env, "SELECT id FROM ticket WHERE owner = $USER ORDER BY id",
                             rp.var_args({"status": "x", "USER": "bob"}, "alice"))
    assert [r[0] for r in mine.rows] == [2, 4]
    defaulted = rp.execute_report(env, "-- WHO = alice\nSELECT COUNT(*) FROM ticket "
                                       "WHERE owner = $WHO", {})
    assert defaulted.rows == [(3,)]
    missing = rp.execute_report(env, "SELECT $NOPE AS v", {})
    assert missing.missing_args == ["NOPE"] and missing.rows == [("",)]


def test_paging_and_sorting(env):
    add_tickets(env)
    sql = "SELECT id AS ticket, summary, owner AS __group__ FROM ticket ORDER BY id"
    first = rp.execute_report(env, sql, {}, limit=2, page=1)
    assert first.total == 5 and first.pages == 3 and first.paged
    assert [r[0] for r in first.rows] == [1, 2]
    last = rp.execute_report(env, sql, {}, limit=2, page=3)
    assert [r[0] for r in last.rows] == [5]
    by_summary = rp.execute_report(env, sql, {}, sort="summary", asc=False)
    # __group__ first, then the sort column, then the report's own order
    assert [r[0] for r in by_summary.rows] == [5, 3, 1, 4, 2]
    with pytest.raises(rp.ReportError, match="sort=nope"):
        rp.execute_report(env, sql, {}, sort="nope")


def test_layout_special_columns():
    columns = ["__color__", "__group__", "__style__", "ticket", "summary_", "_hidden",
               "_description_", "created"]
    rows = [(1, "g1", "font-weight: bold", 7, "S", "h", "D", BASE),
            (2, "g1", None, 8, "T", "h", "", BASE),
            (3, "g2", None, 9, "U", "h", "", None)]
    headers, groups = rp.layout(columns, rows, {"summary": "Summary"})
    shown = [[h["col"] for h in g if not h["hidden"]] for g in headers]
    shown = [g for g in shown if g]  # "_hidden" sits alone on the second row
    assert shown == [["ticket", "summary_"], ["_description_"], ["created"]]
    assert [g for g, _ in groups] == ["g1", "g2"]
    first = groups[0][1][0]
    assert first["color"] == "1" and first["style"] == "font-weight: bold" and first["id"] == "7"
    assert headers[0][-1]["title"] == "Summary"
    assert rp.cell_value(0) == "0" and rp.cell_value(None) == ""


def test_csv_and_tsv():
    columns = ["__color__", "ticket", "summary", "created", "_time"]
    rows = [(1, 3, 'say "hi", then', BASE, BASE)]
    data = rp.write_delimited(columns, rows)
    assert data.startswith(b"\xef\xbb\xbf")
    parsed = list(csv.reader(io.StringIO(data[3:].decode())))
    assert parsed == [["ticket", "summary", "created", "_time"],
                      ["3", 'say "hi", then', "2023-11-14T22:13:20Z", "22:13:20Z"]]
    tsv = rp.write_delimited(columns, rows, "\t")[3:].decode()
    assert tsv.splitlines()[0] == "ticket\tsummary\tcreated\t_time"


@pytest.mark.parametrize("sql, message", [
    ("SELECT nope FROM ticket", "nope"),
    ("DELETE FROM ticket", ""),
    ("INSERT INTO report (title) VALUES ('x')", ""),
    ("SELECT 1; DELETE FROM ticket", "one SQL statement"),
    ("", "no SQL query"),
])
def test_broken_and_writing_reports_fail_readably(env, sql, message):
    add_tickets(env)
    before = len(rp.reports(env))
    with pytest.raises(rp.ReportError) as failure:
        rp.execute_report(env, sql, {}, limit=10)
    assert message in failure.value.message and failure.value.message
    assert count_tickets(env) == 5 and len(rp.reports(env)) == before


def test_smuggled_statement_is_refused(env):
    add_tickets(env)
    with env.db_query as db:
        dialect = db.dialect
    # On PostgreSQL an escape string hides the ';' from a naive scan; the server refuses.
    sql = ("SELECT E'\\'' AS a, 'x' AS b; COMMIT; DELETE FROM ticket; SELECT '"
           if dialect == "postgresql" else "SELECT 1 AS a /* ; */; DELETE FROM ticket")
    with pytest.raises(rp.ReportError):
        rp.execute_report(env, sql, {})
    assert count_tickets(env) == 5


def test_slow_report_times_out(env):
    with pytest.raises(rp.ReportError, match=r"longer than 1 seconds"):
        rp.execute_report(env, SLOW, {}, timeout=1)
    # the connection is usable again, without the limit
    assert rp.execute_report(env, "SELECT 1 AS one", {}, timeout=0).rows == [(1,)]


def test_model_crud(env):
    new = rp.create_report(env, "Mine", "SELECT 1", "desc", "alice")
    assert rp.get_report(env, new).author == "alice"
    assert rp.update_report(env, new, "Mine 2", "SELECT 2", "")
    assert rp.get_report(env, new).title == "Mine 2"
    assert rp.delete_report(env, new) and rp.get_report(env, new) is None
    assert rp.saved_query_target("query:?status=new", 3) == "?status=new&report=3"
    assert rp.saved_query_target("SELECT 1", 3) is None


# ---------------------------------------------------------------------------
# Pages


def grant(env, user, *actions):
    perm = PermissionSystem(env)
    for action in actions:
        perm.grant(user, action)


@pytest.fixture
def site(served):
    env, client = served()
    add_tickets(env)
    return env, client


def test_list_and_view(site):
    env, client = site
    page = client.get("/report")
    assert page.status_code == 200
    body = text(page)
    assert "Active Tickets by Milestone" in body and "View Tickets" in body
    view = client.get("/report/1")
    body = text(view)
    assert view.status_code == 200
    assert 'class="color' in body and "Summary 3" in body and "Summary 5" not in body
    grouped = text(client.get("/report/3"))
    assert "Milestone m1" in grouped and "report-group" in grouped


def test_view_csv_tab_rss_and_paging(site):
    env, client = site
    data = client.get("/report/1?format=csv")
    assert data.status_code == 200 and data.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(data.get_data()[3:].decode())))
    assert rows[0][:3] == ["ticket", "summary", "component"] and len(rows) == 5
    assert client.get("/report/1?format=tab").mimetype == "text/tab-separated-values"
    rss = client.get("/report/1?format=rss")
    assert rss.mimetype == "application/rss+xml" and b"<item>" in rss.get_data()
    paged = text(client.get("/report/1?max=2&page=2"))
    # priority order: critical 2, 4 on page 1, then major 1, 3
    assert 'aria-current="page">2<' in paged and "Summary 3" in paged and "Summary 2" not in paged
    sorted_page = text(client.get("/report/1?sort=summary&asc=1"))
    assert sorted_page.index("Summary 1") < sorted_page.index("Summary 4")


def test_variables_from_the_query_string(site):
    env, client = site
    new = rp.create_report(env, "By owner", "SELECT id AS ticket, summary FROM ticket "
                                            "WHERE owner = $OWNER", "")
    page = text(client.get(f"/report/{new}?OWNER=bob"))
    assert "Summary 2" in page and "Summary 1" not in page
    hostile = client.get(f"/report/{new}", query_string={"OWNER": "x' OR '1'='1"})
    assert hostile.status_code == 200 and "Summary 1" not in text(hostile)


def test_broken_report_page(site):
    env, client = site
    bad = rp.create_report(env, "Bad", "SELECT nope FROM ticket", "")
    page = client.get(f"/report/{bad}")
    assert page.status_code == 200 and "nope" in text(page) and "report-error" in text(page)
    writer = rp.create_report(env, "Writer", "DELETE FROM ticket", "")
    assert client.get(f"/report/{writer}").status_code == 200
    assert count_tickets(env) == 5
    assert client.get(f"/report/{bad}?format=csv").status_code == 400
    assert client.get("/report/1?sort=nope").status_code == 200


def test_not_found_and_bad_ids(site):
    env, client = site
    assert client.get("/report/999").status_code == 404
    assert client.get("/report/abc").status_code == 404
    assert client.get("/report/1?page=x").status_code == 400


def test_create_edit_delete_need_permissions(site):
    env, client = site
    form = {"action": "new", "title": "Fresh", "query": "SELECT 1 AS one", "description": ""}
    assert client.post("/report", form).status_code == 403
    assert client.get("/report?action=new").status_code == 403
    grant(env, "anonymous", "REPORT_CREATE", "REPORT_MODIFY", "REPORT_DELETE")
    assert client.post("/report", form, token=False).status_code in (400, 403)
    created = client.post("/report", form)
    assert created.status_code == 303
    new_id = int(created.headers["Location"].rsplit("/", 1)[1])
    assert rp.get_report(env, new_id).title == "Fresh"
    edit = client.get(f"/report/{new_id}?action=edit")
    assert edit.status_code == 200 and 'name="query"' in text(edit)
    saved = client.post(f"/report/{new_id}", {"action": "edit", "title": "Renamed",
                                             "query": "SELECT 2 AS two", "description": "x"})
    assert saved.status_code == 303 and rp.get_report(env, new_id).title == "Renamed"
    assert client.get(f"/report/{new_id}?action=delete").status_code == 200
    gone = client.post(f"/report/{new_id}", {"action": "delete"})
    assert gone.status_code == 303 and rp.get_report(env, new_id) is None
    assert client.post("/report/999", {"action": "delete"}).status_code == 404


def test_sql_view_needs_report_sql_view(site):
    env, client = site
    PermissionSystem(env).revoke("anonymous", "REPORT_SQL_VIEW")  # a default grant, as Trac's
    page = text(client.get("/report/1"))
    assert "format=sql" not in page
    assert client.get("/report/1?format=sql").status_code == 403
    grant(env, "anonymous", "REPORT_SQL_VIEW")
    sql = client.get("/report/1?format=sql")
    assert sql.status_code == 200 and b"FROM ticket" in sql.get_data()


def test_counting_drops_only_an_order_that_cannot_matter():
    sql = "SELECT id FROM ticket WHERE status <> 'closed' ORDER BY (SELECT 1), id"
    assert rp._unordered(sql) == "SELECT id FROM ticket WHERE status <> 'closed' "
    limited = "SELECT id FROM ticket ORDER BY id LIMIT 10"
    assert rp._unordered(limited) == limited
    with_param = "SELECT id FROM ticket ORDER BY owner = ? DESC"
    assert rp._unordered(with_param) == with_param
    nested = "SELECT * FROM (SELECT id FROM ticket ORDER BY id) AS x"
    assert rp._unordered(nested) == nested


def test_report_page_queries_do_not_grow_with_its_rows(served):
    """Rendering a page of 100 rows costs the same handful of queries as one of 5."""
    from sqlalchemy import event

    env, client = served()
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    def run() -> int:
        statements.clear()
        event.listen(env.database.engine, "before_cursor_execute", count)
        try:
            assert client.get("/report/1").status_code == 200
        finally:
            event.remove(env.database.engine, "before_cursor_execute", count)
        return len(statements)

    add_tickets(env, 5)
    client.get("/report/1")
    few = run()
    with env.db_transaction as db:
        db.executemany("INSERT INTO ticket (id, type, time, changetime, priority, status, "
                       "summary, description) VALUES (%s, 'defect', %s, %s, 'major', 'new', "
                       "%s, %s)", [(i, BASE + i, BASE + i, f"S{i}", f"See #{i - 1}")
                                   for i in range(6, 120)])
    client.get("/report/1")
    assert run() <= few + 1


def test_ticket_reports_are_kept_while_the_tickets_are_unchanged(env):
    add_tickets(env)
    sql = "SELECT id AS ticket, status FROM ticket WHERE status <> 'closed' ORDER BY id"
    first = rp.execute_report(env, sql, {})
    assert [r[0] for r in first.rows] == [1, 2, 3, 4]
    with env.db_transaction as db:  # bypassing ticket_change: the kept rows still answer
        db("UPDATE ticket SET status='closed' WHERE id=1")
    assert rp.execute_report(env, sql, {}).rows == first.rows
    with env.db_transaction as db:  # a change as Trac and codeyard record it
        db("UPDATE ticket SET status='closed' WHERE id=2")
        db("INSERT INTO ticket_change (ticket, time, author, field, oldvalue, newvalue) "
           "VALUES (2, %s, 'bob', 'status', 'accepted', 'closed')", (BASE + 99_000_000,))
    assert [r[0] for r in rp.execute_report(env, sql, {}).rows] == [3, 4]


@pytest.mark.parametrize("sql", [
    "SELECT id AS ticket, (SELECT COUNT(*) FROM wiki) AS pages FROM ticket",
    "SELECT id AS ticket FROM ticket WHERE time > strftime('%s', 'now') * 1000000 - 1",
    "SELECT id AS ticket FROM ticket t JOIN session_attribute s ON s.sid = t.owner",
])
def test_reports_reading_more_than_tickets_run_each_time(env, sql):
    add_tickets(env)  # (the SQL is only classified: strftime is SQLite's alone)
    with env.db_query as db:
        assert not rp._keepable(env, db, sql)
    assert rp._keepable(env, db, "SELECT p.value AS __color__, id AS ticket FROM ticket t "
                                 "LEFT JOIN enum p ON p.name = t.priority -- now\n")


def test_a_report_table_is_kept_with_its_rows_and_made_again_when_they_change(site, tmp_path,
                                                                              monkeypatch):
    env, client = site
    laid_out = []
    real = rp.layout
    monkeypatch.setattr(rp, "layout", lambda *a, **k: laid_out.append(1) or real(*a, **k))
    first = text(client.get("/report/1"))
    assert text(client.get("/report/1")) == first and len(laid_out) == 1
    with env.db_transaction as db:  # a change as Trac and codeyard record it
        db("UPDATE ticket SET summary='Renamed three' WHERE id=3")
        db("INSERT INTO ticket_change (ticket, time, author, field, oldvalue, newvalue) "
           "VALUES (3, %s, 'bob', 'summary', 'Summary 3', 'Renamed three')", (BASE + 99_000_000,))
    changed = text(client.get("/report/1"))
    assert "Renamed three" in changed and "Summary 3" not in changed and len(laid_out) == 2
    # a reader who may not see a ticket gets a table of their own, not the kept one
    rules = tmp_path / "authz.ini"
    rules.write_text("[ticket:3@*]\n* =\n\n[*]\n* = TICKET_VIEW, REPORT_VIEW\n")
    env.config.set("authz_policy", "authz_file", str(rules))
    env.config.set("trac", "permission_policies", "AuthzPolicy, DefaultPermissionPolicy")
    env.config.save()
    hidden = text(client.get("/report/1"))
    assert "Renamed three" not in hidden and "Summary 4" in hidden and len(laid_out) == 3
    # a wiki-text cell (links read for their reader) is made for each page
    with_text = rp.create_report(env, "Texts", "SELECT id AS ticket, description FROM ticket", "")
    for _ in range(2):
        assert "<strong>4</strong>" in text(client.get(f"/report/{with_text}"))
    assert len(laid_out) == 5
