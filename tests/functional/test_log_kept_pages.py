"""The revision log and the directory listings keep their rendered rows per process (a
Bazaar log of a hundred revisions is otherwise mostly the same work each time): a kept page
is shown only while nothing it shows can have changed — the branch tips, the wiki pages and
tickets its messages link to, the reader's permissions, and the ages it prints."""

from __future__ import annotations

import re
import time

import pytest

from codeyard.perm import PermissionSystem
from codeyard.ticket.model import Ticket
from codeyard.vcs import web_log
from codeyard.wiki.model import WikiPage
from tests.unit.vcs.test_bzr_contract import Brz
from tests.unit.web.conftest import text


@pytest.fixture
def bzr(tmp_path):
    brz = Brz(tmp_path / "brz-home")
    root = tmp_path / "repo"
    root.mkdir()
    brz(root, "init", "-q", "trunk")
    trunk = root / "trunk"
    (trunk / "notes.txt").write_text("one\n")
    brz(trunk, "add", "-q")
    # dated long ago: the ages shown do not change while the test runs
    brz(trunk, "commit", "-q", "--commit-time", "2020-01-02 03:04:05 +0000",
        "-m", "Start the notes, see #1 and GardenNotes")
    return brz, trunk


@pytest.fixture
def site(served, bzr):
    env, client = served("kept", options=[
        ("repositories", ".dir", str(bzr[1].parent)), ("repositories", ".type", "bzr")])
    ticket = Ticket(env)
    ticket["summary"] = "The first ticket"
    ticket["reporter"] = "alice"
    ticket["status"] = "new"
    ticket.insert()
    return env, client


def _counted(monkeypatch, module, name: str) -> list:
    """The calls of ``module.name`` from now on (one item each)."""
    calls: list = []
    real = getattr(module, name)
    monkeypatch.setattr(module, name,
                        lambda *args, **kwargs: calls.append(1) or real(*args, **kwargs))
    return calls


@pytest.fixture
def renders(monkeypatch):
    """How many times the rows were rendered rather than taken from the kept page."""
    return _counted(monkeypatch, web_log, "_view")


def _part(client, path: str, pattern: str) -> str:
    """The part of the page at ``path`` (answered 200) that ``pattern`` finds."""
    page = client.get(path)
    assert page.status_code == 200, text(page)[:1500]
    return re.search(pattern, text(page), re.S).group(0)


def _log(client, path="/log/trunk") -> str:
    return _part(client, path, r'<table class="listing chglist".*?</table>')


def _revs(html: str) -> list[str]:
    return re.findall(r'class="changeset" href="/changeset/([^"]+)"', html)


def test_a_kept_log_is_the_same_page_and_follows_new_commits(site, bzr, renders):
    env, client = site
    first = _log(client)
    assert _log(client) == first and len(renders) == 1
    assert _revs(first) == ["trunk%3A1"]
    brz, trunk = bzr
    (trunk / "notes.txt").write_text("one\ntwo\n")
    brz(trunk, "commit", "-q", "--commit-time", "2020-01-03 03:04:05 +0000", "-m", "Two")
    after = _log(client)
    assert _revs(after) == ["trunk%3A2", "trunk%3A1"] and len(renders) == 2
    assert _log(client) == after and len(renders) == 2
    # other arguments are other pages
    assert _revs(_log(client, "/log/trunk?limit=1")) == ["trunk%3A2"]
    assert _revs(_log(client, "/log/trunk?rev=1")) == ["trunk%3A1"]
    # a tip moved back (uncommit) is a change too
    brz(trunk, "uncommit", "-q", "--force")
    assert _revs(_log(client)) == ["trunk%3A1"]


def test_links_in_messages_follow_the_wiki_and_the_tickets(site, renders):
    env, client = site
    html = _log(client)
    assert re.search(r'class="missing wiki"[^>]*>GardenNotes', html)
    assert re.search(r'class="new ticket" href="/ticket/1" title="[^"]*The first ticket', html)
    page = WikiPage(env, "GardenNotes")
    page.text = "Notes."
    page.save("alice", "")
    html = _log(client)
    assert "missing wiki" not in html and 'href="/wiki/GardenNotes"' in html
    ticket = Ticket(env, 1)
    ticket["summary"] = "A renamed ticket"
    ticket.save_changes("alice", "")
    html = _log(client)
    assert re.search(r'title="[^"]*A renamed ticket', html) and "The first ticket" not in html
    assert len(renders) == 3


