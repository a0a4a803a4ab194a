"""The ticket model: new tickets, changes, comments and replies, comment edits, custom
fields, validation (nothing written on refusal), collisions between two writers, removal."""

from __future__ import annotations

import io
import threading

import pytest

from codeyard.attachment import model as attachments
from codeyard.core import hookimpl
from codeyard.ticket.model import (
    Ticket,
    TicketCollision,
    TicketError,
    TicketNotFound,
    TicketValidationError,
    cc_list,
    fixup_cc_list,
)

pytestmark = pytest.mark.db

CUSTOM = [
    ("ticket-custom", "phone", "text"),
    ("ticket-custom", "phone.max_size", "5"),
    ("ticket-custom", "notes", "textarea"),
    ("ticket-custom", "urgent", "checkbox"),
    ("ticket-custom", "urgent.value", "false"),
    ("ticket-custom", "os", "select"),
    ("ticket-custom", "os.options", "|Linux|BSD|Windows"),
    ("ticket-custom", "arch", "radio"),
    ("ticket-custom", "arch.options", "x86|arm"),
    ("ticket-custom", "arch.value", "1"),
    ("ticket-custom", "due", "time"),
]


class Recorder:
    def __init__(self):
        self.events = []

    @hookimpl
    def ticket_changed(self, env, event, ticket, old_values, comment, author, when):
        self.events.append((event, ticket.id, dict(old_values), comment, author, when))

    @hookimpl
    def ticket_comment_changed(self, env, ticket, cnum, old_text, new_text, author, when):
        self.events.append(("comment", ticket.id, cnum, old_text, new_text, author, when))


@pytest.fixture
def recorder(env):
    rec = Recorder()
    env.plugins.register(rec)
    return rec


@pytest.fixture
def cenv(make_env):
    return make_env("custom", options=CUSTOM)


def rows(env, sql, params=()):
    with env.db_query as db:
        return db(sql, params)


def new_ticket(env, when=1_000_000, **values):
    ticket = Ticket(env)
    ticket.populate({"summary": "A bug", "reporter": "alice", **values})
    ticket.insert(when=when)
    return ticket


def test_a_new_ticket_takes_the_defaults_and_is_stored_as_trac_stores_it(env, recorder):
    ticket = Ticket(env)
    assert not ticket.exists and ticket.id is None
    assert ticket["type"] == "defect" and ticket["priority"] == "major"
    assert ticket["owner"] == "< default >" and ticket["status"] is None
    ticket["summary"] = "  Crash on start  "  # stripped, like Trac
    ticket["reporter"] = "alice"
    ticket["component"] = "component1"
    ticket["description"] = "  kept as typed\n"
    tid = ticket.insert(when=1_700_000_000_123_456)
    assert tid == ticket.id == 1 and ticket.exists
    assert ticket.time_created == ticket.time_changed == 1_700_000_000_123_456
    (row,) = rows(env, "SELECT type, time, changetime, component, severity, priority, owner, "
                       "reporter, cc, version, milestone, status, resolution, summary, "
                       "description, keywords FROM ticket WHERE id=1")
    # The component's owner for "< default >"; unset fields are NULL, as in Trac.
    assert row == ("defect", 1_700_000_000_123_456, 1_700_000_000_123_456, "component1", None,
                   "major", "somebody", "alice", None, None, None, None, None, "Crash on start",
                   "  kept as typed\n", None)
    assert recorder.events == [("created", 1, {}, None, "alice", 1_700_000_000_123_456)]
    loaded = Ticket(env, 1)
    assert loaded["summary"] == "Crash on start" and loaded["milestone"] == ""
    assert loaded.values["time"] == 1_700_000_000_123_456


def test_defaults_come_from_the_ticket_section(make_env):
    env = make_env("d", options=[("ticket", "default_type", "task"),
                                 ("ticket", "default_milestone", "milestone2"),
                                 ("ticket", "default_owner", ""),
                                 ("ticket", "default_cc", "x@example.org")])
    ticket = Ticket(env)
    assert (ticket["type"], ticket["milestone"], ticket["owner"], ticket["cc"]) == (
        "task", "milestone2", None, "x@example.org")


