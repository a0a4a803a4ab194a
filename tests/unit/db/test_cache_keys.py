"""The ``cache`` table rows codeyard reads and bumps are Trac 1.6's own."""

from __future__ import annotations

import pytest

from codeyard import cachekeys
from codeyard.db.api import key_to_id
from codeyard.perm import PermissionSystem
from codeyard.ticket import values as ticket_values
from codeyard.wiki.model import WikiPage

pytestmark = pytest.mark.db

# The ids Trac 1.6 gives these keys (trac.cache.key_to_id), recorded from the real package.
TRAC_IDS = {
    "trac.wiki.api.WikiSystem.pages": 901198563,
    "trac.wiki.interwiki.InterWikiMap.interwiki_map": 2085311731,
    "trac.perm.DefaultPermissionStore._all_permissions": 1722364385,
    "trac.env.Environment._known_users": 1173095902,
    "trac.env.Environment._known_users_dict": 1714931544,
    "trac.ticket.model.MilestoneCache.milestones": 472382151,
    "trac.ticket.api.TicketSystem.fields": 660951007,
    "trac.ticket.api.TicketSystem.custom_fields": 1380700524,
    "a": 1678619104,
    "ü": 43842301,
}


@pytest.mark.parametrize("key", sorted(TRAC_IDS))
def test_ids_are_computed_as_trac_computes_them(key):
    assert key_to_id(key) == TRAC_IDS[key]


def rows(env) -> dict[int, tuple[int, str]]:
    with env.db_query as db:
        return {i: (g, k) for i, g, k in db("SELECT id, generation, key FROM cache")}


def test_a_first_bump_writes_trac_row_then_increments_it(env):
    key = cachekeys.WIKI_PAGES
    with env.db_query as db:
        assert env.database.generation(db, key) == -1
    env.invalidate(key)
    assert rows(env)[TRAC_IDS[key]] == (0, key)
    env.invalidate(key)
    assert rows(env)[TRAC_IDS[key]] == (1, key)


def test_writes_bump_the_keys_trac_reads(env):
    def generation(key):
        return rows(env).get(TRAC_IDS[key], (-1, ""))[0]

    before = {key: generation(key) for key in TRAC_IDS}
    page = WikiPage(env, "InterMapTxt")
    page.text = "----\nexample http://example.org/ # Example\n----\n"
    page.save("alice", "")
    PermissionSystem(env).grant("bob", "WIKI_VIEW")
    ticket_values.add_milestone(env, "v9")
    from codeyard.sessions import create_session

    create_session(env, "carol", True, {"name": "Carol"})
    after = {key: generation(key) for key in before}
    changed = {key for key in before if after[key] > before[key]}
    assert changed == set(TRAC_IDS) - {"a", "ü", cachekeys.TICKET_CUSTOM_FIELDS}


def test_interwiki_map_follows_a_bump_from_another_process(env):
    from codeyard.env import Environment
    from codeyard.wiki.links import interwiki_map

    assert "EXAMPLE" not in interwiki_map(env)
    other = Environment(env.path)
    with other.db_transaction as db:
        db("INSERT INTO wiki (name, version, time, author, text, comment, readonly) "
           "VALUES ('InterMapTxt', 99, 1, 'trac', %s, '', 0)",
           ("----\nExample http://example.org/$1 # Ex\n----\n",))
    assert "EXAMPLE" not in interwiki_map(env)  # kept until someone bumps the key
    other.invalidate(cachekeys.INTERWIKI_MAP)
    assert interwiki_map(env)["EXAMPLE"] == ("Example", "http://example.org/$1", "Ex")
    other.shutdown()


def test_rows_under_former_names_are_removed(env):
    with env.db_transaction as db:
        db("INSERT INTO cache (id, generation, key) VALUES (12345, 3, 'wiki.pages')")
        db("INSERT INTO cache (id, generation, key) VALUES (12346, 1, 'perm.grants')")
    env.invalidate(cachekeys.PERMISSIONS)
    env.ensure_own_tables()
    assert {k for _g, k in rows(env).values()} == {cachekeys.PERMISSIONS}
