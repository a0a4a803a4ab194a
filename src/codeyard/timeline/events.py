"""What the providers of timeline events share: microseconds, and messages rendered at once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup

from codeyard.perm import Resource
from codeyard.wiki.api import format_context
from codeyard.wiki.formatter import format_many
from codeyard.wiki.render_cache import render_texts_html


def to_us(moment: datetime) -> int:
    """An aware datetime as microseconds since the epoch (how the tables store time)."""
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(us: int | None) -> datetime:
    return datetime.fromtimestamp((us or 0) / 1_000_000, UTC)


def render_texts(req, events: list, full: bool, shorten: bool = True) -> None:
    """Give each event with a ``text`` its description: one-liners for the page
    (``shorten``ed to their first line when asked), the whole text with absolute links for a
    feed. All texts render together, each in its own resource's context."""
    pending = [e for e in events if e.text]
    resources = [e.resource or Resource("timeline") for e in pending]

    def each_context(first) -> list:
        """Each text's own context: needed only to render (kept texts are not)."""
        head = resources[0]
        contexts: dict[tuple, Any] = {(head.realm, head.id, head.version): first}
        for resource in resources:
            key = (resource.realm, resource.id, resource.version)
            if key not in contexts:
                contexts[key] = format_context(req, resource, absurls=full)
        return [contexts[(r.realm, r.id, r.version)] for r in resources]

    rendered: list[Markup] = []
    if pending:
        texts = [e.text for e in pending]
        first = format_context(req, resources[0], absurls=full)
        rendered = render_texts_html(
            first, "full" if full else "shortened" if shorten else "oneliner", texts,
            lambda: format_many(first, texts, oneliner=not full,
                                shorten=shorten and not full, contexts=each_context(first)),
            resources=resources)
    for event, html in zip(pending, rendered, strict=True):
        event.description = Markup("%s: %s") % (event.prefix, html) if event.prefix else html
    for event in events:
        if event.prefix and not event.text and not event.description:
            event.description = event.prefix
