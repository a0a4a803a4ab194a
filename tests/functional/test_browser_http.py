"""The source browser, revision log and changeset pages over HTTP, on Git repositories
made with the ``git`` command (the history of tests/unit/vcs/contract.py)."""

from __future__ import annotations

import io
import re
import shutil
import zipfile

import pytest

from codeyard.perm import PermissionSystem
from codeyard.vcs.git import open_repository
from tests.unit.vcs.contract import LOGO
from tests.unit.vcs.test_git_contract import GitWorkTree, build_history
from tests.unit.web.conftest import get_page as _get
from tests.unit.web.conftest import main_of as _main
from tests.unit.web.conftest import text


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """(work tree, revisions) of the scenario, plus a second, smaller repository."""
    tree = GitWorkTree(tmp_path_factory.mktemp("git") / "main")
    revs = build_history(tree)
    other = GitWorkTree(tmp_path_factory.mktemp("git") / "other")
    other.write("page.html", b"<script>alert(1)</script>\n")
    other.write("big.txt", b"".join(b"line %d\n" % i for i in range(5000)))
    revs["o1"] = other.commit("Other repository, see source:page.html",
                              author="Carol <carol@example.org>")
    return tree, other, revs


@pytest.fixture
def site(served, history):
    tree, other, revs = history
    env, client = served("project", options=[
        ("repositories", ".dir", str(tree.path)), ("repositories", ".type", "git"),
        ("repositories", ".description", "The main line"),
        ("repositories", "other.dir", str(other.path)), ("repositories", "other.type", "git"),
        ("repositories", "other.description", "Another repository"),
        ("repositories", "secret.dir", str(other.path)), ("repositories", "secret.type", "git"),
        ("repositories", "secret.hidden", "true"),
    ])
    return env, client, revs


# -- /browser


def test_index_lists_visible_repositories_with_youngest_revision(site):
    env, client, revs = site
    html = _main(_get(client, "/browser"))
    assert 'id="dirlist"' in html  # the default repository's root
    index = html.split('id="repindex"', 1)[1]
    assert "/browser/other" in index and "Another repository" in index
    assert revs["o1"][:7] in index and "Carol" in index
    assert "secret" not in index  # hidden repositories are not listed
    assert "(default)" not in index
    # ... but can still be browsed by name
    assert "page.html" in _main(_get(client, "/browser/secret"))


def test_index_without_default_repository(served, history):
    tree, other, revs = history
    env, client = served("nodefault", options=[
        ("repositories", "one.dir", str(tree.path)), ("repositories", "one.type", "git"),
        ("repositories", "two.dir", str(other.path)), ("repositories", "two.type", "git")])
    html = _main(_get(client, "/browser"))
    assert "<h1>Repository Index</h1>" in html and 'id="dirlist"' not in html
    assert html.index("/browser/one") < html.index("/browser/two")
    by_date = _main(_get(client, "/browser?order=date"))  # "two" was made first
    assert by_date.index("/browser/two") < by_date.index("/browser/one")
    assert "Browse Source" in text(_get(client, "/wiki"))


def test_directory_listing_columns_and_sorting(site):
    env, client, revs = site
    html = _main(_get(client, "/browser")).split('id="repindex"')[0]
    rows = re.findall(r'<td class="name"><a class="(dir|file)" href="([^"]+)">', html)
    assert [href for _kind, href in rows] == ["/browser/docs", "/browser/src",
                                              "/browser/feature.txt", "/browser/logo.png"]
    # rev, age, author and the last change's message, per entry
    feature = html.split("/browser/feature.txt", 1)[1].split("</tr>", 1)[0]
    assert f"/changeset/{revs['f1']}" in feature and revs["f1"][:7] in feature
    assert "Bob" in feature and "Add the feature" in feature
    assert "11 bytes" in feature
    by_size = _main(_get(client, "/browser?order=size&desc=1"))
    files = re.findall(r'<a class="file" href="/browser/([^"]+)"', by_size)
    assert files == ["logo.png", "feature.txt"]
    assert 'aria-sort="descending"' in by_size


