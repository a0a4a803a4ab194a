"""Subversion repositories are shared with Trac 1.6 and its Subversion connector
(``tracopt.versioncontrol.svn``, Debian's bindings): the changeset cache codeyard writes is the
one Trac's ``repository resync`` writes, row for row, in both directions and for a repository
scoped to a path inside it; and ``tracd`` and ``codeyard serve`` on one environment show the
same facts on the browser, log and changeset pages."""

from __future__ import annotations

import re
import shutil
import subprocess
import uuid
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qs, quote, unquote, urlsplit

import pytest

from codeyard.env import Environment
from codeyard.vcs import cache
from codeyard.vcs.manager import RepositoryManager
from tests.conftest import USE_POSTGRES
from tests.support.codeyard_server import CodeyardServer
from tests.support.dbcompare import cache_rows
from tests.support.http import Client, Response
from tests.support.tracd import TracdServer
from tests.unit.vcs import vcs_fixtures
from tests.unit.vcs.svn_fixtures import Svn, build_contract_history

pytestmark = pytest.mark.db
plugins = vcs_fixtures.plugins

TRAC_SVN = [("components", "tracopt.versioncontrol.svn.*", "enabled")]


@dataclass
class History:
    """The contract history in a repository the tests only read (``svn``), and copies of
    it for the tests that commit more."""

    svn: Svn
    revs: dict[str, str]

    def copy(self, target) -> str:
        shutil.copytree(self.svn.path, target)
        return str(target)


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> History:
    svn = Svn(tmp_path_factory.mktemp("svn"))
    return History(svn, build_contract_history(svn))


def commit_later(svn: Svn, repo_dir: str, message: str) -> str:
    """One more revision in the repository at ``repo_dir`` (a copy: no working copy)."""
    url = "file://" + quote(repo_dir)
    svn.run("mkdir", "-q", "-m", message, f"{url}/trunk/later")
    return svn.run("info", "--show-item", "revision", url).strip()


def _differences(ours: dict, theirs: dict) -> dict:
    """The rows only one side wrote, per table (for a readable failure)."""
    out = {}
    for table in ours:
        mine, other = set(ours[table]), set(theirs[table])
        if mine != other:
            out[table] = {"codeyard only": sorted(mine - other, key=repr),
                          "Trac only": sorted(other - mine, key=repr)}
    return out


# ---------------------------------------------------------------------------
# The changeset cache


def test_trac_resync_writes_the_rows_codeyard_cached(plugins, make_env, history, tmp_path,
                                                     trac_svn):
    env = make_env(options=TRAC_SVN)
    repo_dir = history.copy(tmp_path / "repo")
    rm = RepositoryManager(env)
    rm.add_repository("project", repo_dir, "svn")
    repos = rm.get_repository("project")
    assert cache.sync(env, repos) == [str(n) for n in range(1, 9)]
    ours = cache_rows(env, repos.id)
    assert ours["revision"][0][0] == "0000000001"  # Trac's padding, so that revisions sort
    assert ("0000000003", "trunk/docs/manual.txt", "F", "M", "trunk/docs/guide.txt", "2") \
        in ours["node_change"]

    listed = trac_svn.out(env.path, "repository", "list")
    assert "project" in listed and "svn" in listed and repo_dir in listed
    trac_svn.admin(env.path, "changeset", "added", "project", history.revs["r5"])
    trac_svn.admin(env.path, "repository", "sync", "project")
    assert cache_rows(env, repos.id) == ours  # nothing duplicated, nothing rewritten

    trac_svn.admin(env.path, "repository", "resync", "project")
    theirs = cache_rows(env, repos.id)
    assert _differences(ours, theirs) == {}
    assert theirs == ours

    # and the other way: a revision Trac cached is not cached again by codeyard
    later = commit_later(history.svn, repo_dir, "Later work, refs #1")
    assert later == "9"
    trac_svn.admin(env.path, "changeset", "added", "project", later)
    assert cache.cached_youngest_rev(env, repos.id) == later  # Trac bumped the generation
    assert cache.sync(env, repos) == []
    after = cache_rows(env, repos.id)
    assert len(after["revision"]) == 9
    assert ("0000000009", "trunk/later", "D", "A", None, "-1") in after["node_change"]


