"""The repository API every version control backend implements, and the hooks around it.

A *backend* (Bazaar through breezy, Git through pygit2, …) is a plugin implementing
``repository_connectors``: it maps a repository type (``bzr``, ``git``) to a factory
``open(env, name, directory, params) -> Repository``. Everything above the backends — the
changeset cache, the browser, log and changeset pages, TracLinks, the ticket updater,
hosting — speaks only the classes here.

Revisions are strings chosen by the backend (a Git sha, a Bazaar revision id); a backend
also says how to show one (``display_rev``, ``short_rev``) and turns what a user types into
one (``normalize_rev``: a short sha, a branch name, a Bazaar revno). Paths are relative to
the repository root, ``/``-separated, with no leading or trailing slash (the root is
``""``); ``normalize_path`` is the only way a path from a URL gets into a backend.

The order of revisions: ``previous_rev``/``next_rev`` walk the repository's own order
(first parents in Git, the mainline of a Bazaar branch); ``all_revs`` gives every revision
oldest first, parents before children — the order the cache stores them in.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

from codeyard.core import hookspec

# -- node kinds and change kinds, as Trac stores them in ``node_change``

FILE = "file"
DIRECTORY = "dir"
NODE_TYPE_CODES = {FILE: "F", DIRECTORY: "D"}

ADD = "add"
DELETE = "delete"
EDIT = "edit"
COPY = "copy"
MOVE = "move"
CHANGE_TYPE_CODES = {ADD: "A", DELETE: "D", EDIT: "E", COPY: "C", MOVE: "M"}


class RepositoryError(Exception):
    """A repository that cannot be opened or read (its directory vanished, is unreadable,
    is not a repository of the declared type). The message names it and the problem."""


class NoSuchChangeset(RepositoryError):
    def __init__(self, rev: str, repos: str = "") -> None:
        where = f" in repository '{repos}'" if repos else ""
        super().__init__(f"No changeset {rev}{where}")
        self.rev = rev


class NoSuchNode(RepositoryError):
    def __init__(self, path: str, rev: str | None = None, repos: str = "") -> None:
        at = f" at revision {rev}" if rev else ""
        where = f" in repository '{repos}'" if repos else ""
        super().__init__(f"No node /{path}{at}{where}")
        self.path = path
        self.rev = rev


class InvalidPath(RepositoryError):
    """A path that tries to leave the repository (``..``, NUL, an encoded trick)."""


def normalize_path(path: str | None) -> str:
    """A path from a URL or a link as the API takes it: ``/``-separated, no leading,
    trailing or repeated slashes; ``.`` dropped. Raises ``InvalidPath`` for ``..``
    components, NUL bytes and backslashes (never resolved: refused)."""
    text = (path or "").strip()
    if "\x00" in text or "\\" in text:
        raise InvalidPath(f"Invalid path {path!r}")
    parts = []
    for part in text.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            raise InvalidPath(f"Invalid path {path!r}: '..' is not allowed")
        parts.append(part)
    return "/".join(parts)


def repository_directory(env: Any, directory: str) -> str:
    """A repository's directory as a backend opens it: a relative one is taken relative to
    the environment, as Trac does."""
    env_path = getattr(env, "path", None)
    if directory and not os.path.isabs(directory) and env_path:
        return os.path.join(env_path, directory)
    return directory


def repository_id(params: dict[str, Any]) -> int:
    """The ``repository`` table's id among a repository's settings (0 when it has none)."""
    try:
        return int(params.get("id") or 0)
    except (TypeError, ValueError):
        return 0


@dataclass
class Change:
    """One changed path of a changeset: ``kind`` a node kind, ``change`` a change kind;
    ``base_path``/``base_rev`` where its content came from (None for an addition)."""

    path: str
    kind: str
    change: str
    base_path: str | None = None
    base_rev: str | None = None


@dataclass
class Changeset:
    """A revision's metadata. ``date`` is an aware UTC datetime. ``parents`` are revision
    strings; ``branches`` and ``tags`` name what points at or contains it where the backend
    knows (Git refs, the Bazaar branch it was committed on). ``properties`` hold extra
    backend data shown on the changeset page (Bazaar's ``bugs`` fixed, Git's committer…)."""

    rev: str
    message: str
    author: str
    date: datetime
    parents: list[str] = field(default_factory=list)
    branches: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    properties: dict[str, str] = field(default_factory=dict)


@dataclass
class Annotation:
    """Who last changed a line: the line number (1-based) and the revision."""

    line: int
    rev: str


class Node:
    """A file or directory at a revision. Subclasses fill the attributes and implement
    the methods; ``created_rev`` is the revision that last changed this node."""

    repos: Repository
    path: str
    rev: str  # the revision it was asked at (normalized)
    kind: str
    created_rev: str
    created_path: str

    @property
    def name(self) -> str:
        return posixpath.basename(self.path)

    @property
    def isdir(self) -> bool:
        return self.kind == DIRECTORY

    @property
    def isfile(self) -> bool:
        return self.kind == FILE

    def get_entries(self) -> Iterator[Node]:
        """The children of a directory (none for a file)."""
        raise NotImplementedError

    def get_content(self) -> IO[bytes] | None:
        """A readable binary stream of a file's content (None for a directory). Callers
        read what they need; a backend must not load a huge file to open the stream."""
        raise NotImplementedError

    def get_content_length(self) -> int | None:
        """The size of a file in bytes (None for a directory)."""
        raise NotImplementedError

    def get_processed_content(self) -> IO[bytes] | None:
        """The content as a checkout would write it (Subversion's ``svn:eol-style``
        applied): what downloads serve."""
        return self.get_content()

    def processed_length(self) -> int | None:
        """The size of ``get_processed_content`` when known before reading it."""
        return self.get_content_length()

    def get_content_type(self) -> str | None:
        """A MIME type the repository records for the file (``svn:mime-type``), or None."""
        return None

    @property
    def content_id(self) -> str | None:
        """An id of a file's content that the backend knows without reading it and that
        differs whenever the content does (Git's blob id, Bazaar's text SHA-1); None when
        there is none (directories, links, backends without one)."""
        return None

    def get_last_modified(self) -> datetime:
        """When ``created_rev`` was committed (UTC)."""
        return self.repos.get_changeset(self.created_rev).date

    def get_properties(self) -> dict[str, str]:
        """Versioned properties of the node (executable bit, symlink target…)."""
        return {}

    def get_history(self, limit: int | None = None) -> Iterator[tuple[str, str, str]]:
        """(path, rev, change kind) of this node's changes, newest first, following
        renames and copies back."""
        return self.repos.get_path_history(self.path, self.rev, limit)

    def get_annotations(self) -> list[Annotation]:
        """For each line of a file, the revision that last changed it."""
        raise NotImplementedError


class Repository:
    """A repository. ``name`` is its name in the project ("" for the default one), ``id``
    its number in the ``repository`` table (0 when it is only in ``[repositories]``…),
    ``params`` its settings (``dir``, ``type``, ``url``, ``description``, ``hidden``,
    ``sync_per_request``…)."""

    type: str = ""

    def __init__(self, name: str, directory: str, params: dict[str, Any] | None = None,
                 id: int = 0) -> None:
        self.name = name
        self.directory = directory
        self.params = dict(params or {})
        self.id = id

    # -- revisions
    @property
    def youngest_rev(self) -> str | None:
        """The newest revision (None for an empty repository)."""
        raise NotImplementedError

    @property
    def oldest_rev(self) -> str | None:
        raise NotImplementedError

    def normalize_rev(self, rev: str | None) -> str:
        """The revision string for what a user gave (None or "" or ``HEAD``: the youngest;
        a short sha, a revno, a branch or tag name…). Raises ``NoSuchChangeset``."""
        raise NotImplementedError

    def display_rev(self, rev: str) -> str:
        """How the revision is shown to people (a Bazaar ``branch:revno``, a Git sha)."""
        return rev

    def short_rev(self, rev: str) -> str:
        """A short form for tight places (7 hex digits of a sha, a revno)."""
        return self.display_rev(rev)

    def previous_rev(self, rev: str, path: str = "") -> str | None:
        """The revision before ``rev`` (that changed ``path``, when given)."""
        raise NotImplementedError

    def next_rev(self, rev: str, path: str = "") -> str | None:
        """The revision after ``rev`` (that changed ``path``, when given)."""
        raise NotImplementedError

    def rev_older_than(self, rev1: str, rev2: str) -> bool:
        raise NotImplementedError

    def all_revs(self, since: Iterable[str] = ()) -> Iterator[str]:
        """Every revision, parents before children; with ``since``, only those that are
        not ancestors of (or equal to) the given ones — what a sync has not seen yet."""
        raise NotImplementedError

    # -- changesets and nodes
    def get_changeset(self, rev: str) -> Changeset:
        raise NotImplementedError

    def get_changes(self, rev: str) -> list[Change]:
        """The paths ``rev`` changed against its first parent."""
        raise NotImplementedError

    def get_node(self, path: str, rev: str | None = None) -> Node:
        """The node at ``path`` (normalized) at ``rev`` (default: youngest). Raises
        ``NoSuchNode``."""
        raise NotImplementedError

    def has_node(self, path: str, rev: str | None = None) -> bool:
        try:
            self.get_node(path, rev)
        except NoSuchNode:
            return False
        return True

    def get_path_history(self, path: str, rev: str | None = None, limit: int | None = None
                         ) -> Iterator[tuple[str, str, str]]:
        """(path, rev, change kind) for each revision up to ``rev`` that changed ``path``
        (or anything below it), newest first, following renames back."""
        raise NotImplementedError

    def get_changes_between(self, old_path: str, old_rev: str, new_path: str, new_rev: str
                            ) -> Iterator[tuple[Node | None, Node | None, str, str]]:
        """(old node, new node, kind, change) for each file that differs between two trees
        (or two files): for the diff pages."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what the backend holds open."""

    def consistent(self) -> contextlib.AbstractContextManager[None]:
        """A block of calls (a page's worth) that may all see the repository as it was at
        its start: a backend that looks for changes on disk at each call looks once. The
        default has nothing to do."""
        return contextlib.nullcontext()

    def view_state(self) -> Hashable | None:
        """A value that changes whenever what the pages show of revisions and paths they
        name may change (tips moved, branches came or went), for pages kept by the web
        layer; None when the backend cannot tell, and then nothing is kept. Revisions
        themselves never change, so a backend whose names and numbers depend only on them
        may return a constant; a backend whose revision numbers follow its branches (Bazaar's
        dotted numbers) returns what they follow."""
        return None

    # -- how the changeset cache stores this repository (Trac's connectors' way)

    # What a ``node_change`` row holds as ``base_rev`` for an addition.
    cache_no_base_rev: str | None = None

    def cache_name(self) -> str:
        """What the ``repository_dir`` row holds: the type and directory, as Trac's
        connectors name a repository (``git:/srv/git/project.git``)."""
        kind = self.params.get("type") or self.type
        directory = self.params.get("dir") or self.directory
        return f"{kind}:{directory}"

    def db_rev(self, rev: str) -> str:
        """A revision as the cache tables hold it."""
        return rev

    def rev_db(self, rev: str) -> str:
        """A revision from the cache tables."""
        return rev

    def db_path(self, path: str) -> str:
        """A path as the cache's ``node_change`` rows hold it."""
        return path

    def path_db(self, path: str) -> str:
        """A path from the cache's ``node_change`` rows."""
        return path

    def stored_message(self, message: str) -> str:
        """A commit message as the cache stores it."""
        return message


