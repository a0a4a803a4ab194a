"""The default workflow against the real Trac 1.6: for every state, the actions a user with
and without TICKET_MODIFY is offered, in the same order."""

from __future__ import annotations

import json
import subprocess

import pytest

from codeyard.perm import PermissionCache, PermissionSystem
from codeyard.ticket import workflow
from tests.support.trac import _clean_env

pytestmark = pytest.mark.db

STATES = ["new", "assigned", "accepted", "reopened", "closed"]
USERS = ["dev", "anonymous", "someone"]

TRAC_SCRIPT = r"""
import json, sys
from trac.env import Environment
from trac.test import MockRequest
from trac.ticket.api import TicketSystem
from trac.ticket.model import Ticket
env = Environment(sys.argv[1])
out = {}
for line in json.load(sys.stdin):
    number, user = line
    req = MockRequest(env, authname=user)
    ticket = Ticket(env, number)
    out[f"{number}:{user}"] = TicketSystem(env).get_available_actions(req, ticket)
print(json.dumps(out))
"""


def test_available_actions_match_trac(trac, make_env):
    env = make_env()
    PermissionSystem(env).grant("dev", "TICKET_MODIFY")
    numbers = {}
    with env.db_transaction as db:
        for state in STATES:
            db("INSERT INTO ticket (type, time, changetime, status, owner, reporter, summary, "
               "resolution) VALUES ('defect', 1, 1, %s, 'dev', 'someone', %s, %s)",
               (state, f"in {state}", "fixed" if state == "closed" else ""))
            numbers[state] = db.last_id("ticket")
    cases = [(numbers[state], user) for state in STATES for user in USERS]
    ours = {}
    for number, user in cases:
        with env.db_query as db:
            status, owner, reporter = db("SELECT status, owner, reporter FROM ticket WHERE id=%s",
                                         (number,))[0]
        ticket = {"id": number, "status": status, "owner": owner, "reporter": reporter}
        ours[f"{number}:{user}"] = [a.name for a in workflow.available_actions(
            env, ticket, PermissionCache(env, user), user)]
    result = subprocess.run([trac.python, "-c", TRAC_SCRIPT, env.path], input=json.dumps(cases),
                            capture_output=True, text=True, env=_clean_env(), timeout=300)
    assert result.returncode == 0, result.stderr
    theirs = json.loads(result.stdout.strip().splitlines()[-1])
    assert ours == theirs
    assert ours[f"{numbers['new']}:dev"][:2] == ["leave", "resolve"]