def test_codeyard_takes_a_cache_trac_made(plugins, make_env, history, trac_svn):
    env = make_env(options=[*TRAC_SVN, ("codeyard", "config_check_interval", "0")])
    repo_dir = str(history.svn.path)
    rm = RepositoryManager(env)
    assert rm.get_all_repositories() == {}  # kept by this process from now on
    trac_svn.admin(env.path, "repository", "add", "project", repo_dir, "svn")
    trac_svn.admin(env.path, "repository", "resync", "project")
    env.refresh_config()
    info = rm.get_info("project")
    assert info is not None and info.dir == repo_dir and info.type == "svn"
    repos = rm.get_repository("project")
    theirs = cache_rows(env, repos.id)
    assert len(theirs["revision"]) == 8
    assert cache.sync(env, repos) == []
    assert cache_rows(env, repos.id) == theirs
    cache.resync(env, repos)
    ours = cache_rows(env, repos.id)
    assert _differences(ours, theirs) == {}
    assert ours == theirs


def test_scoped_repository_rows_match(plugins, make_env, history, trac_svn):
    """The directory names trunk inside the repository (Trac's *scope*): the paths are
    relative to it and the revisions that never touched it are not cached."""
    env = make_env(options=TRAC_SVN)
    scope_dir = str(history.svn.path / "trunk")
    rm = RepositoryManager(env)
    rm.add_repository("trunk", scope_dir, "svn")
    repos = rm.get_repository("trunk")
    assert cache.sync(env, repos) == ["1", "2", "3", "4", "8"]
    ours = cache_rows(env, repos.id)

    trac_svn.admin(env.path, "repository", "resync", "trunk")
    theirs = cache_rows(env, repos.id)
    assert [row[0] for row in theirs["revision"]] == \
        ["0000000001", "0000000002", "0000000003", "0000000004", "0000000008"]
    # Trac names the scope's own directory "/" (its add in r1, its merge edit in r8).
    assert _differences(ours, theirs) == {}
    assert ours == theirs


def test_a_change_of_the_root_directory_rows_match(plugins, make_env, history, tmp_path,
                                                   trac_svn):
    """A property set on the repository's root: Trac names the root "/" in node_change."""
    env = make_env(options=TRAC_SVN)
    repo_dir = history.copy(tmp_path / "repo")
    subprocess.run(["svnmucc", "--non-interactive", "--config-dir", str(history.svn.config),
                    "--username", "alice", "-m", "Describe the layout", "propset",
                    "layout:kind", "standard", "file://" + quote(repo_dir)],
                   check=True, env=history.svn.env, capture_output=True)
    rm = RepositoryManager(env)
    rm.add_repository("project", repo_dir, "svn")
    repos = rm.get_repository("project")
    assert cache.sync(env, repos)[-1] == "9"
    ours = cache_rows(env, repos.id)
    trac_svn.admin(env.path, "repository", "resync", "project")
    theirs = cache_rows(env, repos.id)
    assert ("0000000009", "/", "D", "E", "/", "8") in theirs["node_change"]
    assert _differences(ours, theirs) == {}
    assert ours == theirs


