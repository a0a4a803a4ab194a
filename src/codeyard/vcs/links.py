"""TracLinks to the repositories: ``changeset:rev[/repo][/path]`` (and ``r42``, ``[42]``,
``[42/repo]``, ``sha:``), ``source:path@rev#L3`` (``browser:``, ``repos:``, ``export:``),
``log:path@rev1:rev2`` (and ``r1:3``, ``[1:3/path]``) and ``diff:old//new``.

Links are resolved in process: the changeset cache where it has the revision, else the
backend's own lookup (pygit2, breezy), each repository opened once per rendering and each
revision looked up once; never a subprocess per link."""

from __future__ import annotations

import re

from markupsafe import Markup, escape

from codeyard.core import hookimpl
from codeyard.vcs import api
from codeyard.vcs import web_util as U
from codeyard.wiki import syntax as S
from codeyard.wiki.api import RenderDependencies
from codeyard.wiki.links import shorthand_intertrac

# path, then @rev or :rev, then :marks (line numbers to highlight), as Trac reads them
PATH_LINK_RE = re.compile(r"([^@#:]*)[@:]([^#:]+)?(?::(\d+(?:-\d+)?(?:,\d+(?:-\d+)?)*))?")
LOG_LINK_RE = re.compile(r"([^@:]*)[@:]")


def _a(label, href=None, cls=None, title=None, rel=None) -> Markup:
    attrs = ""
    if cls:
        attrs += f' class="{escape(cls)}"'
    if href is not None:
        attrs += f' href="{escape(href)}"'
    if rel:
        attrs += f' rel="{rel}"'
    if title:
        attrs += f' title="{escape(title)}"'
    return Markup(f"<a{attrs}>{label}</a>")


def _repositories(fmt) -> U.Repositories:
    return fmt.memo("vcs.repositories", lambda: U.Repositories(fmt.env, fmt.ctx.req))


def _allowed(fmt, action: str, resource) -> bool:
    perm = fmt.ctx.perm
    return perm is None or perm.has(action, resource)


def _context_repository(fmt) -> str | None:
    """The repository the text belongs to (a changeset's message, a file), if any."""
    resource = fmt.ctx.resource
    while resource is not None:
        if resource.realm in ("source", "changeset") and resource.parent is not None:
            return resource.parent.id
        resource = resource.parent
    return None


def _by_path(fmt, path: str) -> tuple[str, api.Repository | None, str]:
    repos_list = _repositories(fmt)
    name, repos, rest = repos_list.get_repository_by_path(path)
    if not name:
        default = _context_repository(fmt)
        if default:
            repos = repos_list.get_repository(default)
            name = default
    return name, repos, rest


def _no_repository(reponame: str) -> str:
    return f"Repository '{reponame}' not found" if reponame else "No default repository defined"


def _changeset(fmt, repos: api.Repository, rev: str) -> api.Changeset:
    """The changeset (from the cache when it is there); raises NoSuchChangeset."""
    def lookup():
        known = U.ChangesetInfo(fmt.env, repos).cached(rev)
        if known is not None:
            return known
        return repos.get_changeset(repos.normalize_rev(rev))

    key = f"vcs.changeset:{repos.name}:{rev}"
    found = fmt.memo(key, lambda: _catching(lookup))
    if isinstance(found, Exception):
        raise found
    return found


def _catching(compute):
    try:
        return compute()
    except api.RepositoryError as exc:
        return exc


# -- changeset:, r42, [42], [42/repo], sha:


def changeset_resolver(fmt, ns, target, label, link=None):
    found = shorthand_intertrac(fmt, ns, target, label, link)
    if found is not None:
        return found
    chgset, params, fragment = S.split_url(target)
    rev, sep, path = chgset.partition("/")
    rel = "nofollow" if ns == "sha" else None  # as Trac's Git connector marks them
    try:
        reponame, repos, rest = _by_path(fmt, path)
        if repos is None:
            return _a(label, cls="missing changeset", title=_no_repository(reponame), rel=rel)
        changeset = _changeset(fmt, repos, rev)
        if not _allowed(fmt, "CHANGESET_VIEW", U.changeset_resource(reponame, changeset.rev)):
            return _a(label, cls="missing changeset",
                      title=f"No permission to view changeset {rev} on "
                            f"{reponame or '(default)'}", rel=rel)
        parts = [p for p in (reponame, rest) if p]
        href = fmt.href.changeset(rev, *parts) if parts else fmt.href.changeset(rev)
        return _a(label, href + params + fragment, "changeset",
                  U.shorten_line((changeset.message or "").strip().replace("\n", " ")))
    except api.RepositoryError as exc:
        return _a(label, cls="missing changeset", title=str(exc), rel=rel)


# -- source:, browser:, repos:, export:


