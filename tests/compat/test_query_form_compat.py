"""Trac 1.6's own /query form, sent as a browser without JavaScript sends it (its numbered
filter rows, its add and remove buttons), selects the same tickets in codeyard as in Trac,
on one environment served by a live ``tracd`` (on the leg's database engine)."""

from __future__ import annotations

import csv
import io
from html.parser import HTMLParser
from urllib.parse import urlencode

import pytest

from tests.support.http import Client
from tests.support.trac import _clean_env
from tests.support.tracd import TracdServer
from tests.unit.ticket.test_query import CUSTOM, TICKETS, insert_tickets
from tests.unit.web.conftest import text

pytestmark = [pytest.mark.db, pytest.mark.slow]


class UtcTracd(TracdServer):
    def environ(self) -> dict[str, str]:
        return {**_clean_env(), "TZ": "UTC"}  # dates in the form mean the same to both


class FormReader(HTMLParser):
    """The successful controls of one form, as a browser sends them (buttons left out)."""

    def __init__(self, form_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.inside = False
        self.pairs: list[tuple[str, str]] = []
        self.select: dict | None = None
        self.option: dict | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        if not self.inside:
            return
        if tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind in ("submit", "button", "reset", "image"):
                return
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            self.pairs.append((a["name"], a.get("value", "on" if kind == "checkbox" else "")))
        elif tag == "select":
            self.select = {"name": a.get("name"), "options": []}
        elif tag == "option" and self.select is not None:
            self.option = {"value": a.get("value"), "text": "", "selected": "selected" in a,
                           "disabled": "disabled" in a}
            self.select["options"].append(self.option)

    def handle_data(self, data):
        if self.option is not None:
            self.option["text"] += data

    def handle_endtag(self, tag):
        if tag == "option":
            self.option = None
        elif tag == "select" and self.select is not None:
            options = self.select["options"]
            chosen = [o for o in options if o["selected"]] or options[:1]
            for o in chosen[:1]:
                value = o["value"] if o["value"] is not None else o["text"].strip()
                if self.select["name"]:
                    self.pairs.append((self.select["name"], value))
            self.select = None
        elif tag == "form":
            self.inside = False


def form_pairs(html: str) -> list[tuple[str, str]]:
    reader = FormReader("query")
    reader.feed(html)
    return [(k, v) for k, v in reader.pairs if k != "__FORM_TOKEN"]


# (the page Trac draws the form on, the changes the user makes, the button pressed)
SCENARIOS = [
    ("status=!closed&order=id", {}, None),
    ("owner=alice&milestone=milestone2&order=id", {}, None),
    ("owner=alice&order=id", {"add_filter_0": "milestone"}, "add_0"),
    ("owner=alice&order=id", {"add_filter_0": "summary"}, "add_0"),
    ("summary=~login&or&keywords=~ui&order=id", {}, None),
    ("summary=~login&or&keywords=~ui&order=id", {"1_keywords": "db", "1_keywords_mode": "!~"}, None),
    ("time=2024-06-01..2024-06-10&order=id", {}, None),
    ("time=2024-06-01..2024-06-10&order=id", {"0_time_end": ""}, None),
    ("due=2024-06-10..2024-06-20&urgent=1&order=id", {}, None),
    ("urgent=1&order=id", {"0_urgent": "0"}, None),
    ("owner=alice&owner=bob&order=id", {}, "rm_filter_0_owner_1"),
    ("status=new&status=assigned&order=id", {}, "rm_filter_0_status_0"),
    ("status=new&status=assigned&order=id", {"0_status": "reopened"}, None),
    ("id=1-10&order=id", {"add_clause_1": "owner"}, "add_1"),
    ("id=1-10&or&owner=carol&order=id", {}, None),
    ("keywords=~ui db&summary=!~page&order=id", {}, None),
    ("summary=^Ticket 1&order=priority&desc=1", {}, None),
    ("milestone=!milestone1&group=milestone&order=id", {}, None),
    ("milestone=milestone1&order=id", {"0_milestone_mode": "!"}, None),
    ("reporter=dave&order=id", {"0_reporter_mode": "$", "0_reporter": "ve"}, None),
    ("cc=~carol&order=id", {}, None),
]


def submission(page: str, changes: dict[str, str], button: str | None) -> str:
    pairs = [(k, v) for k, v in form_pairs(page) if k not in changes]
    multi = [(k, v) for k, v in changes.items()]
    if "0_status" in changes:  # tick one more box
        pairs += [(k, v) for k, v in form_pairs(page) if k == "0_status"]
    pairs += multi + ([(button, "+")] if button else [])
    return urlencode(pairs)


def csv_ids(body: str) -> list[int]:
    rows = list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))
    assert rows and rows[0][0] == "id", body[:500]
    return [int(row[0]) for row in rows[1:] if row]


@pytest.fixture
def both(trac, served):
    env, site = served(options=CUSTOM)
    insert_tickets(env, TICKETS)
    tracd = UtcTracd(trac, env.path).start()
    try:
        yield site, Client(tracd.url), tracd
    finally:
        tracd.stop()


def test_trac_form_urls_select_the_same_tickets(both):
    site, trac_client, tracd = both
    differing = {}
    checked = 0
    for start, changes, button in SCENARIOS:
        page = trac_client.get("query?" + start.replace(" ", "%20"))
        assert page.status == 200, (start, page.text[:2000], tracd.log())
        assert 'name="0_' in page.text or "rm_filter" in page.text, start
        args = submission(page.text, changes, button)
        assert "0_" in args and "order=" in args, args
        theirs = trac_client.get("query?" + args + "&format=csv")
        assert theirs.status == 200, (args, theirs.text[:2000])
        ours = site.get("/query?" + args + "&format=csv")
        assert ours.status_code == 200, (args, text(ours)[:2000])
        trac_ids, our_ids = csv_ids(theirs.text), csv_ids(text(ours))
        if trac_ids != our_ids:
            differing[args] = (trac_ids, our_ids)
        checked += bool(trac_ids)
        # The HTML page draws the same query back into codeyard's own form.
        drawn = site.get("/query?" + args)
        assert drawn.status_code == 200, (args, text(drawn)[:2000])
        again = urlencode(form_pairs(text(drawn)))
        assert csv_ids(text(site.get("/query?" + again + "&format=csv"))) == our_ids, args
    assert not differing, differing
    assert checked >= len(SCENARIOS) - 3  # the scenarios select tickets, not nothing
