"""The admin command framework behind ``codeyard admin ENV …`` (Trac's trac-admin set).

Feature plugins contribute commands through the ``admin_commands`` hook. A command raises
``AdminCommandError`` with a one-line message for bad input; the console prints it as
``Error: …`` and exits with status 2, as trac-admin does.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from codeyard.core import hookspec


@hookspec
def admin_commands():
    """Return AdminCommand objects this plugin adds to `codeyard admin`."""


class AdminCommandError(Exception):
    """Bad input for an admin command; the message names the problem."""

    def __init__(self, message: str, show_usage: bool = False, command: str | None = None):
        super().__init__(message)
        self.show_usage = show_usage
        self.command = command


@dataclass
class AdminCommand:
    name: str  # words, e.g. "permission add"
    args: str  # usage, e.g. "<user> <action> [action] [...]"
    doc: str
    execute: Callable[..., Any]  # execute(ctx, *args)
    complete: Callable[..., list[str]] | None = None  # complete(ctx, args) -> candidates
    needs_env: bool = True
    min_args: int | None = None
    max_args: int | None = None  # None: unlimited

    @property
    def words(self) -> list[str]:
        return self.name.split()

    def usage(self) -> str:
        return f"{self.name} {self.args}".rstrip()

    def arg_bounds(self) -> tuple[int, int | None]:
        """Argument counts derived from the usage text unless given."""
        required = optional = 0
        unlimited = False
        for token in self.args.split():
            if token.startswith("<"):
                required += 1
            elif token.startswith("["):
                if "..." in token:
                    unlimited = True
                else:
                    optional += 1
            elif "|" in token and not token.startswith("["):
                required += 1
        low = self.min_args if self.min_args is not None else required
        high = self.max_args if self.max_args is not None else (None if unlimited else required + optional)
        return low, high


def write_new_file(path: str, write: Callable[[Any], None]) -> None:
    """Create ``path`` (it must not exist yet) and fill it with ``write(binary_file)``; on any
    failure remove what was written, so no half-written file is left."""
    try:
        fh = open(path, "xb")
    except FileExistsError:
        raise AdminCommandError(f"File '{path}' exists") from None
    except OSError as exc:
        raise AdminCommandError(f"cannot write '{path}': {exc.strerror}") from None
    try:
        with fh:
            write(fh)
    except BaseException as exc:
        os.unlink(path)
        if isinstance(exc, OSError):
            raise AdminCommandError(f"cannot write '{path}': {exc.strerror}") from None
        raise


class AdminContext:
    """What a command gets: the environment path (opened on first use) and output."""

    def __init__(self, env_path: str | None, out=None, err=None, interactive: bool = False):
        self.env_path = env_path
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.interactive = interactive
        self._env = None

    @property
    def env(self):
        if self._env is None:
            from codeyard.env import EnvironmentError_, open_environment

            if not self.env_path:
                raise AdminCommandError("no environment given")
            try:
                self._env = open_environment(self.env_path, use_cache=False)
            except EnvironmentError_ as exc:
                raise AdminCommandError(str(exc)) from None
        return self._env

    def opened_env(self):
        return self._env

    def ready_env(self):
        """The environment, refusing one whose schema must be upgraded first."""
        from codeyard.env import EnvironmentError_

        env = self.env
        try:
            env.check_ready()
        except EnvironmentError_ as exc:
            raise AdminCommandError(str(exc)) from None
        return env

    def print(self, *parts: Any) -> None:
        print(*parts, file=self.out)

    def print_table(self, rows: Sequence[Sequence[Any]], headers: Sequence[str] | None = None) -> None:
        """Columns separated by two spaces, a dashed line under the headers (trac-admin's shape)."""
        text_rows = [[_cell(c) for c in row] for row in rows]
        if headers:
            text_rows.insert(0, list(headers))
        if not text_rows:
            self.print()
            return
        ncols = max(len(r) for r in text_rows)
        widths = [0] * ncols
        for row in text_rows:
            for i, cell in enumerate(row):
                widths[i] = max(widths[i], max((len(line) for line in cell.split("\n")), default=0))
        self.print()
        for n, row in enumerate(text_rows):
            cells = [cell.ljust(widths[i]) if i < ncols - 1 else cell for i, cell in enumerate(row)]
            self.print("  ".join(cells))
            if n == 0 and headers:
                self.print("-" * (sum(widths) + 2 * (ncols - 1)))
        self.print()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


# ---------------------------------------------------------------------------
# Date arguments and output, as trac-admin takes and prints them

def parse_date(text: str, tz=None) -> int:
    """A date argument (ISO 8601, 'now', or 'YYYY-MM-DD[ HH:MM[:SS]]') to microseconds."""
    value = text.strip()
    if not value:
        raise AdminCommandError("empty date")
    if value.lower() == "now":
        return to_utimestamp(datetime.now(UTC))
    relative = _parse_relative(value.lower(), tz or _local_tz())
    if relative is not None:
        return to_utimestamp(relative)
    candidates = [value, value.replace(" ", "T")]
    for candidate in candidates:
        try:
            dt = datetime.fromisoformat(candidate.replace("Z", "+00:00"))
        except ValueError:
            continue
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=tz or _local_tz())
        return to_utimestamp(dt)
    for fmt in ("%m/%d/%y", "%m/%d/%Y", "%b %d, %Y", "%d %b %Y"):
        try:
            dt = datetime.strptime(value, fmt).replace(tzinfo=tz or _local_tz())
            return to_utimestamp(dt)
        except ValueError:
            continue
    raise AdminCommandError(
        f'"{text}" is an invalid date, or the date format is not known. '
        'Try "YYYY-MM-DD" or "YYYY-MM-DDThh:mm:ss±hh:mm" instead.'
    )


