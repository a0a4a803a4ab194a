"""RSS 2.0 feeds: one place that writes a channel and its items, escaped."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime as rfc2822

from markupsafe import escape
from werkzeug.wrappers import Response

__all__ = ["FeedItem", "rss_response"]


@dataclass
class FeedItem:
    """One item. ``description`` is HTML (sent escaped, as RSS readers expect); ``guid``
    defaults to the link, ``permalink`` says whether the guid is a URL to open; ``date``
    is a datetime or microseconds since the epoch."""

    title: str
    link: str | None = None
    guid: str | None = None
    permalink: bool = False
    author: str | None = None
    date: datetime | int | None = None
    description: str = ""

    def xml(self) -> str:
        parts = [f"<title>{escape(self.title)}</title>"]
        if self.link:
            parts.append(f"<link>{escape(self.link)}</link>")
        guid = self.guid or self.link
        if guid:
            parts.append(f'<guid isPermaLink="{"true" if self.permalink else "false"}">'
                         f"{escape(guid)}</guid>")
        if self.author:
            parts.append(f"<dc:creator>{escape(self.author)}</dc:creator>")
        moment = self.date
        if isinstance(moment, int):
            moment = datetime.fromtimestamp(moment / 1_000_000, UTC)
        if moment is not None:
            parts.append(f"<pubDate>{rfc2822(moment.astimezone(UTC), usegmt=True)}</pubDate>")
        if self.description:
            parts.append(f"<description>{escape(self.description)}</description>")
        return "<item>" + "".join(parts) + "</item>"


def rss_response(title: str, link: str, description: str, items: list[FeedItem]) -> Response:
    body = ('<?xml version="1.0" encoding="utf-8"?>\n'
            '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
            f"<title>{escape(title)}</title><link>{escape(link)}</link>"
            f"<description>{escape(description)}</description>"
            + "".join(item.xml() for item in items) + "</channel></rss>\n")
    return Response(body, content_type="application/rss+xml; charset=utf-8")
