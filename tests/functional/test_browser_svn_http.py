"""The browser, log and changeset pages on a Subversion repository made with ``svnadmin``
and ``svn`` (the contract history plus what only Subversion has: versioned properties that
change how files show, copies as branches and tags, scoped repositories), and its bad input."""

from __future__ import annotations

import re
import shutil

import pytest

from tests.unit.vcs.svn_fixtures import Svn, build_contract_history
from tests.unit.web.conftest import get_page as _get
from tests.unit.web.conftest import main_of as _main
from tests.unit.web.conftest import text

EXTERNALS = ("vendor/lib http://svn.example.org/repos/lib/trunk\n"
             "-r 7 ^/branches/feature feature-copy\n"
             "tools svn://tools.example.org/repos/tools\n")


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    svn = Svn(tmp_path_factory.mktemp("svn"))
    revs = build_contract_history(svn)
    svn.write("trunk/dos.txt", b"one\ntwo\n")
    svn.wc_run("propset", "-q", "svn:eol-style", "CRLF", "trunk/dos.txt")
    svn.write("trunk/locked.doc", b"binary-ish document\n")
    svn.wc_run("propset", "-q", "svn:needs-lock", "*", "trunk/locked.doc")
    svn.write("trunk/script", b"print('hi')\n")
    svn.wc_run("propset", "-q", "svn:mime-type", "text/x-python", "trunk/script")
    svn.wc_run("propset", "-q", "svn:externals", EXTERNALS, "trunk")
    revs["props"] = svn.commit("Files with properties, refs #1")
    svn.write("trunk/big.txt", b"".join(b"line %d\n" % i for i in range(20000)))
    revs["big"] = svn.commit("A big file")
    return svn, revs


@pytest.fixture
def site(served, history):
    svn, revs = history
    env, client = served("project", options=[
        ("repositories", ".dir", str(svn.path)), ("repositories", ".type", "svn"),
        ("repositories", "scoped.dir", str(svn.path / "trunk")),
        ("repositories", "scoped.type", "svn"),
        ("svn:externals", "1", "svn://tools.example.org/repos "
                               "http://tools.example.org/browser/$path?rev=$rev"),
        ("mimeviewer", "max_preview_size", "50000")])
    return env, client, revs


def test_root_shows_trunk_branches_and_tags_as_directories(site):
    env, client, revs = site
    html = _main(_get(client, "/browser"))
    listed = re.findall(r'<a class="dir" href="/browser/([^"?]+)"', html)
    assert [name for name in listed if name != "scoped"] == ["branches", "tags", "trunk"]
    tags = _main(_get(client, "/browser/tags"))
    assert 'href="/browser/tags/v1.0"' in tags
    old = _main(_get(client, "/browser/trunk?rev=2"))
    assert "README" in old and "manual.txt" not in old and "dos.txt" not in old


def test_file_view_log_and_annotate(site):
    env, client, revs = site
    html = _main(_get(client, "/browser/trunk/src/main.py?rev=4"))
    assert '<span class="kn">import</span>' in html
    assert 'href="/changeset/2"' in html.split('id="info"', 1)[1].split("</div>", 1)[0]
    blame = _main(_get(client, "/browser/trunk/docs/manual.txt?annotate=blame"))
    assert 'href="/changeset/1"' in blame.split('id="L1"', 1)[1].split("</tr>", 1)[0]
    assert 'href="/changeset/4"' in blame.split('id="L2"', 1)[1].split("</tr>", 1)[0]
    log = _main(_get(client, "/log/trunk/docs/manual.txt?mode=follow_copy"))
    listed = re.findall(r'<a class="changeset" href="/changeset/(\d+)"', log)
    assert listed == ["4", "3", "1"] and "docs/guide.txt" in log


