"""Database engines, connection URLs, and read/transaction scopes.

SQL is written with ``%s`` placeholders (as in Trac, so report SQL and plugin SQL carry
over); this module is the one place that knows the dialect differences.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import os
import re
import sqlite3
import urllib.parse
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

__all__ = ["DatabaseError", "DatabaseManager", "DbUrl", "Db", "ScopeError", "parse_db_url",
           "row_id"]


class DatabaseError(Exception):
    """A database that cannot be reached or used, with a message a person can act on."""


class ScopeError(RuntimeError):
    """A write was attempted inside a read scope (a programming error, never user input).

    A read scope is a read-only transaction on both databases; turning it into a write
    halfway would upgrade SQLite's shared lock and could fail with SQLITE_BUSY under load.
    Open the write transaction first (``env.db_transaction``) and read inside it."""


@dataclass
class DbUrl:
    scheme: str  # "sqlite" or "postgres"
    path: str = ""  # sqlite file (absolute once resolved) or PostgreSQL database name
    user: str | None = None
    password: str | None = None
    host: str | None = None
    port: int | None = None
    params: dict[str, str] = field(default_factory=dict)

    @property
    def schema(self) -> str:
        return self.params.get("schema", "public")

    def display(self) -> str:
        """The URL with the password masked, for messages and logs."""
        if self.scheme == "sqlite":
            return f"sqlite:{self.path}"
        auth = ""
        if self.user:
            auth = urllib.parse.quote(self.user) + (":***" if self.password else "") + "@"
        hostport = (self.host or "") + (f":{self.port}" if self.port else "")
        query = ("?" + urllib.parse.urlencode(self.params)) if self.params else ""
        return f"postgres://{auth}{hostport}/{self.path}{query}"


def parse_db_url(url: str, base_dir: str | None = None) -> DbUrl:
    """Parse a database string as Trac writes it (``sqlite:db/trac.db``, ``postgres://…``)."""
    if not url or ":" not in url:
        raise DatabaseError(
            f"invalid database string {url!r}: expected sqlite:PATH or "
            "postgres://user:password@host:port/database?schema=name"
        )
    scheme, rest = url.split(":", 1)
    scheme = scheme.lower()
    if scheme == "sqlite":
        if rest.startswith("///"):
            rest = rest[2:]
        elif rest.startswith("//"):
            rest = rest[2:]
        if not rest:
            raise DatabaseError(f"invalid database string {url!r}: no SQLite file named")
        path = rest
        if rest != ":memory:" and not os.path.isabs(path) and base_dir:
            path = os.path.normpath(os.path.join(base_dir, path))
        return DbUrl("sqlite", path)
    if scheme in ("postgres", "postgresql"):
        parts = urllib.parse.urlsplit("postgres:" + rest)
        if not rest.startswith("//"):
            raise DatabaseError(f"invalid database string {url!r}: expected postgres://…")
        params = dict(urllib.parse.parse_qsl(parts.query))
        try:
            port = parts.port
        except ValueError:
            raise DatabaseError(f"invalid database string {url!r}: bad port") from None
        name = parts.path.lstrip("/")
        if not name:
            raise DatabaseError(f"invalid database string {url!r}: no database named")
        return DbUrl(
            "postgres",
            urllib.parse.unquote(name),
            urllib.parse.unquote(parts.username) if parts.username else None,
            urllib.parse.unquote(parts.password) if parts.password else None,
            parts.hostname or params.pop("host", None),
            port,
            params,
        )
    raise DatabaseError(
        f"unsupported database type {scheme!r} in {url!r} (codeyard supports sqlite and postgres)"
    )


_MASK31 = 0x7FFFFFFF


@functools.lru_cache(maxsize=4096)  # a pure function of a key, asked for at every page
def key_to_id(key: str) -> int:
    """The ``cache`` table row id of a cache key, derived exactly as Trac 1.6 derives it.

    Trac hashes the key's code points with the multiply-and-xor scheme of the old Python
    string hash, kept to 31 bits; the same key must give the same row in both programs for
    either to see the other's invalidations (see ``codeyard.cachekeys``).
    """
    if not key:
        return 0
    value = ord(key[0]) << 7
    for char in key:
        value = (value * 1000003 & _MASK31) ^ ord(char)
    return value ^ len(key)


# The integer keys both databases hold (SQLite INTEGER, PostgreSQL bigint).
_KEY_RANGE = range(-(1 << 63), 1 << 63)


def row_id(text: str | None) -> int:
    """An integer key as a person gave it (a form field, a URL): ValueError for one that is
    not a number or that no database row can have, such as a number past 64 bits (which
    the drivers refuse with an error of their own)."""
    value = int(text or "")
    if value not in _KEY_RANGE:
        raise ValueError(f"{text!r} is out of range")
    return value


_IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Db:
    """One connection inside a scope: run SQL, plus the dialect helpers."""

    def __init__(self, conn: Connection, dialect: str) -> None:
        self.conn = conn
        self.dialect = dialect
        # Plain SQL goes straight to the driver: SQLAlchemy's execution machinery costs
        # several times the query itself for the short statements pages run by the dozen.
        raw = conn.connection.dbapi_connection
        assert raw is not None  # a connection inside a scope is open
        self._raw = raw
        self._driver_error = conn.dialect.loaded_dbapi.Error
        # SQLAlchemy's statement listeners still hear of each statement (tools and tests
        # that count queries listen there).
        self._listeners = tuple(conn.dispatch.before_cursor_execute)
        # Cache generations read in this scope: one transaction reads each at most once
        # (a page rendering many wiki texts checks the page list once, not per text).
        self.generations: dict[str, int] = {}
        self._after_commit: list[Callable[[], Any]] = []
        self.failed = False  # a statement failed (a PostgreSQL transaction is then aborted)

    def on_commit(self, callback: Callable[[], Any]) -> None:
        """Call ``callback()`` once the outermost scope has committed (never if it rolls
        back): how a writer wakes a background worker only for rows others can see."""
        self._after_commit.append(callback)

    def _run_after_commit(self) -> None:
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            try:
                callback()
            except Exception:  # noqa: BLE001 - the commit stands; a callback only wakes
                logging.getLogger("codeyard.db").exception("an after-commit callback failed")

    def _prepare(self, sql: str, params: Sequence[Any] | dict | None):
        if params is None or (not isinstance(params, dict) and len(params) == 0):
            return sql, ()
        if self.dialect == "sqlite" and not isinstance(params, dict):
            sql = sql.replace("%s", "?").replace("%%", "%")
        return sql, params if isinstance(params, dict) else tuple(params)

    def __call__(self, sql: str, params: Sequence[Any] | dict | None = None) -> list[tuple]:
        return self.execute(sql, params)

    def _run(self, sql: str, params: Sequence[Any] | dict | None):
        """A driver cursor that ran ``sql`` (the caller closes it). Driver errors come out
        as SQLAlchemy's exception classes (``IntegrityError`` and so on), as they would
        through SQLAlchemy."""
        sql, args = self._prepare(sql, params)
        cursor = self._raw.cursor()
        for listener in self._listeners:
            listener(self.conn, cursor, sql, args, None, False)
        try:
            cursor.execute(sql, args)
        except self._driver_error as exc:
            cursor.close()
            self.failed = True
            raise sa.exc.DBAPIError.instance(sql, args, exc, self._driver_error,
                                             dialect=self.conn.dialect) from exc
        return cursor

    def execute(self, sql: str, params: Sequence[Any] | dict | None = None) -> list[tuple]:
        cursor = self._run(sql, params)
        try:
            if cursor.description is None:
                return []
            return _tuples(cursor.fetchall())
        finally:
            cursor.close()

    def execute_rowcount(self, sql: str, params: Sequence[Any] | None = None) -> int:
        cursor = self._run(sql, params)
        try:
            return cursor.rowcount
        finally:
            cursor.close()

    def cursor_description(self, sql: str, params: Sequence[Any] | None = None):
        """Run SQL and return (column names, rows): for reports."""
        cursor = self._run(sql, params)
        try:
            if cursor.description is None:
                return [], []
            return [d[0] for d in cursor.description], _tuples(cursor.fetchall())
        finally:
            cursor.close()

    def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> None:
        rows = [tuple(r) for r in seq]
        if not rows:
            return
        sql, _ = self._prepare(sql, rows[0])
        self.conn.exec_driver_sql(sql, rows)

    @contextmanager
    def unique(self, already_exists: Exception):
        """Run the statements inside as one step; if the database refuses them for a
        duplicate key, undo just that step and raise ``already_exists`` instead.

        This is how model code says "create unless it exists": two writers racing on
        PostgreSQL get one success and one readable refusal, never a 500."""
        try:
            with self.conn.begin_nested():
                yield
        except sa.exc.IntegrityError:
            raise already_exists from None

    def lock(self, name: str) -> None:
        """Hold a named lock until this transaction ends (serializes writers of one name:
        e.g. renames to the same page name). SQLite's write transactions already run one
        at a time."""
        if self.dialect == "postgresql":
            self.execute("SELECT pg_advisory_xact_lock(%s)", (key_to_id(name),))

    def core(self, statement, params=None):
        """Run a SQLAlchemy Core statement."""
        return self.conn.execute(statement, params) if params is not None else self.conn.execute(statement)

    # -- dialect helpers
    def quote(self, identifier: str) -> str:
        return '"%s"' % identifier.replace('"', '""')

    def cast(self, expr: str, type_: str) -> str:
        if type_ in ("int", "int64", "integer"):
            return f"CAST({expr} AS {'integer' if self.dialect == 'sqlite' else 'bigint'})"
        return f"CAST({expr} AS {type_})"

    def concat(self, *args: str) -> str:
        return "(" + " || ".join(args) + ")"

    def like(self) -> str:
        return "LIKE %s ESCAPE '/'" if self.dialect == "sqlite" else "ILIKE %s ESCAPE '/'"

    def like_escape(self, text: str) -> str:
        return text.replace("/", "//").replace("_", "/_").replace("%", "/%")

    def prefix_match(self) -> str:
        return "LIKE %s ESCAPE '/'"

    def prefix_match_value(self, prefix: str) -> str:
        return self.like_escape(prefix) + "%"

    def last_id(self, table: str, column: str = "id") -> int:
        if self.dialect == "sqlite":
            return self.execute("SELECT last_insert_rowid()")[0][0]
        seq = self.execute("SELECT pg_get_serial_sequence(%s, %s)", (self.quote(table), column))[0][0]
        return self.execute("SELECT currval(%s)", (seq,))[0][0]

    def update_sequence(self, table: str, column: str = "id") -> None:
        """After rows were inserted with explicit ids, move the id generator past them."""
        if self.dialect != "postgresql":
            return
        self.execute(
            "SELECT setval(pg_get_serial_sequence(%s, %s), "
            f"(SELECT COALESCE(MAX({self.quote(column)}), 0) + 1 FROM {self.quote(table)}), false)",
            (self.quote(table), column),
        )

    def table_names(self) -> list[str]:
        """The tables, without the shadow tables SQLite keeps for a full-text (virtual) table."""
        names = sa.inspect(self.conn).get_table_names()
        if self.dialect == "sqlite":
            virtual = [r[0] for r in self.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND sql LIKE %s",
                ("CREATE VIRTUAL%",))]
            shadows = {f"{v}_{suffix}" for v in virtual
                       for suffix in ("data", "idx", "content", "docsize", "config")}
            names = [n for n in names if n not in shadows]
        return sorted(names)

    def column_names(self, table: str) -> list[str]:
        return [c["name"] for c in sa.inspect(self.conn).get_columns(table)]

    def has_table(self, table: str) -> bool:
        return sa.inspect(self.conn).has_table(table)


