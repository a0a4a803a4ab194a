"""Wiki text to render or save is at most ``[wiki] max_size`` characters: too long a text is
refused with 413, and too big a body before it is read."""

from __future__ import annotations

import io

import pytest
from werkzeug.test import EnvironBuilder, run_wsgi_app

from codeyard.env import forget_environment, open_environment
from codeyard.perm import PermissionSystem
from codeyard.web.wsgi import application
from codeyard.wiki.model import WikiPage
from tests.unit.wiki.test_web import Site, body

pytestmark = pytest.mark.db


@pytest.fixture
def small(make_env):
    env = make_env("small", options=[("wiki", "max_size", "1000")])
    PermissionSystem(env).grant("anonymous", "WIKI_CREATE")
    yield open_environment(env.path), Site(env.path)
    forget_environment(env.path)


class CountingInput(io.BytesIO):
    """A request body that records how much of it was read."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.taken = 0

    def read(self, size=-1):
        chunk = super().read(size)
        self.taken += len(chunk)
        return chunk

    def readline(self, size=-1):
        chunk = super().readline(size)
        self.taken += len(chunk)
        return chunk


def post_raw(site: Site, path: str, data: bytes):
    stream = CountingInput(data)
    builder = EnvironBuilder(path, method="POST", input_stream=stream,
                             content_type="application/x-www-form-urlencoded",
                             content_length=len(data), environ_base=site.environ,
                             headers={"Accept": "text/html",
                                      "Cookie": f"trac_form_token={site.token()}"})
    app_iter, status, headers = run_wsgi_app(application, builder.get_environ())
    page = b"".join(app_iter).decode()
    return int(status.split()[0]), page, stream.taken


def test_wiki_render_refuses_text_over_max_size(small):
    env, site = small
    fits = site.post("/wiki_render", {"realm": "wiki", "id": "WikiStart", "text": "a" * 1000})
    assert fits.status_code == 200
    over = site.post("/wiki_render", {"realm": "wiki", "id": "WikiStart", "text": "a" * 1001})
    assert over.status_code == 413
    assert "1,001 characters" in body(over) and "at most 1,000" in body(over)
    assert "[wiki] max_size" in body(over)


def test_a_body_too_big_for_any_allowed_text_is_not_read(small):
    env, site = small
    token = site.token().encode()
    data = b"__FORM_TOKEN=" + token + b"&realm=wiki&text=" + b"a" * 2_000_000
    status, page, taken = post_raw(site, "/wiki_render", data)
    assert status == 413 and "wiki text may have at most 1,000 characters" in page
    assert taken == 0
    status, page, taken = post_raw(site, "/wiki/NewPage", data.replace(b"realm=wiki", b"action=edit&save=1"))
    assert status == 413 and taken == 0
    assert not WikiPage(env, "NewPage").exists


def test_edit_preview_and_save_refuse_text_over_max_size(small):
    env, site = small
    fields = {"action": "edit", "version": "0", "text": "b" * 1500}
    preview = site.post("/wiki/NewPage", {**fields, "preview": "1"})
    assert preview.status_code == 413
    page = body(preview)
    assert "1,500 characters" in page and "b" * 1500 in page  # the text stays in the editor
    assert "Press \u201cPreview\u201d to see the page" in page  # not rendered
    saved = site.post("/wiki/NewPage", {**fields, "save": "1"})
    assert saved.status_code == 413 and not WikiPage(env, "NewPage").exists
    assert site.post("/wiki/NewPage", {**fields, "text": "fits", "save": "1"}).status_code == 303
