"""Attachment file names from the web: Windows paths keep their last part, names no URL or
reader can handle are refused, and the upload form needs the right to attach."""

from __future__ import annotations

import io
import re
from urllib.parse import quote

import pytest

from codeyard.attachment import model
from codeyard.wiki.model import WikiPage
from tests.unit.wiki.test_web import Site, body

pytestmark = pytest.mark.db


@pytest.fixture
def files_page(make_env):
    from codeyard.env import forget_environment, open_environment

    env = make_env("files")
    page = WikiPage(env, "Files")
    page.text = "x"
    page.save("admin")
    yield open_environment(env.path), Site(env.path)
    forget_environment(env.path)


def raw_upload(site, page: str, header_filename: bytes, content: bytes = b"data"):
    """A multipart upload whose file name header is written byte for byte, as browsers do."""
    boundary = b"----codeyardtest"
    token = site.token().encode()
    parts = [
        b"--" + boundary + b'\r\nContent-Disposition: form-data; name="__FORM_TOKEN"\r\n\r\n'
        + token + b"\r\n",
        b"--" + boundary + b'\r\nContent-Disposition: form-data; name="action"\r\n\r\nnew\r\n',
        b"--" + boundary + b'\r\nContent-Disposition: form-data; name="attachment"; filename="'
        + header_filename + b'"\r\nContent-Type: application/octet-stream\r\n\r\n' + content
        + b"\r\n",
        b"--" + boundary + b"--\r\n",
    ]
    data = b"".join(parts)
    return site.client.post(f"/attachment/wiki/{page}/", data=data,
                            content_type="multipart/form-data; boundary=" + boundary.decode(),
                            environ_base=site.environ, headers={"Accept": "text/html"})


def stored(env) -> list[str]:
    return [a.filename for a in model.select(env, "wiki", "Files")]


def test_windows_paths_keep_their_last_part_and_stay_reachable(files_page):
    env, site = files_page
    site.login("alice")
    for sent, name in ((rb"C:\Windows\evil.ini", "evil.ini"),
                       (rb"\\server\share\doc.txt", "doc.txt"),
                       (b"d:\\Users\\me\\caf\xc3\xa9 list.txt", "caf\u00e9 list.txt"),
                       (b"odd ?#%;.txt", "odd ?#%;.txt")):
        done = raw_upload(site, "Files", sent)
        assert done.status_code == 303, body(done)
        assert stored(env)[-1] == name
        assert site.get(f"/raw-attachment/wiki/Files/{quote(name)}").data == b"data"
        assert site.get(f"/attachment/wiki/Files/{quote(name)}").status_code == 200
        gone = site.post(f"/attachment/wiki/Files/{quote(name)}", {"action": "delete"})
        assert gone.status_code == 303 and name not in stored(env)


@pytest.mark.parametrize("name,why", [
    ("invoice\u202efdp.exe", "U+202E"),
    ("a\u2066b.txt", "U+2066"),
    ("x" * 300 + ".txt", "at most 255 characters"),
])
def test_unreadable_names_are_refused(files_page, name, why):
    env, site = files_page
    site.login("alice")
    refused = raw_upload(site, "Files", name.encode())
    assert refused.status_code == 400 and why in body(refused)
    assert stored(env) == []
    with pytest.raises(model.InvalidAttachment, match=re.escape(why)):
        model.insert(env, "wiki", "Files", name, io.BytesIO(b"x"))


def test_a_backslash_never_stays_in_a_name(files_page):
    env, _ = files_page
    # Not a full Windows path, but a name with a backslash could not be reached by any URL.
    assert model.insert(env, "wiki", "Files", "dir\\sub\\f.txt", io.BytesIO(b"x")).filename == "f.txt"


def test_the_upload_form_needs_the_right_to_attach(files_page):
    env, site = files_page
    new = site.get("/attachment/wiki/Files/?action=new")
    assert new.status_code == 403
    assert site.get("/attachment/wiki/Files/").status_code == 200  # the list stays public
    site.login("alice")
    form = site.get("/attachment/wiki/Files/?action=new")
    assert form.status_code == 200 and 'name="attachment"' in body(form)