def test_permissions_are_part_of_a_kept_page(site, tmp_path, renders):
    env, client = site
    assert _revs(_log(client)) == ["trunk%3A1"]
    PermissionSystem(env).revoke("anonymous", "CHANGESET_VIEW")
    page = client.get("/log/trunk")
    assert page.status_code == 200 and "No changesets found" in text(page)
    PermissionSystem(env).grant("anonymous", "CHANGESET_VIEW")
    assert _revs(_log(client)) == ["trunk%3A1"]
    # a policy that looks at each changeset: rows are filtered one by one, never kept
    rules = tmp_path / "authz.ini"
    rules.write_text("[*]\n* = LOG_VIEW, CHANGESET_VIEW, BROWSER_VIEW, FILE_VIEW\n")
    env.config.set("authz_policy", "authz_file", str(rules))
    env.config.set("trac", "permission_policies", "AuthzPolicy, DefaultPermissionPolicy")
    env.config.save()
    before = len(renders)
    assert _revs(_log(client)) == ["trunk%3A1"]
    assert _revs(_log(client)) == ["trunk%3A1"]
    assert len(renders) == before + 2


def test_ages_are_kept_only_while_they_read_the_same(site, bzr, renders):
    env, client = site
    brz, trunk = bzr
    (trunk / "notes.txt").write_text("one\nfresh\n")
    brz(trunk, "commit", "-q", "-m", "Fresh")  # now: its age reads in seconds
    html = _log(client)
    age = re.search(r'<td class="age"[^>]*>([^<]*)</td>', html).group(1)
    assert "second" in age
    time.sleep(1.1)
    later = re.search(r'<td class="age"[^>]*>([^<]*)</td>', _log(client)).group(1)
    assert later != age and len(renders) == 2


def test_revision_numbers_follow_the_other_branches(site, bzr, renders):
    """A revision is numbered in the first branch holding it: merging it into trunk
    renumbers it on every page, also on pages whose own revision did not move."""
    env, client = site
    brz, trunk = bzr
    feature = trunk.parent / "feature"
    brz(trunk.parent, "branch", "-q", "trunk", "feature")
    (feature / "notes.txt").write_text("one\nfeature\n")
    brz(feature, "commit", "-q", "--commit-time", "2020-01-04 03:04:05 +0000", "-m", "Feature")
    page = "/log/feature?rev=feature:2"
    assert _revs(_log(client, page)) == ["feature%3A2", "trunk%3A1"]
    assert _revs(_log(client, page)) == ["feature%3A2", "trunk%3A1"] and len(renders) == 1
    brz(trunk, "merge", "-q", "../feature")
    brz(trunk, "commit", "-q", "--commit-time", "2020-01-05 03:04:05 +0000", "-m", "Merge")
    assert _revs(_log(client, page)) == ["trunk%3A1.1.1", "trunk%3A1"]


def _listing(client, path="/browser/trunk") -> str:
    return _part(client, path, r'<table class="listing dirlist".*?</table>')


def test_a_kept_directory_listing_follows_commits_links_and_ages(site, bzr, monkeypatch):
    from codeyard.vcs import web_browser

    calls = _counted(monkeypatch, web_browser, "_dir_rows")
    env, client = site
    first = _listing(client)
    assert _listing(client) == first and len(calls) == 1
    assert 'class="missing wiki">GardenNotes' in first and "2020" in first
    page = WikiPage(env, "GardenNotes")
    page.text = "Notes."
    page.save("alice", "")
    assert 'href="/wiki/GardenNotes"' in _listing(client) and len(calls) == 2
    # sorted otherwise: another listing, kept apart
    assert _listing(client, "/browser/trunk?order=date&desc=1") != _listing(client)
    brz, trunk = bzr
    (trunk / "fresh.txt").write_text("fresh\n")
    brz(trunk, "add", "-q", "fresh.txt")
    brz(trunk, "commit", "-q", "-m", "A fresh file")
    html = _listing(client)
    assert "fresh.txt" in html and 'href="/changeset/trunk%3A2"' in html
    age = re.search(r'fresh\.txt.*?<td class="age"[^>]*>([^<]*)</td>', html, re.S).group(1)
    assert "second" in age
    time.sleep(1.1)
    later = re.search(r'fresh\.txt.*?<td class="age"[^>]*>([^<]*)</td>', _listing(client),
                      re.S).group(1)
    assert later != age


def test_a_changeset_message_follows_the_pages_it_links_to(site):
    env, client = site
    page = text(client.get("/changeset/trunk:1"))
    assert re.search(r'class="missing wiki"[^>]*>GardenNotes', page)
    assert text(client.get("/changeset/trunk:1")) == page
    wiki = WikiPage(env, "GardenNotes")
    wiki.text = "Notes."
    wiki.save("alice", "")
    page = text(client.get("/changeset/trunk:1"))
    assert "missing wiki" not in page and 'href="/wiki/GardenNotes"' in page


@pytest.fixture
def changeset_builds(monkeypatch):
    """How many times a changeset page was built rather than taken from the kept page."""
    from codeyard.vcs import web_changeset

    return _counted(monkeypatch, web_changeset, "_changeset_view")


