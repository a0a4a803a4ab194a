"""The commit-message ticket updater: the command grammar and its options, the comment it
writes, closing through the workflow, the committer's permissions, the same changeset seen
twice, edited messages, Bazaar's bugs property; and the CommitTicketReference processor."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from codeyard.perm import PermissionSystem, Resource
from codeyard.sessions import create_session
from codeyard.ticket.model import Ticket
from codeyard.vcs import ticket_updater as updater
from codeyard.vcs.api import Changeset, Repository
from codeyard.wiki.api import FormatContext
from codeyard.wiki.formatter import format_to_html

pytestmark = pytest.mark.db

WHEN = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
SHA = "3f4e5d6c7b8a99887766554433221100ffeeddcc"


class ShortShaRepository(Repository):
    """Just enough of a repository for the updater: a name and how revisions show."""

    type = "test"

    def display_rev(self, rev: str) -> str:
        return rev[:7]


def repository(name: str = "") -> ShortShaRepository:
    return ShortShaRepository(name, "/nonexistent")


def changeset(message: str, rev: str = SHA, author: str = "joe", **kw) -> Changeset:
    return Changeset(rev=rev, message=message, author=author, date=WHEN, **kw)


def new_ticket(env, summary: str = "A problem", **values) -> int:
    ticket = Ticket(env)
    ticket["summary"] = summary
    ticket["reporter"] = "someone"
    ticket["status"] = "new"
    for name, value in values.items():
        ticket[name] = value
    return ticket.insert()


def comments(env, tkt_id: int) -> list[tuple[str, str, str]]:
    with env.db_query as db:
        return [tuple(r) for r in db(
            "SELECT author, oldvalue, newvalue FROM ticket_change WHERE ticket=%s "
            "AND field='comment' ORDER BY time", (tkt_id,))]


def changes(env, tkt_id: int) -> list[tuple[str, str, str, str]]:
    with env.db_query as db:
        return [tuple(r) for r in db(
            "SELECT author, field, oldvalue, newvalue FROM ticket_change WHERE ticket=%s "
            "AND field<>'comment' ORDER BY time, field", (tkt_id,))]


def added(env, repos, cset) -> None:
    env.hook.changeset_added(env=env, repos=repos, changeset=cset, pusher=None)


# -- the grammar

@pytest.mark.parametrize(("message", "expected"), [
    ("Fixes #1, #2", {1: ["close"], 2: ["close"]}),
    ("refs #3 & #4", {3: ["refs"], 4: ["refs"]}),
    ("closes ticket:5", {5: ["close"]}),
    ("see #6.", {6: ["refs"]}),
    ("fixed #7 and #8, and refs #8", {7: ["close"], 8: ["close", "refs"]}),
    ("Addresses issue 9 and bug:10", {9: ["refs"], 10: ["refs"]}),
    ("re: ticket:11#comment:3", {11: ["refs"]}),
    ("close #12#comment:description", {12: ["close"]}),
    ("mentions #13 without a command", {}),
    ("REFS #14", {14: ["refs"]}),
])
def test_the_command_grammar(env, message, expected):
    assert updater.parse_message(env, message) == expected


def test_the_command_words_are_options(env):
    env.config.set("ticket", "commit_ticket_update_commands.close", "done")
    env.config.set("ticket", "commit_ticket_update_commands.refs", "touches")
    assert updater.parse_message(env, "done #1, touches #2, fixes #3") == {
        1: ["close"], 2: ["refs"]}


def test_refs_all_references_every_ticket_named(env):
    env.config.set("ticket", "commit_ticket_update_commands.refs", "<ALL>")
    assert updater.parse_message(env, "Tidy #1; fixes #2; about ticket:3") == {
        1: ["refs"], 2: ["close"], 3: ["refs"]}


def test_an_envelope_is_required_when_set(env):
    env.config.set("ticket", "commit_ticket_update_envelope", "[]")
    assert updater.parse_message(env, "fixes #1 [refs #2] [closes #3, #4]") == {
        2: ["refs"], 3: ["close"], 4: ["close"]}


# -- the comment

def test_refs_adds_the_comment_trac_writes(env):
    tkt = new_ticket(env)
    added(env, repository(), changeset("  Tidy the parser.\n\nrefs #%d\n" % tkt))
    assert comments(env, tkt) == [(
        "joe", "1",
        f'In [changeset:"{SHA}" 3f4e5d6]:\n'
        f'{{{{{{#!CommitTicketReference repository="" revision="{SHA}"\n'
        f"Tidy the parser.\n\nrefs #{tkt}\n}}}}}}")]
    assert changes(env, tkt) == []
    assert Ticket(env, tkt)["status"] == "new"


def test_a_named_repository_is_in_the_link_and_the_block(env):
    tkt = new_ticket(env)
    added(env, repository("lib"), changeset(f"see #{tkt}", rev="r42"))
    assert comments(env, tkt)[0][2] == (
        'In [changeset:"r42/lib" r42/lib]:\n'
        '{{{#!CommitTicketReference repository="lib" revision="r42"\n'
        f"see #{tkt}\n}}}}}}")


# -- closing

def test_fixes_closes_as_fixed_through_the_workflow(env):
    tkt = new_ticket(env, owner="")
    added(env, repository(), changeset(f"Fixes #{tkt}"))
    ticket = Ticket(env, tkt)
    assert (ticket["status"], ticket["resolution"], ticket["owner"]) == ("closed", "fixed", "joe")
    assert changes(env, tkt) == [("joe", "owner", None, "joe"), ("joe", "resolution", None, "fixed"),
                                 ("joe", "status", "new", "closed")]
    assert comments(env, tkt)[0][:2] == ("joe", "1")


def test_closing_keeps_an_existing_owner(env):
    tkt = new_ticket(env, owner="ann")
    added(env, repository(), changeset(f"closes #{tkt}"))
    assert Ticket(env, tkt)["owner"] == "ann"


def test_a_workflow_without_fixed_still_closes_as_trac_does(env):
    env.config.set("ticket-workflow", "resolve.set_resolution", "wontfix")
    tkt = new_ticket(env)
    added(env, repository(), changeset(f"fix #{tkt}"))
    ticket = Ticket(env, tkt)
    assert (ticket["status"], ticket["resolution"]) == ("closed", "fixed")


def test_an_already_closed_ticket_becomes_fixed(env):
    tkt = new_ticket(env)
    ticket = Ticket(env, tkt)
    ticket["status"], ticket["resolution"] = "closed", "wontfix"
    ticket.save_changes("ann")
    added(env, repository(), changeset(f"fixes #{tkt}"))
    ticket = Ticket(env, tkt)
    assert (ticket["status"], ticket["resolution"]) == ("closed", "fixed")
    assert len(comments(env, tkt)) == 2


# -- permissions and who the committer is

def test_without_ticket_append_nothing_is_written(env):
    PermissionSystem(env).revoke("authenticated", "TICKET_MODIFY")
    tkt = new_ticket(env)
    added(env, repository(), changeset(f"refs #{tkt}, fixes #{tkt}"))
    assert comments(env, tkt) == []


def test_refs_without_modify_comments_but_does_not_close(env):
    system = PermissionSystem(env)
    system.revoke("authenticated", "TICKET_MODIFY")
    system.grant("joe", "TICKET_APPEND")
    tkt = new_ticket(env)
    added(env, repository(), changeset(f"fixes #{tkt} and refs #{tkt}"))
    assert Ticket(env, tkt)["status"] == "new"
    assert len(comments(env, tkt)) == 1


def test_check_perms_off_lets_anyone_close(env):
    env.config.set("ticket", "commit_ticket_update_check_perms", "false")
    tkt = new_ticket(env)
    added(env, repository(), changeset(f"fixes #{tkt}", author="anonymous"))
    assert Ticket(env, tkt)["status"] == "closed"


def test_the_author_is_matched_to_a_user_by_email(env):
    create_session(env, "jdoe", True, {"name": "Jane Doe", "email": "Jane@Example.org"})
    PermissionSystem(env).revoke("authenticated", "TICKET_MODIFY")
    PermissionSystem(env).grant("jdoe", "TICKET_MODIFY")
    tkt = new_ticket(env, owner="")
    added(env, repository(), changeset(f"fixes #{tkt}", author="Jane Doe <jane@example.org>"))
    ticket = Ticket(env, tkt)
    assert (ticket["status"], ticket["owner"]) == ("closed", "jdoe")
    assert comments(env, tkt)[0][0] == "jdoe"


def test_a_push_acts_as_the_pusher_not_the_claimed_author(env):
    """Anyone can write any name into a commit; hosting knows who pushed it."""
    PermissionSystem(env).revoke("authenticated", "TICKET_MODIFY")
    PermissionSystem(env).grant("pusher", "TICKET_MODIFY")
    tkt = new_ticket(env, owner="")
    cset = changeset(f"fixes #{tkt}", author="admin <admin@example.org>")
    env.hook.changeset_added(env=env, repos=repository(), changeset=cset, pusher="pusher")
    ticket = Ticket(env, tkt)
    assert (ticket["status"], ticket["owner"]) == ("closed", "pusher")
    assert comments(env, tkt)[0][0] == "pusher"


def test_committer_lookup(env):
    create_session(env, "jdoe", True, {"email": "jane@example.org"})
    create_session(env, "bob", True, {})
    assert updater.committer(env, "jdoe") == "jdoe"
    assert updater.committer(env, "jane@example.org") == "jdoe"
    assert updater.committer(env, "bob <bob@elsewhere.net>") == "bob"
    assert updater.committer(env, "Eve <eve@x.org>") == "Eve <eve@x.org>"
    env.config.set("trac", "ignore_auth_case", "true")
    assert updater.committer(env, "JDoe") == "jdoe"


# -- seen twice, edited, broken

def test_the_same_changeset_twice_comments_once(env):
    tkt = new_ticket(env)
    other = new_ticket(env)
    cset = changeset(f"fixes #{tkt}, refs #{other}")
    added(env, repository(), cset)
    added(env, repository(), cset)
    env.hook.changeset_modified(env=env, repos=repository(), changeset=cset, old_changeset=None)
    assert len(comments(env, tkt)) == 1
    assert len(comments(env, other)) == 1
    # The same revision in another repository is another changeset.
    added(env, repository("mirror"), cset)
    assert len(comments(env, other)) == 2


def test_a_comment_trac_wrote_counts(env):
    tkt = new_ticket(env)
    ticket = Ticket(env, tkt)
    ticket.save_changes("joe", 'In [changeset:"7"]:\n'
                        '{{{#!CommitTicketReference   revision="7"  repository=""\nrefs\n}}}')
    added(env, repository(), changeset(f"refs #{tkt}", rev="7"))
    assert len(comments(env, tkt)) == 1


def test_a_writer_racing_with_the_same_changeset_is_noticed(env, monkeypatch):
    tkt = new_ticket(env)
    cset = changeset(f"refs #{tkt}")
    real = updater.has_reference
    raced = []

    def racing(env_, tkt_id, reponame, rev):
        found = real(env_, tkt_id, reponame, rev)
        if not raced:
            # Another process adds the comment after this one looked.
            raced.append(True)
            monkeypatch.setattr(updater, "has_reference", real)
            updater.update_tickets(env, repository(), cset, {tkt: ["refs"]})
            monkeypatch.setattr(updater, "has_reference", racing)
        return found

    monkeypatch.setattr(updater, "has_reference", racing)
    added(env, repository(), cset)
    assert raced
    assert len(comments(env, tkt)) == 1


def test_an_edited_message_updates_only_newly_named_tickets(env):
    first, second = new_ticket(env), new_ticket(env)
    old = changeset(f"refs #{first}")
    added(env, repository(), old)
    Ticket(env, first).save_changes("ann", "unrelated")  # the updater's comment is not last
    new = changeset(f"refs #{first}, fixes #{second}")
    env.hook.changeset_modified(env=env, repos=repository(), changeset=new, old_changeset=old)
    assert len(comments(env, first)) == 2
    assert Ticket(env, second)["status"] == "closed"
    assert len(comments(env, second)) == 1


def test_a_missing_ticket_does_not_stop_the_others(env):
    tkt = new_ticket(env)
    added(env, repository(), changeset(f"refs #9999, #{tkt}"))
    assert len(comments(env, tkt)) == 1


# -- Bazaar's bugs

def test_bazaar_fixed_bugs_of_this_project_close(env):
    env.config.set("trac", "base_url", "https://Example.org/p/")
    one, two, three, four = (new_ticket(env) for _ in range(4))
    bugs = (f"https://example.org/p/ticket/{one} fixed\n"
            f"https://example.org/other/ticket/{two} fixed\n"
            f"https://bugs.launchpad.net/bugs/{three} fixed\n"
            f"http://example.org/p/ticket/{four} related")
    added(env, repository(), changeset("Make it work", properties={"bugs": bugs}))
    assert Ticket(env, one)["status"] == "closed"
    assert comments(env, two) == comments(env, three) == []
    assert Ticket(env, four)["status"] == "new"
    assert len(comments(env, four)) == 1


def test_the_property_breezy_writes(env):
    from breezy.bugtracker import encode_fixes_bug_urls

    env.config.set("trac", "base_url", "http://example.org/p")
    bugs = encode_fixes_bug_urls([("http://example.org/p/ticket/3", "fixed"),
                                  ("http://example.org/p/ticket/4", "related")])
    assert updater.ticket_commands(env, changeset("refs #3", properties={"bugs": bugs})) == {
        3: ["refs", "close"], 4: ["refs"]}


def test_bazaar_bug_ids(env):
    assert updater.parse_bugs(env, "#3 fixed\nticket:4 fixed\n5 related\n#6 other") == {
        3: ["close"], 4: ["close"], 5: ["refs"]}
    # Without a base_url any ticket URL is taken to be this project's.
    assert updater.parse_bugs(env, "http://host/x/ticket/7 fixed") == {7: ["close"]}


# -- the processor

def render(env, text: str, tkt_id: int | None = None) -> str:
    resource = Resource("ticket", tkt_id) if tkt_id else None
    return str(format_to_html(FormatContext(env, resource=resource), text))


def cache_changeset(env, reponame: str, rev: str, message: str) -> None:
    with env.db_transaction as db:
        db("INSERT INTO repository (id, name, value) VALUES (1, 'name', %s)", (reponame,))
        db("INSERT INTO revision (repos, rev, time, author, message) "
           "VALUES (1, %s, 0, 'joe', %s)", (rev, message))


BLOCK = ('{{{#!CommitTicketReference repository="lib" revision="r1"\n'
         "'''old''' text, refs #1\n}}}")


def test_the_processor_shows_the_cached_message_as_wiki_text(env):
    cache_changeset(env, "lib", "r1", "'''Now''' edited,\nrefs #1")
    html = render(env, BLOCK, 1)
    assert html.startswith('<div class="message">')
    assert "<strong>Now</strong> edited,<br />" in html
    assert "old" not in html


def test_the_processor_shows_the_block_when_the_changeset_is_gone(env):
    html = render(env, BLOCK, 1)
    assert "<strong>old</strong> text" in html


def test_the_processor_hints_when_the_message_no_longer_names_the_ticket(env):
    cache_changeset(env, "lib", "r1", "refs #2")
    assert render(env, BLOCK, 1) == (
        "<p class=\"hint\">(The changeset message doesn't reference this ticket)</p>")
    assert "refs" in render(env, BLOCK, 2)
    assert "refs" in render(env, BLOCK)  # outside tickets: no check


def test_the_processor_without_wiki_formatting(env):
    env.config.set("changeset", "wiki_format_messages", "false")
    html = render(env, BLOCK, 1)
    assert html == '<pre class="message">&#39;&#39;&#39;old&#39;&#39;&#39; text, refs #1</pre>'


def test_the_comment_written_renders_with_its_message(env):
    tkt = new_ticket(env)
    added(env, repository(), changeset(f"'''Tidy''' up, refs #{tkt}"))
    html = render(env, comments(env, tkt)[0][2], tkt)
    assert '<div class="message">' in html and "<strong>Tidy</strong>" in html


# -- end to end with a real Git repository

def test_a_git_commit_that_fixes_a_ticket(env, tmp_path):
    import codeyard.vcs.git as git_backend
    from codeyard.vcs.git import open_repository
    from tests.unit.vcs.test_git_contract import GitWorkTree

    create_session(env, "alice", True, {"email": "alice@example.org"})
    tkt = new_ticket(env, owner="")
    tree = GitWorkTree(tmp_path / "work")
    tree.write("README", b"hello\n")
    sha = tree.commit(f"Say hello.\n\nFixes #{tkt}.")
    repos = open_repository(env, "", str(tree.path))
    try:
        cset = repos.get_changeset(sha)
        added(env, repos, cset)
        added(env, repos, cset)  # a second push of the same commit
    finally:
        repos.close()
    ticket = Ticket(env, tkt)
    assert (ticket["status"], ticket["resolution"], ticket["owner"]) == (
        "closed", "fixed", "alice")
    [(author, cnum, text)] = comments(env, tkt)
    assert (author, cnum) == ("alice", "1")
    assert text == (f'In [changeset:"{sha}" {sha[:7]}]:\n'
                    f'{{{{{{#!CommitTicketReference repository="" revision="{sha}"\n'
                    f"Say hello.\n\nFixes #{tkt}.\n}}}}}}")
    # Not in the cache: the processor reads the message from the repository itself.
    if not env.plugins.is_registered(git_backend):
        env.plugins.register(git_backend)
    env.config.set("repositories", ".dir", str(tree.path))
    env.config.set("repositories", ".type", "git")
    html = render(env, text.replace("Say hello.", "Stale text."), tkt)
    assert "Say hello." in html and "Stale" not in html
