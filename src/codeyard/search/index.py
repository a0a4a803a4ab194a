"""The full-text index: ``codeyard_search_doc`` (one row per resource), ``codeyard_search``
(SQLite: an FTS5 table whose rowid is the document's; PostgreSQL: a ``tsvector`` per
document under a GIN index) and ``codeyard_search_state`` (per source, the stamp the index
last caught up with). All three are derived data: ``search rebuild`` makes them again."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from codeyard.search.api import SearchDocument, SearchHit
from codeyard.search.query import SearchQuery, fts5_match, tsquery_sql

DOCS = "codeyard_search_doc"
TEXT = "codeyard_search"
STATE = "codeyard_search_state"
TABLES = [DOCS, TEXT, STATE]
TITLE_WEIGHT = 10.0
# The generation bumped by every write to the index: ranked results are kept under it.
INDEX_WRITES = "codeyard.search.index"
RESULTS_KEPT = 256  # distinct (query, sources) result lists a process keeps


def ensure_tables(db) -> list[str]:
    """Create the index's tables when missing; return their names."""
    pg = db.dialect == "postgresql"
    if not db.has_table(DOCS):
        key = "docid bigserial PRIMARY KEY" if pg else "docid integer PRIMARY KEY"
        db(f"CREATE TABLE {DOCS} ({key}, source text NOT NULL, parent text NOT NULL, "
           "id text NOT NULL, title text, body text, author text, time bigint, "
           "UNIQUE (source, parent, id))")
    if not db.has_table(TEXT):
        if pg:
            db(f"CREATE TABLE {TEXT} (docid bigint PRIMARY KEY, tsv tsvector NOT NULL)")
            db(f"CREATE INDEX {TEXT}_tsv_idx ON {TEXT} USING gin (tsv)")
        else:
            db(f"CREATE VIRTUAL TABLE {TEXT} USING fts5(title, body, "
               "tokenize = 'unicode61 remove_diacritics 2')")
    if not db.has_table(STATE):
        db(f"CREATE TABLE {STATE} (source text PRIMARY KEY, stamp text, newest bigint)")
    return list(TABLES)


def _put_text(db, docid: int, doc: SearchDocument) -> None:
    if db.dialect == "postgresql":
        db(f"INSERT INTO {TEXT} (docid, tsv) VALUES (%s, "
           "setweight(to_tsvector('simple', %s), 'A') || "
           "setweight(to_tsvector('simple', %s), 'B'))", (docid, doc.title, doc.body))
    else:
        db(f"INSERT INTO {TEXT} (rowid, title, body) VALUES (%s, %s, %s)",
           (docid, doc.title, doc.body))


def _drop_text(db, docids: Iterable[int]) -> None:
    column = "docid" if db.dialect == "postgresql" else "rowid"
    for docid in docids:
        db(f"DELETE FROM {TEXT} WHERE {column} = %s", (docid,))


def put(db, docs: Iterable[SearchDocument]) -> int:
    """Store (replace) documents, inside a write scope; return how many."""
    count = 0
    for doc in docs:
        rows = db(f"SELECT docid FROM {DOCS} WHERE source = %s AND parent = %s AND id = %s",
                  (doc.source, doc.parent, doc.id))
        if rows:
            docid = rows[0][0]
            _drop_text(db, [docid])
            db(f"UPDATE {DOCS} SET title = %s, body = %s, author = %s, time = %s "
               "WHERE docid = %s", (doc.title, doc.body, doc.author, doc.time, docid))
        else:
            docid = db(f"INSERT INTO {DOCS} (source, parent, id, title, body, author, time) "
                       "VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING docid",
                       (doc.source, doc.parent, doc.id, doc.title, doc.body, doc.author,
                        doc.time))[0][0]
        _put_text(db, docid, doc)
        count += 1
    return count