def test_browsing_at_a_revision(site):
    env, client, revs = site
    html = _main(_get(client, f"/browser?rev={revs['r2'][:10]}"))
    assert f"/browser/README?rev={revs['r2'][:10]}" in html
    assert "feature.txt" not in html
    assert "Print two, add the logo" in html
    old = _main(_get(client, f"/browser/docs/guide.txt?rev={revs['r2']}"))
    assert "How to use it." in old
    _get(client, f"/browser/docs/guide.txt?rev={revs['r4']}", 404)


def test_file_view_highlighted_with_line_anchors(site):
    env, client, revs = site
    html = _main(_get(client, "/browser/src/main.py"))
    assert '<table class="code">' in html
    assert '<th id="L4"><a href="#L4">4</a></th>' in html
    assert '<span class="kn">import</span>' in html  # Pygments' classes
    info = html.split('id="info"', 1)[1].split("</div>", 1)[0]
    assert f"/changeset/{revs['r2']}" in info and "Alice" in info
    assert 'href="/browser/src/main.py?annotate=blame"' in html
    assert 'href="/log/src/main.py"' in html
    assert 'href="/browser/src/main.py?format=raw"' in html
    marked = _main(_get(client, "/browser/src/main.py?marks=2-3,9,x"))
    assert re.findall(r'<tr class="hilite"><th id="L(\d+)"', marked) == ["2", "3"]


def test_raw_and_text_downloads(site):
    env, client, revs = site
    raw = _get(client, "/browser/src/main.py?format=raw")
    assert raw.get_data() == b"import sys\n\nprint('one')\nprint('two')\n"
    assert raw.headers["Content-Type"].startswith("text/plain")
    assert raw.headers["Content-Length"] == str(len(raw.get_data()))
    logo = _get(client, "/browser/logo.png?format=raw")
    assert logo.get_data() == LOGO and logo.headers["Content-Type"] == "image/png"
    txt = _get(client, "/browser/src/main.py?format=txt")
    assert txt.headers["Content-Type"] == "text/plain; charset=utf-8"
    # a page of HTML in a repository is never served as HTML
    page = _get(client, "/browser/other/page.html?format=raw")
    assert not page.headers["Content-Type"].startswith("text/html")
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in page.headers["Content-Security-Policy"]
    exported = _get(client, f"/export/{revs['r1']}/README")
    assert exported.get_data() == b"hello\n"
    _get(client, "/browser/src?format=raw", 400)


def test_binary_file_is_never_rendered(site):
    env, client, revs = site
    html = _main(_get(client, "/browser/logo.png"))
    assert f"(binary file, {len(LOGO)} bytes" in html
    assert 'href="/browser/logo.png?format=raw">download</a>' in html
    assert '<table class="code' not in html and "IHDR" not in html


def test_large_file_is_not_loaded_into_the_page(served, history):
    tree, other, revs = history
    env, client = served("small", options=[
        ("repositories", ".dir", str(other.path)), ("repositories", ".type", "git"),
        ("mimeviewer", "max_preview_size", "1000")])
    html = _main(_get(client, "/browser/big.txt"))
    assert "larger than the preview limit" in html
    assert "line 4999" not in html and "line 1\n" not in html
    assert "line 4999" in text(_get(client, "/browser/big.txt?format=txt"))


def test_annotate_shows_revision_and_author_per_line(site):
    env, client, revs = site
    html = _main(_get(client, "/browser/src/main.py?annotate=blame"))
    rows = re.findall(r'<tr><th id="L(\d+)">.*?</tr>', html, re.S)
    assert rows == ["1", "2", "3", "4"]
    line1 = html.split('id="L1"', 1)[1].split("</tr>", 1)[0]
    line4 = html.split('id="L4"', 1)[1].split("</tr>", 1)[0]
    assert f'href="/changeset/{revs["r1"]}"' in line1 and revs["r1"][:7] in line1
    assert f'href="/changeset/{revs["r2"]}"' in line4
    assert "Alice" in line1 and "Alice" in line4


# -- /log


def _log_revs(html: str) -> list[str]:
    return re.findall(r'<a class="changeset" href="/changeset/([0-9a-f]{40})"', html)


