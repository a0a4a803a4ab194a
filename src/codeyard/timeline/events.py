"""What the providers of timeline events share: microseconds, and messages rendered at once."""

from __future__ import annotations

from datetime import UTC, datetime

from markupsafe import Markup

from codeyard.perm import Resource
from codeyard.wiki.api import format_context
from codeyard.wiki.formatter import format_many


def to_us(moment: datetime) -> int:
    """An aware datetime as microseconds since the epoch (how the tables store time)."""
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(us: int | None) -> datetime:
    return datetime.fromtimestamp((us or 0) / 1_000_000, UTC)


def one_liners(req, texts: list[str], resource: Resource | None = None) -> list[Markup]:
    """Wiki texts (comments, commit messages) as shortened one-liners, rendered together
    (one set of look-ups for every ticket or changeset they mention)."""
    if not texts:
        return []
    ctx = format_context(req, resource or Resource("timeline"))
    return format_many(ctx, texts, oneliner=True, shorten=True)