def remove(db, source: str, ids: Iterable[str] | None = None, parent: str | None = None) -> None:
    """Forget documents of ``source``: the ``ids`` given (of ``parent``), or all of them."""
    where, params = "source = %s", [source]
    if parent is not None:
        where += " AND parent = %s"
        params.append(parent)
    if ids is None:
        docids = [r[0] for r in db(f"SELECT docid FROM {DOCS} WHERE {where}", params)]
    else:
        docids = []
        for id_ in ids:
            docids += [r[0] for r in db(f"SELECT docid FROM {DOCS} WHERE {where} AND id = %s",
                                        [*params, id_])]
    _drop_text(db, docids)
    for docid in docids:
        db(f"DELETE FROM {DOCS} WHERE docid = %s", (docid,))


# -- keeping current


def _stamps(env, db) -> dict[str, tuple[int, int]]:
    found: dict[str, tuple[int, int]] = {}
    for stamps in env.hook.search_stamps(env=env, db=db):
        for source, stamp in (stamps or {}).items():
            found[source] = (int(stamp[0] or 0), int(stamp[1] or 0))
    return found


def _documents(env, source: str, since: int | None) -> list[SearchDocument]:
    docs: list[SearchDocument] = []
    for found in env.hook.search_documents(env=env, source=source, since=since):
        docs.extend(found or ())
    return docs


def _record(db, source: str, stamp: tuple[int, int]) -> None:
    db(f"DELETE FROM {STATE} WHERE source = %s", (source,))
    db(f"INSERT INTO {STATE} (source, stamp, newest) VALUES (%s, %s, %s)",
       (source, f"{stamp[0]}:{stamp[1]}", stamp[1]))


def _rebuild_source(env, db, source: str, stamp: tuple[int, int]) -> int:
    remove(db, source)
    count = put(db, _documents(env, source, None))
    _record(db, source, stamp)
    return count


CLEAN_MARKS = 16  # connections whose last clean look at the stamps is remembered


def catch_up(env) -> list[str]:
    """Bring the index level with the sources' stamps (writes by a Trac beside us, or an
    index made before a source existed); return the sources that needed work. On SQLite,
    when nothing at all was committed since this connection last found the index level
    (``DatabaseManager.change_mark``), the stamps are not even read: counting 100,000
    tickets was most of a search."""
    manager = env.database
    clean: dict[int, tuple] = env.memo("search.clean_marks", dict)
    with env.db_query as db:
        mark = manager.change_mark(db)
        if mark is not None and manager.same_mark(clean.get(id(mark[0])), mark):
            return []
        stamps = _stamps(env, db)
        state = {r[0]: (r[1], r[2]) for r in db(f"SELECT source, stamp, newest FROM {STATE}")}
    stale = {s: st for s, st in stamps.items()
             if state.get(s, (None, None))[0] != f"{st[0]}:{st[1]}"}
    if not stale:
        if mark is not None:
            if len(clean) >= CLEAN_MARKS and id(mark[0]) not in clean:
                clean.clear()  # connections come and go with the pool's overflow
            clean[id(mark[0])] = mark
        return []
    with env.db_transaction as db:
        env.invalidate(INDEX_WRITES)
        for source, stamp in stale.items():
            known = state.get(source)
            if known is None:
                _rebuild_source(env, db, source, stamp)
                continue
            put(db, _documents(env, source, int(known[1] or 0)))
            count = db(f"SELECT count(*) FROM {DOCS} WHERE source = %s", (source,))[0][0]
            if count != stamp[0]:  # something was removed (or added in the past)
                _rebuild_source(env, db, source, stamp)
            else:
                _record(db, source, stamp)
    return sorted(stale)


