"""Git repositories through pygit2: the ``git`` repository type.

The plugin only announces the connector; the backend lives in ``repository`` (revisions,
changesets, refs), ``node`` (files and directories) and ``history`` (walks over commits
for a path: last change, path history).
"""

from __future__ import annotations

from typing import Any

from codeyard.core import hookimpl
from codeyard.vcs.api import repository_directory, repository_id
from codeyard.vcs.git.repository import GitRepository

__all__ = ["GitRepository", "open_repository", "repository_connectors"]


def open_repository(env: Any, name: str, directory: str,
                    params: dict[str, Any] | None = None) -> GitRepository:
    """Open the Git repository in ``directory`` (its work tree, its ``.git`` directory or a
    bare repository). A relative directory is taken relative to the environment, as Trac
    does."""
    params = dict(params or {})
    return GitRepository(name, repository_directory(env, directory), params,
                         id=repository_id(params))


@hookimpl
def repository_connectors():
    return {"git": open_repository}
