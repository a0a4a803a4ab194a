"""Hooks of the search, and the documents providers give it.

A feature is searchable by offering sources (``wiki``, ``ticket``…: the filters of
``/search``), the documents of its sources for the index, a cheap stamp per source (so
writes the index did not see, by a Trac beside us, are caught up), and the links and
titles of the hits a reader may see. The search itself knows no feature.
"""

from __future__ import annotations

from dataclasses import dataclass

from codeyard.core import hookspec


@hookspec
def search_sources(req):
    """Return [(name, label, checked_by_default)]: the sources this request's user may search."""


@hookspec
def search_stamps(env, db):
    """Return {source: (count, newest time in µs)} for the sources this plugin indexes (cheap queries)."""


@hookspec
def search_documents(env, source, since):
    """Return SearchDocument objects of ``source`` (when it is this plugin's) changed at or after ``since`` (µs; None: all)."""


@hookspec
def search_visible(req, hits):
    """Return the hits of this plugin's sources the reader may see (all hits of the query are given)."""


@hookspec
def search_results(req, hits):
    """Return [(hit, href, title)] for the hits of this plugin's sources (visible ones, of the page shown)."""


@dataclass
class SearchDocument:
    """What the index holds of one resource: ``title`` weighs more than ``body``; ``time``
    in µs is when it last changed; ``parent`` tells apart ids of different repositories."""

    source: str
    id: str
    title: str
    body: str
    author: str = ""
    time: int = 0
    parent: str = ""


@dataclass
class SearchHit:
    """A document the query matched, with its rank (higher is better); ``body`` is filled
    for the hits shown only."""

    source: str
    id: str
    parent: str
    title: str
    body: str
    author: str
    time: int
    score: float
    docid: int = 0
