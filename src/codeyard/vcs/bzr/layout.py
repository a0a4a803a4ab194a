"""Where the branches of a Bazaar repository directory are, and opening them without ever
leaving that directory.

A repository directory holds shared repositories, standalone branches and plain directories
in any nesting. The scan walks plain directories and shared repositories and stops at each
branch (a branch's working tree may hold anything; its ``.bzr`` is never listed). Symlinks,
branch references (lightweight checkouts), stacked-on locations and the shared repository a
branch uses must all resolve inside the root: anything pointing outside is refused.
"""

from __future__ import annotations

import logging
import os
import posixpath
from dataclasses import dataclass, field
from typing import Any

import breezy.bzr  # noqa: F401  (registers the .bzr formats)
from breezy import errors as bzr_errors
from breezy import urlutils
from breezy.branch import UnstackableBranchFormat
from breezy.bzr import BzrProber
from breezy.controldir import ControlDir
from breezy.transport import get_transport_from_path

from codeyard.vcs.api import RepositoryError

log = logging.getLogger(__name__)

# A plain directory tree deeper or larger than this above the branches is not walked further
# (every scanned directory is checked for changes on each call).
MAX_DEPTH = 12
MAX_DIRS = 5000


class Refused(Exception):
    """A location that resolves outside the repository root."""


def inside(root: str, path: str) -> bool:
    """Whether the real path ``path`` is ``root`` or below it (both already resolved)."""
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


@dataclass
class Layout:
    """The branches found under the root: branch path -> real directory, the plain
    directories above them (path -> sorted child names), and the stamps of the scanned
    directories (a changed stamp means a branch may have come or gone)."""

    branches: dict[str, str] = field(default_factory=dict)
    dirs: dict[str, list[str]] = field(default_factory=dict)
    stamps: dict[str, int] = field(default_factory=dict)

    def drop(self, path: str) -> None:
        """Forget a branch (one that could not be opened) and rebuild the directories."""
        self.branches.pop(path, None)
        self.index_dirs()

    def index_dirs(self) -> None:
        dirs: dict[str, set[str]] = {"": set()}
        for path in self.branches:
            parts = path.split("/") if path else []
            for depth in range(len(parts)):
                dirs.setdefault("/".join(parts[:depth]), set()).add(parts[depth])
        if "" in self.branches:
            dirs.pop("", None)
        self.dirs = {path: sorted(names) for path, names in dirs.items()}


def _stamp(path: str) -> int:
    return os.stat(path).st_mtime_ns


def check_root(name: str, directory: str) -> str:
    """The resolved root directory, or a RepositoryError naming it."""
    label = f"Repository '{name}'" if name else "The default repository"
    try:
        real = os.path.realpath(directory)
        if not os.path.isdir(real):
            raise RepositoryError(f"{label}: directory {directory} does not exist")
        os.listdir(real)
    except PermissionError as exc:
        raise RepositoryError(f"{label}: directory {directory} is not readable") from exc
    except OSError as exc:
        raise RepositoryError(f"{label}: directory {directory} cannot be read: "
                              f"{exc.strerror or exc}") from exc
    return real


def stamps_current(layout: Layout) -> bool:
    try:
        return all(_stamp(path) == stamp for path, stamp in layout.stamps.items())
    except OSError:
        return False


def _has_control_dir(root: str, real_dir: str) -> bool:
    control = os.path.join(real_dir, ".bzr")
    if not os.path.isdir(control):
        return False
    if not inside(root, os.path.realpath(control)):
        raise Refused(control)
    return True


def _is_branch(root: str, real_dir: str) -> bool:
    """Whether the control directory in ``real_dir`` holds a branch (or a reference)."""
    for part in ("branch", "checkout", "repository"):
        target = os.path.join(real_dir, ".bzr", part)
        if os.path.lexists(target) and not inside(root, os.path.realpath(target)):
            raise Refused(target)
    return os.path.isdir(os.path.join(real_dir, ".bzr", "branch"))


