"""TracLinks namespaces provided by the wiki itself, and stand-ins for the ones the version
control package will provide (changesets, source, log, diff).

Each stand-in builds the right URL and checks the database where that is cheap; a target
it cannot check or that does not exist gets the ``missing <ns>`` class, as Trac shows it.
A feature package registering the same namespace replaces the stand-in (these hooks run
``trylast``, so any other plugin's resolver for a namespace wins).
"""

from __future__ import annotations

from datetime import UTC

from markupsafe import Markup, escape

from codeyard.core import hookimpl
from codeyard.wiki import syntax as S
from codeyard.wiki.api import RenderDependencies
from codeyard.wiki.links import make_label_from_target, shorthand_intertrac, wiki_link


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


def _query(env, sql, params):
    try:
        with env.db_query as db:
            return db(sql, params)
    except Exception:  # a table a later schema may not have yet
        return []


# -- wiki, attachments, htdocs, search


def wiki_resolver(fmt, ns, target, label, link=None):
    if link is not None and getattr(link, "ns_given", False) and not link.explicit:
        label = escape(make_label_from_target(fmt.env, target))
    return wiki_link(fmt, target, label, False)


def attachment_resolver(fmt, ns, target, label, link=None):
    path, params, fragment = S.split_url(target)
    ids = path.split(":", 2)
    realms = ("wiki", "ticket", "milestone", "attachment", "changeset", "source", "report")
    attachment = None
    if len(ids) == 3:
        if ids[1] in realms:
            attachment = (ids[1], ids[2], ids[0])
        elif ids[0] in realms:
            attachment = (ids[0], ids[1], ids[2])
    else:
        resource = fmt.ctx.resource
        attachment = (resource.realm, resource.id, path)
    if attachment and fmt.ctx.allows("ATTACHMENT_VIEW", attachment[0], attachment[1]):
        realm, rid, filename = attachment
        rows = _query(fmt.env, "SELECT filename FROM attachment WHERE type=%s AND id=%s "
                      "AND filename=%s", (realm, str(rid), filename))
        if rows:
            raw = fmt.href("raw-attachment", realm, rid, filename) + params
            parent = rid if realm == "wiki" else ("#" if realm == "ticket" else "") + str(rid)
            realm_label = "" if realm == "wiki" else realm.capitalize() + " "
            title = f"Attachment '{filename}' in {realm_label}{parent}"
            if ns.startswith("raw"):
                return _a(label, raw, "attachment", title)
            href = fmt.href.attachment(realm, rid, filename) + params
            return (_a(label, href, "attachment", title)
                    + _a("\u200b", raw, "trac-rawlink", "Download"))
    return _a(label, cls="missing attachment")


def htdocs_resolver(fmt, ns, target, label, link=None):
    path, query, fragment = S.split_url(target)
    return _a(label, fmt.href.chrome("site", path) + query + fragment)


def search_resolver(fmt, ns, target, label, link=None):
    from urllib.parse import quote

    path, query, fragment = S.split_url(target)
    if path:
        href = fmt.href.search(q=path)
        if query:
            href += "&" + quote(query[1:], safe="=&/")
    else:
        href = fmt.href.search() + query
    return _a(label, href + fragment, "search")


# -- stand-ins for the version control namespaces


def _no_repository(fmt, ns, label):
    title = "No default repository defined" if ns != "source" else None
    return _a(label, cls=f"missing {ns}", title=title)


def changeset_resolver(fmt, ns, target, label, link=None):
    found = shorthand_intertrac(fmt, ns, target, label, link)
    if found is not None:
        return found
    rev, params, fragment = S.split_url(target)
    if not fmt.memo("has_revisions", lambda: bool(_query(fmt.env, "SELECT 1 FROM revision "
                                                           "LIMIT 1", ()))):
        return _no_repository(fmt, "changeset", label)
    rows = _query(fmt.env, "SELECT message FROM revision WHERE rev=%s", (rev.split("/")[0],))
    if not rows:
        return _a(label, cls="missing changeset", title="No changeset " + rev.split("/")[0])
    from codeyard.wiki.inline import shorten_line

    return _a(label, fmt.href.changeset(rev.split("/")[0]) + params + fragment, "changeset",
              shorten_line(rows[0][0] or ""))


def source_resolver(fmt, ns, target, label, link=None):
    rows = _query(fmt.env, "SELECT id FROM repository WHERE name=%s AND value=%s",
                  ("name", ""))
    if not rows:
        return _no_repository(fmt, "source", label)
    path, query, fragment = S.split_url(target)
    rev = None
    if "@" in path:
        path, rev = path.split("@", 1)
    return _a(label, fmt.href.browser(path, rev=rev) + query + fragment, "source")


def log_resolver(fmt, ns, target, label, link=None):
    found = shorthand_intertrac(fmt, ns, target, label, link)
    if found is not None:
        return found
    return _a(label, cls="missing source", title="No default repository defined")


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


def timeline_resolver(fmt, ns, target, label, link=None):
    path, query, fragment = S.split_url(target)
    from datetime import datetime

    precision = None
    parts = path.split("T", 1)
    if len(parts) > 1:
        clock = parts[1].split("Z")[0]
        precision = ("seconds" if len(clock) >= 6 else "minutes" if len(clock) >= 4
                     else "hours" if len(clock) >= 2 else None)
    try:
        dt = datetime.fromisoformat(path.replace("Z", "+00:00"))
    except ValueError:
        return _a(label, cls="timeline missing",
                  title=f'"{path}" is an invalid date, or the date format is not known. '
                        'Try "YYYY-MM-DDThh:mm:ss\u00b1hh:mm" instead.')
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    stamp = dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return _a(label, fmt.href.timeline(**{"from": stamp, "precision": precision}) + fragment,
              "timeline", f"See timeline at {stamp}")


@hookimpl
def wiki_render_dependencies():
    # Links answered from pages, attachments, configuration and permissions alone.
    stable = ("wiki", "attachment", "raw-attachment", "htdocs", "search", "mailto", "http",
              "https", "ftp", "timeline")
    return RenderDependencies(namespaces=dict.fromkeys(stable))


@hookimpl(trylast=True)
def wiki_link_resolvers():
    return {
        "wiki": wiki_resolver,
        "attachment": attachment_resolver,
        "raw-attachment": attachment_resolver,
        "htdocs": htdocs_resolver,
        "search": search_resolver,
        "changeset": changeset_resolver,
        "source": source_resolver,
        "browser": source_resolver,
        "repos": source_resolver,
        "export": source_resolver,
        "log": log_resolver,
        "diff": diff_resolver,
        "timeline": timeline_resolver,
    }
