"""SQL reports: the ``report`` table, running a report's SQL safely, and shaping the result.

A report's SQL may name variables ``$NAME`` (upper case); their values come from the URL's
upper-case arguments, ``$USER`` is the viewer, and a ``-- NAME = value`` comment line gives
a default. Each variable becomes a bound parameter, never text pasted into the SQL (inside a
string literal the literal is split and concatenated around the parameter).

The SQL runs in a read-only scope with a time limit (``[report] timeout``), as one statement;
whatever it tries, the transaction is rolled back. A failure is a ``ReportError`` carrying
the database's message and the SQL that was run.

Column names steer the presentation as in Trac: ``__group__`` starts a group of rows,
``__color__`` (1-5), ``__style__``, ``__class__``, ``__fgcolor__``, ``__bgcolor__`` and
``__grouplink__`` style rows and are not shown; ``_col`` is hidden, ``col_`` ends a row
and ``_col_`` takes a full-width row of its own.
"""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from codeyard.config import IntOption
from codeyard.ticket.model import kept_while_tickets_unchanged

ITEMS_PER_PAGE = IntOption("report", "items_per_page", 100,
                           "Rows shown per page of a report (0: all).")
ITEMS_PER_PAGE_RSS = IntOption("report", "items_per_page_rss", 0,
                               "Rows in a report's RSS feed (0: all).")
TIMEOUT = IntOption("report", "timeout", 30,
                    "Seconds a report's SQL may run before it is stopped (0: no limit).")

SORT_COLUMN = "@SORT_COLUMN@"
LIMIT_OFFSET = "@LIMIT_OFFSET@"

# Columns that style a row instead of being shown.
ROW_COLUMNS = frozenset({"__class__", "__style__", "__color__", "__fgcolor__", "__bgcolor__",
                         "__grouplink__"})
TIME_COLUMNS = frozenset({"time", "changetime", "created", "modified", "date", "datetime"})

_VAR_RE = re.compile(r"\$([A-Z_][A-Z0-9_]*)")
_DEFAULT_RE = re.compile(r"^\s*--\s*(\w*)[ ]*=[ ]*([^\r\n]*)\r?$", re.MULTILINE)
_LITERAL_SPLIT_RE = re.compile(r"('(?:[^']|'')*')")
# Comments, string literals, quoted names and parenthesised groups: what hides inside them
# is not part of the statement's top level.
_MASK_RE = re.compile(r"""
      --[^\n]*
    | /\*.*?\*/
    | '(?:[^']|'')*'
    | "(?:[^"]|"")*"
    | \([^()]*\)
""", re.VERBOSE | re.DOTALL)
_ORDER_BY_RE = re.compile(r"ORDER\s+BY")


