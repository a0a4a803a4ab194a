"""Many threads of one worker serving several projects at once, as gunicorn's threaded
workers do: every answer right, no error, and the process-wide caches stay bounded."""

from __future__ import annotations

import os
import sys
import threading
import time

import pytest

from codeyard.env import forget_environment
from codeyard.web import chrome, wsgi
from tests.unit.web.conftest import Site, text

pytestmark = pytest.mark.db

THREADS = 12
REQUESTS = 40


@pytest.fixture
def parent(make_env, tmp_path):
    envs = [make_env(f"p{i}", options=[("codeyard", "config_check_interval", "0")])
            for i in range(4)]
    yield tmp_path, envs
    for env in envs:
        forget_environment(env.path)


def test_threads_over_projects_with_config_changes(parent, monkeypatch):
    root, envs = parent
    errors: list[str] = []
    # A 500 page says nothing to a stranger: keep the server-side traceback for the report.
    import traceback

    from codeyard.web import main

    answer_error = main.error_response

    def keeping_tracebacks(req, exc):
        if getattr(exc, "code", 500) >= 500:
            errors.append("".join(traceback.format_exception(exc)))
        return answer_error(req, exc)

    monkeypatch.setattr(main, "error_response", keeping_tracebacks)
    stop = threading.Event()
    renamed: dict[str, set[str]] = {env.name: {env.name} for env in envs}
    renamed_lock = threading.Lock()

    def names_of(env) -> list[str]:
        with renamed_lock:
            return list(renamed[env.name])

    def writer():
        # Rename projects while readers run: each reload clears per-project caches.
        n = 0
        while not stop.is_set():
            env = envs[n % len(envs)]
            name = f"{env.name}-v{n}"
            with renamed_lock:
                renamed[env.name].add(name)
            env.config.set("project", "name", name)
            env.config.save()
            n += 1
            time.sleep(0.005)

    def reader(k: int):
        site = Site({"codeyard.env_parent_dir": str(root)})
        try:
            for i in range(REQUESTS):
                env = envs[(k + i) % len(envs)]
                path = ("/", f"/{env.name}/about", f"/{env.name}/wiki/WikiStart",
                        f"/{env.name}/wiki/NoSuchPage", f"/{env.name}/chrome/common/codeyard.css",
                        f"/{env.name}/prefs")[i % 6]
                page = site.get(path)
                if page.status_code != (404 if path.endswith("NoSuchPage") else 200):
                    errors.append(f"{path}: {page.status_code} {text(page)[:300]}")
                    continue
                body = text(page)
                if path.endswith("/about") and not any(f"– {name}</title>" in body
                                                       for name in names_of(env)):
                    errors.append(f"{path}: another project's page")
                if path == "/" and not all(f'href="/{e.name}/"' in body for e in envs):
                    errors.append("index without every project: " + body[:2000])
        except Exception as exc:  # pragma: no cover - the failure is reported below
            errors.append(f"{type(exc).__name__}: {exc}")

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads often, so that races show
    try:
        w = threading.Thread(target=writer)
        w.start()
        readers = [threading.Thread(target=reader, args=(k,)) for k in range(THREADS)]
        for t in readers:
            t.start()
        for t in readers:
            t.join(120)
        stop.set()
        w.join(10)
    finally:
        sys.setswitchinterval(old)
    assert not any(t.is_alive() for t in readers)
    assert errors == []


def test_process_wide_caches_are_bounded(tmp_path, make_env):
    env = make_env("only")
    try:
        template = tmp_path / "index.html"
        template.write_text("<p>{{ projects|length }}</p>")
        for i in range(60):
            d = tmp_path / f"t{i}"
            d.mkdir()
            (d / "index.html").write_text(f"<p>{i}</p>")
            page = Site({"codeyard.env_parent_dir": str(tmp_path),
                         "trac.env_index_template": str(d / "index.html")}).get("/")
            assert text(page) == f"<p>{i}</p>"
        assert len(chrome._site_envs) <= chrome._site_envs.size
        for i in range(80):
            Site({"codeyard.env_parent_dir": str(tmp_path)}).get(
                "/", environ={"SCRIPT_NAME": f"/m{i}"})
        assert len(wsgi._index_cache) <= wsgi._index_cache.size
        assert len(wsgi._index_pages) <= wsgi._index_pages.size
    finally:
        forget_environment(env.path)
        assert os.path.isdir(env.path)


def test_a_project_value_is_computed_once_under_concurrency(make_env):
    env = make_env("m")
    calls = []
    barrier = threading.Barrier(16)

    def compute():
        calls.append(1)
        time.sleep(0.02)
        return object()

    results = []

    def ask():
        barrier.wait()
        results.append(env.memo("test.value", compute))

    threads = [threading.Thread(target=ask) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(calls) == 1
    assert len({id(r) for r in results}) == 1


def test_concurrent_opens_share_one_environment(make_env):
    from codeyard.env import open_environment

    env = make_env("o")
    forget_environment(env.path)
    barrier = threading.Barrier(16)
    opened = []

    def open_it():
        barrier.wait()
        opened.append(open_environment(env.path))

    threads = [threading.Thread(target=open_it) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(opened) == 16 and len({id(e) for e in opened}) == 1
    forget_environment(env.path)
