"""/search through the whole site, on SQLite and PostgreSQL: ranking, phrases, permissions,
quickjump, escaped excerpts, the index kept current by the change hooks and caught up after
writes it did not see (a real Trac 1.6 beside us), ``search rebuild`` and bad input."""

from __future__ import annotations

import random
import re
from urllib.parse import quote

import pytest

from codeyard.perm import PermissionSystem
from codeyard.ticket.model import Ticket
from codeyard.wiki.model import WikiPage
from tests.support.admin_cli import admin_ok
from tests.support.trac import trac  # noqa: F401 - the session fixture
from tests.unit.web.conftest import get_page as _get
from tests.unit.web.conftest import main_of as _main
from tests.unit.web.conftest import text

pytestmark = pytest.mark.db


def _ticket(env, summary, description="", comment=None, **values) -> int:
    ticket = Ticket(env)
    ticket["summary"] = summary
    ticket["description"] = description
    ticket["reporter"] = "alice"
    for name, value in values.items():
        ticket[name] = value
    tid = ticket.insert()
    if comment:
        ticket = Ticket(env, tid)
        ticket.save_changes("bob", comment)
    return tid


def _page(env, name, text_, author="carol"):
    page = WikiPage(env, name)
    page.text = text_
    page.save(author, "")


def _titles(html: str) -> list[str]:
    return re.findall(r'<dt><a href="([^"]*)" class="searchable">', html)


@pytest.fixture
def site(served):
    env, client = served("project")
    _ticket(env, "Frobnicator explodes on start", "Steps to see it.")
    _ticket(env, "Unrelated summary", "Nothing here.", comment="The frobnicator is involved.")
    _page(env, "GardenNotes", "Tomatoes grow slowly; the red tomatoes grow fast.")
    _page(env, "OtherNotes", "Grow red, then slowly tomatoes.")
    return env, client


def search(client, query: str, extra: str = "") -> str:
    return _main(_get(client, f"/search?noquickjump=1&q={quote(query)}{extra}"))


def test_a_summary_match_ranks_above_a_comment_match(site):
    env, client = site
    html = search(client, "frobnicator")
    assert _titles(html) == ["/ticket/1", "/ticket/2"]
    assert "By alice" in html and '<span class="date">' in html


def test_phrase_and_words(site):
    env, client = site
    assert sorted(_titles(search(client, "red tomatoes"))) == ["/wiki/GardenNotes",
                                                              "/wiki/OtherNotes"]
    assert _titles(search(client, '"red tomatoes"')) == ["/wiki/GardenNotes"]
    assert _titles(search(client, "tomatoes -fast")) == ["/wiki/OtherNotes"]
    assert '<p id="notfound">No matches found.</p>' in search(client, "zyxwvut")


def test_excerpts_mark_words_and_are_escaped(site):
    env, client = site
    _page(env, "Injected", "<script>alert('x')</script> kumquat <b>bold</b>")
    html = search(client, "kumquat")
    assert '<span class="searchword">kumquat</span>' in html
    assert "<script>" not in html and "&lt;script&gt;" in html and "<b>bold" not in html


def test_filters_limit_sources_and_are_remembered(site):
    env, client = site
    for _ in range(3):  # a visitor without a cookie is offered one; nothing is kept yet
        client.client._cookies.clear()
        assert not _titles(search(client, "frobnicator", "&wiki=on"))
    with env.db_query as db:
        assert db("SELECT COUNT(*) FROM session WHERE authenticated=0")[0][0] == 0
    html = search(client, "frobnicator", "&wiki=on")  # back with the cookie: kept now
    assert not _titles(html)
    assert re.search(r'name="wiki" checked', html) and not re.search(r'name="ticket" checked',
                                                                    html)
    html = search(client, "frobnicator")  # no filter given: the session's choice
    assert not _titles(html)
    assert _titles(search(client, "frobnicator", "&ticket=on")) == ["/ticket/1", "/ticket/2"]


def test_permissions_hide_results(site, tmp_path):
    env, client = site
    rules = tmp_path / "authz.ini"
    rules.write_text("[ticket:1@*]\n* =\n\n[*]\n* = TICKET_VIEW, WIKI_VIEW, SEARCH_VIEW\n")
    env.config.set("authz_policy", "authz_file", str(rules))
    env.config.set("trac", "permission_policies", "AuthzPolicy, DefaultPermissionPolicy")
    env.config.save()
    assert _titles(search(client, "frobnicator")) == ["/ticket/2"]
    PermissionSystem(env).revoke("anonymous", "TICKET_VIEW")
    env.config.set("trac", "permission_policies", "DefaultPermissionPolicy")
    env.config.save()
    html = search(client, "frobnicator")
    assert not _titles(html) and 'name="ticket"' not in html
    PermissionSystem(env).revoke("anonymous", "SEARCH_VIEW")
    _get(client, "/search?q=frobnicator", status=403)
    assert 'href="/search"' not in text(_get(client, "/wiki"))


