"""Hooks of the timeline, and the event they return.

A feature shows its changes in ``/timeline`` by offering filters (the kinds of event a
reader may pick) and the events of a period for the filters the reader picked. The
timeline itself knows no feature: wiki pages, tickets, changesets and attachments are
plugins on these hooks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from markupsafe import Markup

from codeyard.core import hookspec


@hookspec
def timeline_filters(req):
    """Return [(name, label, checked_by_default)]: the kinds of event this request's user may see."""


@hookspec
def timeline_events(req, start, stop, filters, limit):
    """Return TimelineEvent objects with start <= date < stop (aware datetimes) for the picked filters.

    ``limit`` (None: no limit) is how many of the newest events the page still needs: a
    provider may return only its newest ``limit`` events of the period (all of them when
    it has fewer), or more. An implementation may leave the argument out."""


@dataclass
class TimelineEvent:
    """One line of the timeline. ``kind`` is its CSS class (``newticket``, ``wiki``,
    ``changeset``…), ``filter`` the filter it is shown under; ``title`` and
    ``description`` are HTML; ``date`` is an aware datetime.

    A provider may give ``text`` (wiki text: a comment, a commit message) instead of a
    description, with the ``resource`` it belongs to (relative links such as
    ``comment:3`` resolve against it) and an optional HTML ``prefix``: the timeline renders
    every event's text at once, as a one-liner on the page (shortened unless
    ``[timeline] abbreviated_messages`` is off) and in full in the feed."""

    kind: str
    date: datetime
    author: str
    title: Markup
    href: str
    description: Markup = Markup()
    filter: str = ""
    text: str = ""
    resource: Any = None
    prefix: Markup = Markup()
    project: str = ""  # the project's name, in a site's combined timeline
