"""The list of a project's repositories: on ``/browser`` and as the ``[[RepositoryIndex]]``
macro (``format=compact|list|table``, ``glob=``, ``order=name|date|author``, ``desc=``)."""

from __future__ import annotations

import fnmatch
from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup, escape

from codeyard.core import hookimpl
from codeyard.vcs import api
from codeyard.vcs import web_util as U
from codeyard.wiki.api import MacroError, WikiMacro, parse_args

_EPOCH = datetime.fromtimestamp(0, UTC)


def _row(repos_list, name: str, url_for) -> dict[str, Any]:
    info = repos_list.get_all_repositories().get(name)
    row: dict[str, Any] = {"name": name, "label": name or "(default)",
                           "description": info.description if info else "",
                           "alias": info.alias if info else None, "error": None, "rev": None,
                           "short_rev": "", "date": None, "age": "", "author": "",
                           "href": url_for("browser", path=name) if name else url_for("browser"),
                           "rev_href": None}
    try:
        repos = repos_list.get_repository(name)
        youngest = repos.youngest_rev if repos is not None else None
        if repos is not None and youngest:
            change = repos.get_changeset(youngest)
            row.update(rev=youngest, short_rev=repos.short_rev(youngest), date=change.date,
                       age=U.pretty_age(change.date), author=change.author)
            shown = repos.display_rev(youngest)
            row["rev_href"] = (url_for("changeset", rev=shown, rest=name) if name
                               else url_for("changeset", rev=shown))
    except api.RepositoryError as exc:
        row["error"] = str(exc)
    return row


def repository_rows(req, repos_list, order: str = "name", desc: bool = False,
                    glob: str = "*", perm=None) -> list[dict[str, Any]]:
    """The visible repositories the reader may browse, each with its youngest changeset."""
    perm = perm if perm is not None else req.perm
    rows = []
    for name in repos_list.visible_names():
        if not fnmatch.fnmatchcase(name, glob or "*"):
            continue
        if perm is not None and not perm.has("BROWSER_VIEW", U.repository_resource(name)):
            continue
        rows.append(_row(repos_list, name, req.url_for))
    keys = {"name": lambda r: r["name"].lower(),
            "date": lambda r: r["date"] or _EPOCH,
            "author": lambda r: (r["author"] or "").lower()}
    rows.sort(key=keys.get(order, keys["name"]), reverse=desc)
    return rows


def _macro(fmt, name, content, args):
    _pos, kw = parse_args(content)
    shape = kw.get("format", "compact")
    if shape not in ("compact", "list", "table"):
        raise MacroError(f"Unknown format {shape!r}: use compact, list or table.")
    order = kw.get("order", "name")
    if order not in ("name", "date", "author"):
        raise MacroError(f"Unknown order {order!r}: use name, date or author.")
    desc = str(kw.get("desc", "")).strip().lower() in ("1", "true", "yes")
    req = fmt.ctx.req

    class _Urls:  # links from the rendering's href when there is no request
        @staticmethod
        def url_for(endpoint, path=None, rev=None, rest=None):
            if endpoint == "changeset":
                return fmt.href.changeset(rev, rest) if rest else fmt.href.changeset(rev)
            return fmt.href.browser(path) if path else fmt.href.browser()

    source = req if req is not None else _Urls
    repos_list = fmt.memo("vcs.repositories", lambda: U.Repositories(fmt.env, fmt.ctx.req))
    rows = repository_rows(source, repos_list, order, desc, kw.get("glob", "*"),
                           perm=fmt.ctx.perm)
    rows = [r for r in rows if r["name"]]
    if not rows:
        return Markup("")
    if shape == "compact":
        return Markup(", ").join(Markup('<a class="source" href="%s">%s</a>')
                                 % (r["href"], r["name"]) for r in rows)
    if shape == "list":
        items = [Markup('<dt><a class="source" href="%s">%s</a></dt><dd>%s</dd>')
                 % (r["href"], r["name"], r["description"]) for r in rows]
        return Markup('<dl class="repository-index">%s</dl>') % Markup("").join(items)
    body = []
    for r in rows:
        rev = (Markup('<a class="changeset" href="%s">%s</a>') % (r["rev_href"], r["short_rev"])
               if r["rev_href"] else escape(r["error"] or ""))
        body.append(Markup('<tr><td class="name"><a class="source" href="%s">%s</a></td>'
                           '<td class="rev">%s</td><td class="age">%s</td>'
                           '<td class="author">%s</td><td class="description">%s</td></tr>')
                    % (r["href"], r["name"], rev, r["age"], r["author"], r["description"]))
    return (Markup('<table class="listing repository-index" id="repindex"><thead><tr>'
                   '<th scope="col">Name</th><th scope="col">Revision</th>'
                   '<th scope="col">Age</th><th scope="col">Author</th>'
                   '<th scope="col">Description</th></tr></thead><tbody>%s</tbody></table>')
            % Markup("").join(body))


@hookimpl
def wiki_macros():
    return {"RepositoryIndex": WikiMacro(
        "RepositoryIndex", _macro,
        "Lists the project's repositories. Arguments: `format=compact` (default, names "
        "separated by commas), `format=list` (names and descriptions) or `format=table` "
        "(with the youngest revision, its age and author); `glob=` keeps the names matching "
        "a pattern; `order=name|date|author` and `desc=1` sort.")}
