"""The ticket query language against the real Trac 1.6: the same query strings on the same
environment return the same tickets in the same order (on the leg's database engine)."""

from __future__ import annotations

import json
import subprocess

import pytest

from codeyard.ticket.query import Query
from tests.support.trac import _clean_env
from tests.unit.ticket.test_query import CUSTOM, NOW, TICKETS, insert_tickets

pytestmark = pytest.mark.db

# Absolute dates only: Trac's relative dates follow the real clock.
QUERIES = [
    "status!=closed", "status=new|assigned", "status!=new|closed", "owner=$USER", "owner=",
    "summary~=LOGIN", "summary!~=login", "summary^=Ticket 1", "summary$=page",
    "summary~=100%", "summary~=h_i", "keywords~=ui -db", 'keywords~="slow query"',
    "keywords!~=db", "cc~=carol", "id=1-5,8", "id!=1-25", "id=3|20-22", "estimate=2",
    "estimate!=0|1", "estimate=", "urgent=1", "tags~=red -blue",
    "status=new&or&owner=carol", "status=new&owner=alice&or&status=closed&owner=bob",
    "created=2024-06-01..2024-06-10", "created!=2024-06-01..2024-06-10",
    "modified=..2024-06-05", "created=2024-06-12T00:00:00Z..",
    "due=2024-06-10..2024-06-20", "due=", "due=..2024-06-01",
    "milestone=milestone1&or&version=2.0", "type=task&component=component1",
    "order=priority", "order=priority&desc=1", "order=milestone", "order=milestone&desc=1",
    "order=version", "order=owner", "order=estimate", "order=due&desc=1", "order=type",
    "order=created", "group=status&order=id", "group=priority&groupdesc=1",
    "group=milestone&order=priority", "status!=closed&group=owner&order=estimate&desc=1",
]

TRAC_SCRIPT = r"""
import json, sys
from trac.env import Environment
from trac.ticket.query import Query
env = Environment(sys.argv[1])
out = {}
for text in json.load(sys.stdin):
    q = Query.from_string(env, text + "&max=0")
    out[text] = [row["id"] for row in q.execute(authname="bob")]
print(json.dumps(out))
"""


def test_queries_return_what_trac_returns(trac, make_env):
    env = make_env(options=CUSTOM)
    insert_tickets(env, TICKETS)
    ours = {}
    for text in QUERIES:
        query = Query.from_string(env, text + "&max=0")
        ours[text] = [row["id"] for row in query.execute(env, user="bob", now=NOW)]
    environ = _clean_env()
    environ["TZ"] = "UTC"
    result = subprocess.run([trac.python, "-c", TRAC_SCRIPT, env.path], input=json.dumps(QUERIES),
                            capture_output=True, text=True, env=environ, timeout=300)
    assert result.returncode == 0, result.stderr
    theirs = json.loads(result.stdout.strip().splitlines()[-1])
    differing = {text: (ours[text], theirs[text]) for text in QUERIES if ours[text] != theirs[text]}
    assert not differing, json.dumps(differing, indent=1)
    assert sum(1 for text in QUERIES if theirs[text]) >= len(QUERIES) - 2
