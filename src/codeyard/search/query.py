"""The search query language, as Trac's and a little more: words are ANDed, ``-word``
excludes, ``"a phrase"`` matches words in a row. A query compiles to terms of plain
tokens; the index turns each into its engine's syntax itself, so no user text ever
reaches FTS5 or tsquery syntax."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Letters and digits, as SQLite's unicode61 tokenizer and PostgreSQL's parser split text.
_TOKEN = re.compile(r"[^\W_]+")
_TERM = re.compile(r'(-?)(?:"([^"]*)"?|(\S+))')


def tokens(text: str) -> list[str]:
    """The words of ``text``, lower-cased: what the index stores and matches."""
    return [t.casefold() for t in _TOKEN.findall(text or "")]


@dataclass(frozen=True)
class Term:
    """Words that must follow one another (one word, or a phrase); ``exclude`` for ``-``."""

    words: tuple[str, ...]
    exclude: bool = False
    quoted: bool = False


@dataclass
class SearchQuery:
    text: str
    terms: list[Term] = field(default_factory=list)

    @property
    def included(self) -> list[Term]:
        return [t for t in self.terms if not t.exclude]

    @property
    def excluded(self) -> list[Term]:
        return [t for t in self.terms if t.exclude]

    @property
    def words(self) -> list[str]:
        """The words to highlight in excerpts."""
        seen: list[str] = []
        for term in self.included:
            for word in term.words:
                if word not in seen:
                    seen.append(word)
        return seen

    def __bool__(self) -> bool:
        return bool(self.included)


def parse_query(text: str) -> SearchQuery:
    """``q`` as terms. Punctuation splits words (``foo-bar`` is the phrase "foo bar"); a term
    with no letters or digits is dropped; an unclosed quote runs to the end."""
    query = SearchQuery(text or "")
    seen: set[Term] = set()
    for match in _TERM.finditer(text or ""):
        minus, phrase, word = match.groups()
        quoted = phrase is not None
        words = tuple(tokens(phrase if quoted else word))
        if not words:
            continue
        term = Term(words, exclude=bool(minus), quoted=quoted)
        if term not in seen:
            seen.add(term)
            query.terms.append(term)
    return query


def fts5_match(query: SearchQuery) -> str:
    """The FTS5 MATCH expression of ``query`` (which has included terms): every token in
    double quotes (a string there is a phrase), terms joined by AND, exclusions by NOT."""
    def quoted(term: Term) -> str:
        return '"' + " ".join(w.replace('"', '""') for w in term.words) + '"'

    expr = " AND ".join(quoted(t) for t in query.included)
    if query.excluded:
        expr = f"({expr})" + "".join(f" NOT {quoted(t)}" for t in query.excluded)
    return expr


def tsquery_sql(query: SearchQuery) -> tuple[str, list[str]]:
    """A PostgreSQL tsquery expression of ``query`` with each term a bound parameter
    (``phraseto_tsquery``), combined by ``&&`` and ``!!``."""
    parts = []
    params = []
    for term in query.included:
        parts.append("phraseto_tsquery('simple', %s)")
        params.append(" ".join(term.words))
    for term in query.excluded:
        parts.append("(!! phraseto_tsquery('simple', %s))")
        params.append(" ".join(term.words))
    return "(" + " && ".join(parts) + ")", params