def test_a_missing_ticket_is_a_readable_error(env):
    for bad in (5, "x", 0, -1):
        with pytest.raises(TicketNotFound, match="does not exist"):
            Ticket(env, bad)


def test_changes_and_comments_are_numbered_with_replies(env, recorder):
    ticket = new_ticket(env, keywords="a")
    ticket["keywords"] = "a b"
    ticket["priority"] = "minor"
    assert ticket.save_changes("bob", "First look", when=2_000_000) == 1
    assert ticket.save_changes("carol", "Me too", when=3_000_000, replyto=1) == 2
    assert ticket.save_changes("bob", "", when=3_500_000) is False  # nothing to save
    ticket["keywords"] = ""
    assert ticket.save_changes("dave", when=4_000_000) == 3
    assert ticket.time_changed == 4_000_000
    assert rows(env, "SELECT time, author, field, oldvalue, newvalue FROM ticket_change "
                     "ORDER BY time, field") == [
        (2_000_000, "bob", "comment", "1", "First look"),
        (2_000_000, "bob", "keywords", "a", "a b"),
        (2_000_000, "bob", "priority", "major", "minor"),
        (3_000_000, "carol", "comment", "1.2", "Me too"),
        (4_000_000, "dave", "comment", "3", None),
        (4_000_000, "dave", "keywords", "a b", None),
    ]
    assert rows(env, "SELECT changetime, keywords FROM ticket") == [(4_000_000, None)]
    assert Ticket(env, ticket.id).get_changelog() == [
        (2_000_000, "bob", "comment", "1", "First look", 1),
        (2_000_000, "bob", "keywords", "a", "a b", 1),
        (2_000_000, "bob", "priority", "major", "minor", 1),
        (3_000_000, "carol", "comment", "1.2", "Me too", 1),
        (4_000_000, "dave", "comment", "3", "", 1),
        (4_000_000, "dave", "keywords", "a b", "", 1),
    ]
    events = [e for e in recorder.events if e[0] == "changed"]
    assert events[0] == ("changed", 1, {"keywords": "a", "priority": "major"}, "First look",
                         "bob", 2_000_000)
    assert len(events) == 3


def test_attachments_show_in_the_changelog(env):
    ticket = new_ticket(env)
    attachments.insert(env, "ticket", str(ticket.id), "log.txt", io.BytesIO(b"x"),
                       author="bob", description="the log")
    log = ticket.get_changelog()
    assert [(e[1], e[2], e[3], e[4], e[5]) for e in log] == [
        ("bob", "attachment", "", "log.txt", 0), ("bob", "comment", "", "the log", 0)]


def test_comment_edits_keep_their_history_as_trac_does(env, recorder):
    ticket = new_ticket(env)
    ticket.save_changes("bob", "Frist", when=2_000_000)
    ticket.save_changes("carol", "Other", when=3_000_000)
    ticket.modify_comment(2_000_000, "bob", "First", when=4_000_000)
    ticket.modify_comment(None, "admin", "First!", when=5_000_000, cnum=1)
    ticket.modify_comment(2_000_000, "admin", "First!", when=6_000_000)  # same text: no-op
    assert rows(env, "SELECT time, author, field, oldvalue, newvalue FROM ticket_change "
                     "WHERE time=2000000 ORDER BY field") == [
        (2_000_000, "bob", "_comment0", "Frist", "4000000"),
        (2_000_000, "admin", "_comment1", "First", "5000000"),
        (2_000_000, "bob", "comment", "1", "First!"),
    ]
    assert rows(env, "SELECT changetime FROM ticket") == [(5_000_000,)]
    assert ticket.get_comment_history(1) == [
        (0, 2_000_000, "bob", "Frist"), (1, 4_000_000, "bob", "First"),
        (2, 5_000_000, "admin", "First!")]
    assert ticket.get_comment_history(cdate=3_000_000) == [(0, 3_000_000, "carol", "Other")]
    assert ticket.get_comment_history(9) is None
    assert [e for e in recorder.events if e[0] == "comment"] == [
        ("comment", 1, 1, "Frist", "First", "bob", 4_000_000),
        ("comment", 1, 1, "First", "First!", "admin", 5_000_000)]
    with pytest.raises(TicketNotFound):
        ticket.modify_comment(None, "bob", "x", cnum=7)