def _changeset(client, path="/changeset/trunk:1") -> str:
    return _part(client, path, r'<div id="content".*')


def _diff_tables(html: str) -> list[str]:
    return re.findall(r'<table class="diff (\w+)">', html)


def test_a_kept_changeset_page_follows_new_commits_options_and_rights(site, bzr, tmp_path,
                                                                     changeset_builds):
    env, client = site
    brz, trunk = bzr
    (trunk / "notes.txt").write_text("one\nchanged\n")
    (trunk / "more.txt").write_text("more\n")
    brz(trunk, "add", "-q", "more.txt")
    brz(trunk, "commit", "-q", "--commit-time", "2020-01-03 03:04:05 +0000", "-m", "Second")
    first = _changeset(client, "/changeset/trunk:2")
    assert _changeset(client, "/changeset/trunk:2") == first and len(changeset_builds) == 1
    assert _diff_tables(first) == ["inline", "inline"] and 'rel="next"' not in first
    assert "+</span><ins" in first and "changed" in first
    # a new commit gives the page a next changeset
    (trunk / "notes.txt").write_text("one\nchanged\nagain\n")
    brz(trunk, "commit", "-q", "--commit-time", "2020-01-04 03:04:05 +0000", "-m", "Third")
    after = _changeset(client, "/changeset/trunk:2")
    assert 'rel="next" href="/changeset/trunk%3A3"' in after and len(changeset_builds) == 2
    # other diff options are other pages, and the links keep them
    side = _changeset(client, "/changeset/trunk:2?style=sidebyside")
    assert _diff_tables(side) == ["sidebyside", "sidebyside"]
    assert 'href="/changeset/trunk%3A3?style=sidebyside"' in side
    assert _changeset(client, "/changeset/trunk:2") == after and len(changeset_builds) == 3
    # the reader's right to see files is part of the page
    PermissionSystem(env).revoke("anonymous", "FILE_VIEW")
    assert _diff_tables(_changeset(client, "/changeset/trunk:2")) == []
    PermissionSystem(env).grant("anonymous", "FILE_VIEW")
    assert _changeset(client, "/changeset/trunk:2") == after
    # a policy that looks at each file: checked file by file, the page never kept
    rules = tmp_path / "authz.ini"
    rules.write_text("[repository:*@*/source:trunk/more.txt@*]\n* =\n"
                     "[*]\n* = LOG_VIEW, CHANGESET_VIEW, BROWSER_VIEW, FILE_VIEW\n")
    env.config.set("authz_policy", "authz_file", str(rules))
    env.config.set("trac", "permission_policies", "AuthzPolicy, DefaultPermissionPolicy")
    env.config.save()
    _shown_without_more_txt(client, changeset_builds)
    # ... also when only the right to see files depends on the file
    from codeyard.core import hookimpl

    def files_but_more_txt(env, action, username, resource, perm):
        if action == "FILE_VIEW" and resource is not None and resource.id == "trunk/more.txt":
            return False
        return None

    files_but_more_txt.actions = {"FILE_VIEW"}

    class Plugin:
        @hookimpl
        def permission_policies(self):
            return {"FilesButMoreTxt": files_but_more_txt}

    env.plugins.register(Plugin())
    env.config.set("trac", "permission_policies", "FilesButMoreTxt, DefaultPermissionPolicy")
    env.config.save()
    _shown_without_more_txt(client, changeset_builds)


def _shown_without_more_txt(client, builds) -> None:
    before = len(builds)
    for _ in range(2):
        html = _changeset(client, "/changeset/trunk:2")
        assert _diff_tables(html) == ["inline"]
        assert re.findall(r'<h3 class="entry-path"><a [^>]*>([^<]+)</a>', html) == [
            "trunk/notes.txt"]
    assert len(builds) == before + 2


def test_a_kept_changeset_page_renders_a_diff_again_once_the_cache_let_it_go(site, bzr,
                                                                           changeset_builds):
    from codeyard.vcs import web_changeset

    env, client = site
    brz, trunk = bzr
    (trunk / "notes.txt").write_text("".join(f"line {n}\n" for n in range(5000)))
    brz(trunk, "commit", "-q", "--commit-time", "2020-01-03 03:04:05 +0000", "-m", "Long")
    first = _changeset(client, "/changeset/trunk:2")
    assert "line 4999" in first and len(first) > web_changeset.SPLICE_MIN
    env.memo("vcs.rendered_diffs", lambda: None).clear()  # as if other diffs pushed it out
    assert _changeset(client, "/changeset/trunk:2") == first and len(changeset_builds) == 1
    # and the downloads are built from the revision, not from the kept page
    diff = client.get("/changeset/trunk:2?format=diff")
    assert diff.status_code == 200 and "+line 4999" in text(diff)
