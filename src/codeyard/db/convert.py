"""Copy a whole environment database to another engine (SQLite <-> PostgreSQL).

The target gets the Trac schema plus the tables plugins declare; tables nobody declares
(left by Trac plugins, say), or whose columns differ from the declaration (an older schema
being backed up), are recreated from what the source says about their columns, as integer
or text, with their keys and indexes. Rows travel in batches inside one transaction on each side, so the
target is either complete or not there at all.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from typing import Any

import sqlalchemy as sa

from codeyard.db.api import DatabaseError, DatabaseManager, Db, first_line, parse_db_url
from codeyard.db.schema import INT64, TRAC_METADATA

__all__ = ["copy_database", "convert_database", "dump_to_sqlite", "target_has_tables",
           "schema_metadata"]

BATCH_ROWS = 500

Out = Callable[[str], None]


def _quiet(_line: str) -> None:
    pass


def schema_metadata(extra_tables: Iterable[sa.Table] = ()) -> sa.MetaData:
    """The Trac tables plus ``extra_tables`` (the ``database_tables`` hook's) in one MetaData."""
    md = sa.MetaData()
    for table in TRAC_METADATA.tables.values():
        table.to_metadata(md)
    for table in extra_tables:
        if table.name not in md.tables:
            table.to_metadata(md)
    return md


def plugin_tables(env) -> list[sa.Table]:
    """Tables the environment's enabled plugins declare."""
    found: list[sa.Table] = []
    for tables in env.hook.database_tables():
        found.extend(tables or ())
    return found


def target_has_tables(manager: DatabaseManager) -> bool:
    """Whether the database (the schema, on PostgreSQL) already holds tables."""
    url = manager.url
    if url.scheme == "sqlite":
        if url.path == ":memory:" or not os.path.exists(url.path):
            return False
        if os.path.getsize(url.path) == 0:
            return False
    with manager.query() as db:
        if db.dialect == "postgresql":
            return bool(db("SELECT 1 FROM information_schema.tables WHERE table_schema=%s",
                           (url.schema,)))
        return bool(db("SELECT 1 FROM sqlite_master WHERE type='table'"))


def _schema_exists(manager: DatabaseManager) -> bool:
    with manager.query() as db:
        return bool(db("SELECT 1 FROM pg_namespace WHERE nspname=%s", (manager.url.schema,)))


def _reflected_table(conn: sa.Connection, name: str, md: sa.MetaData) -> sa.Table:
    """A table unknown to the schema, rebuilt with integer or text columns."""
    inspector = sa.inspect(conn)
    columns = inspector.get_columns(name)
    pk = inspector.get_pk_constraint(name).get("constrained_columns") or []
    cols = []
    for col in columns:
        is_int = isinstance(col["type"], sa.Integer)
        column = sa.Column(col["name"], INT64 if is_int else sa.Text, nullable=col["name"] not in pk)
        if len(pk) == 1 and col["name"] == pk[0]:
            column.primary_key = True
            column.autoincrement = is_int
        cols.append(column)
    args: list = list(cols)
    if len(pk) > 1:
        args.append(sa.PrimaryKeyConstraint(*pk))
    for unique in inspector.get_unique_constraints(name):
        if unique.get("column_names"):
            args.append(sa.UniqueConstraint(*unique["column_names"]))
    table = sa.Table(name, md, *args)
    names = {c["name"] for c in columns}
    for index in inspector.get_indexes(name):
        index_cols = [c for c in index.get("column_names") or () if c in names]
        if index.get("name") and index_cols and len(index_cols) == len(index["column_names"]):
            sa.Index(index["name"], *[table.c[c] for c in index_cols], unique=bool(index.get("unique")))
    return table


_CAST_RE = re.compile(r"\bCAST\(\s*([^\s)]+)\s+AS\s+(integer|int|bigint)\s*\)", re.IGNORECASE)


def _rewrite_casts(query: Any, dialect: str) -> Any:
    """Report SQL written for one engine, with its integer casts spelled for the other."""
    if not query:
        return query
    target = "integer" if dialect == "sqlite" else "bigint"
    return _CAST_RE.sub(lambda m: f"CAST({m.group(1)} AS {target})", query)


def _source_connection(source: DatabaseManager) -> sa.Connection:
    """A connection reading one consistent snapshot of the whole source database."""
    conn = source.engine.connect()
    if source.dialect == "postgresql":
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
    conn.begin()
    return conn


def copy_database(source: DatabaseManager, target: DatabaseManager,
                  extra_tables: Iterable[sa.Table] = (), out: Out = _quiet,
                  skip: Iterable[str] = (),
                  batch: int = BATCH_ROWS) -> dict[str, int]:
    """Create the schema in the empty ``target`` and copy every table of ``source``.

    Returns the number of rows copied per table. On failure the target is left as it was
    found (a new SQLite file or PostgreSQL schema is removed again).
    """
    if target_has_tables(target):
        raise DatabaseError(f"{target.url.display()}: the target database already holds tables")
    url = target.url
    created_file = url.scheme == "sqlite" and url.path != ":memory:" and not os.path.exists(url.path)
    created_schema = url.scheme == "postgres" and not _schema_exists(target)
    made_dirs: list[str] = []
    if created_file:
        directory = os.path.dirname(url.path) or "."
        while not os.path.isdir(directory):
            made_dirs.append(directory)
            directory = os.path.dirname(directory)
        os.makedirs(os.path.dirname(url.path) or ".", exist_ok=True)
    md = schema_metadata(extra_tables)
    counts: dict[str, int] = {}
    src_conn = None
    try:
        src_conn = _source_connection(source)
        src = Db(src_conn, source.dialect)
        # Derived tables (full-text indexes) are left out: their plugins rebuild them.
        skipped = set(skip)
        source_tables = [name for name in src.table_names() if name not in skipped]
        for name in source_tables:
            known = md.tables.get(name)
            if known is not None and set(src.column_names(name)) == {c.name for c in known.columns}:
                continue
            # Unknown tables, and known ones in an older shape (a backup taken before an
            # upgrade), are recreated as the source has them.
            if known is not None:
                md.remove(known)
            _reflected_table(src_conn, name, md)
        with target.transaction() as dst:
            target.create_tables(dst, md)
            out("Copying tables:")
            for name in source_tables:
                counts[name] = _copy_table(src, dst, name, md.tables[name], batch)
                out(f"  {name} table... {counts[name]} records.")
            _update_sequences(dst, md, source_tables)
    except BaseException:
        if src_conn is not None:
            src_conn.close()
        _remove_target(target, created_file, created_schema, md)
        for directory in made_dirs:
            try:
                os.rmdir(directory)
            except OSError:
                pass
        raise
    src_conn.close()
    return counts


_PLAIN = (str, int, float, bytes)


def _plain(value):
    """Values of column types the schema does not use (dates, decimals of plugin tables)."""
    if isinstance(value, memoryview | bytearray):
        return bytes(value)
    return str(value)


def _copy_table(src: Db, dst: Db, name: str, table: sa.Table, batch: int) -> int:
    target_cols = {c.name for c in table.columns}
    columns = [c for c in src.column_names(name) if c in target_cols]
    if not columns:
        return 0
    col_list = ", ".join(src.quote(c) for c in columns)
    insert = (f"INSERT INTO {dst.quote(name)} ({col_list}) "
              f"VALUES ({', '.join(['%s'] * len(columns))})")
    rewrite = (name == "report" and "query" in columns and src.dialect != dst.dialect)
    query_index = columns.index("query") if rewrite else -1
    # A server-side cursor on PostgreSQL: big tables are never held in memory whole.
    result = src.conn.exec_driver_sql(f"SELECT {col_list} FROM {src.quote(name)}",
                                      execution_options={"stream_results": True})
    count = 0
    try:
        while True:
            rows = result.fetchmany(batch)
            if not rows:
                break
            values = [tuple(v if v is None or isinstance(v, _PLAIN) else _plain(v) for v in r)
                      for r in rows]
            if rewrite:
                values = [v[:query_index] + (_rewrite_casts(v[query_index], dst.dialect),)
                          + v[query_index + 1:] for v in values]
            dst.executemany(insert, values)
            count += len(values)
    finally:
        result.close()
    return count


def _update_sequences(dst: Db, md: sa.MetaData, tables: Iterable[str]) -> None:
    if dst.dialect != "postgresql":
        return
    for name in tables:
        table = md.tables[name]
        pk = list(table.primary_key.columns)
        if len(pk) != 1 or not isinstance(pk[0].type, sa.Integer | sa.BigInteger):
            continue
        seq = dst("SELECT pg_get_serial_sequence(%s, %s)", (dst.quote(name), pk[0].name))
        if seq and seq[0][0]:
            dst.update_sequence(name, pk[0].name)


def _remove_target(target: DatabaseManager, created_file: bool, created_schema: bool,
                   md: sa.MetaData) -> None:
    """Undo a half-made copy (best effort: the original error matters more)."""
    url = target.url
    try:
        if url.scheme == "sqlite":
            target.dispose()
            if created_file:
                for suffix in ("", "-wal", "-shm", "-journal"):
                    if os.path.exists(url.path + suffix):
                        os.unlink(url.path + suffix)
            return
        with target.transaction() as db:
            if created_schema:
                db(f"DROP SCHEMA IF EXISTS {db.quote(url.schema)} CASCADE")
            else:
                for name in md.tables:
                    db(f"DROP TABLE IF EXISTS {db.quote(name)} CASCADE")
    except Exception:  # pragma: no cover - clean-up after an earlier failure
        pass


def convert_database(env, target_url: str, base_dir: str | None = None,
                     out: Out = _quiet) -> dict[str, int]:
    """Copy ``env``'s database to the (empty) database at ``target_url``."""
    target_parsed = parse_db_url(target_url, base_dir or env.path)
    source = env.database
    if _same_database(source.url, target_parsed):
        raise DatabaseError(
            f"Source database and destination database are the same: {target_parsed.display()}")
    target = DatabaseManager(target_url, base_dir or env.path, pool=False)
    try:
        if target.url.scheme == "postgres":
            target.check()
        counts = copy_database(source, target, plugin_tables(env), out,
                               skip=env.derived_tables())
        _make_derived(env, target)
        return counts
    except sa.exc.SQLAlchemyError as exc:
        raise DatabaseError(f"copying to {target.url.display()} failed: {first_line(exc)}") from None
    finally:
        target.dispose()


def _make_derived(env, target: DatabaseManager) -> None:
    """The derived tables, empty, in the copy: their plugins fill them again on use."""
    with target.transaction() as dst:
        env.hook.database_extras(env=env, db=dst)


def _same_database(a, b) -> bool:
    if a.scheme != b.scheme:
        return False
    if a.scheme == "sqlite":
        return os.path.realpath(a.path) == os.path.realpath(b.path)
    return ((a.host or "localhost", a.port or 5432, a.path, a.schema)
            == (b.host or "localhost", b.port or 5432, b.path, b.schema))


def dump_to_sqlite(env, target_path: str) -> str:
    """Write a SQLite copy of ``env``'s database (any engine) to ``target_path``."""
    target_path = os.path.abspath(target_path)
    tmp = target_path + ".part"
    for suffix in ("", "-wal", "-shm", "-journal"):
        if os.path.exists(tmp + suffix):
            os.unlink(tmp + suffix)
    target = DatabaseManager("sqlite:" + tmp, pool=False)
    try:
        copy_database(env.database, target, plugin_tables(env), skip=env.derived_tables())
        _make_derived(env, target)
    finally:
        target.dispose()
    _to_single_file(tmp)
    os.replace(tmp, target_path)
    return target_path


def _to_single_file(path: str) -> None:
    """Fold the write-ahead log back in so the copy is one self-contained file."""
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA journal_mode = DELETE")
    finally:
        conn.close()