# ---------------------------------------------------------------------------
# The pages: facts read from each server's HTML

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "wbr"}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    children: list = field(default_factory=list)

    @property
    def classes(self) -> list[str]:
        return self.attrs.get("class", "").split()

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def elements(self):
        for child in self.children:
            if isinstance(child, Element):
                yield child
                yield from child.elements()

    def all(self, tag: str | None = None, cls: str | None = None, id: str | None = None
            ) -> list[Element]:
        return [e for e in self.elements() if (tag is None or e.tag == tag)
                and (cls is None or cls in e.classes) and (id is None or e.attrs.get("id") == id)]

    def first(self, tag: str | None = None, cls: str | None = None, id: str | None = None
              ) -> Element:
        found = self.all(tag, cls, id)
        assert found, f"no <{tag or '*'} class={cls!r} id={id!r}> in {self.text()[:500]!r}"
        return found[0]

    def kids(self, tag: str) -> list[Element]:
        return [c for c in self.children if isinstance(c, Element) and c.tag == tag]


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        element = Element(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(element)
        if tag not in VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag, attrs):
        self.stack[-1].children.append(Element(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag):
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def parse(html: str) -> Element:
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root


def href_path(href: str, prefix: str) -> str:
    """The repository path of a ``/browser/...`` link."""
    path = unquote(urlsplit(href).path)
    assert path.startswith(prefix), (href, prefix)
    return path[len(prefix):].strip("/")


def href_rev(href: str) -> str | None:
    values = parse_qs(urlsplit(href).query).get("rev")
    return values[0] if values else None


def words(text: str) -> str:
    return " ".join(text.split())


# Directory listings: (name, kind, the revision of the entry's last change).

def trac_entries(html: str) -> list[tuple[str, str, str]]:
    out = []
    for row in parse(html).first("table", id="dirlist").first("tbody").kids("tr"):
        cells = {c.classes[0]: c for c in row.kids("td") if c.classes}
        link = cells["name"].first("a")
        if "parent" in link.classes:
            continue
        kind = "dir" if "dir" in link.classes else "file"
        out.append((words(link.text()), kind, words(cells["rev"].first("a").text())))
    return out


def codeyard_entries(html: str) -> list[tuple[str, str, str]]:
    out = []
    for row in parse(html).first("table", id="dirlist").first("tbody").kids("tr"):
        cells = {c.classes[0]: c for c in row.kids("td") if c.classes}
        link = cells["name"].first("a")
        if "parent" in link.classes:
            continue
        kind = "dir" if "dir" in link.classes else "file"
        out.append((words(link.text()).rstrip("/"), kind,
                    words(cells["rev"].first("a", cls="changeset").text())))
    return out


# Revision logs: the revisions listed, newest first.

def trac_log(html: str) -> list[str]:
    table = parse(html).first("table", cls="chglist")
    return [words(row.first("td", cls="rev").first("a").text()).lstrip("@")
            for row in table.first("tbody").kids("tr") if row.all("td", cls="rev")]


def codeyard_log(html: str) -> list[str]:
    table = parse(html).first("table", id="chglist")
    return [words(row.first("td", cls="rev").first("a", cls="changeset").text())
            for row in table.first("tbody").kids("tr")]


# Changesets: (path, Trac's change class, copied-from path, copied-from revision).

KINDS = {"add": "add", "edit": "mod", "move": "mv", "copy": "cp", "delete": "rem"}
TRAC_KINDS = set(KINDS.values())


def trac_changes(html: str) -> list[tuple[str, str, str | None, str | None]]:
    out = []
    for item in parse(html).first("dd", cls="files").first("ul").kids("li"):
        kind = next(c for div in item.kids("div") for c in div.classes if c in TRAC_KINDS)
        link = item.first("a")
        path = href_path(link.attrs["href"], "/browser")
        source = source_rev = None
        origin = item.all("small")
        if origin:
            source_link = origin[0].first("a")
            source = href_path(source_link.attrs["href"], "/browser")
            found = re.search(r"revision (\d+)", source_link.attrs.get("title", ""))
            source_rev = found.group(1) if found else None
        out.append((path, kind, source, source_rev))
    return sorted(out)


def codeyard_changes(html: str) -> list[tuple[str, str, str | None, str | None]]:
    out = []
    for item in parse(html).first("ul", cls="changes").kids("li"):
        change = next(c for c in item.classes if c in KINDS)
        path = words("".join(c if isinstance(c, str) else c.text() for c in item.children
                             if isinstance(c, str) or c.tag == "a"))
        source = source_rev = None
        origin = item.all("span", cls="copied-from")
        if origin:
            source_link = origin[0].first("a")
            source = words(source_link.text())
            source_rev = href_rev(source_link.attrs.get("href", ""))
        out.append((path, KINDS[change], source, source_rev))
    return sorted(out)


# A file's lines.

def trac_lines(html: str) -> list[str]:
    table = parse(html).first("table", cls="code")
    return [row.first("td").text().rstrip("\n") for row in table.first("tbody").kids("tr")]


def codeyard_lines(html: str) -> list[str]:
    table = parse(html).first("table", cls="code")
    return [row.kids("td")[-1].text().rstrip("\n") for row in table.first("tbody").kids("tr")]


@dataclass
class Pair:
    env: Environment
    tracd: TracdServer
    codeyard: CodeyardServer

    def fetch(self, server, path: str, status: int = 200) -> str:
        response = Client(server.url).get(path, headers={"Accept": "text/html"})
        assert response.status == status, (server.label, path, response.status,
                                           response.text[:2000])
        return response.text

    def both(self, path: str) -> tuple[str, str]:
        """(Trac's page, codeyard's page)."""
        return self.fetch(self.tracd, path), self.fetch(self.codeyard, path)

    def raw(self, server, path: str) -> Response:
        return Client(server.url).get(path, headers={"Accept": "text/html"})


@pytest.fixture(scope="module")
def pair(request, history, tmp_path_factory, trac_svn):
    """One environment whose default repository is the contract history (cached by
    codeyard), served by ``tracd`` and by ``codeyard serve`` at once."""
    url = "sqlite:db/trac.db"
    if USE_POSTGRES:
        url = request.getfixturevalue("postgres").url(schema="t_" + uuid.uuid4().hex[:12])
    root = tmp_path_factory.mktemp("svnpages")
    env = Environment.create(str(root / "project"), [
        ("project", "name", "project"), ("trac", "database", url),
        ("logging", "log_type", "none"), *TRAC_SVN])
    rm = RepositoryManager(env)
    rm.add_repository("", str(history.svn.path), "svn")
    assert len(cache.sync(env, rm.get_repository(""))) == 8
    env.shutdown()
    with TracdServer(trac_svn, env.path) as tracd, CodeyardServer("-s", env.path) as codeyard:
        yield Pair(env, tracd, codeyard)


def test_anonymous_may_browse_in_trac_by_default(pair, trac_svn):
    listed = trac_svn.out(pair.env.path, "permission", "list", "anonymous")
    for action in ("BROWSER_VIEW", "FILE_VIEW", "LOG_VIEW", "CHANGESET_VIEW"):
        assert re.search(rf"^anonymous\s+{action}\s*$", listed, re.M), listed


def test_directory_listing(pair):
    trac, ours = pair.both("browser/trunk")
    expected = [("docs", "dir", "4"), ("src", "dir", "2"), ("feature.txt", "file", "8"),
                ("logo.png", "file", "2")]
    assert trac_entries(trac) == expected
    assert codeyard_entries(ours) == expected


def test_directory_listing_at_an_old_revision(pair):
    trac, ours = pair.both("browser/trunk?rev=2")
    expected = [("docs", "dir", "1"), ("src", "dir", "2"), ("logo.png", "file", "2"),
                ("README", "file", "1")]
    assert trac_entries(trac) == expected
    assert codeyard_entries(ours) == expected


def test_log_of_a_directory(pair):
    trac, ours = pair.both("log/trunk")
    assert trac_log(trac) == ["8", "4", "3", "2", "1"]
    assert codeyard_log(ours) == trac_log(trac)


def test_log_of_a_moved_file_reaches_its_old_name(pair):
    """Trac's default mode (stop on copy) still lists the first revision found at the
    path the file was moved from, then stops."""
    trac, ours = pair.both("log/trunk/docs/manual.txt")
    assert trac_log(trac) == ["4", "3", "1"]
    assert "trunk/docs/guide.txt" in trac
    assert codeyard_log(ours) == trac_log(trac)


@pytest.mark.parametrize("rev, expected", [
    ("3", [("trunk/docs/manual.txt", "mv", "trunk/docs/guide.txt", "2")]),
    ("8", [("trunk", "mod", None, None),
           ("trunk/feature.txt", "cp", "branches/feature/feature.txt", "7")]),
    ("5", [("tags/v1.0", "cp", "trunk", "4")]),
])
def test_changeset(pair, rev, expected):
    trac, ours = pair.both(f"changeset/{rev}")
    assert trac_changes(trac) == expected
    assert codeyard_changes(ours) == expected


def test_file_at_an_old_revision(pair):
    trac, ours = pair.both("browser/trunk/src/main.py?rev=4")
    expected = ["import sys", "", "print('one')", "print('two')"]
    assert trac_lines(trac) == expected
    assert codeyard_lines(ours) == expected


@pytest.mark.parametrize("path, words_shown", [
    ("browser/nope", ["nope"]),
    ("changeset/99", ["No changeset 99"]),
    ("log/trunk?rev=abc", ["No changeset abc"]),
    # Revision 0 (the empty tree every Subversion repository starts with) is no changeset.
    ("changeset/0", ["No changeset 0"]),
])
def test_bad_input_is_a_readable_not_found(pair, path, words_shown):
    trac = pair.raw(pair.tracd, path)
    ours = pair.raw(pair.codeyard, path)
    assert trac.status == 404, trac.text[:2000]
    assert ours.status == trac.status, ours.text[:2000]
    assert ours.header("Content-Type", "").startswith("text/html")
    content = words(parse(ours.text).first("main").text())
    for word in words_shown:
        assert word in content, content
    assert "Traceback" not in ours.text
