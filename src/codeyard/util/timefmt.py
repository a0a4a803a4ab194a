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
    return _span_text(diff.days * 86400 + diff.seconds)


def _span_text(seconds: int) -> str:
    if seconds <= 60 * 1.9:
        return f"{seconds} second" + ("" if seconds == 1 else "s")
    for size, unit in UNITS:
        ratio = seconds / size
        if ratio >= 1.9:
            count = round(ratio)
            return f"{count} {unit}" + ("" if count == 1 else "s")
    return ""


def age_changes_at(start: datetime, now: datetime) -> datetime:
    """The first moment after ``now`` at which ``pretty_timedelta(start, moment)`` reads
    differently from ``pretty_timedelta(start, now)``: how long a page showing that age
    may be kept. A moment in the future (a clock set wrong) changes within a second."""
    diff = now - start
    if diff.days < 0:
        return now + timedelta(seconds=1)
    seconds = diff.days * 86400 + diff.seconds
    shown = _span_text(seconds)
    # The text is a step function of whole seconds that never repeats once left: the
    # next step is the nearest of the places where the count rounds up or a larger
    # unit takes over; each is looked for from just below its bound.
    starts = [seconds + 1] if seconds <= 60 * 1.9 else []
    for size, _unit in UNITS:
        ratio = seconds / size
        if ratio >= 1.9:
            starts.append(int((round(ratio) + 0.5) * size) - 2)
            break
        starts.append(int(1.9 * size) - 2)
    best = None
    for begin in starts:
        probe = max(begin, seconds + 1)
        while _span_text(probe) == shown:
            probe += 1
        best = probe if best is None else min(best, probe)
    assert best is not None
    return start + timedelta(seconds=best)


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