def test_changesets_show_copies_moves_and_deletions(site):
    env, client, revs = site
    moved = _main(_get(client, "/changeset/3"))
    files = moved.split('id="files"', 1)[1].split("</ul>", 1)[0]
    assert "manual.txt" in files and "guide.txt" in files and "moved" in files
    tag = _main(_get(client, f"/changeset/{revs['tag']}"))
    assert "tags/v1.0" in tag and "copied" in tag
    merge = _main(_get(client, f"/changeset/{revs['r5']}"))
    assert "feature.txt" in merge and "branches/feature" in merge
    assert "svn:mergeinfo" in merge  # the property change of trunk


def test_properties_that_change_how_files_show(site):
    env, client, revs = site
    trunk = _main(_get(client, "/browser/trunk"))
    externals = trunk.split('class="svn-externals"', 1)[1].split("</ul>", 1)[0]
    assert 'href="http://svn.example.org/repos/lib/trunk"' in externals
    assert 'href="/browser/branches/feature?rev=7"' in externals  # ^/ links stay here
    assert 'href="http://tools.example.org/browser/tools?rev="' in externals  # mapped
    locked = _main(_get(client, "/browser/trunk/locked.doc"))
    assert "needs lock" in locked
    script = _get(client, "/browser/trunk/script?format=raw")
    assert script.headers["Content-Type"].startswith("text/x-python") or \
        script.headers["Content-Type"].startswith("text/plain")
    assert "text/x-python" in _main(_get(client, "/browser/trunk/script"))
    dos = _get(client, "/browser/trunk/dos.txt?format=raw")
    assert dos.get_data() == b"one\r\ntwo\r\n"  # as a checkout writes it
    assert "Content-Length" not in dos.headers or dos.headers["Content-Length"] == "10"
    logo = _main(_get(client, "/browser/trunk/logo.png"))
    assert "binary file" in logo  # svn:mime-type application/octet-stream


def test_big_file_is_not_put_in_the_page(site):
    env, client, revs = site
    html = _main(_get(client, "/browser/trunk/big.txt"))
    assert "larger than the preview limit" in html and "line 19999" not in html
    raw = _get(client, "/browser/trunk/big.txt?format=raw")
    assert raw.get_data().endswith(b"line 19999\n")


def test_scoped_repository_sees_only_its_path(site):
    env, client, revs = site
    html = _main(_get(client, "/browser/scoped"))
    names = re.findall(r'<a class="(?:dir|file)" href="/browser/scoped/([^"?]+)"', html)
    assert "src" in names and "docs" in names and "branches" not in names
    log = _main(_get(client, "/log/scoped"))
    listed = re.findall(r'<a class="changeset" href="/changeset/(\d+)/scoped"', log)
    assert revs["tag"] not in listed and revs["f1"] not in listed and "3" in listed


def test_bad_input_gives_readable_pages(site, history):
    env, client, revs = site
    for url, status in (("/browser/nope", 404), ("/changeset/999", 404),
                        ("/browser/trunk?rev=999", 404), ("/log/trunk?rev=abc", 404),
                        ("/changeset/abc", 404), ("/browser/trunk/../../etc", 404)):
        page = client.get(url)
        assert page.status_code == status, (url, page.status_code)
        assert "Traceback" not in text(page)


def test_a_broken_repository_does_not_break_the_others(served, history, tmp_path):
    svn, revs = history
    newer = tmp_path / "newer"
    shutil.copytree(svn.path, newer)
    (newer / "db" / "format").write_text("99\n")
    notrepo = tmp_path / "plain"
    notrepo.mkdir()
    env, client = served("broken", options=[
        ("repositories", ".dir", str(svn.path)), ("repositories", ".type", "svn"),
        ("repositories", "newer.dir", str(newer)), ("repositories", "newer.type", "svn"),
        ("repositories", "plain.dir", str(notrepo)), ("repositories", "plain.type", "svn")])
    page = client.get("/browser/newer")
    assert page.status_code == 404
    body = text(page)
    assert "Traceback" not in body and "newer Subversion" in body
    plain_page = client.get("/browser/plain")
    assert plain_page.status_code == 404
    plain = text(plain_page)
    assert "does not appear to be a Subversion repository" in plain
    assert _get(client, "/browser/trunk").status_code == 200
    findings = {subject: (level, message) for found in env.hook.environment_checks(env=env)
                for level, subject, message in found or ()}
    assert findings["repository (default)"][0] == "ok"
    assert findings["repository newer"][0] == "warn"
    assert "newer Subversion" in findings["repository newer"][1]
    assert findings["repository plain"][0] == "warn"
    assert "does not appear to be a Subversion repository" in findings["repository plain"][1]