_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400,
          "month": 30 * 86400, "year": 365 * 86400,
          "h": 3600, "d": 86400, "w": 7 * 86400, "m": 30 * 86400, "y": 365 * 86400}
_UNIT_RE = r"(second|minute|hour|day|week|month|year|[hdwmy])s?"
_FUTURE_RE = re.compile(r"(?:in|\+)\s*(\d+\.?\d*)\s*" + _UNIT_RE + r"$")
_PAST_RE = re.compile(r"(?:-\s*)?(\d+\.?\d*)\s*" + _UNIT_RE + r"\s*(?:ago)?$")
_PERIOD_RE = re.compile(r"(this|last|next)\s*(second|minute|hour|day|week|month|year)$")


def _period_start(now: datetime, unit: str, shift: int) -> datetime:
    """Start of the current ``unit`` (day, week, month…) moved by ``shift`` units."""
    if unit == "year":
        return now.replace(year=now.year + shift, month=1, day=1, hour=0, minute=0, second=0,
                           microsecond=0)
    if unit == "month":
        months = now.year * 12 + now.month - 1 + shift
        return now.replace(year=months // 12, month=months % 12 + 1, day=1, hour=0, minute=0,
                           second=0, microsecond=0)
    start = now.replace(microsecond=0)
    if unit != "second":
        start = start.replace(second=0)
    if unit in ("hour", "day", "week"):
        start = start.replace(minute=0)
    if unit in ("day", "week"):
        start = start.replace(hour=0)
    if unit == "week":
        start -= timedelta(days=now.weekday())
    return start + timedelta(seconds=_UNITS[unit] * shift)


def _parse_relative(text: str, tz) -> datetime | None:
    """Relative dates as Trac accepts them: today, yesterday, 3 days ago, in 2w, last month…"""
    now = datetime.now(tz)
    named = {"today": 0, "yesterday": -1, "tomorrow": 1}
    if text in named:
        return _period_start(now, "day", named[text])
    match = _FUTURE_RE.match(text)
    if match:
        return now + timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])
    match = _PAST_RE.match(text)
    if match:
        return now - timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])
    match = _PERIOD_RE.match(text)
    if match:
        return _period_start(now, match.group(2), {"this": 0, "last": -1, "next": 1}[match.group(1)])
    return None


def _local_tz():
    return datetime.now().astimezone().tzinfo


def to_utimestamp(dt: datetime) -> int:
    delta = dt.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_utimestamp(ts: int | None) -> datetime | None:
    if not ts:
        return None
    return datetime.fromtimestamp(ts / 1_000_000, UTC)


def format_date(ts: int | None) -> str:
    dt = from_utimestamp(ts)
    return dt.astimezone(_local_tz()).strftime("%Y-%m-%d") if dt else ""


def format_datetime(ts: int | None) -> str:
    dt = from_utimestamp(ts)
    return dt.astimezone(_local_tz()).strftime("%Y-%m-%d %H:%M:%S") if dt else ""


def path_candidates(prefix: str, dirs_only: bool = False) -> list[str]:
    """Completions of a file or directory path typed so far (directories end with a slash)."""
    directory, start = os.path.split(prefix)
    try:
        entries = os.listdir(directory or ".")
    except OSError:
        return []
    out = []
    for entry in entries:
        if not entry.startswith(start):
            continue
        full = os.path.join(directory, entry)
        if os.path.isdir(full):
            out.append(full + os.sep)
        elif not dirs_only:
            out.append(full)
    return sorted(out)
