"""The browser, log and changeset pages on a Bazaar shared repository made with ``brz``
(branches ``trunk`` and ``feature``): revisions shown and linked as ``branch:revno``."""

from __future__ import annotations

import re

import pytest

from tests.unit.vcs.contract import GUIDE, MAIN_PY
from tests.unit.vcs.test_bzr_contract import Brz
from tests.unit.web.conftest import text


@pytest.fixture(scope="module")
def bzr_repo(tmp_path_factory):
    brz = Brz(tmp_path_factory.mktemp("brz-home"))
    root = tmp_path_factory.mktemp("bzr") / "repo"
    brz(root.parent, "init-shared-repo", "-q", "repo")
    brz(root, "init", "-q", "trunk")
    trunk = root / "trunk"
    (trunk / "src").mkdir()
    (trunk / "src" / "main.py").write_bytes(MAIN_PY)
    (trunk / "guide.txt").write_bytes(GUIDE)
    brz(trunk, "add", "-q")
    brz(trunk, "commit", "-q", "-m", "Initial import, see #1")
    with open(trunk / "src" / "main.py", "ab") as stream:
        stream.write(b"print('two')\n")
    brz(trunk, "commit", "-q", "-m", "Print two")
    brz(trunk, "mv", "-q", "guide.txt", "manual.txt")
    brz(trunk, "commit", "-q", "-m", "Rename the guide")
    return root


@pytest.fixture
def site(served, bzr_repo):
    env, client = served("bzr", options=[
        ("repositories", ".dir", str(bzr_repo)), ("repositories", ".type", "bzr")])
    return client


def _main(page) -> str:
    assert page.status_code == 200, text(page)[:1500]
    return re.search(r"<main.*?</main>", text(page), re.S).group(0)


def test_bazaar_browse_annotate_log_and_changeset(site):
    root = _main(site.get("/browser"))
    assert 'href="/browser/trunk"' in root
    listing = _main(site.get("/browser/trunk/src"))
    assert 'href="/changeset/trunk%3A2"' in listing and ">2<" in listing
    html = _main(site.get("/browser/trunk/src/main.py?annotate=blame"))
    assert '<th id="L4"><a href="#L4">4</a></th>' in html
    line4 = html.split('id="L4"', 1)[1].split("</tr>", 1)[0]
    assert 'href="/changeset/trunk%3A2"' in line4 and "Alice" in line4
    log = _main(site.get("/log/trunk/manual.txt?mode=follow_copy"))
    assert re.findall(r'class="changeset" href="/changeset/([^"]+)"', log) == \
        ["trunk%3A3", "trunk%3A1"]
    assert "trunk/guide.txt" in log
    changeset = _main(site.get("/changeset/trunk:2"))
    assert "<h1>Changeset trunk:2</h1>" in changeset
    assert "print(&#39;two&#39;)" in changeset and 'href="/changeset/trunk%3A1"' in changeset
    raw = site.get("/browser/trunk/src/main.py?format=raw")
    assert raw.get_data() == MAIN_PY + b"print('two')\n"
    diff = text(site.get("/changeset/trunk:2?format=diff"))
    assert "+print('two')" in diff
    assert site.get("/changeset/trunk:9").status_code == 404


def test_bazaar_links(site):
    page = site.post("/wiki_render", {"realm": "wiki", "id": "WikiStart",
                                      "text": "changeset:trunk:2 source:trunk/src/main.py@trunk:1 "
                                              "log:trunk@trunk:1:trunk:3 changeset:trunk:7"})
    html = text(page)
    assert '<a class="changeset" href="/changeset/trunk%3A2" title="Print two">' in html
    assert '<a class="source" href="/browser/trunk/src/main.py?rev=trunk%3A1">' in html
    assert 'href="/log/trunk?revs=trunk%3A1%3Atrunk%3A3"' in html
    assert 'class="missing changeset"' in html
    ranged = _main(site.get("/log/trunk?revs=trunk:1:trunk:2"))
    assert re.findall(r'class="changeset" href="/changeset/([^"]+)"', ranged) == \
        ["trunk%3A2", "trunk%3A1"]
