"""The ticket query language: parsing, the ``Query`` object, and running it.

Three spellings reach the same ``Query`` (the behaviour is Trac 1.6's ``Query``):

- ``Query.from_string(env, "status!=closed&owner=$USER&order=priority")``: the language of
  ``query:`` links (the operator may also follow the ``=``: ``status=!closed``);
- ``Query.from_macro(env, "status=new,owner=bob,format=count")``: the ``[[TicketQuery]]``
  arguments (``,`` separates clauses too; defaults ``order=id``, ``max=0``);
- ``Query.from_args(env, pairs)``: the ``/query`` page's URL arguments (``status=!closed``;
  a repeated key OR-s its values).

Constraints are kept as Trac keeps them: a list of clauses (OR-ed), each mapping a field to
its values, every value carrying its operator as a prefix (``"!~foo"``: does not contain
foo). Compiling to SQL lives in ``codeyard.ticket.query_sql``.
"""

from __future__ import annotations

import re
import time as _time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any

from codeyard.config import as_bool
from codeyard.ticket.fields import TicketField, ticket_fields
from codeyard.ticket.model import kept_while_tickets_unchanged
from codeyard.util.timefmt import from_utimestamp

__all__ = ["Query", "QueryError", "parse_query_date", "parse_id_ranges", "split_constraint",
           "read_filter_rows", "filter_modes", "FIELD_SYNONYMS", "DEFAULT_ITEMS_PER_PAGE",
           "MODE_LABELS"]

FIELD_SYNONYMS = {"created": "time", "modified": "changetime"}
DEFAULT_ITEMS_PER_PAGE = 100
MODES = ("~", "^", "$")
SUBSTITUTIONS = ("$USER",)

# The operators the /query form offers for each kind of field, in Trac's order; "is" and
# "is not" are accepted for every kind (the form sends no mode for the others).
_FORM_MODES = {"text": ("~", "!~", "^", "$", "", "!"), "textarea": ("~", "!~"),
               "select": ("", "!"), "id": ("", "!")}
MODE_LABELS = {"~": "contains", "!~": "doesn't contain", "^": "begins with", "$": "ends with",
               "": "is", "!": "is not"}
_ROW_ARG = re.compile(r"(\d+)_(.+)$")
_REMOVE_ARG = re.compile(r"rm_filter_(\d+)_(.+)_(\d+)$")
_ADD_ARG = re.compile(r"add_(\d+)$")

_KW_STRINGS = ("order", "group", "page", "max", "format")
_KW_BOOLS = ("desc", "groupdesc", "verbose")
_CLAUSE_SPLIT = re.compile(r"(?<!\\)&")
_ITEM_SPLIT = re.compile(r"(?<!\\)\|")
_COMMA_SPLIT = re.compile(r"(?<!\\),")


class QueryError(ValueError):
    """A query that cannot be parsed or run, with a message naming the problem."""


def split_constraint(values: list[str]) -> tuple[bool, str, list[str]]:
    """(negated, mode, bare values) of one field's prefixed values; the first value decides
    the operator, as in Trac. ``mode`` is ``""`` (is), ``~``, ``^`` or ``$``."""
    if not values:
        return False, "", []
    first = values[0]
    neg = first.startswith("!")
    mode = ""
    if len(first) > neg and first[neg] in MODES and first[neg:] not in SUBSTITUTIONS:
        mode = first[neg]
    prefix = ("!" if neg else "") + mode
    return neg, mode, [v[len(prefix):] if v.startswith(prefix) else v for v in values]


# -- dates

_ISO_RE = re.compile(r"""
    (\d{4})(?:-?(\d\d)(?:-?(\d\d))?)?
    (?:[T ](\d\d)(?::?(\d\d)(?::?(\d\d)(?:[,.](\d{1,6}))?)?)?)?
    (Z|([-+])(\d\d):?(\d\d)?)?$""", re.VERBOSE)