def test_quickjump(site):
    env, client = site
    for query, target in (("#1", "/ticket/1"), ("ticket:2", "/ticket/2"),
                          ("wiki:GardenNotes", "/wiki/GardenNotes"),
                          ("GardenNotes", "/wiki/GardenNotes"),
                          ("milestone:milestone1", "/milestone/milestone1")):
        page = client.get(f"/search?q={quote(query)}")
        assert page.status_code == 303, (query, text(page)[:300])
        assert page.headers["Location"].endswith(target)
    # a missing page, a plain word and noquickjump all search
    assert client.get("/search?q=MissingPage").status_code == 200
    assert client.get("/search?q=frobnicator").status_code == 200
    assert client.get("/search?q=%231&noquickjump=1").status_code == 200


def test_search_links_nav_and_short_queries(site):
    env, client = site
    _page(env, "Links", "See search:?q=frob&wiki=on and search:tomato.")
    html = text(_get(client, "/wiki/Links"))
    assert 'href="/search?q=frob&amp;wiki=on"' in html and 'href="/search?q=tomato"' in html
    assert '<a href="/search">Search</a>' in html
    page = search(client, "ab")
    assert "Query must be at least 3 characters long" in text(_get(client, "/search?q=ab"))
    assert not _titles(page)


def test_paging(site):
    env, client = site
    for n in range(23):
        _page(env, f"Pager{n}", f"quince number {n}")
    html = search(client, "quince")
    assert len(_titles(html)) == 10 and "Results (1 - 10 of 23)" in html
    assert 'rel="next"' in html
    html = search(client, "quince", "&page=3")
    assert len(_titles(html)) == 3 and 'rel="prev"' in html and 'rel="next"' not in html
    assert len(_titles(search(client, "quince", "&page=x"))) == 10


def test_index_follows_edits_and_deletes(site):
    env, client = site
    ticket = Ticket(env, 1)
    ticket["summary"] = "Wombat explodes"
    ticket.save_changes("dave", "")
    assert _titles(search(client, "wombat")) == ["/ticket/1"]
    assert _titles(search(client, "frobnicator")) == ["/ticket/2"]
    Ticket(env, 2).delete()
    assert not _titles(search(client, "frobnicator"))
    _page(env, "GardenNotes", "Now about cucumbers.")
    assert _titles(search(client, "cucumbers")) == ["/wiki/GardenNotes"]
    assert _titles(search(client, '"red tomatoes"')) == []
    WikiPage(env, "GardenNotes").delete()
    assert not _titles(search(client, "cucumbers"))
    with env.db_transaction as db:
        db("INSERT INTO milestone (name, due, completed, description) "
           "VALUES ('harvest', 0, 0, 'pick the pumpkins')")
    assert _titles(search(client, "pumpkins")) == ["/milestone/harvest"]
    from codeyard.ticket import values

    values.add_milestone(env, "sowing", description="plant the beetroots")
    values.rename_milestone(env, "sowing", "seeding")
    with env.db_query as db:  # the hook, not a catch-up, put it there
        assert db("SELECT id FROM codeyard_search_doc WHERE source = 'milestone' "
                  "AND body LIKE %s", ("%beetroots%",)) == [("seeding",)]
    assert _titles(search(client, "beetroots")) == ["/milestone/seeding"]
    values.remove_milestone(env, "seeding")
    with env.db_query as db:
        assert not db("SELECT id FROM codeyard_search_doc WHERE id = 'seeding'")


def test_rows_written_beside_us_are_caught_up(site):
    env, client = site
    search(client, "frobnicator")  # the index is built
    with env.db_transaction as db:  # as Trac writes them, no hook runs
        db("INSERT INTO wiki (name, version, time, author, text, comment, readonly) "
           "VALUES ('Sideways', 1, 2000000000000000, 'trac', 'written by rutabaga', '', 0)")
        db("UPDATE ticket SET summary = 'Turnip trouble', changetime = 2000000000000000 "
           "WHERE id = 2")
        db("DELETE FROM ticket WHERE id = 1")
    assert _titles(search(client, "rutabaga")) == ["/wiki/Sideways"]
    assert _titles(search(client, "turnip")) == ["/ticket/2"]
    assert _titles(search(client, "frobnicator")) == ["/ticket/2"]  # its comment
    assert "/ticket/1" not in search(client, "explodes")