@hookspec
def repository_connectors():
    """{type: open(env, name, directory, params) -> Repository} for the repository types a
    backend serves (``bzr``, ``git``…)."""


@hookspec
def changeset_added(env, repos, changeset, pusher):
    """A changeset entered the cache (``changeset added``, a push). ``pusher`` is the
    account that pushed it through codeyard's hosting (None otherwise): the ticket updater
    acts as that user rather than as the name the commit claims."""


@hookspec
def changeset_modified(env, repos, changeset, old_changeset):
    """A cached changeset's metadata changed (``changeset modified``: an edited message)."""


@hookspec
def repository_changed(env, event, repos):
    """A repository was added, removed or changed its settings (event: ``added``,
    ``removed``, ``changed``, ``synced``). ``repos`` is its declaration, a
    ``codeyard.vcs.manager.RepositoryInfo`` (a removed one no longer opens)."""


@hookspec
def push_received(env, repos, revisions, pusher):
    """A push through codeyard's hosting was accepted and the changeset cache synced: revisions are the new ones (oldest first, maybe none), pusher the account that pushed."""


@hookspec
def repository_access_commands(req, repos, path):
    """(label, command line) pairs the browser shows for getting the repository this
    request browses (or, for a tree of Bazaar branches, the branch at ``path``) —
    ``git clone URL``, ``brz branch URL`` — when the user may pull it."""


@hookspec(firstresult=True)
def render_node_property(req, repos, node, name, value):
    """Markup showing one versioned property of a node in the browser (``svn:externals`` as
    links…), or None to show the value as text."""