def test_custom_fields_of_each_type(cenv):
    ticket = Ticket(cenv)
    # Defaults: checkbox "0", a radio's default given by index.
    assert ticket["urgent"] == "0" and ticket["arch"] == "arm" and ticket["os"] is None
    ticket.populate({"summary": "Custom", "reporter": "alice", "phone": " 123 ",
                     "notes": "line 1\nline 2\n", "os": "BSD", "due": 1_800_000_000_000_000,
                     "checkbox_urgent": "on"})
    assert ticket["urgent"] == "0"  # checkbox_ marker without the field: unchecked
    ticket["urgent"] = "1"
    ticket.insert(when=1_000_000)
    stored = dict(rows(cenv, "SELECT name, value FROM ticket_custom WHERE ticket=%s",
                       (ticket.id,)))
    assert stored == {"phone": "123", "notes": "line 1\nline 2\n", "os": "BSD", "urgent": "1",
                      "arch": "arm", "due": "001800000000000000"}
    loaded = Ticket(cenv, ticket.id)
    assert loaded["due"] == 1_800_000_000_000_000 and loaded["os"] == "BSD"
    loaded["os"] = ""  # optional select may be emptied
    loaded["due"] = None
    loaded["arch"] = "x86"
    loaded.save_changes("bob", when=2_000_000)
    assert dict(rows(cenv, "SELECT name, value FROM ticket_custom WHERE ticket=%s",
                     (ticket.id,)))["os"] is None
    assert rows(cenv, "SELECT field, oldvalue, newvalue FROM ticket_change "
                      "WHERE field <> 'comment' ORDER BY field") == [
        ("arch", "arm", "x86"), ("due", "001800000000000000", None), ("os", "BSD", None)]
    assert [c[2:5] for c in Ticket(cenv, ticket.id).get_changelog() if c[2] == "due"] == [
        ("due", 1_800_000_000_000_000, "")]


def test_a_custom_field_added_later_starts_at_its_default_without_a_change(env):
    ticket = new_ticket(env)
    env.config.set("ticket-custom", "flag", "checkbox")
    env.config.set("ticket-custom", "flag.value", "1")
    env.config.save()
    env.config.reload_if_changed()
    loaded = Ticket(env, ticket.id)
    if "flag" not in loaded.custom_fields:
        pytest.fail("the new custom field is not seen")
    assert loaded["flag"] == "1"
    loaded.save_changes("bob", "note", when=2_000_000)
    assert rows(env, "SELECT value FROM ticket_custom WHERE name='flag'") == [("1",)]
    assert [r[0] for r in rows(env, "SELECT field FROM ticket_change")] == ["comment"]


@pytest.mark.parametrize("field, value, message", [
    ("os", "Solaris", 'os: "Solaris" is not a valid value'),
    ("priority", "whenever", 'priority: "whenever" is not a valid value'),
    ("component", "", "component: field cannot be empty"),
    ("phone", "123456", "phone: Must be less than or equal to 5 characters"),
    ("summary", "", "summary: Tickets must contain a summary."),
    ("nosuchfield", "x", "nosuchfield: no such ticket field"),
])
def test_bad_values_are_refused_with_nothing_written(cenv, field, value, message):
    recorder = Recorder()
    cenv.plugins.register(recorder)
    ticket = new_ticket(cenv, component="component1")
    before = rows(cenv, "SELECT * FROM ticket"), rows(cenv, "SELECT * FROM ticket_custom")
    ticket[field] = value
    with pytest.raises(TicketValidationError) as refused:
        ticket.save_changes("bob", "comment", when=2_000_000)
    assert str(refused.value) == message
    assert isinstance(refused.value, TicketError)
    assert (rows(cenv, "SELECT * FROM ticket"), rows(cenv, "SELECT * FROM ticket_custom")) == before
    assert rows(cenv, "SELECT * FROM ticket_change") == []
    assert [e[0] for e in recorder.events] == ["created"]
    # The same value refuses a new ticket too.
    fresh = Ticket(cenv)
    fresh.populate({"summary": "x", "reporter": "a"})
    fresh[field] = value
    with pytest.raises(TicketValidationError):
        fresh.insert()
    assert len(rows(cenv, "SELECT id FROM ticket")) == 1


