"""Many projects, a PostgreSQL database each, served by one `codeyard serve` with several
processes: the connections stay within what the pools promise (``[codeyard]
database_pool_size`` kept per project and process, one more per busy thread), below a
small ``max_connections``, and `codeyard check` agrees with the sums."""

from __future__ import annotations

import threading

import pytest

from tests.functional.conftest import make_project
from tests.support.codeyard_server import CodeyardServer, run_codeyard
from tests.support.http import Client
from tests.support.postgres import PostgresServer

pytestmark = pytest.mark.slow

PROJECTS, WORKERS, THREADS, MAX_CONNECTIONS = 12, 2, 4, 40


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    pg = PostgresServer(max_connections=MAX_CONNECTIONS).start()
    parent = str(tmp_path_factory.mktemp("many"))
    try:
        for n in range(PROJECTS):
            pg.psql(f"CREATE DATABASE p{n}")
            make_project(parent, f"p{n}", f"Project {n}", [
                ("trac", "database", pg.url(db=f"p{n}")),
                ("codeyard", "database_pool_size", "1")])
        with CodeyardServer("-e", parent, "--threads", str(THREADS), workers=WORKERS) as srv:
            yield srv, pg, parent
    finally:
        pg.stop()


def _connections(pg) -> int:
    return int(pg.psql("SELECT count(*) FROM pg_stat_activity WHERE datname ~ '^p[0-9]+$'").strip())


def test_every_project_answers_under_load_within_the_bound(server):
    srv, pg, parent = server
    bound = WORKERS * (PROJECTS * 1 + THREADS)  # kept per project + one per busy thread
    assert bound <= MAX_CONNECTIONS - 3
    failures: list[str] = []
    peak = [0]
    stop = threading.Event()

    def load(k: int) -> None:
        client = Client(srv.url, timeout=60)
        for i in range(3 * PROJECTS):
            n = (i + k) % PROJECTS
            page = client.get(f"p{n}/wiki/WikiStart")
            if page.status != 200:
                failures.append(f"p{n}: {page.status} {page.text[:300]}")

    def watch() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _connections(pg))
            stop.wait(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    clients = [threading.Thread(target=load, args=(k,)) for k in range(8)]
    for t in clients:
        t.start()
    for t in clients:
        t.join()
    stop.set()
    watcher.join()
    assert not failures, failures[:3]
    assert 0 < peak[0] <= bound, (peak[0], bound)
    # After the load, each process keeps at most one connection per project it served.
    assert _connections(pg) <= WORKERS * PROJECTS


def test_check_adds_up_the_same(server):
    srv, pg, parent = server
    ok = run_codeyard("check", "-e", parent, "--processes", str(WORKERS),
                      "--threads", str(THREADS))
    assert ok.returncode == 0 and "ok    connections" in ok.stdout, ok.stdout
    assert f"need up to {WORKERS * (PROJECTS + THREADS)} connections" in ok.stdout, ok.stdout
    too_many = run_codeyard("check", "-e", parent, "--processes", "4", "--threads", "8")
    assert too_many.returncode == 1 and "raise max_connections" in too_many.stdout