# Scopes in progress in this context (thread or task): database manager id -> state.
# The generations a request read (``DatabaseManager.request_generation``), per database.
_generation_snapshots: contextvars.ContextVar[dict[int, dict[int, int]] | None] = \
    contextvars.ContextVar("codeyard_generation_snapshots", default=None)


@contextmanager
def generations_scope():
    """A request's scope for ``request_generation``: one read of the generations."""
    token = _generation_snapshots.set({})
    try:
        yield
    finally:
        _generation_snapshots.reset(token)


_scopes: contextvars.ContextVar[dict[int, _ScopeState] | None] = contextvars.ContextVar(
    "codeyard_db_scopes", default=None
)


@dataclass
class _ScopeState:
    db: Db
    conn: Connection
    write: bool
    depth: int = 0
    kept: bool = False  # a read scope kept open for the rest of the request (hold_reads)
    trans: Any = None  # its transaction, while kept


# Inside ``hold_reads``: the read scopes kept open, to be closed when it ends.
_kept_reads: contextvars.ContextVar[list[tuple[DatabaseManager, _ScopeState]] | None] = \
    contextvars.ContextVar("codeyard_kept_reads", default=None)


@contextmanager
def hold_reads():
    """Within it, a read scope that ends is kept open, and the next read scope on the same
    database joins it: a page that opens eight read scopes begins and ends one transaction
    instead of eight (each costs ~0.1 ms). A write scope first closes the kept one, so
    writes and later reads work as without it. For requests that only read what they show:
    the kept transaction lasts until the end, so nothing slow may run inside."""
    kept: list[tuple[DatabaseManager, _ScopeState]] = []
    token = _kept_reads.set(kept)
    try:
        yield
    finally:
        _kept_reads.reset(token)
        while kept:
            manager, state = kept.pop()
            manager._end_kept(state)


