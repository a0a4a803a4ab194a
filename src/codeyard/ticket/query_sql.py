"""Compiling a ticket ``Query`` to SQL: one statement with ``%s`` placeholders and the list
of values bound to them.

No value of the query ever enters the SQL text: identifiers come only from the field
definitions (standard column names, custom fields joined under generated aliases), and
everything the user typed is a bound parameter. The dialect differences (``LIKE`` vs
``ILIKE``, integer casts) come from the ``Db`` helpers.

The semantics are Trac 1.6's: clauses OR-ed, fields within a clause AND-ed, values of one
field OR-ed (AND-ed when negated); text compared with ``COALESCE(col, '')`` so that empty
and missing values match ``field=``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any

from codeyard.ticket.query import (
    QueryError,
    _split_range,
    parse_id_ranges,
    parse_query_date,
    split_constraint,
)
from codeyard.util.timefmt import EPOCH

if TYPE_CHECKING:
    from codeyard.db.api import Db
    from codeyard.ticket.query import Query

__all__ = ["compile_query", "compile_count", "split_words"]

ENUM_COLUMNS = ("resolution", "priority", "severity", "type")
LIST_FIELDS = ("keywords", "cc")  # text fields whose contains-filter takes words
_WORDS_RE = re.compile(r'("[^"]+")')


def split_words(text: str) -> list[str]:
    """``a b -c "d e"`` -> ["a", "b", "-c", "d e"]."""
    words: list[str] = []
    for part in _WORDS_RE.split(text):
        if not part:
            continue
        if len(part) > 1 and part[0] == part[-1] == '"':
            words.append(part[1:-1].strip())
        else:
            words.extend(w.strip() for w in part.split())
    return words


def _utimestamp(dt: datetime) -> int:
    return (dt - EPOCH) // _MICRO


_MICRO = datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC) - EPOCH


class _Compiler:
    def __init__(self, query: Query, db: Db, user: str | None, now: datetime | None,
                 tz: tzinfo | None) -> None:
        self.q = query
        self.db = db
        self.user = user
        self.tz = tz or UTC
        self.now = now or datetime.now(self.tz)
        self.custom = query.custom_fields
        self.list_fields = {f.name for f in query.fields
                            if f.type == "text" and (f.format == "list" or
                                                     (not f.custom and f.name in LIST_FIELDS))}
        self.aliases: dict[str, str] = {}

    # -- pieces

    def columns(self) -> list[str]:
        q = self.q
        cols: list[str] = []

        def add(*names: str | None) -> None:
            for name in names:
                if name and name not in cols:
                    cols.append(name)

        add(*q.get_columns())
        add(q.group)
        if q.rows:
            add("reporter", *q.rows)
        known = {f.name for f in q.fields}
        add(*(c for c in ("status", "priority", "time", "changetime") if c in known))
        add(q.order)
        add(*sorted({name for clause in q.constraints for name in clause}))
        return cols

    def col(self, name: str) -> str:
        if name in self.custom:
            return self.aliases[name] + ".value"
        return "t." + name

    def enum_columns(self) -> list[str]:
        q = self.q
        known = {f.name for f in q.fields}
        return [c for c in ENUM_COLUMNS if c not in self.custom and c in known
                and c in ("priority", q.order, q.group)]

    def select(self, params: list[Any]) -> str:
        q, db = self.q, self.db
        cols = self.columns()
        for i, name in enumerate(c for c in cols if c in self.custom):
            self.aliases[name] = f"c{i}"
        enums = self.enum_columns()
        parts = [f"{self.col(c)} AS {db.quote(c)}" for c in cols]
        if "priority" in enums:
            parts.append("priority.value AS _priority_value")
        sql = ["SELECT " + ", ".join(parts), "FROM ticket AS t"]
        for name, alias in self.aliases.items():
            sql.append(f"LEFT OUTER JOIN ticket_custom AS {alias} "
                       f"ON ({alias}.ticket=t.id AND {alias}.name=%s)")
            params.append(name)
        for name in enums:
            sql.append(f"LEFT OUTER JOIN enum AS {name} "
                       f"ON ({name}.type=%s AND {name}.name=t.{name})")
            params.append("ticket_type" if name == "type" else name)
        for name in ("milestone", "version"):
            if name not in self.custom and name in (q.order, q.group):
                sql.append(f"LEFT OUTER JOIN {name} ON ({name}.name=t.{name})")
        where = self.where(params)
        if where:
            sql.append("WHERE " + where)
        sql.append("ORDER BY " + self.order_by())
        return "\n".join(sql)

    def count(self, params: list[Any]) -> str:
        """COUNT(*) over the matching tickets: only the custom fields the constraints name
        are joined (each ticket has at most one row per name, so a join never multiplies),
        nothing is sorted."""
        names = sorted({name for clause in self.q.constraints for name in clause
                        if name in self.custom})
        for i, name in enumerate(names):
            self.aliases[name] = f"c{i}"
        sql = ["SELECT COUNT(*) FROM ticket AS t"]
        for name, alias in self.aliases.items():
            sql.append(f"LEFT OUTER JOIN ticket_custom AS {alias} "
                       f"ON ({alias}.ticket=t.id AND {alias}.name=%s)")
            params.append(name)
        where = self.where(params)
        if where:
            sql.append("WHERE " + where)
        return "\n".join(sql)

    # -- constraints

    def where(self, params: list[Any]) -> str:
        clauses = []
        for clause in self.q.constraints:
            sql = self.clause(clause, params)
            if sql:
                clauses.append(f"({sql})")
        return " OR ".join(clauses)

    def clause(self, clause: dict[str, list[str]], params: list[Any]) -> str:
        parts = []
        for name in sorted(clause):
            values = clause[name]
            if self.user is not None:
                values = [v.replace("$USER", self.user) for v in values]
            neg, mode, bare = split_constraint(values)
            not_ = "NOT " if neg else ""
            if name == "id":
                sql = self.id_clause(values, params)
                if sql:
                    parts.append(f"{not_}({sql})")
            elif not mode and len(bare) > 1 and name not in self.q.time_fields:
                marks = ",".join(["%s"] * len(bare))
                parts.append(f"COALESCE({self.col(name)},'') {not_}IN ({marks})")
                params.extend(bare)
            else:
                pieces: list[tuple[str, list[Any]]] = []
                for value in bare:
                    piece = self.value_clause(name, value, mode, neg)
                    if piece is not None:
                        pieces.append(piece)
                if not pieces:
                    continue
                joiner = " AND " if neg else " OR "
                parts.append("(" + joiner.join(p[0] for p in pieces) + ")")
                for p in pieces:
                    params.extend(p[1])
        return " AND ".join(parts)

    def id_clause(self, values: list[str], params: list[Any]) -> str:
        singles: list[int] = []
        sql = []
        for value in values:
            for low, high in parse_id_ranges(value.replace("!", "")):
                if low == high:
                    singles.append(low)
                else:
                    sql.append("t.id BETWEEN %s AND %s")
                    params.extend((low, high))
        if singles:
            sql.append("t.id IN (" + ",".join(["%s"] * len(singles)) + ")")
            params.extend(singles)
        return " OR ".join(sql)

    def value_clause(self, name: str, value: str, mode: str, neg: bool
                     ) -> tuple[str, list[Any]] | None:
        col = self.col(name)
        db = self.db
        not_ = "NOT " if neg else ""
        if name in self.q.time_fields:
            return self.time_clause(name, col, value, neg)
        if mode == "~" and name in self.list_fields:
            words, args = [], []
            for word in split_words(value):
                wneg = ""
                if word.startswith("-"):
                    wneg, word = "NOT ", word[1:]
                    if not word:
                        continue
                words.append(f"COALESCE({col},'') {wneg}{db.like()}")
                args.append("%" + db.like_escape(word) + "%")
            if not words:
                return None
            return f"{not_}(" + " AND ".join(words) + ")", args
        if mode == "":
            return f"COALESCE({col},''){'!' if neg else ''}=%s", [value]
        if not value:
            return None
        pattern = db.like_escape(value)
        pattern = {"~": "%" + pattern + "%", "^": pattern + "%", "$": "%" + pattern}[mode]
        return f"COALESCE({col},'') {not_}{db.like()}", [pattern]

    def time_clause(self, name: str, col: str, value: str, neg: bool
                    ) -> tuple[str, list[Any]] | None:
        not_ = "NOT " if neg else ""
        custom = name in self.custom
        if not value.strip():
            if custom:
                return f"COALESCE({col},''){'!' if neg else ''}=%s", [""]
            return f"{col} IS {not_}NULL", []
        start_text, end_text = _split_range(value)
        start = parse_query_date(start_text, self.now, self.tz) if start_text else None
        end = parse_query_date(end_text, self.now, self.tz) if end_text else None
        bounds = [d for d in (start, end) if d is not None]
        if start is not None and end is not None:
            sql = f"{not_}({col}>=%s AND {col}<%s)"
        elif start is not None:
            sql = f"{not_}{col}>=%s"
        elif end is not None:
            sql = f"{not_}{col}<%s"
        else:
            return None
        args: list[Any] = [_utimestamp(d) for d in bounds]
        if custom:  # time custom fields are stored as zero-padded text, as Trac does
            args = [("%018d" if a >= 0 else "%+017d") % a for a in args]
        return sql, args

    # -- ordering

    def order_by(self) -> str:
        q = self.q
        enums = self.enum_columns()
        order_cols = [(q.order, q.desc)]
        if q.group and q.group != q.order:
            order_cols.insert(0, (q.group, q.groupdesc))
        out = []
        for name, desc in order_cols:
            assert name is not None
            d = " DESC" if desc else ""
            col = f"{name}.value" if name in enums else self.col(name)
            blank = "0" if name not in self.custom and (
                name == "id" or name in q.time_fields) else "''"
            out.append(f"COALESCE({col},{blank})={blank}{d}")
            if name in enums:
                out.append(self.db.cast(col, "int") + d)
            elif name == "milestone" and name not in self.custom:
                out.extend([f"COALESCE(milestone.completed,0)=0{d}", f"milestone.completed{d}",
                            f"COALESCE(milestone.due,0)=0{d}", f"milestone.due{d}", col + d])
            elif name == "version" and name not in self.custom:
                out.extend([f"COALESCE(version.time,0)=0{d}", f"version.time{d}", col + d])
            else:
                out.append(col + d)
        if q.order != "id":
            out.append("t.id")
        return ", ".join(out)


def compile_query(query: Query, db: Db, user: str | None = None, now: datetime | None = None,
                  tz: tzinfo | None = None, limit: int | None = None, offset: int = 0
                  ) -> tuple[str, list[Any]]:
    """(sql, params) selecting the query's tickets in its order; ``limit``/``offset``
    page it. ``user`` replaces ``$USER``; ``now`` and ``tz`` anchor relative dates."""
    params: list[Any] = []
    try:
        sql = _Compiler(query, db, user, now, tz).select(params)
    except KeyError as exc:  # a custom field whose alias is missing: a field that vanished
        raise QueryError(f"Unknown field {exc.args[0]!r} in the query") from None
    if limit:
        sql += "\nLIMIT %s OFFSET %s"
        params.extend((int(limit), int(offset)))
    return sql, params


def compile_count(query: Query, db: Db, user: str | None = None, now: datetime | None = None,
                  tz: tzinfo | None = None) -> tuple[str, list[Any]]:
    """(sql, params) counting the query's tickets (every page)."""
    params: list[Any] = []
    try:
        sql = _Compiler(query, db, user, now, tz).count(params)
    except KeyError as exc:
        raise QueryError(f"Unknown field {exc.args[0]!r} in the query") from None
    return sql, params