def rebuild(env, progress: Callable[[str, int, int], None] | None = None) -> dict[str, int]:
    """Index every source again from scratch; ``progress(source, done, total)``."""
    with env.db_query as db:
        stamps = _stamps(env, db)
    counts: dict[str, int] = {}
    with env.db_transaction as db:
        env.invalidate(INDEX_WRITES)
        db(f"DELETE FROM {STATE}")
        for source in list(r[0] for r in db(f"SELECT DISTINCT source FROM {DOCS}")):
            if source not in stamps:
                remove(db, source)
        for source, stamp in stamps.items():
            remove(db, source)
            docs = _documents(env, source, None)
            done = 0
            for start in range(0, len(docs), 200):
                done += put(db, docs[start:start + 200])
                if progress:
                    progress(source, done, len(docs))
            if progress and not docs:
                progress(source, 0, 0)
            _record(db, source, stamp)
            counts[source] = done
    return counts


def reindex(env, docs: Iterable[SearchDocument] = (),
            removed: Iterable[tuple[str, str, str]] = ()) -> None:
    """After a change the index saw: store ``docs``, forget ``removed`` (source, parent, id).
    The stamps are left alone: the next search sees they moved and finds nothing to do
    beyond a cheap look at what changed since."""
    with env.db_transaction as db:
        if not db.has_table(DOCS):
            return
        env.invalidate(INDEX_WRITES)
        for source, parent, id_ in removed:
            remove(db, source, [id_], parent)
        put(db, docs)


# -- searching


def search(env, query: SearchQuery, sources: list[str], limit: int = 1000) -> list[SearchHit]:
    """The documents of ``sources`` matching ``query``, best first: ranked once, then kept
    while nothing writes to the index. The list and its hits are shared with later
    searches: callers must change neither (``describe_hits`` fills copies)."""
    if not query or not sources:
        return []
    from codeyard.util.lru import BoundedCache

    found, kept, generation = env.cache_lookup(INDEX_WRITES)
    if not found or kept is None:
        kept = BoundedCache(RESULTS_KEPT)
        env.cache_store(INDEX_WRITES, generation, kept)
    key = (repr(query), tuple(sorted(sources)), limit)
    hits = kept.get(key)
    if hits is None:
        hits = _ranked(env, query, sources, limit)
        kept.put(key, hits)
    return hits


def _ranked(env, query: SearchQuery, sources: list[str], limit: int) -> list[SearchHit]:
    marks = ", ".join(["%s"] * len(sources))
    with env.db_query as db:
        if db.dialect == "postgresql":
            expr, params = tsquery_sql(query)
            rows = db(f"SELECT d.docid, d.source, d.id, d.parent, d.title, d.author, d.time, "
                      f"ts_rank(s.tsv, q.q) AS score FROM {TEXT} s "
                      f"JOIN {DOCS} d ON d.docid = s.docid CROSS JOIN (SELECT {expr} AS q) q "
                      f"WHERE s.tsv @@ q.q AND d.source IN ({marks}) "
                      "ORDER BY score DESC, d.time DESC LIMIT %s", [*params, *sources, limit])
        else:
            rows = db(f"SELECT d.docid, d.source, d.id, d.parent, d.title, d.author, d.time, "
                      f"-bm25({TEXT}, {TITLE_WEIGHT}, 1.0) AS score FROM {TEXT} "
                      f"JOIN {DOCS} d ON d.docid = {TEXT}.rowid "
                      f"WHERE {TEXT} MATCH %s AND d.source IN ({marks}) "
                      "ORDER BY score DESC, d.time DESC LIMIT %s",
                      [fts5_match(query), *sources, limit])
    return [SearchHit(source, str(id_), parent, title or "", "", author or "", int(time or 0),
                      float(score), docid)
            for docid, source, id_, parent, title, author, time, score in rows]


def load_bodies(env, hits: list[SearchHit]) -> None:
    """Fill the ``body`` of the hits shown (the ranking query leaves the texts out)."""
    if not hits:
        return
    marks = ", ".join(["%s"] * len(hits))
    with env.db_query as db:
        bodies = dict(db(f"SELECT docid, body FROM {DOCS} WHERE docid IN ({marks})",
                         [hit.docid for hit in hits]))
    for hit in hits:
        hit.body = bodies.get(hit.docid) or ""