def test_log_of_the_repository_and_paging(site):
    env, client, revs = site
    html = _main(_get(client, "/log"))
    listed = _log_revs(html)
    repos = open_repository(env, "", env.config.get("repositories", ".dir"))
    assert listed == [rev for _path, rev, _change in repos.get_path_history("")]
    repos.close()
    assert revs["r1"] in listed and revs["f1"] in listed
    assert "Add the feature" in html and "Bob" in html
    row = html.split(f'/changeset/{revs["r2"]}"', 1)[1].split("</tr>", 1)[0]
    assert "1 added" in row and "1 edited" in row  # the changes summary
    first = _main(_get(client, "/log?limit=2"))
    assert len(_log_revs(first)) == 2
    nxt = re.search(r'rel="next" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    assert "limit=2" in nxt and "rev=" in nxt
    second = _main(_get(client, nxt))
    assert set(_log_revs(second)).isdisjoint(_log_revs(first))
    last = _main(_get(client, f"/log?rev={revs['r2']}&limit=5"))
    assert _log_revs(last) == [revs["r2"], revs["r1"]] and 'rel="next"' not in last


def test_log_follows_renames_by_mode(site):
    env, client, revs = site
    stop = _log_revs(_main(_get(client, "/log/docs/manual.txt")))
    # As in Trac, stopping on the rename still lists the first revision at the old name.
    assert stop == [revs["r4"], revs["r3"], revs["r1"]]
    follow = _main(_get(client, "/log/docs/manual.txt?mode=follow_copy"))
    assert _log_revs(follow) == [revs["r4"], revs["r3"], revs["r1"]]
    assert "docs/guide.txt" in follow
    only = _log_revs(_main(_get(client, "/log/docs/manual.txt?mode=path_history")))
    assert revs["r4"] not in only and revs["r3"] in only


def test_log_ranges_stop_rev_verbose_and_rss(site):
    env, client, revs = site
    ranged = _log_revs(_main(_get(client, f"/log?revs={revs['r2'][:8]}-{revs['r3'][:8]}")))
    assert ranged == [revs["r3"], revs["r2"]]
    picked = _log_revs(_main(_get(client, f"/log?revs={revs['r1'][:8]},{revs['r4'][:8]}")))
    assert picked == [revs["r4"], revs["r1"]]
    stopped = _log_revs(_main(_get(client, f"/log?rev={revs['r4']}&stop_rev={revs['r3']}")))
    assert stopped == [revs["r4"], revs["r3"]]
    verbose = _main(_get(client, "/log?verbose=1"))
    assert '<div class="message"><p>' in verbose
    rss = _get(client, "/log/src?format=rss")
    assert rss.headers["Content-Type"].startswith("application/rss+xml")
    body = text(rss)
    assert body.count("<item>") == 2 and f"/changeset/{revs['r2']}" in body
    assert "Print two, add the logo" in body and "<dc:creator>Alice" in body


# -- /changeset


def test_changeset_page(site):
    env, client, revs = site
    html = _main(_get(client, f"/changeset/{revs['r2']}"))
    overview = html.split('id="overview"', 1)[1].split("</dl>", 1)[0]
    assert "Alice" in overview and "Print two, add the logo" in overview
    assert f'href="/changeset/{revs["r1"]}"' in overview  # the parent
    files = html.split('id="files"', 1)[1].split("</ul>", 1)[0]
    assert "added" in files and "logo.png" in files and "modified" in files
    assert "(binary)" in files
    diff = html.split('id="file1"', 1)[1].split("</section>", 1)[0]
    assert '<table class="diff inline">' in diff
    assert "print(&#39;two&#39;)" in diff and 'class="add"' in diff
    assert "import sys" not in diff  # two lines of context by default
    assert "import sys" in _main(_get(client, f"/changeset/{revs['r2']}?contextall=1"))
    tight = _main(_get(client, f"/changeset/{revs['r2']}?contextlines=0"))
    assert "print(&#39;one&#39;)" not in tight.split('id="file1"', 1)[1]
    side = _main(_get(client, f"/changeset/{revs['r2']}?style=sidebyside"))
    assert '<table class="diff sidebyside">' in side
    merge = _main(_get(client, f"/changeset/{revs['r5'][:8]}"))
    assert merge.count('class="changeset" href="/changeset/') >= 2  # both parents
    assert "feature.txt" in merge


def test_changeset_message_is_wiki_text(site):
    env, client, revs = site
    html = _main(_get(client, f"/changeset/{revs['o1']}/other"))
    message = html.split('class="message', 1)[1].split("</dd>", 1)[0]
    # links in a changeset's message resolve in its own repository first
    assert 'href="/browser/other/page.html"' in message
    assert "Other repository" in message


def test_changeset_restricted_to_a_path_and_renames(site):
    env, client, revs = site
    html = _main(_get(client, f"/changeset/{revs['r2']}/src"))
    assert "src/main.py" in html and "logo.png" not in html
    moved = _main(_get(client, f"/changeset/{revs['r3']}"))
    assert "moved" in moved and "docs/guide.txt" in moved and "(content unchanged)" in moved


def test_changeset_downloads(site):
    env, client, revs = site
    diff = _get(client, f"/changeset/{revs['r4']}?format=diff")
    assert diff.headers["Content-Type"].startswith("text/x-patch")
    assert "attachment" in diff.headers["Content-Disposition"]
    body = text(diff)
    assert "Index: docs/manual.txt" in body and "+More." in body
    assert "--- README" in body and "-hello" in body
    zipped = _get(client, f"/changeset/{revs['r2']}?format=zip")
    assert zipped.headers["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(zipped.get_data())) as archive:
        assert sorted(archive.namelist()) == ["logo.png", "src/main.py"]
        assert archive.read("logo.png") == LOGO
    _get(client, f"/changeset/{revs['r2']}?format=tarball", 400)


def test_diff_between_two_revisions_or_paths(site):
    env, client, revs = site
    html = _main(_get(client, f"/changeset?old_path=/docs/guide.txt&old={revs['r1']}"
                              f"&new_path=/docs/manual.txt&new={revs['r4']}"))
    assert "<h1>Diff from /docs/guide.txt@" in html
    assert "More." in html and 'class="add"' in html
    tree = _main(_get(client, f"/changeset?old_path=/&old={revs['r1']}&new_path=/"
                              f"&new={revs['r4']}"))
    assert "src/main.py" in tree and "README" in tree and "logo.png" in tree
    unified = text(_get(client, f"/changeset?old_path=/src/main.py&old={revs['r1']}"
                                f"&new_path=/src/main.py&new={revs['r2']}&format=diff"))
    assert "+print('two')" in unified


def test_binary_and_huge_diffs_are_summarized(served, history):
    tree, other, revs = history
    env, client = served("tight", options=[
        ("repositories", ".dir", str(tree.path)), ("repositories", ".type", "git"),
        ("changeset", "max_diff_bytes", "20")])
    html = _main(_get(client, f"/changeset/{revs['r2']}"))
    assert "too large to show here" in html
    assert '<table class="diff' not in html
    assert "+print('two')" in text(_get(client, f"/changeset/{revs['r2']}?format=diff"))


def test_a_diff_seen_before_is_found_by_the_blob_ids_without_reading(site, monkeypatch):
    from codeyard.vcs.git.node import GitNode

    env, client, revs = site
    first = _main(_get(client, f"/changeset/{revs['r2']}?contextlines=1"))
    reads = []
    real = GitNode.get_content
    monkeypatch.setattr(GitNode, "get_content", lambda self: reads.append(self.path)
                        or real(self))
    again = _main(_get(client, f"/changeset/{revs['r2']}?contextlines=1"))
    assert again == first and "print(&#39;two&#39;)" in again
    # only the binary file is read again: binary contents are never kept as a diff
    assert reads and set(reads) == {"logo.png"} and "(binary)" in again
    reads.clear()
    other = _main(_get(client, f"/changeset/{revs['r4']}?contextlines=1"))
    assert reads and "+More." not in first and "More." in other


# -- links and the macro


def _render(client, wiki_text: str) -> str:
    page = client.post("/wiki_render", {"realm": "wiki", "id": "WikiStart", "text": wiki_text})
    assert page.status_code == 200, text(page)[:1000]
    return text(page)


def test_traclinks_to_changesets_sources_and_logs(site):
    env, client, revs = site
    r2, r4 = revs["r2"], revs["r4"]
    html = _render(client, f"changeset:{r2[:8]} [{r2[:8]}] [{revs['o1'][:8]}/other] "
                           f"source:src/main.py@{r2[:8]}#L3 log:docs@{r2[:8]}:{r4[:8]} "
                           f"diff:src/main.py@{revs['r1'][:8]}:{r2[:8]} browser:other "
                           "changeset:deadbeefdeadbeef source:nope [deadbeef] "
                           "[source:../etc/passwd up] log:src/../..")
    assert (f'<a class="changeset" href="/changeset/{r2[:8]}" '
            'title="Print two, add the logo">changeset:') in html
    assert f'href="/changeset/{revs["o1"][:8]}/other"' in html
    assert f'<a class="source" href="/browser/src/main.py?rev={r2[:8]}#L3">' in html
    assert f'class="trac-rawlink" href="/export/{r2[:8]}/src/main.py#L3"' in html
    assert f'href="/log/docs?revs={r2[:8]}-{r4[:8]}"' in html
    assert 'class="changeset" href="/changeset?new=' in html
    assert '<a class="source" href="/browser/other">browser:other</a>' in html
    assert ('<a class="missing changeset" title="No changeset deadbeefdeadbeef">'
            in html)
    assert '<a class="missing source"' in html and "[deadbeef]</a>" in html
    assert html.count('class="missing source"') == 3 and "/etc/passwd" not in html


def test_full_commit_ids_in_text_are_changeset_links(site):
    env, client, revs = site
    r3 = revs["r3"]
    html = _render(client, f"Fixed in {r3}, see also r{r3}, not !{r3} nor {'0' * 40}.")
    link = (f'<a class="changeset" href="/changeset/{r3}" title="Rename the guide">')
    assert html.count(link) == 2
    assert f"not {r3} nor" in html
    assert f'<a class="missing changeset" rel="nofollow" title="No changeset {"0" * 40}' in html


def test_links_run_no_command(site, monkeypatch):
    env, client, revs = site
    import subprocess

    def refuse(*args, **kwargs):
        raise AssertionError(f"a command was run for a link: {args!r}")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    html = _render(client, f"changeset:{revs['r2'][:8]} {revs['r3']} source:src/main.py "
                           f"log:docs@{revs['r2'][:8]} [{revs['r4'][:8]}] changeset:deadbeef")
    assert html.count('class="changeset"') == 3 and html.count('class="source"') == 2
    assert 'class="missing changeset"' in html


def test_traclinks_without_any_repository(served):
    env, client = served("bare")
    html = _render(client, f"changeset:1 r1 [1] source:trunk log:trunk {'a' * 40}")
    assert html.count('class="missing changeset"') == 4
    assert "No default repository defined" in html
    assert html.count('class="missing source"') == 2


def test_repository_index_macro(site):
    env, client, revs = site
    compact = _render(client, "[[RepositoryIndex]]")
    assert '<a class="source" href="/browser/other">other</a>' in compact
    assert "secret" not in compact
    table = _render(client, "[[RepositoryIndex(format=table)]]")
    assert 'id="repindex"' in table and revs["o1"][:7] in table and "Carol" in table
    listed = _render(client, "[[RepositoryIndex(format=list, glob=oth*)]]")
    assert "<dt>" in listed and "Another repository" in listed
    assert "other" not in _render(client, "[[RepositoryIndex(glob=x*)]]")
    assert "failed" in _render(client, "[[RepositoryIndex(format=pie)]]")


# -- permissions


def test_permissions_and_navigation(site):
    env, client, revs = site
    assert 'href="/browser"' in text(_get(client, "/wiki"))
    perms = PermissionSystem(env)
    perms.revoke("anonymous", "FILE_VIEW")
    _get(client, "/browser/src/main.py", 403)
    _get(client, "/browser/src/main.py?format=raw", 403)
    _get(client, "/browser/src", 200)
    perms.revoke("anonymous", "LOG_VIEW")
    _get(client, "/log", 403)
    perms.revoke("anonymous", "CHANGESET_VIEW")
    _get(client, f"/changeset/{revs['r1']}", 403)
    perms.revoke("anonymous", "BROWSER_VIEW")
    _get(client, "/browser", 403)
    assert "Browse Source" not in text(_get(client, "/wiki"))
    html = _render(client, f"changeset:{revs['r1'][:8]}")
    assert 'class="missing changeset"' in html and "No permission" in html


def test_no_navigation_item_without_repositories(served):
    env, client = served("bare")
    assert "Browse Source" not in text(_get(client, "/wiki"))
    assert "No repositories are available." in _main(_get(client, "/browser"))


# -- bad input


@pytest.mark.parametrize("url, status, title", [
    ("/browser?rev=no-such-revision", 404, "No such changeset"),
    ("/browser?rev=deadbeefdeadbeefdeadbeefdeadbeefdeadbeef", 404, "No such changeset"),
    ("/browser/no/such/file", 404, "No such node"),
    ("/browser/src/main.py/deeper", 404, "No such node"),
    ("/browser/src/%2e%2e/%2e%2e/etc/passwd", (400, 404), None),
    ("/browser/..", (400, 404), None),
    ("/browser/src/..", (400, 404), None),
    ("/browser/other/%2e%2e", (400, 404), None),
    ("/browser/%2e%2e%2fsecret", (400, 404), None),
    ("/browser/src/main.py%00", 400, None),
    ("/browser/src?format=zip", 400, "Bad format"),
    ("/log/nope", 404, "No such node"),
    ("/log?rev=zzz", 404, "No such changeset"),
    ("/log?limit=ten", 400, "Invalid limit"),
    ("/log?mode=sideways", 400, "Invalid mode"),
    ("/log?revs=zzz-yyy", 404, "No such changeset"),
    ("/changeset/zzz", 404, "No such changeset"),
    ("/changeset/deadbeefdeadbeef", 404, "No such changeset"),
    ("/changeset?old_path=/nope&old=HEAD&new_path=/src&new=HEAD", 404, "No such node"),
    ("/changeset?old_path=/../../etc&new_path=/src", 400, "Invalid path"),
    ("/changeset?old_path=/src&new_path=/src%00x", 400, "Invalid path"),
    ("/changeset?new_path=/src&new=" + "x" * 300, 400, "Invalid revision"),
    ("/export/HEAD/nope", 404, "No such node"),
    ("/export/HEAD/src", 404, "Not a file"),
])
def test_bad_input_gives_readable_pages(site, url, status, title):
    env, client, revs = site
    _get(client, "/browser/src")  # the pages are there; only the bad requests fail
    page = client.get(url)
    assert page.status_code in (status if isinstance(status, tuple) else (status,)), \
        (url, text(page)[:1500])
    body = text(page)
    assert "Traceback" not in body and "root:" not in body
    if title:
        assert f"<h1>{title}</h1>" in body, body[:1500]


def test_vanished_repository_directory(served, history, tmp_path):
    tree, other, revs = history
    copy = tmp_path / "copy"
    shutil.copytree(other.path, copy)
    env, client = served("vanish", options=[
        ("repositories", ".dir", str(copy)), ("repositories", ".type", "git"),
        ("repositories", "ok.dir", str(tree.path)), ("repositories", "ok.type", "git")])
    _get(client, "/browser/page.html")
    shutil.rmtree(copy)
    for url in ("/browser/page.html", "/log", f"/changeset/{revs['o1']}"):
        page = client.get(url)
        assert page.status_code == 404, (url, text(page)[:1500])
        assert "<h1>Repository not available</h1>" in text(page)
        assert "does not exist" in text(page) and "Traceback" not in text(page)
    index = _main(_get(client, "/browser"))  # the other repositories are still listed
    assert 'id="warning" class="warning system-message"' in index and "/browser/ok" in index
    assert "/browser/ok" in _main(_get(client, "/browser/ok/src"))
    html = _render(client, f"changeset:{revs['o1'][:8]}")
    assert 'class="missing changeset"' in html


def test_empty_repository(served, tmp_path):
    empty = GitWorkTree(tmp_path / "work-empty")
    env, client = served("empty", options=[
        ("repositories", ".dir", str(empty.path)), ("repositories", ".type", "git")])
    assert "has no changesets yet" in _main(_get(client, "/browser"))
    for url in ("/log", "/changeset/HEAD", "/browser?rev=HEAD", "/browser/x?rev=abc"):
        page = client.get(url)
        assert page.status_code in (200, 404), (url, text(page)[:1000])
        assert "Traceback" not in text(page)
    assert "Browse Source" in text(_get(client, "/wiki"))

