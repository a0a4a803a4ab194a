"""Subversion repositories: the ``svn`` repository type (also Trac's names ``svnfs`` and
``direct-svnfs``), read in process through subvertpy — see ``repository``.

Trac environments move over unchanged: ``[repositories] .type = svn`` and
``repository add NAME DIR svn`` open here, the changeset cache holds the rows Trac's own
Subversion connector writes (revisions zero-padded to ten digits), and the ``[svn]``
options keep their meaning (``branches``, ``tags``, ``eol_style``) as does the
``[svn:externals]`` section. The versioned properties Subversion gives meaning to are shown
as such: ``svn:externals`` as links, ``svn:needs-lock`` as a lock, ``svn:mergeinfo`` as a
table of merged revisions.
"""

from __future__ import annotations

import sys
from typing import Any

from codeyard.config import ChoiceOption, ListOption, options_in
from codeyard.core import hookimpl
from codeyard.vcs.api import repository_directory, repository_id

BRANCHES = ListOption("svn", "branches", ("trunk", "branches/*"),
                      "Comma separated list of paths categorized as branches. If a path ends "
                      "with '*', then all the directory entries found below that path will be "
                      "included.")
TAGS = ListOption("svn", "tags", ("tags/*",),
                  "Comma separated list of paths categorized as tags. If a path ends with "
                  "'*', then all the directory entries found below that path will be "
                  "included.")
EOL_STYLE = ChoiceOption("svn", "eol_style", "native",
                         "The line ends of files whose `svn:eol-style` is `native`, in raw "
                         "downloads: `native` (the server's), or `LF`, `CRLF`, `CR`.",
                         choices=("native", "LF", "CRLF", "CR"))


def open_repository(env: Any, name: str, directory: str,
                    params: dict[str, Any] | None = None) -> Any:
    """Open the Subversion repository at ``directory`` (or the path in a repository it
    names); a relative directory is taken relative to the environment, as Trac does."""
    from codeyard.vcs.svn.repository import SvnRepository

    params = dict(params or {})
    config = getattr(env, "config", None)
    if config is not None:
        params.setdefault("eol_style", EOL_STYLE(config))
        params.setdefault("branches", BRANCHES(config))
        params.setdefault("tags", TAGS(config))
    return SvnRepository(name, repository_directory(env, directory), params,
                         id=repository_id(params))


# The directory may be a path inside a repository, which exists only in the repository.
open_repository.opens_paths_inside = True  # type: ignore[attr-defined]


@hookimpl
def repository_connectors():
    return {"svn": open_repository, "svnfs": open_repository, "direct-svnfs": open_repository}


@hookimpl
def render_node_property(req, repos, node, name, value):
    if getattr(repos, "type", "") != "svn":
        return None
    from codeyard.vcs.svn.properties import RENDERERS

    renderer = RENDERERS.get(name)
    return renderer(req, repos, node, value) if renderer is not None else None


@hookimpl
def config_options():
    from codeyard.vcs.svn import properties

    return options_in(sys.modules[__name__], properties)