def test_the_stamps_are_read_again_only_after_something_was_committed(site, monkeypatch):
    from codeyard.db.api import DatabaseManager
    from codeyard.search import index

    env, client = site
    search(client, "frobnicator")
    reads = []
    real = index._stamps
    monkeypatch.setattr(index, "_stamps", lambda env, db: reads.append(1) or real(env, db))
    for _ in range(5):
        search(client, "frobnicator")
    sqlite = env.database.dialect == "sqlite"
    first = len(reads)
    # SQLite tells when nothing was committed: each pooled connection looks once at most
    assert first < 5 if sqlite else first == 5
    for _ in range(5):
        search(client, "frobnicator")
    assert len(reads) == (first if sqlite else 10)
    # a commit through connections of their own, as another program makes it
    other = DatabaseManager(env.database.url_text, base_dir=env.path)
    try:
        with other.transaction() as db:
            db("INSERT INTO wiki (name, version, time, author, text, comment, readonly) "
               "VALUES ('Aside', 1, 2000000000000000, 'trac', 'about celeriac', '', 0)")
    finally:
        other.dispose()
    for _ in range(4):
        assert _titles(search(client, "celeriac")) == ["/wiki/Aside"]
    before = len(reads)
    with env.db_transaction as db:  # and one of this process, no hook running
        db("DELETE FROM wiki WHERE name = 'Aside'")
    for _ in range(4):
        assert not _titles(search(client, "celeriac"))
    assert len(reads) > before


@pytest.mark.slow
def test_a_page_written_by_a_real_trac_is_found(site, trac, tmp_path):  # noqa: F811
    env, client = site
    search(client, "frobnicator")
    source = tmp_path / "page.txt"
    source.write_text("Trac wrote about parsnips here.\n")
    trac.admin(env.path, "wiki", "import", "FromTrac", str(source))
    assert _titles(search(client, "parsnips")) == ["/wiki/FromTrac"]


def test_rebuild_command(site):
    env, client = site
    with env.db_transaction as db:
        db("DELETE FROM codeyard_search_state")
        db("UPDATE codeyard_search_doc SET body = '' WHERE source = 'wiki'")
    out = admin_ok(env.path, "search", "rebuild")
    assert "ticket: 2 documents indexed" in out and "Search index rebuilt" in out
    assert _titles(search(client, '"red tomatoes"')) == ["/wiki/GardenNotes"]


def test_random_punctuation_never_gives_an_error(site):
    env, client = site
    rng = random.Random(7)
    alphabet = list("\"'-+*:^()[]{}!&|<>~?.,;/\\@#$%=_ ") + ["frob", "NOT", "AND", "é"]
    for _ in range(150):
        query = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 10)))
        page = client.get(f"/search?noquickjump=1&q={quote(query)}")
        assert page.status_code == 200, (query, text(page)[:500])


def test_rebuild_draws_a_bar_on_a_terminal(site):
    import io

    from codeyard.admin.api import AdminContext
    from codeyard.admin.console import run_command

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    env, client = site
    out = Terminal()
    assert run_command(AdminContext(env.path, out=out, err=io.StringIO()),
                       ["search", "rebuild"]) == 0
    shown = out.getvalue()
    assert "\r ticket" in shown and "[##############################] 2/2" in shown


def test_the_index_is_derived_data(site, db_url):
    env, client = site
    assert _titles(search(client, "frobnicator")) == ["/ticket/1", "/ticket/2"]
    with env.db_query as db:
        names = db.table_names()
    assert {"codeyard_search", "codeyard_search_doc", "codeyard_search_state"} <= set(names)
    assert not [n for n in names if n.startswith("codeyard_search_") and n.endswith(
        ("_data", "_idx", "_content", "_docsize", "_config"))]  # FTS5's shadow tables
    assert env.derived_tables() == {"codeyard_search", "codeyard_search_doc",
                                    "codeyard_search_state"}
    out = admin_ok(env.path, "convert_db", "sqlite:db/copy.db")
    assert "codeyard_search" not in out  # not copied ...
    from codeyard.env import Environment

    copy = Environment(env.path)
    try:
        assert copy.database.url.path.endswith("copy.db")
        with copy.db_query as db:  # ... but made, empty, in the copy
            assert db("SELECT COUNT(*) FROM codeyard_search_doc")[0][0] == 0
    finally:
        copy.shutdown()
    assert _titles(search(client, "frobnicator")) == ["/ticket/1", "/ticket/2"]