def test_links_to_subversion_revisions_and_paths(site):
    from codeyard.wiki.model import WikiPage

    env, client, revs = site
    page = WikiPage(env, "SvnLinks")
    page.text = ("r3, [4], changeset:3, changeset:3/scoped, source:trunk/src/main.py@2, "
                 "log:trunk@4, r999 and [3/scoped]\n")
    page.save("alice", "")
    html = _main(_get(client, "/wiki/SvnLinks"))
    for href in ('/changeset/3" title="Rename the guide">r3<',
                 '/changeset/4" title="Drop the README, say more">[4]<',
                 '/changeset/3/scoped" title="Rename the guide">changeset:3/scoped<',
                 '/changeset/3/scoped" title="Rename the guide">[3/scoped]<',
                 '/browser/trunk/src/main.py?rev=2"', '/log/trunk?rev=4"'):
        assert 'href="' + href in html, (href, html)
    assert '<a class="missing changeset" title="No changeset 999">r999</a>' in html


def test_log_rows_follow_an_edited_message(served, tmp_path):
    """The log keeps rendered rows and messages; an edited log message (``changeset
    modified``) shows at once all the same."""
    from codeyard.vcs import cache
    from codeyard.vcs.manager import RepositoryManager

    svn = Svn(tmp_path / "edit")
    svn.write("a.txt", b"1\n")
    rev = svn.commit("First words")
    env, client = served("edited", options=[("repositories", ".dir", str(svn.path)),
                                            ("repositories", ".type", "svn")])
    repos = RepositoryManager(env).get_repository("")
    cache.sync(env, repos)
    assert "First words" in _main(_get(client, "/log"))
    assert "First words" in _main(_get(client, "/log"))  # kept
    svn.run("propset", "-q", "--revprop", "-r", rev, "svn:log", "Better words", svn.url)
    cache.changeset_modified(env, repos, [rev])
    html = _main(_get(client, "/log"))
    assert "Better words" in html and "First words" not in html


def test_codeyard_check_names_the_repositories_that_do_not_open(make_env, history, tmp_path):
    import json

    from tests.support.codeyard_server import run_codeyard

    svn, revs = history
    newer = tmp_path / "newer"
    shutil.copytree(svn.path, newer)
    (newer / "db" / "format").write_text("99\n")
    env = make_env("checked", options=[
        ("logging", "log_type", "none"),
        ("repositories", ".dir", str(svn.path)), ("repositories", ".type", "svn"),
        ("repositories", "newer.dir", str(newer)), ("repositories", "newer.type", "svn"),
        ("repositories", "old.dir", str(tmp_path / "gone"))])  # no type: svn, not there
    env.shutdown()
    done = run_codeyard("check", "--env", env.path)
    assert done.returncode == 0, done.stderr  # warnings only: the project itself works
    lines = done.stdout.splitlines()
    assert any(line.split()[:3] == ["ok", "repository", "(default):"] for line in lines), lines
    newer_line = next(line for line in lines if "repository newer:" in line)
    assert newer_line.split()[0] == "warn" and "newer Subversion" in newer_line
    old_line = next(line for line in lines if "repository old:" in line)
    assert old_line.split()[0] == "warn" and "does not exist" in old_line
    report = json.loads(run_codeyard("check", "--env", env.path, "--json").stdout)
    assert {f["subject"]: f["level"] for f in report[env.path]}["repository newer"] == "warn"
    broken = run_codeyard("check", "--env", str(tmp_path / "nowhere"))
    assert broken.returncode == 1 and "FAIL" in broken.stdout
    usage = run_codeyard("check")
    assert usage.returncode == 2 and "--env" in usage.stderr