def test_size_limits_come_from_the_ticket_section(make_env):
    env = make_env("sizes", options=[("ticket", "max_summary_size", "10"),
                                     ("ticket", "max_description_size", "5"),
                                     ("ticket", "max_comment_size", "3")])
    ticket = Ticket(env)
    ticket.populate({"summary": "x" * 11, "description": "123456"})
    with pytest.raises(TicketValidationError) as refused:
        ticket.insert()
    assert [name for name, _ in refused.value.errors] == ["description", "summary"]
    ticket.populate({"summary": "short", "description": "ok"})
    ticket.insert()
    with pytest.raises(TicketValidationError, match="comment: Must be less than or equal to 3"):
        ticket.save_changes("bob", "long")
    assert rows(env, "SELECT COUNT(*) FROM ticket_change") == [(0,)]


def test_cc_helpers(env):
    assert cc_list("a, b;c  a") == ["a", "b", "c"]
    assert fixup_cc_list("a;b  a") == "a, b"
    ticket = new_ticket(env, cc="x;y")
    assert rows(env, "SELECT cc FROM ticket") == [("x, y",)]
    assert ticket.add_cc("z") and not ticket.add_cc("x")
    assert ticket.remove_cc("y") and not ticket.remove_cc("nobody")
    ticket.save_changes("bob", when=2_000_000)
    assert rows(env, "SELECT oldvalue, newvalue FROM ticket_change WHERE field='cc'") == [
        ("x, y", "x, z")]


def test_stale_changetime_is_a_collision(env):
    ticket = new_ticket(env, when=1_000_000)
    other = Ticket(env, ticket.id)
    other.save_changes("bob", "in between", when=2_000_000)
    ticket["keywords"] = "late"
    with pytest.raises(TicketCollision, match="modified by someone else"):
        ticket.save_changes("alice", "mine", when=3_000_000, expected_changetime=1_000_000)
    assert rows(env, "SELECT changetime, keywords FROM ticket") == [(2_000_000, None)]
    assert rows(env, "SELECT COUNT(*) FROM ticket_change") == [(1,)]
    assert ticket.save_changes("alice", "mine", when=3_000_000,
                               expected_changetime=2_000_000) == 2


