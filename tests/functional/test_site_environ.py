"""One process, one ``application``, sites chosen per request by the WSGI environ."""

from __future__ import annotations

import os
import threading
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest

from codeyard.web.wsgi import application
from tests.support.http import Client

pytestmark = pytest.mark.slow


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        pass


def front_server(site):
    """Like a front server with four mounts, each configuring the site differently."""
    template = os.path.join(site.root, "custom-index.html")
    with open(template, "w", encoding="utf-8") as fh:
        fh.write("<title>{{ heading }}</title><ol>{% for p in projects %}"
                 "<li data-href=\"{{ p.href }}\">{{ p.name }}</li>{% endfor %}</ol>{{ footer }}")
    mounts = {
        "/a": {"codeyard.env_path": site.alpha},
        "/b": {"trac.env_path": site.beta},
        "/all": {"codeyard.env_parent_dir": site.parent},
        "/custom": {"trac.env_parent_dir": site.parent, "trac.env_index_template": template,
                    "trac.template_vars": "heading=Custom Index,footer=Served per request"},
    }

    def dispatch(environ, start_response):
        path = environ.get("PATH_INFO", "")
        for prefix, settings in mounts.items():
            if path == prefix or path.startswith(prefix + "/"):
                environ.update(settings)
                environ["SCRIPT_NAME"] = prefix
                environ["PATH_INFO"] = path[len(prefix):]
                return application(environ, start_response)
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"no mount here"]

    return dispatch


@pytest.fixture
def one_process(site):
    server: WSGIServer = make_server("127.0.0.1", 0, front_server(site), handler_class=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()


def title_of(text: str) -> str:
    start = text.index("<title>") + len("<title>")
    return text[start:text.index("</title>", start)]


def test_two_environ_values_reach_two_projects(one_process):
    client = Client(one_process)
    for _ in range(2):  # interleaved, so nothing sticks from one request to the next
        alpha = client.get("a/about")
        beta = client.get("b/about")
        assert alpha.status == 200 and beta.status == 200
        assert "Alpha Project" in title_of(alpha.text) and "Beta" not in title_of(alpha.text)
        assert "Beta Project" in title_of(beta.text) and "Alpha" not in title_of(beta.text)
        # Links are built from each request's own mount point.
        assert 'href="/a/' in alpha.text and 'href="/b/' not in alpha.text
        assert 'href="/b/' in beta.text and 'href="/a/' not in beta.text


def test_parent_dir_mount_next_to_single_projects(one_process):
    client = Client(one_process)
    index = client.get("all/")
    assert index.status == 200
    assert "Alpha Project" in index.text and "Beta Project" in index.text
    assert 'href="/all/alpha' in index.text
    assert client.get("all/alpha/about").status == 200
    # In the single-project mounts the first segment is a page, not a project.
    assert client.get("a/alpha/about").status == 404
    assert client.get("all/nosuch/about").status == 404


def test_index_template_and_vars_from_the_environ(one_process):
    client = Client(one_process)
    custom = client.get("custom/")
    assert custom.status == 200
    assert title_of(custom.text) == "Custom Index"
    assert '<li data-href="/custom/alpha">Alpha Project</li>' in custom.text.replace(
        '/custom/alpha/"', '/custom/alpha"')
    assert custom.text.rstrip().endswith("Served per request")
    # The next request, on another mount, gets the built-in index again.
    plain = client.get("all/")
    assert "Custom Index" not in plain.text and "Alpha Project" in plain.text