_OTHER_FORMATS = ("%m/%d/%y %H:%M:%S", "%m/%d/%y", "%b %d, %Y", "%b %d, %Y %H:%M:%S")
_UNITS = {"second": timedelta(seconds=1), "minute": timedelta(minutes=1),
          "hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1),
          "month": timedelta(days=30), "year": timedelta(days=365)}
_UNITS.update({"h": _UNITS["hour"], "d": _UNITS["day"], "w": _UNITS["week"],
               "m": _UNITS["month"], "y": _UNITS["year"]})
_UNIT = r"(second|minute|hour|day|week|month|year|[hdwmy])s?"
_FUTURE_RE = re.compile(r"(?:in|\+)\s*(\d+\.?\d*)\s*" + _UNIT + "$")
_PAST_RE = re.compile(r"(?:-\s*)?(\d+\.?\d*)\s*" + _UNIT + r"\s*(?:ago)?$")
_PERIOD_RE = re.compile(r"(this|last|next)\s*(second|minute|hour|day|week|month|year)$")


def _iso_date(text: str, tz: tzinfo) -> datetime | None:
    m = _ISO_RE.match(text)
    if not m:
        return None
    g = m.groups()
    if g[7]:
        hours, minutes = int(g[9] or 0), int(g[10] or 0)
        if hours >= 24 or minutes >= 60:
            return None
        offset = timedelta(hours=hours, minutes=minutes)
        tz = timezone(-offset if g[8] == "-" else offset) if offset else UTC
    try:
        return datetime(int(g[0]), int(g[1] or 1), int(g[2] or 1), int(g[3] or 0),
                        int(g[4] or 0), int(g[5] or 0), int((g[6] or "0").ljust(6, "0")),
                        tzinfo=tz)
    except ValueError:
        return None


def _period_start(now: datetime, unit: str) -> datetime:
    start = now.replace(microsecond=0)
    if unit == "second":
        return start
    start = start.replace(second=0)
    if unit == "minute":
        return start
    start = start.replace(minute=0)
    if unit == "hour":
        return start
    start = start.replace(hour=0)
    if unit == "week":
        return start - timedelta(days=now.weekday())
    if unit == "month":
        return start.replace(day=1)
    if unit == "year":
        return start.replace(month=1, day=1)
    return start  # day


