"""The contract every repository backend passes, on the same history made with the real
command-line tool of each system.

A backend's test module defines a ``scenario`` fixture returning a ``Scenario`` and imports
the tests below (``from tests.unit.vcs.contract import *``). The history, oldest first:

- ``r1``: add ``README`` (``hello\\n``), ``src/main.py`` (three lines) and ``docs/guide.txt``
  (author ``Alice <alice@example.org>``, message ``Initial import, see #1``)
- ``r2``: append a fourth line to ``src/main.py``, add the binary ``logo.png`` (``LOGO``)
- ``r3``: rename ``docs/guide.txt`` to ``docs/manual.txt`` (content unchanged)
- ``r4``: delete ``README``, append a line to ``docs/manual.txt``; tagged ``v1.0``
- ``f1``: on a branch ``feature`` made from ``r4``: add ``feature.txt``
- ``r5``: merge ``feature`` into the main line (parents ``r4`` and ``f1``)

``prefix`` is where the tree of the main line starts in the repository's paths: ``""`` for
Git, ``"trunk/"`` for a Bazaar repository holding the branches ``trunk`` and ``feature``.

A system with one line of revisions (Subversion) makes the tag and the branch by copies,
which are revisions of their own (``extra_revs``); there every revision's parent is the one
before it (``parents``, ``mainline``), a merge has one parent and brings the merged file as a
copy (``merged_change``), and a tag is no revision name (``tag_rev`` None).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from codeyard.vcs import api

MAIN_PY = b"import sys\n\nprint('one')\n"
MAIN_PY_2 = MAIN_PY + b"print('two')\n"
GUIDE = b"How to use it.\n"
GUIDE_2 = GUIDE + b"More.\n"
LOGO = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))
TAG = "v1.0"


@dataclass
class Scenario:
    repos: api.Repository
    revs: dict[str, str]  # r1 … r5, f1 -> the backend's revision strings
    prefix: str = ""
    tag_rev: str | None = TAG  # what normalize_rev takes for the tag (a name, "tag:v1.0"…)
    extra_revs: list[str] = field(default_factory=list)  # revisions beyond the named ones
    parents: dict[str, list[str]] | None = None  # name -> parent revisions, when not the DAG's
    mainline: list[str] | None = None  # the main line oldest first, when not r1…r5
    merged_change: tuple[str, str, str | None] | None = None  # what r5 shows for the merge

    def p(self, path: str) -> str:
        return (self.prefix + path).strip("/")

    def parents_of(self, name: str) -> list[str]:
        if self.parents is not None:
            return self.parents[name]
        dag = {"r1": [], "r2": ["r1"], "r3": ["r2"], "r4": ["r3"], "f1": ["r4"],
               "r5": ["r4", "f1"]}
        return [self.revs[parent] for parent in dag[name]]

    def line(self) -> list[str]:
        return self.mainline or [self.revs[n] for n in ("r1", "r2", "r3", "r4", "r5")]


# The tests take ``scenario`` from the backend's module.

def test_youngest_and_oldest(scenario):
    repos, revs = scenario.repos, scenario.revs
    assert repos.youngest_rev == revs["r5"]
    assert repos.oldest_rev == revs["r1"]


def test_normalize_rev(scenario):
    repos, revs = scenario.repos, scenario.revs
    assert repos.normalize_rev(None) == repos.normalize_rev("") == revs["r5"]
    for rev in revs.values():
        assert repos.normalize_rev(rev) == rev
        assert repos.normalize_rev(repos.display_rev(rev)) == rev
        assert repos.normalize_rev(repos.short_rev(rev)) == rev
    if scenario.tag_rev is not None:
        assert repos.normalize_rev(scenario.tag_rev) == revs["r4"]
    for bad in ("no-such-revision", "deadbeef" * 5, "99999", "../x"):
        with pytest.raises(api.NoSuchChangeset):
            repos.normalize_rev(bad)


def test_changeset_metadata(scenario):
    repos, revs = scenario.repos, scenario.revs
    first = repos.get_changeset(revs["r1"])
    assert first.rev == revs["r1"]
    assert first.message.strip() == "Initial import, see #1"
    assert "alice" in first.author.lower()
    assert isinstance(first.date, datetime) and first.date.tzinfo is not None
    assert first.date <= datetime.now(UTC)
    for name in ("r1", "r2", "r5", "f1"):
        assert repos.get_changeset(revs[name]).parents == scenario.parents_of(name), name
    with pytest.raises(api.NoSuchChangeset):
        repos.get_changeset("no-such-revision")


def _file_changes(repos, rev):
    return {(c.path, c.change, c.base_path) for c in repos.get_changes(rev) if c.kind == api.FILE}


def test_changes(scenario):
    repos, revs, p = scenario.repos, scenario.revs, scenario.p
    assert _file_changes(repos, revs["r1"]) == {
        (p("README"), api.ADD, None), (p("src/main.py"), api.ADD, None),
        (p("docs/guide.txt"), api.ADD, None)}
    assert _file_changes(repos, revs["r2"]) == {
        (p("src/main.py"), api.EDIT, p("src/main.py")), (p("logo.png"), api.ADD, None)}
    assert _file_changes(repos, revs["r3"]) == {
        (p("docs/manual.txt"), api.MOVE, p("docs/guide.txt"))}
    assert _file_changes(repos, revs["r4"]) == {
        (p("README"), api.DELETE, p("README")),
        (p("docs/manual.txt"), api.EDIT, p("docs/manual.txt"))}
    moved = [c for c in repos.get_changes(revs["r3"]) if c.change == api.MOVE]
    assert moved[0].base_rev == revs["r2"]
    # against the first parent: the merge brings feature.txt
    merged = scenario.merged_change or (p("feature.txt"), api.ADD, None)
    assert merged in _file_changes(repos, revs["r5"])


def test_directory_listing(scenario):
    repos, revs, p = scenario.repos, scenario.revs, scenario.p
    root = repos.get_node(p(""), revs["r2"])
    assert root.isdir and not root.isfile
    assert sorted(n.name for n in root.get_entries()) == ["README", "docs", "logo.png", "src"]
    assert sorted(n.name for n in repos.get_node(p(""), revs["r4"]).get_entries()) == \
        ["docs", "logo.png", "src"]
    src = repos.get_node(p("src"), revs["r2"])
    assert src.isdir and [n.path for n in src.get_entries()] == [p("src/main.py")]
    assert src.get_content() is None and src.get_content_length() is None
    youngest = sorted(n.name for n in repos.get_node(p("")).get_entries())
    assert youngest == ["docs", "feature.txt", "logo.png", "src"]


def test_file_content_and_created_rev(scenario):
    repos, revs, p = scenario.repos, scenario.revs, scenario.p
    old = repos.get_node(p("src/main.py"), revs["r1"])
    assert old.isfile and old.get_content().read() == MAIN_PY
    new = repos.get_node(p("src/main.py"), revs["r3"])
    assert new.get_content().read() == MAIN_PY_2
    assert new.get_content_length() == len(MAIN_PY_2)
    assert new.created_rev == revs["r2"] and new.rev == revs["r3"]
    assert new.created_path == p("src/main.py")
    assert new.get_last_modified() == repos.get_changeset(revs["r2"]).date
    logo = repos.get_node(p("logo.png"), revs["r4"])
    assert logo.get_content().read() == LOGO and logo.get_content_length() == len(LOGO)
    stream = repos.get_node(p("src/main.py"), revs["r2"]).get_content()
    assert stream.read(6) == b"import"  # partial reads work


def test_missing_nodes(scenario):
    repos, revs, p = scenario.repos, scenario.revs, scenario.p
    with pytest.raises(api.NoSuchNode):
        repos.get_node(p("README"), revs["r4"])
    with pytest.raises(api.NoSuchNode):
        repos.get_node(p("docs/manual.txt"), revs["r2"])
    with pytest.raises(api.NoSuchNode):
        repos.get_node(p("src/main.py/deeper"), revs["r2"])
    assert repos.has_node(p("README"), revs["r3"]) and not repos.has_node(p("nope"))
    with pytest.raises(api.NoSuchChangeset):
        repos.get_node(p("src"), "no-such-revision")


def test_history_follows_renames(scenario):
    repos, revs, p = scenario.repos, scenario.revs, scenario.p
    history = list(repos.get_path_history(p("docs/manual.txt"), revs["r4"]))
    assert history == [(p("docs/manual.txt"), revs["r4"], api.EDIT),
                       (p("docs/manual.txt"), revs["r3"], api.MOVE),
                       (p("docs/guide.txt"), revs["r1"], api.ADD)]
    assert list(repos.get_path_history(p("docs/manual.txt"), revs["r4"], limit=1)) == history[:1]
    node_history = list(repos.get_node(p("src/main.py"), revs["r4"]).get_history())
    assert [rev for _, rev, _ in node_history] == [revs["r2"], revs["r1"]]
    # a directory's history: every change below it
    assert [rev for _, rev, _ in repos.get_path_history(p("docs"), revs["r4"])] == \
        [revs["r4"], revs["r3"], revs["r1"]]


def test_annotations(scenario):
    repos, revs, p = scenario.repos, scenario.revs, scenario.p
    lines = repos.get_node(p("src/main.py"), revs["r4"]).get_annotations()
    assert [(a.line, a.rev) for a in lines] == [(1, revs["r1"]), (2, revs["r1"]),
                                               (3, revs["r1"]), (4, revs["r2"])]
    moved = repos.get_node(p("docs/manual.txt"), revs["r4"]).get_annotations()
    assert [a.rev for a in moved] == [revs["r1"], revs["r4"]]


def test_previous_and_next(scenario):
    repos, revs, p = scenario.repos, scenario.revs, scenario.p
    line = scenario.line()
    assert repos.previous_rev(revs["r2"]) == revs["r1"]
    assert repos.previous_rev(revs["r1"]) is None
    assert repos.next_rev(revs["r1"]) == revs["r2"]
    # the main line, not the feature branch
    assert repos.next_rev(revs["r4"]) == line[line.index(revs["r4"]) + 1]
    assert repos.next_rev(revs["r5"]) is None
    assert repos.previous_rev(revs["r5"]) == line[line.index(revs["r5"]) - 1]
    assert repos.previous_rev(revs["r4"], p("src/main.py")) == revs["r2"]
    assert repos.next_rev(revs["r1"], p("docs")) == revs["r3"]
    assert repos.rev_older_than(revs["r1"], revs["r2"])
    assert not repos.rev_older_than(revs["r3"], revs["r2"])


def test_all_revs_order_and_since(scenario):
    repos, revs = scenario.repos, scenario.revs
    order = list(repos.all_revs())
    assert sorted(order) == sorted([*revs.values(), *scenario.extra_revs])
    for child, parent in (("r2", "r1"), ("r3", "r2"), ("r4", "r3"), ("f1", "r4"),
                          ("r5", "f1"), ("r5", "r4")):
        assert order.index(revs[parent]) < order.index(revs[child])
    assert set(repos.all_revs(since=[revs["r3"]])) == \
        {revs["r4"], revs["f1"], revs["r5"], *scenario.extra_revs}
    assert list(repos.all_revs(since=[revs["r5"]])) == []


def test_changes_between_trees(scenario):
    repos, revs, p = scenario.repos, scenario.revs, scenario.p
    diffs = {(old.path if old else None, new.path if new else None, change)
             for old, new, kind, change in
             repos.get_changes_between(p(""), revs["r1"], p(""), revs["r2"])
             if kind == api.FILE}
    assert diffs == {(p("src/main.py"), p("src/main.py"), api.EDIT),
                     (None, p("logo.png"), api.ADD)}
    one = list(repos.get_changes_between(p("src/main.py"), revs["r1"],
                                         p("src/main.py"), revs["r4"]))
    assert len(one) == 1 and one[0][2] == api.FILE and one[0][3] == api.EDIT
    assert one[0][0].get_content().read() == MAIN_PY
    assert one[0][1].get_content().read() == MAIN_PY_2


def test_path_normalization():
    assert api.normalize_path("/a//b/./c/") == "a/b/c"
    assert api.normalize_path(None) == api.normalize_path("/") == ""
    for bad in ("../etc/passwd", "a/../../b", "a\x00b", "a\\..\\b"):
        with pytest.raises(api.InvalidPath):
            api.normalize_path(bad)