def test_two_writers_with_the_same_changetime_one_wins(env):
    ticket = new_ticket(env, when=1_000_000)
    barrier = threading.Barrier(2)
    results: dict[str, object] = {}

    def edit(name: str, when: int) -> None:
        mine = Ticket(env, ticket.id)
        mine["keywords"] = name
        barrier.wait()
        try:
            results[name] = mine.save_changes(name, f"by {name}", when=when,
                                              expected_changetime=1_000_000)
        except TicketCollision as exc:
            results[name] = exc
        except Exception as exc:  # anything else fails the test below
            results[name] = repr(exc)

    for _round in range(3):
        results.clear()
        threads = [threading.Thread(target=edit, args=("alice", 2_000_000)),
                   threading.Thread(target=edit, args=("bob", 2_000_001))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        winners = [n for n, r in results.items() if r == 1]
        losers = [n for n, r in results.items() if isinstance(r, TicketCollision)]
        assert len(winners) == 1 and len(losers) == 1, results
        (keywords, changetime), = rows(env, "SELECT keywords, changetime FROM ticket")
        assert keywords == winners[0]
        assert rows(env, "SELECT author, oldvalue FROM ticket_change WHERE field='comment'") == [
            (winners[0], "1")]
        # Back to the start for the next round.
        with env.db_transaction as db:
            db("DELETE FROM ticket_change")
            db("UPDATE ticket SET changetime=1000000, keywords=NULL")


def test_concurrent_saves_without_a_check_number_comments_in_turn(env):
    ticket = new_ticket(env)
    barrier = threading.Barrier(4)
    errors = []

    def comment(n: int) -> None:
        mine = Ticket(env, ticket.id)
        barrier.wait()
        try:
            mine.save_changes(f"user{n}", f"comment {n}")  # times taken under the lock
        except Exception as exc:
            errors.append(repr(exc))

    threads = [threading.Thread(target=comment, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    numbers = [r[0] for r in rows(env, "SELECT oldvalue FROM ticket_change ORDER BY time")]
    assert numbers == ["1", "2", "3", "4"]
    assert Ticket(env, ticket.id).time_changed == rows(
        env, "SELECT MAX(time) FROM ticket_change")[0][0]


def test_delete_removes_everything_and_tells_the_hook(env, recorder):
    ticket = new_ticket(env, cc="x")
    keep = new_ticket(env, summary="keep")
    ticket.save_changes("bob", "hello", when=2_000_000)
    attachments.insert(env, "ticket", str(ticket.id), "a.txt", io.BytesIO(b"x"), author="bob")
    Ticket(env, ticket.id).delete()
    assert rows(env, "SELECT id FROM ticket") == [(keep.id,)]
    assert rows(env, "SELECT COUNT(*) FROM ticket_change") == [(0,)]
    assert rows(env, "SELECT COUNT(*) FROM attachment") == [(0,)]
    assert recorder.events[-1][:2] == ("deleted", ticket.id)
    with pytest.raises(TicketNotFound):
        Ticket(env, ticket.id)


def test_delete_change_gives_fields_their_earlier_values(env):
    ticket = new_ticket(env, keywords="one")
    ticket["keywords"] = "two"
    ticket.save_changes("bob", "c1", when=2_000_000)
    ticket["keywords"] = "three"
    ticket.save_changes("bob", "c2", when=3_000_000)
    ticket.delete_change(cnum=2, when=4_000_000)
    assert ticket["keywords"] == "two" and ticket.time_changed == 4_000_000
    ticket.delete_change(cdate=2_000_000, when=5_000_000)
    assert Ticket(env, ticket.id)["keywords"] == "one"
    assert rows(env, "SELECT COUNT(*) FROM ticket_change") == [(0,)]
    with pytest.raises(TicketNotFound):
        ticket.delete_change(cnum=1)


def test_saving_a_deleted_ticket_is_a_readable_error(env):
    ticket = new_ticket(env)
    Ticket(env, ticket.id).delete()
    ticket["keywords"] = "x"
    with pytest.raises(TicketNotFound):
        ticket.save_changes("bob", "gone")
    with pytest.raises(TicketError):
        Ticket(env).save_changes("bob", "never inserted")


def test_one_change_by_time_or_number(env):
    ticket = new_ticket(env)
    ticket["keywords"] = "k"
    ticket.save_changes("bob", "note", when=2_000_000)
    ticket.save_changes("carol", "more", when=3_000_000)
    assert ticket.get_changelog(when=2_000_000) == [
        (2_000_000, "bob", "comment", "1", "note", 1), (2_000_000, "bob", "keywords", "", "k", 1)]
    change = ticket.get_change(cnum=2)
    assert change == {"date": 3_000_000, "author": "carol",
                      "fields": {"comment": {"author": "carol", "old": "2", "new": "more"}}}
    assert ticket.get_change(cdate=2_000_000)["fields"]["keywords"]["new"] == "k"
    assert ticket.get_change(cnum=9) is None
    assert ticket.get_comment_number(3_000_000) == 2
