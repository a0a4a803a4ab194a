"""The ticket query language: parsing and serializing (no database), and running queries
on a fixture of 30 tickets (on SQLite, and on PostgreSQL with CODEYARD_TEST_DB=postgres)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from codeyard.ticket.query import Query, QueryError, parse_id_ranges, parse_query_date
from codeyard.ticket.query_sql import split_words

pytestmark = pytest.mark.db

NOW = datetime(2024, 6, 15, 12, 0, tzinfo=UTC)  # a Saturday
DAY = 86400 * 1_000_000
CUSTOM = [("ticket-custom", "estimate", "text"), ("ticket-custom", "due", "time"),
          ("ticket-custom", "urgent", "checkbox"), ("ticket-custom", "tags", "text"),
          ("ticket-custom", "tags.format", "list")]

STATUSES = ["new", "assigned", "accepted", "closed", "reopened"]
OWNERS = ["alice", "bob", "carol", ""]
PRIORITIES = ["major", "blocker", "trivial", "critical", "minor", "major"]
KEYWORDS = ["ui db", "db", "ui", "", "api db perf", "slow query ui", "perf"]
MILESTONES = ["milestone1", "milestone2", "milestone3", "", "milestone4"]
VERSIONS = ["1.0", "2.0", ""]
TYPES = ["defect", "enhancement", "task"]


def _utime(dt: datetime) -> int:
    return (dt - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def _tickets() -> list[dict]:
    out = []
    for i in range(1, 31):
        t = {
            "id": i, "type": TYPES[i % 3], "time": _utime(NOW) - i * DAY,
            "changetime": _utime(NOW) - (i // 2) * DAY, "component": f"component{1 + i % 2}",
            "severity": None, "priority": PRIORITIES[i % 6], "owner": OWNERS[i % 4],
            "reporter": "alice" if i % 3 else "dave", "cc": "bob, carol" if i % 5 == 0 else "",
            "version": VERSIONS[i % 3], "milestone": MILESTONES[i % 5],
            "status": STATUSES[i % 5], "resolution": "fixed" if i % 5 == 3 else "",
            "summary": f"Ticket {i} about {'the login page' if i % 4 == 0 else 'search_index'}",
            "description": f"Description of {i}", "keywords": KEYWORDS[i % 7],
            "estimate": str(i % 4) if i % 6 else None,
            "due": _utime(NOW) + (i - 15) * DAY if i % 2 else None,
            "urgent": "1" if i % 7 == 0 else ("0" if i % 3 else None),
            "tags": "red green" if i % 4 == 1 else ("blue" if i % 4 == 2 else None),
        }
        out.append(t)
    out[29]["summary"] = "100% done_with it"  # ticket 30: LIKE metacharacters
    return out


TICKETS = _tickets()
BY_ID = {t["id"]: t for t in TICKETS}
STANDARD = ["id", "type", "time", "changetime", "component", "severity", "priority", "owner",
            "reporter", "cc", "version", "milestone", "status", "resolution", "summary",
            "description", "keywords"]


def insert_tickets(env, tickets) -> None:
    with env.db_transaction as db:
        for t in tickets:
            db("INSERT INTO ticket (%s) VALUES (%s)" % (",".join(STANDARD),
                                                       ",".join(["%s"] * len(STANDARD))),
               [t[c] for c in STANDARD])
            for name in ("estimate", "due", "urgent", "tags"):
                if t[name] is not None:
                    value = t[name]
                    if name == "due":
                        value = "%018d" % value
                    db("INSERT INTO ticket_custom (ticket, name, value) VALUES (%s,%s,%s)",
                       (t["id"], name, value))
        db("UPDATE milestone SET due=%s WHERE name='milestone1'", (_utime(NOW) + 30 * DAY,))
        db("UPDATE milestone SET due=%s WHERE name='milestone2'", (_utime(NOW) + 10 * DAY,))
        db("UPDATE milestone SET completed=%s WHERE name='milestone4'", (_utime(NOW) - DAY,))
        db("UPDATE version SET time=%s WHERE name='2.0'", (_utime(NOW) - 5 * DAY,))


@pytest.fixture
def qenv(make_env):
    env = make_env(options=CUSTOM)
    insert_tickets(env, TICKETS)
    return env


def ids(env, text: str, user: str | None = "bob", **kw) -> list[int]:
    query = Query.from_string(env, text + "&max=0", **kw)
    return [row["id"] for row in query.execute(env, user=user, now=NOW)]


def where(pred) -> list[int]:
    return [t["id"] for t in TICKETS if pred(t)]


def words(t, name="keywords"):
    return t[name] or ""


# -- parsing and serializing (no database needed beyond the field list)

@pytest.mark.parametrize("text", [
    "status!=closed&owner=$USER&order=priority",
    "status=new|assigned&or&owner~=bob&desc=1",
    "summary^=Tick&summary$=page&keywords!~=perf&group=milestone&groupdesc=1",
    "id=1-5,8&max=10&page=2&col=id|summary|estimate&row=description",
    r"summary=a\&b|c\|d&order=estimate",
    "created=2024-01-01..lastmonth&due=..today&report=3&format=count",
])
def test_to_string_round_trips(env_with_fields, text):
    query = Query.from_string(env_with_fields, text)
    again = Query.from_string(env_with_fields, query.to_string())
    assert again == query
    assert again.to_string() == query.to_string()


@pytest.fixture
def env_with_fields(make_env):
    return make_env(options=CUSTOM)


def test_operators_in_both_positions_mean_the_same(env_with_fields):
    env = env_with_fields
    for a, b in [("status!=closed", "status=!closed"), ("owner~=bo", "owner=~bo"),
                 ("summary^=T", "summary=^T"), ("summary!$=x", "summary=!$x")]:
        assert Query.from_string(env, a).constraints == Query.from_string(env, b).constraints
    q = Query.from_string(env, "status!=closed|new&owner=$USER&or&created=lastweek..")
    assert q.constraints == [{"status": ["!closed", "!new"], "owner": ["$USER"]},
                             {"time": ["lastweek.."]}]
    assert q.order == "priority" and q.max == 100 and q.page == 1


def test_keywords_and_synonyms(env_with_fields):
    q = Query.from_string(env_with_fields, "order=created&desc=true&group=status&groupdesc=0"
                          "&max=none&page=3&verbose=1&col=modified|summary&report=7")
    assert (q.order, q.desc, q.group, q.groupdesc) == ("time", True, "status", False)
    assert (q.max, q.page, q.report, q.offset) == (0, 3, 7, 0)
    assert q.cols == ["changetime", "summary"] and q.rows == ["description"]
    q = Query.from_string(env_with_fields, "max=10&page=3")
    assert q.offset == 20


def test_macro_arguments(env_with_fields):
    q = Query.from_macro(env_with_fields, r"status=new|assigned, owner=bob\,carol,or,"
                         "milestone=milestone1&component=component2,compact")
    assert q.format == "compact" and q.order == "id" and q.max == 0
    assert q.cols == ["status", "summary"]
    assert q.constraints == [{"owner": ["bob,carol"], "status": ["new", "assigned"]},
                             {"milestone": ["milestone1"], "component": ["component2"]}]
    q = Query.from_macro(env_with_fields, "status!=closed,format=count,order=priority,max=5")
    assert (q.format, q.order, q.max, q.cols) == ("count", "priority", 5, [])


def test_url_arguments(env_with_fields):
    from werkzeug.datastructures import MultiDict

    args = MultiDict([("status", "!closed"), ("status", "!new"), ("owner", "~bob"),
                      ("or", ""), ("created", "2024-01-01..2024-02-01"), ("col", "summary"),
                      ("col", "nosuchfield"), ("order", "nosuchfield"), ("desc", "1"),
                      ("group", "milestone"), ("max", "25"), ("page", "2"),
                      ("row", "description"), ("__FORM_TOKEN", "x"), ("format", "csv")])
    q = Query.from_args(env_with_fields, args)
    assert q.constraints == [{"status": ["!closed", "!new"], "owner": ["~bob"]},
                             {"time": ["2024-01-01..2024-02-01"]}]
    assert q.cols == ["id", "summary"] and q.order == "priority" and q.desc
    assert (q.group, q.max, q.page, q.rows, q.format) == ("milestone", 25, 2, ["description"],
                                                         "csv")
    again = Query.from_args(env_with_fields, q.to_args())
    assert again == q
    assert Query.from_args(env_with_fields, "?status=new&owner=bob").constraints == [
        {"status": ["new"], "owner": ["bob"]}]


@pytest.mark.parametrize("text, message", [
    ("nosuch=1", "Unknown field 'nosuch'"),
    ("status", 'separated by a "="'),
    ("=closed", "requires a field name"),
    ("!=closed", "requires a field name"),
    ("order=nosuch", "Unknown field 'nosuch'"),
    ("group=nosuch", "Unknown field 'nosuch'"),
    ("col=summary|nosuch", "Unknown field 'nosuch'"),
    ("max=-1", "Query max -1 is invalid"),
    ("max=lots", "Query max lots is invalid"),
    ("page=0", "Query page 0 is invalid"),
    ("report=x", "Query report x is invalid"),
    ("id=1-x", "Invalid ticket id list: 1-x"),
    ("id=~3", "Invalid ticket id list"),
    ("created=yesteryear..", '"yesteryear" is an invalid date'),
    ("due=2024-13-45", '"2024-13-45" is an invalid date'),
    ("created=99999999", "invalid date"),
])
def test_errors_name_the_problem(env_with_fields, text, message):
    with pytest.raises(QueryError, match=message.replace("(", r"\(")) as info:
        Query.from_string(env_with_fields, text)
    assert isinstance(info.value, ValueError)


def test_url_arguments_with_bad_paging_are_query_errors(env_with_fields):
    with pytest.raises(QueryError, match="page"):
        Query.from_args(env_with_fields, [("status", "new"), ("page", "two")])


def test_dates():
    assert parse_query_date("now", NOW) == NOW
    assert parse_query_date("today", NOW) == datetime(2024, 6, 15, tzinfo=UTC)
    assert parse_query_date("yesterday", NOW) == datetime(2024, 6, 14, tzinfo=UTC)
    assert parse_query_date("3 weeks ago", NOW) == NOW - timedelta(weeks=3)
    assert parse_query_date("1d", NOW) == NOW - timedelta(days=1)
    assert parse_query_date("2w", NOW) == NOW - timedelta(weeks=2)
    assert parse_query_date("3m", NOW) == NOW - timedelta(days=90)
    assert parse_query_date("4y", NOW) == NOW - timedelta(days=365 * 4)
    assert parse_query_date("in 2 hours", NOW) == NOW + timedelta(hours=2)
    assert parse_query_date("+1.5d", NOW) == NOW + timedelta(days=1.5)
    assert parse_query_date("thismonth", NOW) == datetime(2024, 6, 1, tzinfo=UTC)
    assert parse_query_date("lastmonth", NOW) == datetime(2024, 5, 1, tzinfo=UTC)
    assert parse_query_date("last month", datetime(2024, 1, 9, tzinfo=UTC)) == \
        datetime(2023, 12, 1, tzinfo=UTC)
    assert parse_query_date("thisweek", NOW) == datetime(2024, 6, 10, tzinfo=UTC)
    assert parse_query_date("lastyear", NOW) == datetime(2023, 1, 1, tzinfo=UTC)
    assert parse_query_date("nextday", NOW) == datetime(2024, 6, 16, tzinfo=UTC)
    assert parse_query_date("2024-05-01") == datetime(2024, 5, 1, tzinfo=UTC)
    assert parse_query_date("20240501T10:30") == datetime(2024, 5, 1, 10, 30, tzinfo=UTC)
    assert parse_query_date("2024-05-01T10:00+02:00") == datetime(2024, 5, 1, 8, tzinfo=UTC)
    assert parse_query_date("May 01, 2024") == datetime(2024, 5, 1, tzinfo=UTC)
    with pytest.raises(QueryError, match="invalid date"):
        parse_query_date("3 fortnights ago", NOW)


def test_id_ranges_and_words():
    assert parse_id_ranges("1-5,8,4-6,10") == [(1, 6), (8, 8), (10, 10)]
    assert parse_id_ranges("9-7") == [(7, 9)]
    assert split_words('a b -c "d e" f') == ["a", "b", "-c", "d e", "f"]


# -- running queries

def test_sql_binds_every_value(qenv):
    evil = "x' OR 1=1 --"
    q = Query.from_string(qenv, f"summary={evil}&owner~={evil}&or&keywords~={evil}")
    sql, params = q.get_sql(qenv, user=evil)
    assert evil not in sql and "x'" not in sql
    assert evil in params
    assert ids(qenv, f"summary={evil}|{evil}&or&owner^={evil}") == []


@pytest.mark.parametrize("text, pred", [
    ("status=new", lambda t: t["status"] == "new"),
    ("status!=closed", lambda t: t["status"] != "closed"),
    ("status=new|assigned", lambda t: t["status"] in ("new", "assigned")),
    ("status!=new|closed", lambda t: t["status"] not in ("new", "closed")),
    ("owner=", lambda t: t["owner"] == ""),
    ("owner!=", lambda t: t["owner"] != ""),
    ("summary~=LOGIN", lambda t: "login" in t["summary"].lower()),
    ("summary!~=login", lambda t: "login" not in t["summary"]),
    ("summary^=Ticket 1", lambda t: t["summary"].startswith("Ticket 1")),
    ("summary!^=Ticket 1", lambda t: not t["summary"].startswith("Ticket 1")),
    ("summary$=page", lambda t: t["summary"].endswith("page")),
    ("summary!$=page", lambda t: not t["summary"].endswith("page")),
    ("summary~=100%", lambda t: "100%" in t["summary"]),
    ("summary~=h_i", lambda t: "h_i" in t["summary"]),
    ("summary~=login|search_", lambda t: "login" in t["summary"] or "search_" in t["summary"]),
    ("summary!~=login|search", lambda t: "login" not in t["summary"]
     and "search" not in t["summary"]),
    ("owner=$USER", lambda t: t["owner"] == "bob"),
    ("owner=$USER|carol&status!=closed", lambda t: t["owner"] in ("bob", "carol")
     and t["status"] != "closed"),
    ("status=new&or&owner=carol", lambda t: t["status"] == "new" or t["owner"] == "carol"),
    ("status=new&owner=alice&or&status=closed&owner=bob&or&id=1",
     lambda t: (t["status"], t["owner"]) in (("new", "alice"), ("closed", "bob"))
     or t["id"] == 1),
    ("keywords~=ui db", lambda t: {"ui", "db"} <= set(words(t).split())),
    ("keywords~=ui -db", lambda t: "ui" in words(t) and "db" not in words(t)),
    ('keywords~="slow query"', lambda t: "slow query" in words(t)),
    ("keywords!~=db", lambda t: "db" not in words(t)),
    ("keywords~=perf|ui", lambda t: "perf" in words(t) or "ui" in words(t)),
    ("cc~=carol", lambda t: "carol" in t["cc"]),
    ("id=1-5,8", lambda t: 1 <= t["id"] <= 5 or t["id"] == 8),
    ("id!=1-25", lambda t: t["id"] > 25),
    ("id=3|20-22", lambda t: t["id"] in (3, 20, 21, 22)),
    ("estimate=2", lambda t: t["estimate"] == "2"),
    ("estimate=", lambda t: not t["estimate"]),
    ("estimate!=0|1", lambda t: (t["estimate"] or "") not in ("0", "1")),
    ("estimate^=3&status=new", lambda t: (t["estimate"] or "").startswith("3")
     and t["status"] == "new"),
    ("urgent=1", lambda t: t["urgent"] == "1"),
    ("urgent!=1", lambda t: t["urgent"] != "1"),
    ("tags~=red -blue", lambda t: "red" in (t["tags"] or "")),
    ("milestone=milestone1&or&version=2.0", lambda t: t["milestone"] == "milestone1"
     or t["version"] == "2.0"),
    ("type=task&component=component1", lambda t: t["type"] == "task"
     and t["component"] == "component1"),
])
def test_filters(qenv, text, pred):
    assert ids(qenv, text + "&order=id") == where(pred)


def test_user_left_alone_without_a_user(qenv):
    assert ids(qenv, "owner=$USER&order=id", user=None) == []
    assert ids(qenv, "owner=$USER&order=id", user="alice") == where(lambda t: t["owner"] == "alice")


@pytest.mark.parametrize("text, pred", [
    ("created=2024-06-01..2024-06-10", lambda t: _utime(datetime(2024, 6, 1, tzinfo=UTC))
     <= t["time"] < _utime(datetime(2024, 6, 10, tzinfo=UTC))),
    ("created=2024-06-01..", lambda t: t["time"] >= _utime(datetime(2024, 6, 1, tzinfo=UTC))),
    ("created=..2024-05-20", lambda t: t["time"] < _utime(datetime(2024, 5, 20, tzinfo=UTC))),
    ("created!=2024-06-01..2024-06-10", lambda t: not (
        _utime(datetime(2024, 6, 1, tzinfo=UTC)) <= t["time"]
        < _utime(datetime(2024, 6, 10, tzinfo=UTC)))),
    ("created=1w..", lambda t: t["time"] >= _utime(NOW) - 7 * DAY),
    ("created=3 weeks ago..1 week ago", lambda t: _utime(NOW) - 21 * DAY <= t["time"]
     < _utime(NOW) - 7 * DAY),
    ("created=thismonth", lambda t: t["time"] >= _utime(datetime(2024, 6, 1, tzinfo=UTC))),
    ("created=lastmonth..thismonth", lambda t: _utime(datetime(2024, 5, 1, tzinfo=UTC))
     <= t["time"] < _utime(datetime(2024, 6, 1, tzinfo=UTC))),
    ("modified=today..now", lambda t: _utime(datetime(2024, 6, 15, tzinfo=UTC)) <= t["changetime"]
     < _utime(NOW)),
    ("created=..10 days ago|5d..", lambda t: t["time"] < _utime(NOW) - 10 * DAY
     or t["time"] >= _utime(NOW) - 5 * DAY),
    ("due=today..in 5 days", lambda t: t["due"] is not None
     and _utime(datetime(2024, 6, 15, tzinfo=UTC)) <= t["due"] < _utime(NOW) + 5 * DAY),
    ("due=..2024-06-01", lambda t: t["due"] is not None
     and t["due"] < _utime(datetime(2024, 6, 1, tzinfo=UTC))),
    ("due=", lambda t: t["due"] is None),
    ("due!=", lambda t: t["due"] is not None),
])
def test_dates_filter(qenv, text, pred):
    assert ids(qenv, text + "&order=id") == where(pred)


def test_relative_dates_follow_now(qenv):
    q = Query.from_string(qenv, "created=2d..&order=id")
    later = NOW + timedelta(days=3)
    assert [r["id"] for r in q.execute(qenv, now=later)] == []
    assert [r["id"] for r in q.execute(qenv, now=NOW)] == [1, 2]


def _priority(t):
    return ["blocker", "critical", "major", "minor", "trivial"].index(t["priority"])


def test_ordering(qenv):
    assert ids(qenv, "order=priority") == [t["id"] for t in sorted(
        TICKETS, key=lambda t: (_priority(t), t["id"]))]
    assert ids(qenv, "order=priority&desc=1") == [t["id"] for t in sorted(
        TICKETS, key=lambda t: (-_priority(t), t["id"]))]
    assert ids(qenv, "order=id&desc=1") == list(range(30, 0, -1))
    assert ids(qenv, "order=created") == list(range(30, 0, -1))
    assert ids(qenv, "order=owner") == [t["id"] for t in sorted(
        TICKETS, key=lambda t: (t["owner"] == "", t["owner"], t["id"]))]
    assert ids(qenv, "order=estimate") == [t["id"] for t in sorted(
        TICKETS, key=lambda t: (not t["estimate"], t["estimate"] or "", t["id"]))]
    # descending puts the empty values first, as Trac does
    assert ids(qenv, "order=due&desc=1") == list(range(2, 31, 2)) + list(range(29, 0, -2))
    # milestones: completed ones first, then by due date, then without one; empty last
    rank = {"milestone4": 0, "milestone2": 1, "milestone1": 2, "milestone3": 3, "": 4}
    assert ids(qenv, "order=milestone") == [t["id"] for t in sorted(
        TICKETS, key=lambda t: (rank[t["milestone"]], t["id"]))]
    vrank = {"2.0": 0, "1.0": 1, "": 2}
    assert ids(qenv, "order=version") == [t["id"] for t in sorted(
        TICKETS, key=lambda t: (vrank[t["version"]], t["id"]))]
    assert ids(qenv, "order=type") == [t["id"] for t in sorted(
        TICKETS, key=lambda t: (TYPES.index(t["type"]), t["id"]))]


def test_grouping(qenv):
    assert ids(qenv, "group=status&order=id") == [t["id"] for t in sorted(
        TICKETS, key=lambda t: (t["status"], t["id"]))]
    assert ids(qenv, "group=status&groupdesc=1&order=id&desc=1") == [t["id"] for t in sorted(
        TICKETS, key=lambda t: (t["status"], t["id"]), reverse=True)]
    assert ids(qenv, "group=priority&order=id") == [t["id"] for t in sorted(
        TICKETS, key=lambda t: (_priority(t), t["id"]))]
    rows = Query.from_string(qenv, "group=estimate&order=id&max=0").execute(qenv)
    assert [r["id"] for r in rows] == [t["id"] for t in sorted(
        TICKETS, key=lambda t: (not t["estimate"], t["estimate"] or "", t["id"]))]


def test_paging_and_count(qenv):
    q = Query.from_string(qenv, "status!=closed&order=id&max=7&page=2")
    expected = where(lambda t: t["status"] != "closed")
    assert q.count(qenv) == len(expected) == 24
    assert [r["id"] for r in q.execute(qenv)] == expected[7:14]
    assert q.num_items == 24 and q.has_more_pages
    last = Query.from_string(qenv, "status!=closed&order=id&max=7&page=4")
    assert [r["id"] for r in last.execute(qenv)] == expected[21:]
    beyond = Query.from_string(qenv, "status!=closed&order=id&max=7&page=5")
    with pytest.raises(QueryError, match="Page 5 is beyond"):
        beyond.execute(qenv)
    all_ = Query.from_string(qenv, "order=id")  # the default page size, 100
    assert len(all_.execute(qenv)) == 30 and not all_.has_more_pages
    assert Query.from_string(qenv, "owner=$USER").count(qenv, user="bob") == \
        len(where(lambda t: t["owner"] == "bob"))


def test_rows_carry_columns_and_custom_fields(qenv):
    q = Query.from_string(qenv, "id=7|14&order=id&col=summary|estimate|urgent|due|time"
                          "&row=description")
    rows = q.execute(qenv)
    assert [r["id"] for r in rows] == [7, 14]
    first = rows[0]
    assert first["summary"] == BY_ID[7]["summary"] and first["estimate"] == "3"
    assert first["urgent"] is True and rows[1]["urgent"] is True
    assert first["due"] == NOW - timedelta(days=8)
    assert first["time"] == NOW - timedelta(days=7)
    assert first["description"] == "Description of 7" and first["reporter"] == "alice"
    assert rows[1]["due"] is None and rows[1]["estimate"] == "2"
    assert first["status"] == BY_ID[7]["status"] and first["_priority_value"] == "1"
    default = Query.from_string(qenv, "status=new&id=5").execute(qenv)[0]
    assert set(default) >= {"id", "summary", "owner", "type", "priority", "milestone"}


def test_default_columns(env_with_fields):
    q = Query.from_string(env_with_fields, "status=new&owner=bob")
    cols = q.get_columns()
    assert cols[:2] == ["id", "summary"] and "status" not in cols and "owner" not in cols
    assert len(cols) == 7 and "priority" in cols
    q = Query.from_string(env_with_fields, "status=closed|new&group=milestone&order=version")
    cols = q.get_columns()
    assert "status" in cols and "milestone" not in cols
    assert cols[-1] == "version"


def test_count_joins_only_what_it_filters_on(qenv):
    """The count neither sorts nor joins the columns it does not filter on, and agrees
    with the rows."""
    from codeyard.ticket.query_sql import compile_count

    q = Query.from_string(qenv, "urgent=1&status!=closed&col=estimate&col=tags&order=priority")
    with qenv.db_query as db:
        sql, params = compile_count(q, db)
    assert "ORDER BY" not in sql and "enum" not in sql
    assert sql.count("ticket_custom") == 1 and params[0] == "urgent"
    q.max = 0
    assert q.count(qenv) == len(q.execute(qenv)) == len(
        where(lambda t: t["status"] != "closed" and t.get("urgent") == "1"))


# -- results kept between calls while the tickets' stamp holds

def _trac_style_change(env, tid: int, field: str, old: str, new: str, when: int) -> None:
    """Change a ticket the way Trac does: the field, changetime, and a ticket_change row."""
    with env.db_transaction as db:
        db(f"UPDATE ticket SET {field}=%s, changetime=%s WHERE id=%s", (new, when, tid))
        db("INSERT INTO ticket_change (ticket, time, author, field, oldvalue, newvalue) "
           "VALUES (%s, %s, 'trac', %s, %s, %s)", (tid, when, field, old, new))


def test_results_follow_writes_made_by_anyone(qenv):
    from codeyard.cachekeys import TICKET_FIELDS

    env = qenv
    text = "status=new&order=priority"
    first = ids(env, text)
    assert first == ids(env, text) and len(first) >= 3
    later = _utime(NOW) + 1_000_000
    _trac_style_change(env, first[0], "status", "new", "closed", later)
    assert ids(env, text) == first[1:]
    with env.db_transaction as db:
        db("INSERT INTO ticket (id, type, time, changetime, priority, status, summary) "
           "VALUES (999, 'defect', %s, %s, 'blocker', 'new', 'Made elsewhere')", (later, later))
    assert ids(env, text)[0] == 999
    with env.db_transaction as db:
        db("DELETE FROM ticket WHERE id=%s", (first[1],))
    assert first[1] not in ids(env, text)
    # The priorities' order is part of the answer: Trac bumps the fields' generation.
    before = ids(env, text)
    with env.db_transaction as db:
        db("UPDATE enum SET value=CAST(10 - CAST(value AS integer) AS text) "
           "WHERE type='priority'")
    env.invalidate(TICKET_FIELDS)
    assert ids(env, text) != before


def test_results_are_kept_while_the_stamp_holds(qenv):
    env = qenv
    text = "status=new&order=id"
    first = ids(env, text)
    with env.db_transaction as db:  # a write neither Trac nor codeyard makes: no change row
        db("UPDATE ticket SET status='closed' WHERE id=%s", (first[0],))
    assert ids(env, text) == first
    assert ids(env, "status=new&order=id&desc=1") == first[1:][::-1]  # another query reads
    _trac_style_change(env, first[1], "priority", "major", "minor", _utime(NOW) + 1_000_000)
    assert ids(env, text) == first[1:]  # the stamp moved: read again


def test_relative_dates_are_not_kept(qenv):
    env = qenv
    text = "changetime=1dayago..&order=id"
    assert ids(env, text) == ids(env, text)
    kept = env.memo("ticket.kept_reads", dict)
    assert not any("changetime" in str(key) for key in getattr(kept, "_entries", kept))


def test_results_follow_an_older_change_removed(qenv):
    from codeyard.ticket.values import remove_ticket_change

    env = qenv
    text = "status=new&order=id"
    first = ids(env, text)
    tid = first[0]
    base = _utime(NOW)
    with env.db_transaction as db:  # an older change closing it, then a newer comment
        db("UPDATE ticket SET status='closed' WHERE id=%s", (tid,))
        db("INSERT INTO ticket_change (ticket, time, author, field, oldvalue, newvalue) "
           "VALUES (%s, %s, 'a', 'status', 'new', 'closed')", (tid, base + 1))
        db("INSERT INTO ticket_change (ticket, time, author, field, oldvalue, newvalue) "
           "VALUES (%s, %s, 'a', 'comment', '1', 'closing')", (tid, base + 1))
        db("INSERT INTO ticket_change (ticket, time, author, field, oldvalue, newvalue) "
           "VALUES (%s, %s, 'a', 'comment', '2', 'later')", (tid, base + 2))
    assert tid not in ids(env, text)
    remove_ticket_change(env, tid, 1)  # the newest change row stays: only a generation tells
    assert tid in ids(env, text)