def source_resolver(fmt, ns, target, label, link=None):
    path, query, fragment = S.split_url(target)
    rev = marks = None
    match = PATH_LINK_RE.match(path)
    if match:
        path, rev, marks = match.groups()
    try:
        reponame, repos, rest = _by_path(fmt, path)
        if repos is None:
            return _a(label, cls="missing source")
        if rev and marks:
            # a Bazaar ``branch:revno`` reads like Trac's ``rev:marks``: a revision wins
            joined = f"{rev}:{marks}"
            if not isinstance(fmt.memo(f"vcs.rev:{reponame}:{joined}", lambda: _catching(
                    lambda: repos.normalize_rev(joined))), Exception):
                rev, marks = joined, None
        node_rev = repos.normalize_rev(rev) if rev else None
        node = fmt.memo(f"vcs.node:{reponame}:{rest}:{node_rev}",
                        lambda: _catching(lambda: repos.get_node(rest, node_rev)))
        if isinstance(node, Exception):
            raise node
        resource = U.source_resource(reponame, rest, rev)
        if not _allowed(fmt, "FILE_VIEW" if node.isfile else "BROWSER_VIEW", resource):
            return _a(label, cls="missing source")
    except api.RepositoryError:
        return _a(label, cls="missing source")
    full = "/".join(p for p in (reponame, rest) if p)
    if ns == "export":
        export_rev = rev or "HEAD"
        href = fmt.href.export(export_rev, full) if full else fmt.href.export(export_rev)
        return _a(label, href + fragment, "source")
    href = (fmt.href.browser(full, rev=rev, marks=marks) if full
            else fmt.href.browser(rev=rev, marks=marks))
    if query:
        query = ("&" if "?" in href else "?") + query[1:]
    link_html = _a(label, href + query + fragment, "source")
    if node.isfile:
        raw = fmt.href.export(rev or repos.display_rev(node.rev), full)
        link_html += _a("\u200b", raw + fragment, "trac-rawlink", "Download")
    return link_html


# -- log:, r1:3, [1:3/path]


def log_resolver(fmt, ns, target, label, link=None):
    found = shorthand_intertrac(fmt, ns, target, label, link)
    if found is not None:
        return found
    match_text, query, fragment = S.split_url(target)
    path, revs = match_text, ""
    if LOG_LINK_RE.match(match_text):
        indexes = [match_text.index(sep) for sep in ":@" if sep in match_text]
        idx = min(indexes)
        path, revs = match_text[:idx], match_text[idx + 1:]
    try:
        reponame, repos, rest = _by_path(fmt, path)
        if repos is None:
            return _a(label, cls="missing source", title=_no_repository(reponame))
        if not _allowed(fmt, "LOG_VIEW", U.source_resource(reponame, rest)):
            return _a(label, cls="missing source", title="No permission to view change log")
        full = "/".join(p for p in (reponame, rest) if p)
        args: dict[str, str | None] = {}
        if revs:
            key = f"vcs.rev:{reponame}:{revs}"
            known = fmt.memo(key, lambda: _catching(lambda: repos.normalize_rev(revs)))
            if not isinstance(known, Exception):
                args["rev"] = revs
            elif re.search(r"[-:,]", revs):
                args["revs"] = revs.replace(":", "-") if revs.count(":") == 1 else revs
            else:
                raise known
        href = fmt.href.log(full, **args) if full else fmt.href.log(**args)
        if query:
            query = ("&" if "?" in href else "?") + query[1:]
        return _a(label, href + query + fragment, "source")
    except api.RepositoryError as exc:
        return _a(label, cls="missing source", title=str(exc))


# -- diff:


def diff_resolver(fmt, ns, target, label, link=None):
    params, query, fragment = S.split_url(target)

    def pathrev(path):
        return tuple(path.split("@", 1)) if "@" in path else (path, None)

    if "//" in params:
        first, second = params.split("//", 1)
        (old_path, old_rev), (new_path, new_rev) = pathrev(first), pathrev(second)
    else:
        old_path, old_rev = pathrev(params)
        new_path, new_rev = old_path, None
        if old_rev and ":" in old_rev:
            old_rev, new_rev = old_rev.split(":", 1)
    if new_path == old_path:
        title = f"Diff [{old_rev or 'latest'}:{new_rev or 'latest'}] for {new_path or '/'}"
    else:
        title = (f"Diff from {old_path or '/'}@{old_rev or 'latest'} to "
                 f"{new_path or '/'}@{new_rev or 'latest'}")
    href = None
    if any((old_path, old_rev, new_path, new_rev)):
        if query:
            query = "&" + query[1:]
        href = fmt.href.changeset(new=new_rev, new_path=new_path or None, old=old_rev,
                                  old_path=old_path or None) + query
    return _a(label, href, "changeset", title)


@hookimpl
def wiki_link_resolvers():
    return {
        "changeset": changeset_resolver,
        "sha": changeset_resolver,
        "source": source_resolver,
        "browser": source_resolver,
        "repos": source_resolver,
        "export": source_resolver,
        "log": log_resolver,
        "diff": diff_resolver,
    }


@hookimpl
def wiki_render_dependencies():
    # What these links show follows the changeset cache and the declared repositories.
    probed = dict.fromkeys(("changeset", "sha", "source", "browser", "repos", "export", "log"),
                           "changesets")
    return RenderDependencies(
        namespaces={**probed, "diff": None},
        macros={"RepositoryIndex": "changesets"},
        probes={"changesets": "SELECT (SELECT COUNT(*) FROM revision), "
                              "(SELECT MAX(time) FROM revision), "
                              "(SELECT COUNT(*) FROM repository), "
                              "(SELECT MAX(id) FROM repository)"})
