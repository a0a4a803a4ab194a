"""TracLinks namespaces provided by the wiki itself, and a stand-in for the timeline
namespace the timeline package will provide.

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
from codeyard.wiki.links import make_label_from_target, wiki_link


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
        "timeline": timeline_resolver,
    }
