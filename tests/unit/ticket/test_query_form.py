"""The /query filter form: reading its numbered rows (Trac's names) in Query.from_args, the
page that draws them, its 400 page, Save query and the saved report, the session trail."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from codeyard.perm import PermissionSystem
from codeyard.ticket.query import Query, QueryError
from codeyard.ticket.report import create_report, get_report
from codeyard.web import session as web_session
from tests.unit.ticket.test_query import CUSTOM, NOW, TICKETS, insert_tickets
from tests.unit.web.conftest import text

pytestmark = pytest.mark.db


@pytest.fixture
def fenv(make_env):
    return make_env(options=CUSTOM)


def constraints(env, args: str):
    return Query.from_args(env, "?" + args).constraints


# -- reading the numbered rows


@pytest.mark.parametrize("numbered, plain", [
    ("0_status=new&0_status=assigned", "status=new|assigned"),
    ("0_status=new&0_status=assigned", "status=new&status=assigned"),
    ("0_owner=bob&0_owner_mode=~", "owner=~bob"),
    ("0_summary=login&0_summary_mode=!~", "summary=!~login"),
    ("0_summary=Tick&0_summary_mode=^&0_keywords=db&0_keywords_mode=$", "summary=^Tick&keywords=$db"),
    ("0_milestone=milestone1&0_milestone_mode=!", "milestone=!milestone1"),
    ("0_time=2024-06-01&0_time_end=2024-06-10", "time=2024-06-01..2024-06-10"),
    ("0_created=2024-06-01&0_created_end=", "created=2024-06-01.."),
    ("0_due=&0_due_end=2024-06-01&0_due_mode=!", "due=!..2024-06-01"),
    ("0_urgent=1", "urgent=1"),
    ("0_id=1-5,8", "id=1-5,8"),
    ("0_status=new&1_owner=bob", "status=new&or&owner=bob"),
    ("1_owner=bob&0_status=new", "status=new&or&owner=bob"),
])
def test_numbered_rows_mean_what_plain_arguments_mean(fenv, numbered, plain):
    assert constraints(fenv, numbered) == constraints(fenv, plain)
    assert constraints(fenv, numbered)  # not an empty query by accident


def test_the_same_tickets_either_way(fenv):
    insert_tickets(fenv, TICKETS)
    pairs = [("0_status=new&0_status=assigned&0_owner=o&0_owner_mode=~&1_keywords=ui&1_keywords_mode=~",
              "status=new|assigned&owner=~o&or&keywords=~ui"),
             ("0_time=2024-06-01&0_time_end=2024-06-10&0_milestone=milestone2&0_milestone_mode=!",
              "time=2024-06-01..2024-06-10&milestone=!milestone2")]
    for numbered, plain in pairs:
        ours = [t["id"] for t in Query.from_args(fenv, "?" + numbered + "&max=0&order=id")
                .execute(fenv, user="bob", now=NOW)]
        again = [t["id"] for t in Query.from_args(fenv, "?" + plain + "&max=0&order=id")
                 .execute(fenv, user="bob", now=NOW)]
        assert ours == again and ours


def test_plain_arguments_after_the_rows_are_a_clause_of_their_own(fenv):
    # Trac's reading: the form's clauses first, then one more for the plain arguments.
    assert constraints(fenv, "0_status=new&owner=bob&col=summary") == [
        {"status": ["new"]}, {"owner": ["bob"]}]


def test_a_pipe_stays_in_a_text_value_and_in_an_option_that_has_one(fenv):
    assert constraints(fenv, "summary=a|b") == [{"summary": ["a|b"]}]
    assert constraints(fenv, "status=!new|closed") == [{"status": ["!new", "!closed"]}]


def test_removing_rows(fenv):
    base = "0_owner=a&0_owner=b&0_owner=c&0_status=new&0_status=closed"
    assert constraints(fenv, base + "&rm_filter_0_owner_1=-") == [
        {"owner": ["a", "c"], "status": ["new", "closed"]}]
    # A status-like field is one row of checkboxes: its whole filter goes.
    assert constraints(fenv, base + "&rm_filter_0_status_0=-") == [{"owner": ["a", "b", "c"]}]
    assert constraints(fenv, "0_owner=a&1_owner=b&rm_filter_1_owner_0=-") == [{"owner": ["a"]}]
    assert constraints(fenv, "0_owner=a&rm_filter_0_owner_7=-") == []


def test_adding_rows(fenv):
    # The new row starts with the field's first operator, as in Trac: "contains" for text.
    assert constraints(fenv, "0_owner=a&add_filter_0=summary&add_0=%2B") == [
        {"owner": ["a"], "summary": ["~"]}]
    assert constraints(fenv, "0_owner=a&add_filter_0=milestone&add_0=%2B") == [
        {"owner": ["a"], "milestone": [""]}]
    # The Or chooser starts the next clause; an empty chooser adds nothing.
    assert constraints(fenv, "0_owner=a&add_filter_0=&add_clause_1=keywords&add_1=%2B") == [
        {"owner": ["a"]}, {"keywords": ["~"]}]
    assert constraints(fenv, "0_owner=a&add_filter_0=&add_0=%2B") == [{"owner": ["a"]}]
    # Without the button the choosers are only part of the form.
    assert constraints(fenv, "0_owner=a&add_filter_0=summary&add_clause_1=type") == [
        {"owner": ["a"]}]


@pytest.mark.parametrize("args, message", [
    ("0_nosuch=1", "Unknown field 'nosuch'"),
    ("0_status=new&1_bogus_mode=~", "Unknown field 'bogus_mode'"),
    ("0_owner=a&add_filter_0=nosuch&add_0=%2B", "Unknown field 'nosuch'"),
    ("0_owner=a&rm_filter_0_nosuch_0=-", "Unknown field 'nosuch'"),
    ("0_status=new&0_status_mode=~", "Invalid operator 'contains' for the field 'status'"),
    ("0_owner=bob&0_owner_mode=%3D%3D", "Invalid operator '==' for the field 'owner'"),
    ("0_description=x&0_description_mode=^", "Invalid operator 'begins with'"),
    ("0_time=yesteryear&0_time_end=", '"yesteryear" is an invalid date'),
    ("0_time=2024-06-01&0_time_end=2024-06-99", '"2024-06-99" is an invalid date'),
    ("0_time=2024-06-01..2024-06-02..x", "invalid date"),
    ("0_id=1-x", "Invalid ticket id list"),
])
def test_bad_rows_are_query_errors(fenv, args, message):
    with pytest.raises(QueryError, match=re.escape(message)):
        Query.from_args(fenv, "?" + args)


def test_read_filter_rows_keeps_the_good_rows_and_names_the_bad(fenv):
    from codeyard.ticket.fields import ticket_fields
    from codeyard.ticket.query import read_filter_rows

    clauses, errors = read_filter_rows(ticket_fields(fenv), parse_qsl(
        "0_owner=bob&0_nosuch=1&0_status=new&0_status_mode=^&1_time=x"))
    assert clauses == [{"owner": ["bob"], "status": ["new"]}, {"time": ["x"]}]
    assert errors == ["Unknown field 'nosuch' in the query filters",
                      "Invalid operator 'begins with' for the field 'status'"]


def test_numbered_query_reads_back_from_its_plain_arguments(fenv):
    q = Query.from_args(fenv, "?0_status=new&0_status=reopened&0_summary=x&0_summary_mode=^"
                              "&1_due=2024-06-01&1_due_end=2024-07-01&col=summary&order=id&desc=1")
    assert q.constraints == [{"status": ["new", "reopened"], "summary": ["^x"]},
                             {"due": ["2024-06-01..2024-07-01"]}]
    assert Query.from_args(fenv, q.to_args()) == q
    assert Query.from_string(fenv, q.to_string()) == q


# -- the page


@pytest.fixture
def site(served):
    env, site = served(options=[*CUSTOM, ("codeyard", "config_check_interval", "0")])
    insert_tickets(env, TICKETS)
    return env, site


def ticket_ids(body: str) -> list[int]:
    return [int(n) for n in re.findall(r'<td class="id"><a href="/ticket/(\d+)"', body)]


def form_fields(body: str) -> dict[str, list[str]]:
    """The named controls of the query form with the values a browser would send (checked
    boxes, selected options; buttons left out)."""
    form = body[body.index('<form id="query"'):]
    form = form[:form.index("</form>")]
    out: dict[str, list[str]] = {}
    for tag in re.findall(r"<input[^>]*>", form):
        name = re.search(r'name="([^"]*)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        kind = re.search(r'type="([^"]*)"', tag)
        if not name:
            continue
        if kind and kind.group(1) in ("checkbox", "radio") and " checked" not in tag:
            continue
        out.setdefault(name.group(1), []).append(value.group(1) if value else "")
    for name, inner in re.findall(r'<select[^>]*name="([^"]*)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.findall(r'<option value="([^"]*)"[^>]*selected', inner) or \
            re.findall(r'<option value="([^"]*)"', inner)[:1]
        out.setdefault(name, []).extend(chosen)
    return out


def submit(site, body: str, button: str, **changes: str):
    pairs = [(k, v.replace("&#39;", "'").replace("&amp;", "&"))
             for k, values in form_fields(body).items() for v in values if k not in changes]
    pairs += list(changes.items()) + [(button, "x")]
    return site.get("/query?" + urlencode(pairs))


def test_the_form_shows_the_query_with_trac_names(site):
    env, site = site
    page = site.get("/query?status=new|assigned&owner=~o&or&keywords=~ui&order=id")
    body = text(page)
    assert page.status_code == 200
    fields = form_fields(body)
    assert fields["0_status"] == ["new", "assigned"] and fields["0_owner_mode"] == ["~"]
    assert fields["0_owner"] == ["o"] and fields["1_keywords"] == ["ui"]
    assert fields["order"] == ["id"] and "update" in body and 'name="add_filter_0"' in body
    assert 'name="add_clause_2"' in body and 'name="rm_filter_0_owner_0"' in body
    # Pressing Update sends the same query back: the same tickets.
    expected = ticket_ids(body)
    assert expected and ticket_ids(text(submit(site, body, "update"))) == expected


def test_add_and_remove_buttons_redraw_the_form(site):
    env, site = site
    body = text(site.get("/query?owner=alice&order=id"))
    added = text(submit(site, body, "add_0", add_filter_0="milestone"))
    fields = form_fields(added)
    assert fields["0_owner"] == ["alice"] and fields["0_milestone"] == [""]
    assert fields["0_milestone_mode"] == [""]
    # The new row filters on "no milestone" until changed; changing it and updating:
    chosen = text(submit(site, added, "update", **{"0_milestone": "milestone2"}))
    assert ticket_ids(chosen) == [t["id"] for t in TICKETS
                                  if t["owner"] == "alice" and t["milestone"] == "milestone2"]
    ored = text(submit(site, chosen, "add_1", add_clause_1="summary"))
    assert form_fields(ored)["1_summary_mode"] == ["~"]
    removed = text(submit(site, chosen, "rm_filter_0_milestone_0"))
    assert "0_milestone" not in form_fields(removed)
    assert ticket_ids(removed) == [t["id"] for t in TICKETS if t["owner"] == "alice"]


def test_checkboxes_of_a_negated_status_filter(site):
    env, site = site
    body = text(site.get("/query?status=!closed&order=id"))
    assert sorted(form_fields(body)["0_status"]) == ["accepted", "assigned", "new", "reopened"]
    assert ticket_ids(text(submit(site, body, "update"))) == ticket_ids(body)


def test_columns_group_rows_and_max_from_the_form(site):
    env, site = site
    page = text(site.get("/query?0_owner=bob&col=summary&col=estimate&group=milestone"
                         "&groupdesc=on&row=description&max=3&order=id&update=Update"))
    fields = form_fields(page)
    assert fields["col"] == ["summary", "estimate"] and fields["group"] == ["milestone"]
    assert fields["groupdesc"] == ["1"] and fields["row"] == ["description"]
    assert fields["max"] == ["3"]
    assert '<th scope="col" class="estimate">' in page and "Description of" in page
    assert len(ticket_ids(page)) == 3 and "Next page" in page


def test_without_filters_the_default_query_runs(site):
    env, site = site
    # Anonymous, with no e-mail or name: status!=closed, the cc~=$USER filter dropped.
    open_ids = [t["id"] for t in TICKETS if t["status"] != "closed"]
    assert sorted(ticket_ids(text(site.get("/query?order=id&max=0")))) == open_ids
    body = text(site.get("/query?0_owner=bob&rm_filter_0_owner_0=-&order=id&max=0"))
    assert ticket_ids(body) == open_ids
    env.config.set("query", "default_anonymous_query", "?owner=carol&order=id")
    env.config.save()
    assert ticket_ids(text(site.get("/query?max=0"))) == [
        t["id"] for t in TICKETS if t["owner"] == "carol"]


@pytest.mark.parametrize("args, shown, message", [
    ("0_status=new&0_time=yesteryear&0_time_end=", 'value="yesteryear"', "is an invalid date"),
    ("0_owner=bob&0_nosuch=1", 'name="0_owner" value="bob"', "Unknown field &#39;nosuch&#39;"),
    ("0_owner=bob&0_owner_mode=%3F", 'name="0_owner" value="bob"', "Invalid operator"),
    ("0_time=2024-06-01&0_time_end=2024-06-01..x", 'value="2024-06-01..x"', "invalid date"),
    ("0_summary=login&max=lots", 'value="lots"', "Query max lots is invalid"),
])
def test_bad_input_is_a_400_page_with_the_form_as_filled_in(site, args, shown, message):
    env, site = site
    page = site.get("/query?" + args + "&update=Update")
    body = text(page)
    assert page.status_code == 400
    assert "<h1>Invalid query</h1>" in body and message in body
    assert '<form id="query"' in body and shown in body and "Traceback" not in body
    assert site.get("/query?" + args + "&format=csv").status_code == 400


def test_posting_the_form_as_trac_does(site):
    env, site = site
    posted = site.post("/query", {"0_owner": "bob", "order": "id", "update": "Update"})
    assert posted.status_code == 303
    target = urlsplit(posted.headers["Location"])
    assert target.path == "/query" and ("owner", "bob") in parse_qsl(target.query)
    drawn = site.post("/query", {"0_owner": "bob", "add_filter_0": "type", "add_0": "+"})
    assert drawn.status_code == 200 and 'name="0_type"' in text(drawn)
    assert site.post("/query", {"0_owner": "bob"}, token=False).status_code == 400


# -- Save query, and the report that is a saved query


def test_save_query_round_trip(site):
    env, site = site
    PermissionSystem(env).grant("anonymous", "REPORT_ADMIN")
    body = text(site.get("/query?status=new|reopened&owner=~o&col=summary&col=owner&order=id"))
    save = body[body.index('id="trac-report-save"'):]
    save = save[:save.index("</form>")]
    assert 'action="/report"' in save and 'name="action" value="new"' in save
    saved = re.search(r'name="query" value="([^"]*)"', save).group(1).replace("&amp;", "&")
    assert saved.startswith("query:?") and "\n&\n" in saved and "report=" not in saved
    editor = text(site.get("/report?" + urlencode({"action": "new", "query": saved})))
    assert "owner=%7Eo" in editor or "owner=~o" in editor
    made = site.post("/report", {"action": "new", "title": "Open o-tickets", "query": saved,
                                 "description": "Saved from the ''query'' page."})
    assert made.status_code == 303
    number = int(made.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    assert get_report(env, number).query == saved
    opened = site.get(f"/report/{number}")
    assert opened.status_code == 303
    target = urlsplit(opened.headers["Location"])
    assert target.path == "/query" and ("report", str(number)) in parse_qsl(target.query)
    page = text(site.get(target.path + "?" + target.query))
    assert "<h1>Open o-tickets" in page and "<em>query</em>" in page
    assert ticket_ids(page) == ticket_ids(body)
    assert 'id="trac-report-edit"' in page and 'id="trac-report-delete"' in page
    again = page[page.index('id="trac-report-save"'):]
    assert f'action="/report/{number}"' in again and 'name="action" value="edit"' in again
    assert 'name="report" value="%d"' % number in page
    # The editor keeps a query: body as it was.
    assert site.post(f"/report/{number}", {"action": "edit", "title": "Renamed",
                                           "query": saved, "description": ""}).status_code == 303
    assert get_report(env, number).query == saved


def test_save_needs_report_create(site):
    env, site = site
    body = text(site.get("/query?owner=bob"))
    assert 'id="trac-report-save"' not in body
    PermissionSystem(env).grant("anonymous", "REPORT_CREATE")
    assert 'id="trac-report-save"' in text(site.get("/query?owner=bob"))


def test_saved_queries_in_the_query_language_and_bad_ones(site):
    env, site = site
    PermissionSystem(env).grant("anonymous", "REPORT_ADMIN")
    language = create_report(env, "Mine", "query:status!=closed&owner=bob&order=id")
    opened = site.get(f"/report/{language}")
    target = urlsplit(opened.headers["Location"])
    args = parse_qsl(target.query)
    assert ("status", "!closed") in args and ("report", str(language)) in args
    assert ticket_ids(text(site.get(target.path + "?" + target.query))) == [
        t["id"] for t in TICKETS if t["status"] != "closed" and t["owner"] == "bob"]
    broken = create_report(env, "Broken", "query:status")
    back = site.get(f"/report/{broken}")
    assert back.status_code == 303 and "action=edit" in back.headers["Location"]
    assert "separated by" in text(site.get(back.headers["Location"]))
    other = create_report(env, "Other", "query:?owner=bob&report=999")
    assert "action=edit" in site.get(f"/report/{other}").headers["Location"]
    spaced = create_report(env, "Spaced", "query:?summary=~login page\n&order=id")
    location = site.get(f"/report/{spaced}").headers["Location"]
    assert " " not in location and ("summary", "~login page") in parse_qsl(urlsplit(location).query)


def test_saved_query_text_reads_back(fenv):
    from codeyard.ticket.query_web import saved_query_text

    q = Query.from_string(fenv, r"status=new|assigned&summary~=a\&b c&order=id&col=summary&report=4")
    saved = saved_query_text(q)
    assert saved.startswith("query:?") and "report" not in saved
    again = Query.from_args(fenv, "?" + "".join(line.strip() for line in saved[7:].splitlines()))
    assert again.constraints == q.constraints and again.get_columns() == q.get_columns()


# -- the session trail


def trail(env, sid: str) -> dict[str, str]:
    with env.db_query as db:
        return dict(db("SELECT name, value FROM session_attribute WHERE sid=%s", (sid,)))


def test_the_query_leaves_a_trail_in_the_session(site, monkeypatch):
    env, site = site
    writes: list[bool] = []
    save = web_session.Session.save

    def counting(self):
        wrote = save(self)
        writes.append(wrote)
        return wrote

    monkeypatch.setattr(web_session.Session, "save", counting)
    # A first visit (no cookie yet) is offered the session cookie; nothing is written.
    page = site.get("/query?owner=alice&order=id&max=0")
    cookie = re.search(r"trac_session=([0-9a-f]+)", " ".join(page.headers.getlist("Set-Cookie")))
    assert cookie, page.headers
    assert writes[-1] is False and trail(env, cookie.group(1)) == {}
    # Coming back with it, the trail is kept.
    site.get("/query?owner=alice&order=id&max=0")
    values = trail(env, cookie.group(1))
    expected = [t["id"] for t in TICKETS if t["owner"] == "alice"]
    assert values["query_tickets"] == " ".join(str(i) for i in expected)
    href = urlsplit(values["query_href"])
    assert href.path == "/query" and ("owner", "alice") in parse_qsl(href.query)
    assert values["query_constraints"] == str([{"owner": ["alice"]}])
    assert writes[-1] is True
    # The same page again: nothing to write.
    site.get("/query?owner=alice&order=id&max=0")
    assert writes[-1] is False
    # Another query replaces the trail; the csv export leaves it alone.
    site.get("/query?owner=bob&order=id&max=0&desc=1")
    values = trail(env, cookie.group(1))
    assert values["query_tickets"].split() == [
        str(t["id"]) for t in reversed(TICKETS) if t["owner"] == "bob"]
    site.get("/query?owner=carol&format=csv")
    assert trail(env, cookie.group(1))["query_tickets"] == values["query_tickets"]


def test_a_client_without_cookies_never_makes_a_session(site):
    """A crawler or a load tool keeps no cookies: however many queries, no session rows."""
    env, site = site
    for path in [f"/query?owner=alice&order=id&max={n}" for n in range(5)] + ["/report/1"] * 5:
        site.client.delete_cookie("trac_session", domain="localhost")
        assert site.get(path).status_code == 200
    with env.db_query as db:
        assert db("SELECT COUNT(*) FROM session WHERE authenticated=0")[0][0] == 0


def test_a_ticket_report_leaves_the_same_trail(site):
    env, site = site
    first = site.get("/report/1")  # "Active Tickets"
    cookie = re.search(r"trac_session=([0-9a-f]+)", " ".join(first.headers.getlist("Set-Cookie")))
    page = site.get("/report/1")
    assert page.status_code == 200
    values = trail(env, cookie.group(1))
    shown = [int(n) for n in re.findall(r'href="/ticket/(\d+)" title="View ticket">#', text(page))]
    assert [int(n) for n in values["query_tickets"].split()] == shown and shown
    assert values["query_href"].startswith("/report/1")