class ReportError(Exception):
    """A report that cannot run: the message to show and the SQL that failed."""

    def __init__(self, message: str, sql: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.sql = sql


# ---------------------------------------------------------------------------
# The report table


@dataclass
class Report:
    id: int
    author: str
    title: str
    query: str
    description: str


def _report(row) -> Report:
    id_, author, title, query, description = row
    return Report(int(id_), author or "", title or "", query or "", description or "")


def reports(env, sort: str = "id", asc: bool = True) -> list[Report]:
    """Every report, by number (or by title with ``sort='title'``)."""
    column = "title" if sort == "title" else "id"
    with env.db_query as db:
        rows = db(f"SELECT id, author, title, query, description FROM report "
                  f"ORDER BY {column} {'ASC' if asc else 'DESC'}")
    return [_report(r) for r in rows]


def get_report(env, report_id: int) -> Report | None:
    with env.db_query as db:
        rows = db("SELECT id, author, title, query, description FROM report WHERE id=%s",
                  (int(report_id),))
    return _report(rows[0]) if rows else None


def create_report(env, title: str, query: str, description: str = "", author: str = "") -> int:
    with env.db_transaction as db:
        db("INSERT INTO report (author, title, query, description) VALUES (%s, %s, %s, %s)",
           (author, title, query, description))
        return db.last_id("report")


def update_report(env, report_id: int, title: str, query: str, description: str) -> bool:
    with env.db_transaction as db:
        count = db.execute_rowcount(
            "UPDATE report SET title=%s, query=%s, description=%s WHERE id=%s",
            (title, query, description, int(report_id)))
    return count > 0


def delete_report(env, report_id: int) -> bool:
    with env.db_transaction as db:
        count = db.execute_rowcount("DELETE FROM report WHERE id=%s", (int(report_id),))
    return count > 0


# ---------------------------------------------------------------------------
# Saved queries and variables


def saved_query_target(sql: str, report_id: int) -> str | None:
    """For a report that is a saved ticket query, the query it stands for: ``?args`` (a
    query string, with ``report=N`` added) or ``query:…`` (TracQuery syntax); else None."""
    text = "".join(line.strip() for line in (sql or "").splitlines())
    if not text:
        return None
    if text.startswith("?") or text.startswith("query:?"):
        query = text if text.startswith("?") else text[len("query:"):]
        if "report=" not in query:
            query += ("" if query.endswith(("?", "&")) else "&") + f"report={report_id}"
        return query
    if text.startswith("query:"):
        return text
    return None


def var_args(args: Mapping[str, Any], user: str) -> dict[str, str]:
    """The report variables of a request: its upper-case arguments, and USER."""
    values = {name: str(value) for name, value in args.items() if name.isupper()}
    values.setdefault("USER", user)
    return values


def apply_defaults(sql: str, values: dict[str, str]) -> None:
    """Take ``-- NAME = value`` comment lines as defaults of variables not given."""
    for match in _DEFAULT_RE.finditer(sql):
        if match.group(1):
            values.setdefault(match.group(1), match.group(2))


def substitute(sql: str, values: Mapping[str, str], dialect: str) -> tuple[str, list[str], list[str]]:
    """(SQL with placeholders, parameters, names of variables without a value).

    The placeholders are the driver's own (``?`` for SQLite, ``%s`` for PostgreSQL, whose
    literal ``%`` are doubled), so nothing else in the SQL is reinterpreted."""
    mark = "?" if dialect == "sqlite" else "%s"
    params: list[str] = []
    missing: list[str] = []

    def value_of(name: str) -> str:
        if name not in values:
            if name not in missing:
                missing.append(name)
            return ""
        value = values[name]
        # One level of indirection, as Trac has it: "$USER" as a value means USER's value.
        if value.startswith("$") and not value.startswith("$$"):
            value = values.get(value[1:], "")
        elif value.startswith("$$"):
            value = value[1:]
        return value

    def plain(text: str) -> str:
        if dialect != "sqlite":
            text = text.replace("%", "%%")
        out = []
        last = 0
        for match in _VAR_RE.finditer(text):
            out.append(text[last:match.start()])
            params.append(value_of(match.group(1)))
            out.append(mark)
            last = match.end()
        out.append(text[last:])
        return "".join(out)

    def literal(text: str) -> str:
        body = text[1:-1]
        parts = _VAR_RE.split(body)
        if len(parts) == 1:
            return text.replace("%", "%%") if dialect != "sqlite" else text
        pieces = []
        for i, part in enumerate(parts):
            if i % 2:
                params.append(value_of(part))
                pieces.append(mark if dialect == "sqlite" else f"CAST({mark} AS text)")
            else:
                part = part.replace("%", "%%") if dialect != "sqlite" else part
                pieces.append(f"'{part}'")
        joiner = " || "
        return "(" + joiner.join(pieces) + ")"

    out = []
    for chunk in _LITERAL_SPLIT_RE.split(sql):
        out.append(literal(chunk) if chunk.startswith("'") and chunk.endswith("'") and len(chunk) > 1
                   else plain(chunk))
    return "".join(out), params, missing


def skeleton(sql: str) -> str:
    """The SQL with comments, literals and parenthesised groups blanked out (same length)."""
    previous = None
    while sql != previous:
        previous = sql
        sql = _MASK_RE.sub(lambda m: " " * len(m.group(0)), sql)
    return sql


def _split_order_by(sql: str, skel: str) -> tuple[str, str]:
    blocks = _ORDER_BY_RE.split(skel.upper())
    if len(blocks) == 2:
        return sql[:len(blocks[0])], sql[len(sql) - len(blocks[1]):]
    return sql, ""


def _unordered(sql: str) -> str:
    """The SQL without its final ORDER BY, for counting its rows (sorting them would only
    cost time); kept when a LIMIT or OFFSET follows, as those depend on the order, or when
    the ordering takes parameters (``$USER``)."""
    before, after = _split_order_by(sql, skeleton(sql))
    if (not after or "%s" in after or "?" in after
            or re.search(r"\b(LIMIT|OFFSET|FETCH)\b", skeleton(after).upper())):
        return sql
    return before


# ---------------------------------------------------------------------------
# Running a report


@dataclass
class ReportResult:
    columns: list[str]
    rows: list[tuple]
    total: int  # all the rows, over every page
    page: int = 1
    limit: int = 0  # rows per page, 0: all on one
    paged: bool = False  # the SQL was cut to one page
    missing_args: list[str] = field(default_factory=list)
    args: dict[str, str] = field(default_factory=dict)
    sql: str = ""
    # The rows were kept under the tickets' stamp: the same ``rows`` list comes back while
    # it holds, so what is made of it may be kept with it (``report_web``).
    kept: bool = False

    @property
    def pages(self) -> int:
        if not self.limit:
            return 1
        return max(1, -(-self.total // self.limit))


class _Runner:
    """Runs statements on the scope's own driver connection, one statement each, with a
    deadline."""

    def __init__(self, db, timeout: int) -> None:
        self.db = db
        self.dialect = db.dialect
        self.raw = db.conn.connection.dbapi_connection
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout if timeout > 0 else None

    def __enter__(self) -> _Runner:
        if self.deadline is None:
            return self
        if self.dialect == "sqlite":
            deadline = self.deadline
            self.raw.set_progress_handler(lambda: 1 if time.monotonic() > deadline else 0, 1000)
        else:
            self.db.execute(f"SET LOCAL statement_timeout = {int(self.timeout * 1000)}")
        return self

    def __exit__(self, *exc) -> None:
        if self.deadline is not None and self.dialect == "sqlite":
            self.raw.set_progress_handler(None, 0)

    def run(self, sql: str, params: Sequence[Any]) -> tuple[list[str], list[tuple]]:
        cursor = self.raw.cursor()
        try:
            if self.dialect == "sqlite":
                cursor.execute(sql, tuple(params))
            else:
                # A prepared statement holds exactly one command: no "COMMIT; …" smuggled in.
                cursor.execute(sql, tuple(params), prepare=True)
            if cursor.description is None:
                raise ReportError("The report's SQL returned no rows (it must be a query).", sql)
            columns = [d[0] for d in cursor.description]
            return columns, [tuple(r) for r in cursor.fetchall()]
        except ReportError:
            raise
        except Exception as exc:
            raise ReportError(self._message(exc), sql) from None
        finally:
            cursor.close()

    def _message(self, exc: Exception) -> str:
        text = str(exc).strip()
        lowered = text.lower()
        if self.deadline is not None and ("interrupted" in lowered
                                          or "statement timeout" in lowered
                                          or "canceling statement" in lowered):
            return (f"The report ran longer than {self.timeout} seconds and was stopped "
                    "([report] timeout).")
        first = text.splitlines()[0] if text else exc.__class__.__name__
        return first


def _check_single_statement(sql: str) -> str:
    stripped = sql.strip()
    while stripped.endswith(";"):
        stripped = stripped[:-1].rstrip()
    if ";" in skeleton(stripped):
        raise ReportError("A report runs one SQL statement; this one has several.", sql)
    return stripped


# Reports that read only these tables, and nothing that names the current moment, are kept
# with the tickets' stamp (``ticket.model.tickets_stamp``) and read again when it moves.
_TICKET_TABLES = frozenset({"ticket", "ticket_custom", "ticket_change", "enum", "milestone",
                            "component", "version"})
_MOMENT_WORDS = frozenset({"now", "current_timestamp", "current_date", "current_time",
                           "localtimestamp", "localtime", "random", "clock_timestamp",
                           "statement_timestamp", "transaction_timestamp", "timeofday"})
_MOMENT_LITERALS = ("now", "today", "tomorrow", "yesterday")  # strftime('%s', 'now'), 'today'::date
_LITERALS_AND_COMMENTS_RE = re.compile(r"'(?:[^']|'')*'|--[^\n]*|/\*.*?\*/", re.S)
_WORD_RE = re.compile(r"[a-z_][a-z0-9_]*")


def _keepable(env, db, sql: str) -> bool:
    tables = env.memo("ticket.report_tables", lambda: frozenset(
        name.lower() for name in db.table_names()))
    lowered = sql.lower()
    words = set(_WORD_RE.findall(_LITERALS_AND_COMMENTS_RE.sub(" ", lowered)))
    moments = words & _MOMENT_WORDS or any(f"'{word}'" in lowered for word in _MOMENT_LITERALS)
    return not moments and not ((words & tables) - _TICKET_TABLES)


def execute_report(env, sql: str, args: Mapping[str, str] | None = None, *, report_id: int = 0,
                   sort: str = "", asc: bool = False, page: int = 1, limit: int = 0,
                   timeout: int | None = None) -> ReportResult:
    """Run a report's SQL with the variables ``args`` (``var_args`` of the request); return
    one page of ``limit`` rows (0: all), sorted by column ``sort`` when given."""
    values = dict(args or {})
    apply_defaults(sql, values)
    sql = _check_single_statement(sql or "")
    if not sql:
        raise ReportError(f"Report {{{report_id}}} has no SQL query.")
    page = max(1, int(page))
    limit = max(0, int(limit))
    with env.db_query as db:
        dialect = db.dialect
        text, params, missing = substitute(sql, values, dialect)
        used = set(_VAR_RE.findall(sql))
        shown_args = {k: v for k, v in values.items() if k in used}

        def run() -> tuple:
            base = text.replace(SORT_COLUMN, "1").replace(LIMIT_OFFSET, "")
            with _Runner(db, TIMEOUT(env.config) if timeout is None else timeout) as runner:
                total = 0
                columns: list[str] = []
                if limit:
                    _, count = runner.run(f"SELECT COUNT(*) FROM (\n{_unordered(base)}\n) AS tab",
                                          params)
                    total = int(count[0][0])
                if sort:
                    columns, _ = runner.run(f"SELECT * FROM (\n{base}\n) AS tab LIMIT 1", params)
                final = base if not (limit or sort) else text
                order_by: list[str] = []
                if sort:
                    if sort not in columns:
                        raise ReportError(f'Query parameter "sort={sort}" is invalid: the report '
                                          "has no such column.", sql)
                    sort_sql = f"{db.quote(sort)} {'ASC' if asc else 'DESC'}"
                    if SORT_COLUMN in final:
                        final = final.replace(SORT_COLUMN, sort_sql)
                    else:
                        if "__group__" in columns:
                            order_by.append("__group__ ASC")
                        order_by.append(sort_sql)
                        before, after = _split_order_by(final, skeleton(final))
                        if after.strip():
                            order_by.append(after)
                        final = f"{before} ORDER BY {', '.join(order_by)}"
                else:
                    final = final.replace(SORT_COLUMN, "1")
                paged = False
                if limit:
                    cut = ""
                    if total > limit:
                        cut = f"LIMIT {limit} OFFSET {(page - 1) * limit}"
                        paged = True
                    if LIMIT_OFFSET in final:
                        final = final.replace(LIMIT_OFFSET, cut)
                    elif cut and "LIMIT" not in skeleton(final).upper():
                        final = f"{final} {cut}"
                columns, rows = runner.run(final, params)
            return columns, rows, total if limit else len(rows), paged, final

        kept = _keepable(env, db, sql)
        if kept:
            key = ("report", text, tuple(params), sort, asc, page, limit)
            columns, rows, total, paged, final = kept_while_tickets_unchanged(env, db, key, run)
        else:
            columns, rows, total, paged, final = run()
    return ReportResult(columns, rows, total, page, limit, paged, missing, shown_args, final,
                        kept)


# ---------------------------------------------------------------------------
# Shaping the result for a page


def cell_value(value: Any) -> str:
    """A cell as text: None is empty, 0 stays "0"."""
    if value == 0 and not isinstance(value, str):
        return "0"
    return str(value) if value else ""


def header_title(col: str, labels: Mapping[str, str]) -> str:
    return labels.get(col) or col.strip("_").capitalize()


def is_hidden_column(col: str) -> bool:
    """Whether a result column is left out of the cells: ``__col__`` and ``_col`` are, a
    full-width ``_col_`` and a row-ending ``col_`` are not."""
    if col.startswith("__") and col.endswith("__"):
        return True
    return col.startswith("_") and not (len(col) > 1 and col.endswith("_"))


def layout(columns: Sequence[str], rows: Iterable[Sequence[Any]], labels: Mapping[str, str],
           sort: str = "", asc: bool = False) -> tuple[list[list[dict]], list[tuple[str | None, list[dict]]]]:
    """(header groups, row groups) as the report page shows them.

    A header group is the list of columns shown on one table row (``col_`` ends one,
    ``_col_`` makes a full-width one); a row group is (``__group__`` value, rows), each row
    {'cells': [cell groups], 'idx', 'id', and the style columns}."""
    header_groups: list[list[dict[str, Any]]] = [[]]
    for col in columns:
        hidden = is_hidden_column(col)
        header: dict[str, Any] = {"col": col, "title": header_title(col, labels), "hidden": hidden,
                  "asc": (bool(asc) if col == sort else None)}
        group = header_groups[-1]
        if hidden:
            pass
        elif col.startswith("_") and col.endswith("_"):
            group = []
            header_groups.append(group)
            header_groups.append([])
        elif col.endswith("_"):
            header_groups.append([])
        group.append(header)
    header_groups = [g for g in header_groups if g] or [[]]

    # What each column means for a row, worked out once: (header, name, is the group,
    # row key or None, names the row, names the realm).
    plan: list[list[tuple[dict, str, bool, str | None, bool, bool]]] = []
    for header_group in header_groups:
        group_plan = []
        for header in header_group:
            col = header["col"]
            name = col.strip("_")
            group_plan.append((header, name, col == "__group__",
                               name if col in ROW_COLUMNS else None,
                               col in ("report", "ticket", "id", "_id"), name == "realm"))
        plan.append(group_plan)
    grouped = "__group__" in columns

    row_groups: list[tuple[str | None, list[dict]]] = []
    previous: Any = object()
    for idx, result in enumerate(rows):
        row: dict[str, Any] = {"idx": idx, "id": None, "cells": [], "realm": "ticket"}
        position = 0
        group_value = None
        for group_plan in plan:
            cells: list[dict[str, Any]] = []
            for header, name, is_group, row_key, is_id, is_realm in group_plan:
                raw = result[position]
                value = cell_value(raw)
                cells.append({"value": value, "raw": raw, "header": header, "col": name,
                              "index": position})
                position += 1
                if is_group:
                    group_value = value
                if row_key is not None:
                    row[row_key] = value
                if is_id:
                    row["id"] = value
                if is_realm and value:
                    row["realm"] = value
            row["cells"].append(cells)
        if grouped and group_value != previous:
            previous = group_value
            row_groups.append((group_value, []))
        if not row_groups:
            row_groups.append((None, []))
        row_groups[-1][1].append(row)
    return header_groups, row_groups


# ---------------------------------------------------------------------------
# Export


def _utc(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value) / 1_000_000, UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _iso(moment: datetime, date_part: bool) -> str:
    text = moment.isoformat(timespec="seconds").replace("+00:00", "Z")
    return text if date_part else text.split("T", 1)[1]


def export_value(col: str, value: Any) -> str:
    """A cell as CSV/TSV has it: the time columns in ISO 8601 (``time``: the time only)."""
    name = col.strip("_")
    if name in TIME_COLUMNS and value not in (None, ""):
        moment = _utc(value)
        if moment is not None:
            return _iso(moment, name != "time")
    return cell_value(value)


def write_delimited(columns: Sequence[str], rows: Iterable[Sequence[Any]], sep: str = ",") -> bytes:
    """CSV (or TSV with ``sep='\\t'``) as Trac writes it: a UTF-8 byte-order mark, the header
    row, then the values; the row-styling columns are left out."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=sep, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    keep = [i for i, col in enumerate(columns) if col not in ROW_COLUMNS]
    writer.writerow([columns[i] for i in keep])
    for row in rows:
        writer.writerow([export_value(columns[i], row[i]) for i in keep])
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")


def rss_items(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[dict[str, Any]]:
    """Feed items of a report's rows: id, title (summary), description, author (reporter),
    date (created/time/changetime), and the other shown columns."""
    names = [c.strip("_") for c in columns]
    items = []
    for row in rows:
        values = dict(zip(names, row, strict=False))
        moment = None
        for key in ("time", "created", "changetime", "modified", "datetime", "date"):
            if values.get(key) not in (None, ""):
                moment = _utc(values[key])
                if moment is not None:
                    break
        ident = next((values[k] for k in ("ticket", "id") if values.get(k) not in (None, "")), None)
        items.append({"id": cell_value(ident), "title": cell_value(values.get("summary")),
                      "description": cell_value(values.get("description")),
                      "author": cell_value(values.get("reporter")), "date": moment})
    return items
