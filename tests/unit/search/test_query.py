"""The search query language: words, -exclusions, "phrases", and what reaches the engines."""

from __future__ import annotations

import random
import sqlite3

import pytest

from codeyard.search.query import Term, fts5_match, parse_query, tokens, tsquery_sql


def test_words_are_lower_cased_and_split_on_punctuation():
    assert tokens("Foo-Bar_baz É2") == ["foo", "bar", "baz", "é2"]
    query = parse_query("Crash foo-bar")
    assert query.terms == [Term(("crash",)), Term(("foo", "bar"))]


def test_exclusions_and_phrases():
    query = parse_query('alpha -beta "gamma  delta" -"eps zeta"')
    assert query.included == [Term(("alpha",)), Term(("gamma", "delta"), quoted=True)]
    assert query.excluded == [Term(("beta",), exclude=True),
                              Term(("eps", "zeta"), exclude=True, quoted=True)]
    assert query.words == ["alpha", "gamma", "delta"]


def test_an_unclosed_quote_runs_to_the_end_and_empty_terms_vanish():
    query = parse_query('"open phrase here')
    assert query.terms == [Term(("open", "phrase", "here"), quoted=True)]
    assert not parse_query('"" - -- ** ;').terms
    assert not parse_query("-only")  # nothing to include: no search
    assert parse_query("a a A").terms == [Term(("a",))]


def test_fts5_expression_quotes_every_token():
    assert fts5_match(parse_query('alpha "b c" -d')) == '("alpha" AND "b c") NOT "d"'
    assert fts5_match(parse_query("x")) == '"x"'


def test_tsquery_binds_every_term():
    sql, params = tsquery_sql(parse_query('alpha "b c" -d'))
    assert params == ["alpha", "b c", "d"]
    assert "%s" in sql and "alpha" not in sql
    assert sql.count("!!") == 1


@pytest.fixture
def fts():
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(title, body, tokenize='unicode61')")
    db.executemany("INSERT INTO t VALUES (?, ?)", [
        ("the quick fox", "jumps over"), ("slow fox", "quick brown dog"),
        ("AND OR NOT", "NEAR column: title"),
    ])
    yield db
    db.close()


def _match(db, text):
    query = parse_query(text)
    if not query:
        return []
    return sorted(r[0] for r in db.execute("SELECT title FROM t WHERE t MATCH ?",
                                           (fts5_match(query),)))


def test_queries_run_on_fts5(fts):
    assert _match(fts, "quick fox") == ["slow fox", "the quick fox"]
    assert _match(fts, '"quick fox"') == ["the quick fox"]
    assert _match(fts, "fox -dog") == ["the quick fox"]
    # FTS5's own operators are plain words to us
    assert _match(fts, "AND OR") == ["AND OR NOT"]
    assert _match(fts, "NEAR title:") == ["AND OR NOT"]
    assert _match(fts, "column:title") == ["AND OR NOT"]


def test_random_punctuation_never_breaks_the_expression(fts):
    rng = random.Random(13)
    alphabet = list("\"'-+*:^()[]{}!&|<>~?.,;/\\@#$%=_ ") + ["quick", "fox", "NOT", "AND",
                                                             "NEAR", "é", "\x00", "日本"]
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
        _match(fts, text)  # an error of FTS5 would raise here