class DatabaseManager:
    """Engine and scopes for one environment's database."""

    def __init__(self, url: str, base_dir: str | None = None, pool: bool = True,
                 pool_size: int = 2, max_overflow: int = 13) -> None:
        self.url_text = url
        self.url = parse_db_url(url, base_dir)
        self.pool_size, self.max_overflow = pool_size, max_overflow
        self.engine = self._make_engine(pool)
        # Write scopes this manager committed: with SQLite's ``data_version`` (which counts
        # only other connections' commits), what ``unchanged_since`` compares.
        self.commits = 0

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def _make_engine(self, pool: bool) -> Engine:
        u = self.url
        if u.scheme == "sqlite":
            path = u.path
            if path == ":memory:":
                engine = sa.create_engine("sqlite://", poolclass=sa.pool.StaticPool,
                                          connect_args={"check_same_thread": False})
            else:
                engine = sa.create_engine(
                    "sqlite:///" + path,
                    connect_args={"timeout": 30, "check_same_thread": False},
                    poolclass=sa.pool.QueuePool if pool else NullPool,
                    **({"pool_size": 5, "max_overflow": 20} if pool else {}),
                )

            @event.listens_for(engine, "connect")
            def _on_connect(dbapi_conn, record):
                dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA busy_timeout = 30000")
                if path != ":memory:":
                    cur.execute("PRAGMA journal_mode = WAL")
                    cur.execute("PRAGMA synchronous = NORMAL")
                    cur.execute(f"PRAGMA mmap_size = {SQLITE_MMAP_SIZE}")
                cur.close()

            @event.listens_for(engine, "begin")
            def _on_begin(conn):
                write = bool(conn.info.get("write"))
                raw = conn.connection.dbapi_connection
                if conn.info.get("query_only") is not (not write):
                    raw.execute(f"PRAGMA query_only = {0 if write else 1}")
                    conn.info["query_only"] = not write
                try:
                    raw.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                except sqlite3.Error as exc:
                    raise sa.exc.DBAPIError.instance("BEGIN", (), exc, sqlite3.Error,
                                                     dialect=conn.dialect) from exc

            return engine
        query: dict[str, str] = {}
        if u.host and u.host.startswith("/"):
            query["host"] = u.host
        for key in ("sslmode", "sslrootcert", "sslcert", "sslkey", "connect_timeout", "host"):
            if key in u.params:
                query[key] = u.params[key]
        query.setdefault("connect_timeout", "10")
        sa_url = sa.engine.URL.create(
            "postgresql+psycopg",
            username=u.user,
            password=u.password,
            host=None if (u.host or "").startswith("/") else u.host,
            port=u.port,
            database=u.path,
            query=query,
        )
        schema = u.schema
        # The pool is bounded per project and process: the kept connections (pool_size)
        # plus those opened while busy (max_overflow), waited for beyond that.
        sizes = {"pool_size": self.pool_size, "max_overflow": self.max_overflow,
                 "pool_timeout": 60} if pool else {}
        engine = sa.create_engine(sa_url, pool_pre_ping=True,
                                  poolclass=sa.pool.QueuePool if pool else NullPool, **sizes)

        @event.listens_for(engine, "begin")
        def _on_pg_begin(conn):
            if not conn.info.get("write"):
                conn.exec_driver_sql("SET TRANSACTION READ ONLY")

        @event.listens_for(engine, "connect")
        def _on_pg_connect(dbapi_conn, record):
            cur = dbapi_conn.cursor()
            cur.execute(f'SET search_path TO "{schema}"')
            cur.close()
            dbapi_conn.commit()

        return engine

    def check(self) -> None:
        """Connect once, turning driver errors into a readable DatabaseError."""
        if self.url.scheme == "sqlite" and self.url.path != ":memory:":
            directory = os.path.dirname(self.url.path) or "."
            if not os.path.isdir(directory):
                raise DatabaseError(f"{self.url.display()}: the directory {directory} does not exist")
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        except sa.exc.SQLAlchemyError as exc:
            raise DatabaseError(f"cannot connect to {self.url.display()}: {first_line(exc)}") from None

    def dispose(self) -> None:
        self.engine.dispose()

    # -- scopes
    @contextmanager
    def scope(self, write: bool):
        states = _scopes.get()
        if states is None:
            states = {}
            _scopes.set(states)
        state = states.get(id(self))
        if state is not None and state.kept and state.depth == 0:
            if write or state.db.failed:
                self._end_kept(state)  # a write (or a failed statement) ends the kept read
                state = None
            else:
                yield from self._join_kept(state)
                return
        if state is not None:
            # Nested scopes join the outer one, whose kind was decided when it began.
            if write and not state.write:
                raise ScopeError(
                    "a write transaction was opened inside a read scope; open the "
                    "transaction first (env.db_transaction) and read inside it")
            state.depth += 1
            try:
                yield state.db
            finally:
                state.depth -= 1
            return
        try:
            conn = self.engine.connect()
        except sa.exc.SQLAlchemyError as exc:
            raise DatabaseError(f"cannot connect to {self.url.display()}: {first_line(exc)}") from None
        conn.info["write"] = write
        trans = conn.begin()
        state = _ScopeState(Db(conn, self.dialect), conn, write)
        states[id(self)] = state
        try:
            yield state.db
        except BaseException:
            states.pop(id(self), None)
            try:
                trans.rollback()
            finally:
                conn.info["write"] = False
                conn.close()
            raise
        kept = _kept_reads.get()
        if kept is not None and not state.write and not state.db.failed:
            state.kept = True  # stays open for the next read scope of this request
            state.trans = trans
            kept.append((self, state))
            state.db._run_after_commit()
            return
        states.pop(id(self), None)
        try:
            if state.write:
                trans.commit()
                self.commits += 1  # before the connection goes back to the pool
            else:
                trans.rollback()
        finally:
            conn.info["write"] = False
            conn.close()
        state.db._run_after_commit()

    def _join_kept(self, state: _ScopeState):
        state.depth = 1
        try:
            yield state.db
        except BaseException:
            state.depth = 0
            self._end_kept(state)
            raise
        state.depth = 0
        state.db._run_after_commit()

    def _end_kept(self, state: _ScopeState) -> None:
        """Close a kept read scope (once: later calls do nothing)."""
        if not state.kept:
            return
        state.kept = False
        states = _scopes.get()
        if states is not None and states.get(id(self)) is state:
            del states[id(self)]
        try:
            state.trans.rollback()
        except sa.exc.SQLAlchemyError:
            pass  # the connection is closed below either way
        finally:
            state.conn.info["write"] = False
            state.conn.close()

    def change_mark(self, db: Db) -> tuple | None:
        """What tells, on SQLite, whether anything was committed to the database since: the
        connection, its ``PRAGMA data_version`` (which changes when any other connection,
        of any process, commits) and this manager's own commits. None on PostgreSQL, where
        nothing so cheap exists. Compare marks with ``same_mark``."""
        if self.dialect != "sqlite":
            return None
        version = db("PRAGMA data_version")[0][0]
        return (db._raw, version, self.commits)

    @staticmethod
    def same_mark(old: tuple | None, new: tuple | None) -> bool:
        """Whether nothing was committed between two ``change_mark`` answers. Marks of
        different connections never match (each counts on its own): the connection itself
        is held in the mark, so its id cannot be reused by another meanwhile."""
        if old is None or new is None:
            return False
        return old[0] is new[0] and old[1:] == new[1:]

    def query(self):
        return self.scope(write=False)

    def transaction(self):
        return self.scope(write=True)

    # -- schema
    def create_tables(self, db: Db, metadata: sa.MetaData) -> None:
        if self.dialect == "postgresql":
            schema = self.url.schema
            db.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            db.execute(f'SET search_path TO "{schema}"')
        metadata.create_all(db.conn)

    # -- generations for cross-process cache invalidation
    def generation(self, db: Db, key: str) -> int:
        known = db.generations.get(key)
        if known is None:
            rows = db("SELECT generation FROM cache WHERE id=%s", (key_to_id(key),))
            known = db.generations[key] = rows[0][0] if rows else -1
        return known

    def generations(self, db: Db) -> dict[int, int]:
        return dict(db("SELECT id, generation FROM cache"))

    def request_generation(self, key: str) -> int:
        """The generation of ``key`` as this request sees it: inside ``generations_scope``
        every key's generation is read in one query at the first call and kept for the
        rest of the request (until this process invalidates a key); outside, read now."""
        snapshots = _generation_snapshots.get()
        if snapshots is None:
            with self.query() as db:
                return self.generation(db, key)
        snapshot = snapshots.get(id(self))
        if snapshot is None:
            with self.query() as db:
                snapshot = snapshots[id(self)] = self.generations(db)
        return snapshot.get(key_to_id(key), -1)

    def invalidate(self, db: Db, key: str) -> None:
        db.generations.pop(key, None)
        snapshots = _generation_snapshots.get()
        if snapshots is not None:
            snapshots.pop(id(self), None)
        db(
            "INSERT INTO cache (id, generation, key) VALUES (%s, 0, %s) "
            "ON CONFLICT (id) DO UPDATE SET generation = cache.generation + 1",
            (key_to_id(key), key),
        )


# SQLite reads the database file through a memory map of up to this size rather than into
# each connection's own page cache (2 MB by default, less than a busy month's wiki versions
# with their texts: the timeline read those pages again at every view). The mapped pages
# are the system's file cache, shared by every connection and process; Linux's unified
# buffer cache keeps them coherent with processes that read the file without a map (Trac).
SQLITE_MMAP_SIZE = 256 * 1024 * 1024


def _tuples(rows: list) -> list[tuple]:
    """The rows as tuples: the drivers' rows are tuples already (sqlite3's and psycopg's
    defaults), and are copied only when a driver gives another kind."""
    if not rows or type(rows[0]) is tuple:
        return rows
    return [tuple(row) for row in rows]


def first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()
    return text[0] if text else exc.__class__.__name__