def _shift_period(start: datetime, unit: str, step: int) -> datetime:
    if unit == "month":
        month = start.month - 1 + step
        return start.replace(year=start.year + month // 12, month=month % 12 + 1)
    if unit == "year":
        return start.replace(year=start.year + step)
    return start + step * _UNITS[unit]


def _relative_date(text: str, now: datetime) -> datetime | None:
    if text == "now":
        return now
    days = {"today": 0, "yesterday": -1, "tomorrow": 1}
    if text in days:
        return _period_start(now, "day") + timedelta(days=days[text])
    for regex, sign in ((_FUTURE_RE, 1), (_PAST_RE, -1)):
        m = regex.match(text)
        if m:
            return now + sign * float(m.group(1)) * _UNITS[m.group(2)]
    m = _PERIOD_RE.match(text)
    if m:
        start = _period_start(now, m.group(2))
        return _shift_period(start, m.group(2), {"this": 0, "last": -1, "next": 1}[m.group(1)])
    return None


def parse_query_date(text: str, now: datetime | None = None, tz: tzinfo | None = None
                     ) -> datetime:
    """A date of a query: ISO 8601 (``2024-05-01``, ``2024-05-01T10:00Z``), a few common
    forms (``05/01/24``, ``May 01, 2024``), or relative to ``now`` (``now``, ``today``,
    ``yesterday``, ``3 weeks ago``, ``1d``, ``in 2 hours``, ``lastmonth``, ``thisyear``…).
    Dates without a zone are in ``tz`` (UTC when not given)."""
    tz = tz or UTC
    text = text.strip()
    result = _iso_date(text, tz)
    if result is None:
        for fmt in _OTHER_FORMATS:
            try:
                result = datetime(*_time.strptime(text, fmt)[:6], tzinfo=tz)  # type: ignore[misc]
                break
            except ValueError:
                continue
    if result is None:
        result = _relative_date(text, now.astimezone(tz) if now else datetime.now(tz))
    if result is None:
        raise QueryError(f'"{text}" is an invalid date, or the date format is not known. '
                         'Try "YYYY-MM-DD", "YYYY-MM-DDThh:mm:ss±hh:mm" or a relative date '
                         'such as "3 weeks ago", "today" or "lastmonth".')
    try:
        result.timestamp()
        datetime.fromtimestamp(result.timestamp(), UTC)
    except (ValueError, OverflowError, OSError):
        raise QueryError(f'the date "{text}" is outside the valid range') from None
    return result


def parse_id_ranges(text: str) -> list[tuple[int, int]]:
    """``"1-5,8"`` -> [(1, 5), (8, 8)], merged and sorted; a bad list raises QueryError."""
    pairs: list[tuple[int, int]] = []
    for part in re.split(",\u200b?", text):
        part = part.strip()
        if not part:
            continue
        try:
            if "-" in part[1:]:
                low, high = (int(x) for x in part.split("-", 1))
            else:
                low = high = int(part)
        except ValueError:
            raise QueryError(f"Invalid ticket id list: {text}") from None
        pairs.append((min(low, high), max(low, high)))
    return merge_ranges(pairs)


def merge_ranges(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Inclusive (low, high) ranges sorted, with overlapping and adjacent ones joined."""
    merged: list[tuple[int, int]] = []
    for low, high in sorted(pairs):
        if merged and low - 1 <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(high, merged[-1][1]))
        else:
            merged.append((low, high))
    return merged


def _split_range(value: str) -> tuple[str, str]:
    if ".." in value:
        start, end = value.split("..", 1)
        return start.strip(), end.strip()
    return value.strip(), ""


# -- the numbered filter rows of the /query form

def filter_modes(kind: str) -> tuple[str, ...]:
    """The operators the /query form offers for a field of this type (none: no select)."""
    return _FORM_MODES.get(kind, ())


def _field_kinds(fields: list[TicketField]) -> dict[str, str]:
    kinds = {f.name: f.type for f in fields}
    kinds["id"] = "id"
    kinds.update((alias, kinds[name]) for alias, name in FIELD_SYNONYMS.items() if name in kinds)
    return kinds


def read_filter_rows(fields: list[TicketField], args: Any
                     ) -> tuple[list[dict[str, list[str]]], list[str]]:
    """The clauses of the form's numbered filter rows, as Trac names them: ``0_status``
    (several values OR-ed), ``0_status_mode`` (the operator), ``0_time`` with
    ``0_time_end`` (a range), ``1_…`` another clause (OR-ed); ``rm_filter_0_owner_1``
    removes a row, ``add_0`` adds a row for the field ``add_filter_0`` (or ``add_clause_0``
    names). Returns the clauses in their numbers' order and the problems found (an unknown
    field, an operator the field does not take): unknown fields are left out, a bad
    operator is read as "is"."""
    kinds = _field_kinds(fields)
    given: dict[str, list[str]] = {}
    for key, value in _pairs(args):
        given.setdefault(key, []).append(value)
    errors: list[str] = []
    removals: dict[str, int] = {}
    added: str | None = None
    for key in given:
        m = _REMOVE_ARG.match(key)
        if m:
            name = m.group(2)
            if name not in kinds:
                errors.append(f"Unknown field {name!r} in the query filters")
            else:  # a status-like field is one row of checkboxes: the whole filter goes
                removals[f"{m.group(1)}_{name}"] = -1 if kinds[name] == "radio" else int(m.group(3))
        elif _ADD_ARG.match(key):
            added = key[len("add_"):]
    clauses: dict[int, dict[str, list[str]]] = {}
    for key, values in given.items():
        m = _ROW_ARG.match(key)
        if not m:
            continue
        number, name = int(m.group(1)), m.group(2)
        if name not in kinds:
            base, _, suffix = name.rpartition("_")
            if not (suffix in ("mode", "end") and base in kinds):
                errors.append(f"Unknown field {name!r} in the query filters")
            continue
        kind = kinds[name]
        mode = given.get(key + "_mode", [""])[0]
        if mode not in filter_modes(kind) + ("", "!"):
            label = MODE_LABELS.get(mode, mode)
            errors.append(f"Invalid operator {label!r} for the field {name!r}")
            mode = ""  # the values still show in the form
        items = [mode + v for v in values]
        ends = given.get(key + "_end") if kind == "time" else None
        if ends:
            items = [start + ".." + end for start, end in zip(items, ends, strict=False)] + \
                items[len(ends):]
        if key in removals:
            index = removals[key]
            if not 0 <= index < len(items):
                continue
            del items[index]
            if not items:
                continue
        clause = clauses.setdefault(number, {})
        clause.setdefault(FIELD_SYNONYMS.get(name, name), []).extend(items)
    if added is not None:
        name = (given.get("add_filter_" + added) or given.get("add_clause_" + added) or [""])[0]
        if name in kinds:
            modes = filter_modes(kinds[name])
            clause = clauses.setdefault(int(added), {})
            clause.setdefault(FIELD_SYNONYMS.get(name, name), []).append(
                modes[0] if modes else "")
        elif name:
            errors.append(f"Unknown field {name!r} in the query filters")
    return [clauses[n] for n in sorted(clauses)], errors


def read_plain_filters(fields: list[TicketField], args: Any) -> list[dict[str, list[str]]]:
    """The clauses of the plain filter arguments (``status=!closed&owner=~bob&or&…``).
    A repeated key OR-s its values; for a select or radio field, ``|`` does too
    (``status=new|assigned``) unless the whole value is one of its options."""
    kinds = _field_kinds(fields)
    options = {f.name: set(f.options) for f in fields if f.type in ("select", "radio")}
    clauses: list[dict[str, list[str]]] = [{}]
    for key, value in _pairs(args):
        if key == "or":
            clauses.append({})
        elif key in kinds:
            name = FIELD_SYNONYMS.get(key, key)
            values = [value]
            if name in options and _ITEM_SPLIT.search(value):
                neg, mode, (bare,) = split_constraint([value])
                if bare not in options[name]:
                    prefix = ("!" if neg else "") + mode
                    values = [prefix + v.replace(r"\|", "|") for v in _ITEM_SPLIT.split(bare)]
            clauses[-1].setdefault(name, []).extend(values)
    return [c for c in clauses if c]


# -- the query

@dataclass(eq=False)
class Query:
    """A parsed ticket query. Build it with ``from_string``, ``from_macro`` or
    ``from_args`` (or directly, with ``fields`` from ``ticket_fields(env)``)."""

    fields: list[TicketField] = field(repr=False)
    constraints: list[dict[str, list[str]]] = field(default_factory=list)
    cols: list[str] = field(default_factory=list)
    order: str | None = None
    desc: bool = False
    group: str | None = None
    groupdesc: bool = False
    rows: list[str] = field(default_factory=list)
    page: Any = None
    max: Any = None
    format: str | None = None
    report: Any = None
    verbose: bool = False
    items_per_page: int = DEFAULT_ITEMS_PER_PAGE
    strict: bool = True
    # set by execute()
    num_items: int | None = field(default=None, repr=False)
    has_more_pages: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        names = {f.name for f in self.fields}
        self.time_fields = {f.name for f in self.fields if f.type == "time"}
        self.custom_fields = {f.name for f in self.fields if f.custom}

        def known(name: str, what: str, allow_id: bool = True) -> bool:
            if name in names or (allow_id and name == "id"):
                return True
            if self.strict:
                raise QueryError(f"Unknown field {name!r} in the query ({what})")
            return False

        if isinstance(self.constraints, dict):
            self.constraints = [self.constraints]
        clauses = []
        for clause in self.constraints:
            kept: dict[str, list[str]] = {}
            for name, values in clause.items():
                name = FIELD_SYNONYMS.get(name, name)
                if known(name, "filter"):
                    kept.setdefault(name, []).extend(
                        [values] if isinstance(values, str) else list(values))
            if kept:
                clauses.append(kept)
        self.constraints = clauses
        self.cols = [c for c in (FIELD_SYNONYMS.get(c, c) for c in self.cols or [])
                     if known(c, "col")]
        self.rows = [r for r in self.rows or [] if known(r, "row", allow_id=False)]
        if self.verbose and "description" not in self.rows:
            self.rows.append("description")
        order = FIELD_SYNONYMS.get(self.order, self.order) if self.order else None
        if not order or not known(order, "order"):
            order = "priority" if "priority" in names else "id"
        self.order = order
        if self.group:
            self.group = FIELD_SYNONYMS.get(self.group, self.group)
            if not known(self.group, "group", allow_id=False):
                self.group = None
        self.group = self.group or None
        self.desc = _flag(self.desc)
        self.groupdesc = _flag(self.groupdesc)
        self.page = _count_arg(self.page or 1, "page", minimum=1)
        if self.max in ("none", ""):
            self.max = 0
        self.max = self.items_per_page if self.max is None else _count_arg(self.max, "max")
        if self.report not in (None, ""):
            try:
                self.report = int(str(self.report).strip())
            except ValueError:
                raise QueryError(f"Query report {self.report} is invalid.") from None
        else:
            self.report = None
        self.offset = self.max * (self.page - 1) if self.max else 0
        self.validate()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Query):
            return NotImplemented
        keys = ("constraints", "cols", "order", "desc", "group", "groupdesc", "rows", "page",
                "max", "format", "report")
        return all(getattr(self, k) == getattr(other, k) for k in keys)

    # -- building

    @classmethod
    def from_string(cls, env, text: str, **kw: Any) -> Query:
        """The language of ``query:`` links: ``field<op>value|value&…``, ``or`` between
        groups, and the keywords ``order``, ``group``, ``max``, ``page``, ``format``,
        ``desc``, ``groupdesc``, ``verbose``, ``col``, ``row``/``rows``, ``report``."""
        constraints: list[dict[str, list[str]]] = [{}]
        cols: list[str] = []
        for clause in _CLAUSE_SPLIT.split(text or ""):
            if clause == "or":
                constraints.append({})
                continue
            if clause == "":
                continue
            parts = clause.replace(r"\&", "&").split("=", 1)
            if len(parts) != 2:
                raise QueryError('Query filter requires field and constraints separated by '
                                 f'a "=": {clause!r}')
            name, values = parts
            mode = ""
            if name and name[-1] in MODES and name not in SUBSTITUTIONS:
                mode, name = name[-1], name[:-1]
            if name and name[-1] == "!":
                mode, name = "!" + mode, name[:-1]
            if not name:
                raise QueryError(f"Query filter requires a field name: {clause!r}")
            name = {"rows": "row"}.get(name, name)
            items = [mode + v.replace(r"\|", "|") for v in _ITEM_SPLIT.split(values)]
            if name in _KW_STRINGS:
                kw[name] = items[0]
            elif name in _KW_BOOLS:
                kw[name] = as_bool(items[0])
            elif name == "row":
                kw.setdefault("rows", []).extend(items)
            elif name == "col":
                cols.extend(items)
            elif name == "report":
                kw["report"] = items[0]
            else:
                constraints[-1].setdefault(name, []).extend(items)
        return cls._make(env, [c for c in constraints if c], cols=cols, **kw)

    @classmethod
    def from_macro(cls, env, content: str) -> Query:
        """The ``[[TicketQuery(…)]]`` arguments: clauses separated by ``,`` (``\\,`` for a
        comma in a value; ``&`` still works), ``or`` between groups, a last bare argument as
        the format; ``order`` defaults to ``id``, ``max`` to 0 (no limit), ``format`` to
        ``list`` (which, like ``compact``, puts status and summary in the columns)."""
        clauses: list[dict[str, str]] = [{}]
        bare: list[str] = []
        kwargs: dict[str, str] = {}
        for arg in _COMMA_SPLIT.split(content or ""):
            arg = arg.replace(r"\,", ",")
            m = re.match(r"\s*[^=]+=", arg)
            if m:
                key, value = arg[:m.end() - 1].strip(), arg[m.end():]
                if key in ("order", "max", "format", "col"):
                    kwargs[key] = value
                else:
                    clauses[-1][key] = value
            elif arg.strip() == "or":
                clauses.append({})
            elif arg.strip():
                bare.append(arg)
        if bare and "format" not in kwargs:
            kwargs["format"] = bare[0]
        kwargs.setdefault("order", "id")
        kwargs.setdefault("max", "0")
        fmt = kwargs.pop("format", "list").strip().lower()
        if fmt in ("list", "compact"):
            kwargs["col"] = "status|summary" + ("|" + kwargs["col"] if "col" in kwargs else "")
        text = "&or&".join("&".join(f"{k}={c[k]}" for k in sorted(c)) for c in clauses if c)
        extra = "&".join(f"{k}={kwargs[k]}" for k in sorted(kwargs))
        query = cls.from_string(env, text + ("&" if text else "") + extra)
        query.format = fmt
        return query

    @classmethod
    def from_args(cls, env, args: Any) -> Query:
        """The ``/query`` page's arguments (a multidict or (key, value) pairs in order):
        first the form's numbered filter rows (see ``read_filter_rows``; each number is a
        clause), then ``status=!closed``, ``owner=~bob``, where a repeated key OR-s its
        values and ``or`` starts a new clause; ``col``, ``row``, ``order``, ``desc``,
        ``group``, ``groupdesc``, ``max``, ``page``, ``verbose``, ``report``, ``format``.
        Other arguments are ignored, and, as in Trac, unknown columns are dropped and an
        unknown order falls back to priority; an unknown field or operator in a numbered
        row raises QueryError."""
        pairs = _pairs(args)
        fields = ticket_fields(env)
        numbered, errors = read_filter_rows(fields, pairs)
        if errors:
            raise QueryError("; ".join(errors))
        # As Trac: the plain arguments start a clause of their own after the form's.
        clauses = [*numbered, *read_plain_filters(fields, pairs)]
        kw: dict[str, Any] = {"cols": [], "rows": []}
        for key, value in pairs:
            if key == "col":
                kw["cols"].append(value)
            elif key == "row":
                kw["rows"].append(value)
            elif key in ("desc", "groupdesc", "verbose"):
                kw[key] = as_bool(value)
            elif key in ("order", "group", "page", "max", "report", "format"):
                kw.setdefault(key, value)
        if kw["cols"] and "id" not in kw["cols"]:
            kw["cols"].insert(0, "id")
        return cls._make(env, [c for c in clauses if c], strict=False, **kw)

    @classmethod
    def _make(cls, env, constraints, **kw: Any) -> Query:
        try:
            per_page = int(env.config.get("query", "items_per_page", str(DEFAULT_ITEMS_PER_PAGE)))
        except (TypeError, ValueError):
            per_page = DEFAULT_ITEMS_PER_PAGE
        kw.setdefault("items_per_page", per_page)
        return cls(ticket_fields(env), constraints, **kw)

    def validate(self, now: datetime | None = None, tz: tzinfo | None = None) -> None:
        """Raise QueryError for a bad id list or date in the constraints."""
        for clause in self.constraints:
            for name, values in clause.items():
                neg, mode, bare = split_constraint(values)
                if name == "id":
                    for v in values:
                        parse_id_ranges(v.replace("!", ""))
                elif name in self.time_fields:
                    for v in bare:
                        for end in _split_range(v):
                            if end and "$USER" not in end:
                                parse_query_date(end, now, tz)

    # -- columns (as the query page shows them)

    def get_all_columns(self) -> list[str]:
        cols = ["id"] + [f.name for f in self.fields if f.type != "textarea"]
        for name in ("reporter", "keywords", "cc"):
            if name in cols:
                cols.remove(name)
                cols.append(name)
        constrained = {name for clause in self.constraints for name in clause}

        def rank(name: str) -> int:
            return {"id": 1, "summary": 2}.get(name, 3 if name in constrained else 4)

        return sorted(cols, key=rank)

    def get_default_columns(self) -> list[str]:
        cols = self.get_all_columns()
        by_field: dict[str, list[list[str]]] = {}
        for clause in self.constraints:
            for name, values in clause.items():
                by_field.setdefault(name, []).append(values)
        # A column pinned to one value by every clause tells nothing: leave it out.
        for name in sorted(by_field):
            if name == "id" or name not in cols:
                continue
            groups = by_field[name]
            if all(len(v) == 1 and v[0] and v[0][0] not in "!~^$" and name not in self.time_fields
                   for v in groups):
                cols.remove(name)
            if name == "status" and "resolution" in cols and \
                    not any("closed" in v for v in groups):
                cols.remove("resolution")
        if self.group in cols:
            cols.remove(self.group)
        cols = cols[:7]
        if self.order not in cols and self.order != self.group:
            cols[-1] = self.order  # type: ignore[assignment]
        return cols

    def get_columns(self) -> list[str]:
        """The columns shown: ``col`` or the defaults, with ``id`` first."""
        cols = list(self.cols) or self.get_default_columns()
        if "id" not in cols:
            cols.insert(0, "id")
        return cols

    # -- serializing

    def to_args(self) -> list[tuple[str, str]]:
        """The ``/query`` URL arguments of this query (the inverse of ``from_args``)."""
        out: list[tuple[str, str]] = []
        for i, clause in enumerate(self.constraints):
            if i:
                out.append(("or", ""))
            out.extend((name, v) for name in sorted(clause) for v in clause[name])
        return out + self._keyword_args()

    def _keyword_args(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        if self.report is not None:
            out.append(("report", str(self.report)))
        if self.group:
            out.append(("group", self.group))
        if self.groupdesc:
            out.append(("groupdesc", "1"))
        if self.max != self.items_per_page:
            out.append(("max", str(self.max)))
        out.append(("order", self.order or "priority"))
        if self.desc:
            out.append(("desc", "1"))
        out.extend(("col", c) for c in self.cols)
        out.extend(("row", r) for r in self.rows)
        if self.page != 1:
            out.append(("page", str(self.page)))
        if self.format:
            out.append(("format", self.format))
        return out

    def to_string(self) -> str:
        """This query in the language of ``from_string`` (``from_string`` reads it back
        to an equal query)."""
        parts: list[str] = []
        for i, clause in enumerate(self.constraints):
            if i:
                parts.append("or")
            for name in sorted(clause):
                # Values are grouped by their own operator, so that every stored value
                # reads back as it was (the first one's operator rules the SQL).
                runs: list[tuple[str, list[str]]] = []
                for value in clause[name]:
                    neg, mode, (bare,) = split_constraint([value])
                    op = ("!" if neg else "") + mode
                    if runs and runs[-1][0] == op:
                        runs[-1][1].append(bare)
                    else:
                        runs.append((op, [bare]))
                parts.extend(name + op + "=" + "|".join(_escape(v) for v in values)
                             for op, values in runs)
        for key, value in self._keyword_args():
            if key not in ("col", "row"):
                parts.append(f"{key}={_escape(value)}")
        if self.cols:
            parts.append("col=" + "|".join(self.cols))
        if self.rows:
            parts.append("row=" + "|".join(self.rows))
        return "&".join(parts)

    # -- running

    def get_sql(self, env, user: str | None = None, now: datetime | None = None,
                tz: tzinfo | None = None) -> tuple[str, list[Any]]:
        """(sql, params) selecting the matching tickets in order (no paging)."""
        from codeyard.ticket.query_sql import compile_query

        with env.db_query as db:
            return compile_query(self, db, user=user, now=now, tz=tz)

    def count(self, env, user: str | None = None, now: datetime | None = None,
              tz: tzinfo | None = None) -> int:
        """How many tickets match (every page)."""
        from codeyard.ticket.query_sql import compile_count

        with env.db_query as db:
            sql, params = compile_count(self, db, user=user, now=now, tz=tz)
            return int(db(sql, params)[0][0])

    def execute(self, env, user: str | None = None, now: datetime | None = None,
                tz: tzinfo | None = None) -> list[dict[str, Any]]:
        """The tickets of the current page, each a dict of the selected columns (``id``,
        the shown and constrained fields, custom ones included; times as UTC datetimes,
        checkboxes as booleans, missing values as ``""``). Sets ``num_items`` and
        ``has_more_pages``."""
        from codeyard.ticket.query_sql import compile_count, compile_query

        with env.db_query as db:
            count_sql, count_params = compile_count(self, db, user=user, now=now, tz=tz)

            def read() -> tuple:
                num_items = int(db(count_sql, count_params)[0][0])
                has_more = bool(self.max) and num_items > self.max
                limit = self.max if has_more else None
                if limit and num_items and self.offset >= num_items:
                    raise QueryError(f"Page {self.page} is beyond the number of pages in the query")
                sql, params = compile_query(self, db, user=user, now=now, tz=tz,
                                            limit=limit, offset=self.offset if limit else 0)
                return (num_items, has_more, *db.cursor_description(sql, params))

            # Relative dates ("1weekago") name another moment at every call: such queries
            # are run each time; the others are kept while the tickets are as they were.
            if any(name in self.time_fields for clause in self.constraints for name in clause):
                found = read()
            else:
                key = ("query", count_sql, tuple(count_params), self.to_string(),
                       tuple(self.get_columns()), self.order, self.desc, self.group,
                       self.groupdesc, self.max, self.offset)
                found = kept_while_tickets_unchanged(env, db, key, read)
            self.num_items, self.has_more_pages, names, rows = found
        return self._items(names, rows)

    def _items(self, names, rows) -> list[dict[str, Any]]:
        kinds = {f.name: f.type for f in self.fields}
        results = []
        for row in rows:
            item: dict[str, Any] = {}
            for name, value in zip(names, row, strict=True):
                if name == "reporter":
                    value = value or "anonymous"
                elif name == "id":
                    value = int(value)
                elif name in self.time_fields:
                    value = _from_utimestamp(value)
                elif kinds.get(name) == "checkbox":
                    value = as_bool(value)
                elif value is None:
                    value = ""
                item[name] = value
            results.append(item)
        return results


def _from_utimestamp(value: Any) -> datetime | None:
    try:
        micro = int(value)
    except (TypeError, ValueError):
        return None
    if not micro:
        return None
    return from_utimestamp(micro)


def _escape(value: str) -> str:
    return value.replace("&", r"\&").replace("|", r"\|")


def _flag(value: Any) -> bool:
    return value if isinstance(value, bool) else as_bool(value)


def _count_arg(value: Any, what: str, minimum: int = 0) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        number = -1
    if number < minimum:
        raise QueryError(f"Query {what} {value} is invalid.")
    return number


def _pairs(args: Any) -> list[tuple[str, str]]:
    if hasattr(args, "items") and callable(args.items):
        try:
            return [(str(k), str(v)) for k, v in args.items(multi=True)]
        except TypeError:
            pass
    if isinstance(args, Mapping):
        out: list[tuple[str, str]] = []
        for k, v in args.items():
            out.extend((k, x) for x in ([v] if isinstance(v, str) else v))
        return out
    if isinstance(args, str):
        from urllib.parse import parse_qsl

        return parse_qsl(args.lstrip("?"), keep_blank_values=True)
    return [(str(k), str(v)) for k, v in args]