def scan(name: str, root: str) -> Layout:
    """Walk the root for branches (see the module doc string)."""
    real_root = check_root(name, root)
    layout = Layout()
    seen: set[str] = set()

    def walk(rel: str, real: str, depth: int) -> bool:
        """Record what is below ``real``; True when it holds a branch."""
        if real in seen or depth > MAX_DEPTH or len(seen) >= MAX_DIRS:
            return False
        seen.add(real)
        try:
            if _has_control_dir(real_root, real) and _is_branch(real_root, real):
                layout.branches[rel] = real
                return True
        except Refused as exc:
            log.warning("bzr repository %s: %s points outside the repository, refused",
                        root, exc)
            return False
        try:
            layout.stamps[real] = _stamp(real)
            with os.scandir(real) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError as exc:
            if rel == "":
                raise RepositoryError(f"Repository directory {root} cannot be read: "
                                      f"{exc.strerror or exc}") from exc
            return False
        found = False
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                if not entry.is_dir():
                    continue
            except OSError:
                continue
            child_real = os.path.realpath(entry.path)
            if not inside(real_root, child_real):
                log.warning("bzr repository %s: %s points outside the repository, refused",
                            root, entry.path)
                continue
            child_rel = posixpath.join(rel, entry.name) if rel else entry.name
            found = walk(child_rel, child_real, depth + 1) or found
        return found

    walk("", real_root, 0)
    layout.index_dirs()
    return layout


def _url_to_real(url: str, base_url: str) -> str:
    full = urlutils.join(base_url, url)
    if not full.startswith("file://"):
        raise Refused(url)
    return os.path.realpath(urlutils.local_path_from_url(full))


def _open_controldir(real_dir: str) -> Any:
    return ControlDir.open_from_transport(get_transport_from_path(real_dir),
                                          probers=[BzrProber])


def _find_repository(root: str, real_dir: str, repositories: dict[str, Any]) -> Any:
    """The repository a branch in ``real_dir`` uses: its own, or the nearest shared one
    between it and the root (breezy would keep looking above the root; we do not)."""
    current = real_dir
    while True:
        if os.path.isdir(os.path.join(current, ".bzr")):
            repo = repositories.get(current)
            if repo is None:
                try:
                    repo = _open_controldir(current).open_repository()
                except bzr_errors.NoRepositoryPresent:
                    repo = None
                except bzr_errors.NotBranchError:
                    repo = None
            if repo is not None:
                if current == real_dir or repo.is_shared():
                    repositories[current] = repo
                    return repo
                raise RepositoryError(f"The branch in {real_dir} has no repository")
        if current == root:
            break
        current = os.path.dirname(current)
    raise RepositoryError(f"The branch in {real_dir} has no repository inside the repository "
                          "directory")


def open_branch(root: str, real_dir: str, repositories: dict[str, Any], _depth: int = 0) -> Any:
    """Open the branch in ``real_dir`` (a resolved path inside ``root``) reading nothing
    outside ``root``. Raises ``Refused`` for a reference or stacking that leaves it."""
    if not inside(root, real_dir):
        raise Refused(real_dir)
    controldir = _open_controldir(real_dir)
    reference = controldir.get_branch_reference()
    if reference is not None:
        target = _url_to_real(reference, controldir.user_url)
        if _depth > 0 or not inside(root, target):
            raise Refused(reference)
        return open_branch(root, target, repositories, _depth + 1)
    fmt = controldir.find_branch_format()
    repo = _find_repository(root, real_dir, repositories)
    # Open with the fallbacks ignored first: a stacked-on branch is only opened once its
    # location is known to be inside the root.
    branch = fmt.open(controldir, _found=True, ignore_fallbacks=True, found_repository=repo)
    try:
        stacked_on = branch.get_stacked_on_url()
    except (bzr_errors.NotStacked, UnstackableBranchFormat):
        return branch
    if not inside(root, _url_to_real(stacked_on, branch.base)):
        raise Refused(stacked_on)
    return fmt.open(controldir, _found=True, found_repository=repo)
