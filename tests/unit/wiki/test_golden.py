"""Golden cases: wiki text -> the HTML Trac 1.6 renders (checked with tools/trac_oracle.py).

Each ``golden/*.txt`` file holds cases (see the header of any file); the environment holds
the rows of ``golden/fixture.sql`` so that link classes (existing or missing pages, open or
closed tickets, milestones, reports) differ as they do in the oracle's environment.
HTML is compared after normalizing whitespace between tags and attribute order.
"""

from __future__ import annotations

import os
import uuid
from html.parser import HTMLParser

import pytest

from codeyard import cachekeys
from codeyard.env import Environment
from codeyard.perm import PermissionCache, Resource
from codeyard.util.href import Href
from codeyard.wiki.formatter import FormatContext, format_to_html, format_to_oneliner
from tests.support.golden_format import ini_settings, parse_header, read_cases

pytestmark = pytest.mark.db
USE_POSTGRES = os.environ.get("CODEYARD_TEST_DB") == "postgres"

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "golden")
def all_cases():
    found = []
    for name in sorted(os.listdir(GOLDEN)):
        if name.endswith(".txt"):
            for header, text, html in read_cases(os.path.join(GOLDEN, name)):
                case_id, opts = parse_header(header)
                found.append(pytest.param(text, html, opts, id=case_id))
    return found


class _Normalizer(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tokens: list = []

    def handle_starttag(self, tag, attrs):
        cleaned = []
        for key, value in sorted(attrs):
            if key in ("class", "rel"):
                value = " ".join(sorted((value or "").split()))
            elif key == "style":
                value = ";".join("".join(p.split()) for p in (value or "").split(";") if p.strip())
            cleaned.append((key, value))
        self.tokens.append(("start", tag, tuple(cleaned)))

    handle_startendtag = handle_starttag

    def handle_endtag(self, tag):
        self.tokens.append(("end", tag))

    def handle_data(self, data):
        data = " ".join(data.split())
        if data:
            if self.tokens and self.tokens[-1][0] == "text":
                self.tokens[-1] = ("text", self.tokens[-1][1] + " " + data)
            else:
                self.tokens.append(("text", data))

    def handle_comment(self, data):
        self.tokens.append(("comment", " ".join(data.split())))


def normalize(html: str) -> list:
    parser = _Normalizer()
    parser.feed(html)
    parser.close()
    return parser.tokens


@pytest.fixture(scope="module")
def golden_env(tmp_path_factory, request):
    url = "sqlite:db/trac.db"
    if USE_POSTGRES:
        url = request.getfixturevalue("postgres").url(schema="t_" + uuid.uuid4().hex[:12])
    env = Environment.create(str(tmp_path_factory.mktemp("golden") / "p"), [
        ("project", "name", "p"), ("trac", "database", url),
        ("trac", "base_url", "http://example.org/p"),
        ("intertrac", "tr.url", "http://trac.example.org"),
        ("intertrac", "tr.title", "Example Trac"), ("intertrac", "t", "trac"),
    ])
    with open(os.path.join(GOLDEN, "fixture.sql"), encoding="utf-8") as fh:
        statements = [s.strip() for s in fh.read().split("\nINSERT ") if s.strip()]
    with env.db_transaction as db:
        for table in ("wiki", "ticket", "milestone", "report", "attachment"):
            db(f"DELETE FROM {table}")
        for stmt in statements:
            if not stmt.startswith("INSERT "):
                stmt = "INSERT " + stmt
            db(stmt.replace("%", "%%"))
    env.invalidate(cachekeys.WIKI_PAGES, cachekeys.INTERWIKI_MAP)
    yield env
    env.shutdown()


def render(env, text, opts):
    settings = ini_settings(opts)
    if not settings:
        return _render(env, text, opts)
    saved = [(s, o, env.config.get(s, o, None)) for s, o, _v in settings]
    for section, option, value in settings:
        env.config.set(section, option, value)
    env.invalidate(cachekeys.INTERWIKI_MAP)
    try:
        return _render(env, text, opts)
    finally:
        for section, option, value in saved:
            if value is None:
                env.config.remove(section, option)
            else:
                env.config.set(section, option, value)
        env.invalidate(cachekeys.INTERWIKI_MAP)


def _render(env, text, opts):
    realm, _, rid = str(opts.get("page", "wiki:WikiStart")).partition(":")
    perm = PermissionCache(env, "anonymous") if opts.get("perm") == "anonymous" else None
    ctx = FormatContext(env, Href("/p"), perm=perm, resource=Resource(realm, rid))
    if opts.get("flavor") == "oneliner":
        return str(format_to_oneliner(ctx, text, shorten=bool(opts.get("shorten"))))
    return str(format_to_html(ctx, text, escape_newlines=bool(opts.get("newlines"))))


@pytest.mark.parametrize("text,expected,opts", all_cases())
def test_golden(golden_env, text, expected, opts):
    got = render(golden_env, text, opts)
    assert normalize(got) == normalize(expected), f"\n--- got\n{got}\n--- expected\n{expected}"


def test_enough_golden_cases():
    assert len(all_cases()) >= 150
