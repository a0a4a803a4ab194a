"""The commit-message ticket updater against Trac 1.6's own (tracopt CommitTicketUpdater):
the same changesets on the same tickets leave the same ticket rows and the same comment
text, and the CommitTicketReference block renders the same in a ticket."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime

import pytest

from codeyard.perm import Resource
from codeyard.ticket.model import Ticket
from codeyard.vcs import ticket_updater
from codeyard.vcs.api import Changeset, Repository
from codeyard.wiki.api import FormatContext
from codeyard.wiki.formatter import format_to_html
from tests.support.trac import _clean_env

pytestmark = pytest.mark.db

TRAC_UPDATE = r"""
import json, sys
from datetime import datetime
from trac.env import Environment
from trac.util.datefmt import utc
from tracopt.ticket.commit_updater import CommitTicketUpdater

class Repos:
    def __init__(self, name):
        self.reponame = name
    def display_rev(self, rev):
        return rev[:7]

class Cset:
    def __init__(self, case):
        self.rev, self.message, self.author = case["rev"], case["message"], case["author"]
        self.date = datetime.fromtimestamp(case["n"], utc)

env = Environment(sys.argv[1])
updater = CommitTicketUpdater(env)
for case in json.load(sys.stdin):
    updater.changeset_added(Repos(case["repo"]), Cset(case))
print("done")
"""

TRAC_RENDER = r"""
import json, sys
from trac.env import Environment
from trac.resource import Resource
from trac.test import MockRequest
from trac.web.chrome import web_context
from trac.wiki.formatter import format_to_html

env = Environment(sys.argv[1])
out = []
for tkt_id, text in json.load(sys.stdin):
    req = MockRequest(env, script_name="/p")
    out.append(str(format_to_html(env, web_context(req, Resource("ticket", tkt_id)), text)))
print(json.dumps(out))
"""

SHA = "3f4e5d6c7b8a99887766554433221100ffeeddcc"
CASES = [
    {"repo": "", "rev": SHA, "author": "joe", "message": "  Tidy the parser.\n\nrefs #1\n"},
    {"repo": "lib", "rev": "a" * 40, "author": "joe",
     "message": "Fixes #2 and #3, see ticket:1#comment:1"},
    {"repo": "", "rev": "b" * 40, "author": "joe", "message": "closes #4"},
    {"repo": "", "rev": "c" * 40, "author": "anonymous", "message": "refs #5, fixes #6"},
    {"repo": "", "rev": "d" * 40, "author": "joe", "message": "fix issue 6 & bug:7"},
    {"repo": "", "rev": "e" * 40, "author": "joe", "message": "refs #99 and #5"},
]


class ShortShaRepository(Repository):
    type = "test"

    def display_rev(self, rev: str) -> str:
        return rev[:7]


def fill(env) -> None:
    for n in range(1, 8):
        ticket = Ticket(env)
        ticket["summary"], ticket["reporter"], ticket["status"] = f"Ticket {n}", "ann", "new"
        if n != 6:
            ticket["owner"] = "ann"
        ticket.insert(when=1_000_000 * n)
    closed = Ticket(env, 4)
    closed["status"], closed["resolution"] = "closed", "wontfix"
    closed.save_changes("ann", "not now", when=10_000_000)


def state(env) -> tuple[list, list]:
    with env.db_query as db:
        tickets = [tuple(row) for row in db(
            "SELECT id, status, resolution, owner FROM ticket ORDER BY id")]
        changes = sorted((tuple(row) for row in db(
            "SELECT ticket, author, field, oldvalue, newvalue FROM ticket_change")),
            key=lambda row: [str(v) for v in row])
    return tickets, changes


def run_trac(trac, script, path, data) -> str:
    result = subprocess.run([trac.python, "-c", script, path], input=json.dumps(data),
                            capture_output=True, text=True, env=_clean_env(), timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_the_updater_leaves_what_tracs_leaves(trac, make_env):
    ours, theirs = make_env("ours"), make_env("theirs")
    for env in (ours, theirs):
        fill(env)
    theirs.config.set("components", "tracopt.ticket.commit_updater.*", "enabled")
    theirs.config.save()

    for case in CASES:
        cset = Changeset(rev=case["rev"], message=case["message"], author=case["author"],
                         date=datetime(2026, 1, 1, tzinfo=UTC))
        ours.hook.changeset_added(env=ours, repos=ShortShaRepository(case["repo"], "/x"),
                                  changeset=cset, pusher=None)
    assert run_trac(trac, TRAC_UPDATE, theirs.path,
                    [dict(case, n=n) for n, case in enumerate(CASES)]) == "done"

    our_tickets, our_changes = state(ours)
    their_tickets, their_changes = state(theirs)
    assert their_tickets[3] == (4, "closed", "fixed", "ann")  # Trac did its part
    assert our_tickets == their_tickets
    assert our_changes == their_changes
    assert sum(1 for c in our_changes if "CommitTicketReference" in c[4]) == 8


def test_the_block_renders_as_in_trac(trac, make_env):
    env = make_env()
    env.config.set("components", "tracopt.ticket.commit_updater.*", "enabled")
    env.config.save()
    block = '{{{#!CommitTicketReference repository="" revision="%s"\n%s\n}}}'
    cases = [
        (1, block % (SHA, "Tidy '''the''' parser,\nsee issue 1")),
        (2, block % (SHA, "Tidy the parser; refs bug 1")),  # names another ticket
        (3, block % ("x", "Fixes ticket 3\n\n * one\n * two")),
    ]
    theirs = json.loads(run_trac(trac, TRAC_RENDER, env.path, cases))
    ours = [str(format_to_html(FormatContext(env, resource=Resource("ticket", tkt_id)), text))
            for tkt_id, text in cases]
    assert '<p class="hint">' in theirs[1]
    assert ours == theirs
    assert ticket_updater.TICKET_ID_RE.findall("see issue 1") == ["1"]
