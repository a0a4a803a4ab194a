"""Rough spans of time as Trac words them (``3 days``, ``2 years``): the unit is the largest
one the span holds at least 1.9 times, the count rounded to the nearest whole one."""

from __future__ import annotations

import functools
import zoneinfo
from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # stored times are microseconds since it


def from_utimestamp(us: int) -> datetime:
    """A stored time (microseconds since the epoch) as an aware datetime, exactly (no
    float on the way)."""
    return EPOCH + timedelta(microseconds=int(us or 0))

UNITS = ((86400 * 365, "year"), (86400 * 30, "month"), (86400 * 7, "week"), (86400, "day"),
         (3600, "hour"), (60, "minute"))


def pretty_timedelta(start: datetime, end: datetime) -> str:
    """``3 days``, ``1 second``: the rough span between two moments."""
    diff = abs(end - start)
    seconds = diff.days * 86400 + diff.seconds
    if seconds <= 60 * 1.9:
        return f"{seconds} second" + ("" if seconds == 1 else "s")
    for size, unit in UNITS:
        ratio = seconds / size
        if ratio >= 1.9:
            count = round(ratio)
            return f"{count} {unit}" + ("" if count == 1 else "s")
    return ""


def utc_text(us: int | None) -> str:
    """A time in microseconds as ``YYYY-MM-DD HH:MM:SS`` in UTC ("" for none), for lists."""
    if not us:
        return ""
    return datetime.fromtimestamp(us / 1_000_000, UTC).strftime("%Y-%m-%d %H:%M:%S")


@functools.cache
def _zones() -> tuple[tuple[str, ...], frozenset[str]]:
    names = zoneinfo.available_timezones()
    return tuple(sorted(names)), frozenset(names)


def time_zone_names() -> list[str]:
    """The IANA time zone names, sorted: read from the zone database once per process (a scan
    of its files that took longer than the whole preferences page)."""
    return list(_zones()[0])


def is_time_zone(name: str) -> bool:
    return name in _zones()[1]
