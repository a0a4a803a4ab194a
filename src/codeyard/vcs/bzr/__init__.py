"""The Bazaar backend (breezy): repositories of type ``bzr``.

A Bazaar repository in codeyard is a directory tree holding branches — shared repositories
with branches inside, standalone branches, plain directories — all read with breezy, never
outside that directory (symlinks, branch references and stacked-on locations that lead out
are refused).

Paths: the first components of a node path select a branch (the longest match), the rest is
the path inside it: ``trunk/src/main.py``. A standalone branch at the root has the prefix
``""``. The root and the plain directories above the branches are directories whose entries
are the branches and the directories holding branches.

Revisions: the revision string is the Bazaar revision id (decoded as UTF-8), which is unique
across every branch and never changes. It is shown as ``<branch>:<dotted revno>`` (``trunk:5``,
``trunk:4.1.1`` for a revision merged into trunk), numbered in the revision's *home branch*:
the default branch when the revision is in its history, else the first branch by path that
holds it. ``short_rev`` is the dotted revno alone for revisions of the default branch.

The default branch is the only branch, else ``trunk``, else the shallowest ``…/trunk``, else
the branch with the newest tip. ``normalize_rev`` accepts a revision id (optionally
``revid:…``), ``branch:revno`` and ``branch:dotted.revno``, a bare (dotted) revno of the
default branch, ``tag:NAME`` or ``NAME`` for a tag, a branch path for its tip, and
None/""/``HEAD`` for the youngest revision (the default branch's tip). ``previous_rev`` and
``next_rev`` walk a branch's mainline (its left-hand history); a merged revision's next is
the mainline revision that merged it.
"""

from __future__ import annotations

from typing import Any

from codeyard.core import hookimpl


def open_repository(env: Any, name: str, directory: str, params: dict[str, Any]) -> Any:
    """Open the Bazaar repository directory ``directory`` (a RepositoryError if it is
    missing, unreadable or holds nothing of Bazaar)."""
    from codeyard.vcs.api import repository_id
    from codeyard.vcs.bzr.repository import BzrRepository

    params = dict(params or {})
    return BzrRepository(name, directory, params, id=repository_id(params))


@hookimpl
def repository_connectors():
    return {"bzr": open_repository}
