"""The Trac 1.6 database schema (database_version 45) as SQLAlchemy Core tables.

Columns are nullable as Trac's are; a single-column key is the primary key, a
several-column key is a UNIQUE constraint on SQLite and a primary key named
``<table>_pk`` on PostgreSQL, and indexes are named ``<table>_<columns>_idx``, as Trac
creates them, so either program can read, upgrade and copy the other's database.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import CreateColumn

DB_VERSION = 45
"""The Trac schema version this code writes."""

OLDEST_UPGRADABLE = 41
"""The oldest Trac schema ``upgrade`` knows how to bring forward (Trac 1.2)."""

# Times are microseconds since the epoch: 64-bit on PostgreSQL; SQLite integers are 64-bit
# anyway, and Trac declares them as plain "integer" there.
INT64 = BigInteger().with_variant(Integer(), "sqlite")


def _table(metadata: MetaData, name: str, key: tuple[str, ...], *columns, indexes=()) -> Table:
    cols = []
    for col in columns:
        if isinstance(col, str):
            col = Column(col, Text)
        if len(key) == 1 and col.name == key[0]:
            col.primary_key = True
        col.nullable = not col.primary_key
        cols.append(col)
    args: list = list(cols)
    if len(key) > 1:
        args.append(_CompositeKey(*key, name=f"{name}_pk"))
    table = Table(name, metadata, *args)
    for index_cols in indexes:
        Index(f"{name}_{'_'.join(index_cols)}_idx", *[table.c[c] for c in index_cols])
    return table


class _CompositeKey(UniqueConstraint):
    """Several-column key: UNIQUE on SQLite, PRIMARY KEY on PostgreSQL (as Trac does)."""

    inherit_cache = True


@compiles(_CompositeKey, "sqlite")
def _composite_key_sqlite(constraint, compiler, **kw):
    return "UNIQUE (%s)" % ", ".join(compiler.preparer.quote(c.name) for c in constraint.columns)


@compiles(_CompositeKey, "postgresql")
def _composite_key_pg(constraint, compiler, **kw):
    return "CONSTRAINT %s PRIMARY KEY (%s)" % (
        compiler.preparer.quote(constraint.name),
        ", ".join(compiler.preparer.quote(c.name) for c in constraint.columns),
    )


@compiles(CreateColumn, "sqlite")
def _sqlite_column(element, compiler, **kw):
    # Trac writes "id integer PRIMARY KEY" with no NOT NULL; keep columns as loose as its.
    text = compiler.visit_create_column(element, **kw)
    return text.replace(" NOT NULL", "") if text else text


def _int(name: str, **kw) -> Column:
    return Column(name, Integer, **kw)


def _int64(name: str) -> Column:
    return Column(name, INT64)


def _serial(name: str) -> Column:
    return Column(name, Integer, autoincrement=True)


def build_metadata() -> MetaData:
    md = MetaData()
    _table(md, "system", ("name",), "name", "value")
    _table(md, "permission", ("username", "action"), "username", "action")
    _table(md, "auth_cookie", ("cookie", "ipnr", "name"), "cookie", "name", "ipnr", _int("time"))
    _table(md, "session", ("sid", "authenticated"), "sid", _int("authenticated"),
           _int("last_visit"), indexes=[("last_visit",), ("authenticated",)])
    _table(md, "session_attribute", ("sid", "authenticated", "name"), "sid",
           _int("authenticated"), "name", "value")
    _table(md, "cache", ("id",), Column("id", Integer, autoincrement=False), _int("generation"), "key")
    _table(md, "attachment", ("type", "id", "filename"), "type", "id", "filename", _int("size"),
           _int64("time"), "description", "author")
    _table(md, "wiki", ("name", "version"), "name", _int("version"), _int64("time"), "author",
           "text", "comment", _int("readonly"), indexes=[("time",)])
    _table(md, "repository", ("id", "name"), _int("id"), "name", "value")
    _table(md, "revision", ("repos", "rev"), _int("repos"), "rev", _int64("time"), "author",
           "message", indexes=[("repos", "time")])
    _table(md, "node_change", ("id",), _serial("id"), _int("repos"), "rev", "path", "node_type",
           "change_type", "base_path", "base_rev",
           indexes=[("repos", "rev", "path"), ("repos", "path", "rev")])
    _table(md, "ticket", ("id",), _serial("id"), "type", _int64("time"), _int64("changetime"),
           "component", "severity", "priority", "owner", "reporter", "cc", "version",
           "milestone", "status", "resolution", "summary", "description", "keywords",
           indexes=[("time",), ("status",)])
    _table(md, "ticket_change", ("ticket", "time", "field"), _int("ticket"), _int64("time"),
           "author", "field", "oldvalue", "newvalue", indexes=[("ticket",), ("time",)])
    _table(md, "ticket_custom", ("ticket", "name"), _int("ticket"), "name", "value")
    _table(md, "enum", ("type", "name"), "type", "name", "value", "description")
    _table(md, "component", ("name",), "name", "owner", "description")
    _table(md, "milestone", ("name",), "name", _int64("due"), _int64("completed"), "description")
    _table(md, "version", ("name",), "name", _int64("time"), "description")
    _table(md, "report", ("id",), _serial("id"), "author", "title", "query", "description")
    _table(md, "notify_subscription", ("id",), _serial("id"), _int64("time"),
           _int64("changetime"), "class", "sid", _int("authenticated"), "distributor", "format",
           _int("priority"), "adverb", indexes=[("sid", "authenticated"), ("class",)])
    _table(md, "notify_watch", ("id",), _serial("id"), "sid", _int("authenticated"), "class",
           "realm", "target", indexes=[("sid", "authenticated", "class"), ("class", "realm", "target")])
    return md


TRAC_METADATA = build_metadata()
TRAC_TABLES = list(TRAC_METADATA.tables)

# Suppress "unused" warnings for names re-exported for plugins' own tables.
__all__ = ["DB_VERSION", "INT64", "OLDEST_UPGRADABLE", "PrimaryKeyConstraint", "TRAC_METADATA",
           "TRAC_TABLES", "build_metadata"]
