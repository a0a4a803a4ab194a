"""TracLinks namespaces provided by the wiki itself, and stand-ins for the ones feature
packages will provide (tickets, reports, milestones).

Each stand-in builds the right URL and checks the database where that is cheap; a target
it cannot check or that does not exist gets the ``missing <ns>`` class, as Trac shows it.
A feature package registering the same namespace replaces the stand-in (these hooks run
``trylast``, so any other plugin's resolver for a namespace wins).
"""

from __future__ import annotations

import re
from datetime import UTC

from markupsafe import Markup, escape

from codeyard.core import hookimpl
from codeyard.wiki import syntax as S
from codeyard.wiki.api import RenderDependencies
from codeyard.wiki.links import make_label_from_target, shorthand_intertrac, wiki_link

_RANGES_RE = re.compile(rf"^{S.RANGES}$")


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


# -- stand-ins for the ticket, report, milestone and version control namespaces


def _summary(summary, status, resolution, type_):
    if status == "closed" and resolution:
        return f"{type_}: {summary} ({status}: {resolution})"
    return f"{type_}: {summary} ({status})"


def ticket_resolver(fmt, ns, target, label, link=None):
    found = shorthand_intertrac(fmt, ns, target, label, link)
    if found is not None:
        return found
    path, params, fragment = S.split_url(target)
    if _RANGES_RE.match(path) and not re.search(r"[-:,]", path):
        num = int(path)
        if 0 < num <= 2 ** 31 - 1 and fmt.ctx.allows("TICKET_VIEW", "ticket", num):
            known = fmt.memo("tickets", lambda: _prefetch_tickets(fmt))
            if num not in known:
                rows = _query(fmt.env, "SELECT id, type, summary, status, resolution FROM ticket "
                              "WHERE id=%s", (num,))
                known[num] = rows[0][1:] if rows else None
            if known[num]:
                type_, summary, status, resolution = known[num]
                title = f"#{num}: {_summary(summary, status, resolution, type_)}"
                return _a(label, fmt.href.ticket(num) + params + fragment, f"{status} ticket",
                          title)
    elif _RANGES_RE.match(path):
        ranges = _normalize_ranges(path)
        if params:
            params = "&" + params[1:]
        return _a(Markup(str(label).replace(",", ",\u200b")),
                  fmt.href.query(id=ranges) + params,
                  title="Tickets " + ranges.replace(",", ", "))
    return _a(label, cls="missing ticket")


def _prefetch_tickets(fmt) -> dict:
    """The tickets the text being rendered mentions, fetched in one query."""
    ids = set()
    if fmt.tree is not None:
        for node in fmt.tree.walk():
            if node.kind == "link" and node.ns in ("ticket", "bug", "issue"):
                target = S.split_url(node.target)[0]
                if target.isdigit() and 0 < int(target) <= 2 ** 31 - 1:
                    ids.add(int(target))
    known: dict = {}
    ids_list = sorted(ids)
    for i in range(0, len(ids_list), 500):
        chunk = ids_list[i:i + 500]
        marks = ",".join(["%s"] * len(chunk))
        for row in _query(fmt.env, "SELECT id, type, summary, status, resolution FROM ticket "
                          f"WHERE id IN ({marks})", tuple(chunk)):
            known[row[0]] = tuple(row[1:])
    for num in ids_list:
        known.setdefault(num, None)
    return known


def _normalize_ranges(text: str) -> str:
    """``3,1-2,5:4`` -> ``1-5``: sorted, merged intervals (never expanded one by one)."""
    intervals = []
    for part in text.replace("\u200b", "").split(","):
        bounds = re.split("[-:]", part)
        a, b = int(bounds[0]), int(bounds[-1])
        intervals.append((min(a, b), max(a, b)))
    merged: list[list[int]] = []
    for a, b in sorted(intervals):
        if merged and a <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in merged)


def comment_resolver(fmt, ns, target, label, link=None):
    parts = target.split(":")
    resource = fmt.ctx.resource
    if len(parts) == 3 and parts[1] == "ticket":
        cnum, rid = parts[0], parts[2]
    elif resource is not None and resource.realm == "ticket":
        cnum, rid = parts[0], resource.id
    else:
        return _a(label, cls="missing ticket", title="ticket comment does not exist")
    rows = []
    if cnum.isdigit() and str(rid).isdigit():
        rows = _query(fmt.env, "SELECT t.summary, t.status, t.resolution, t.type FROM ticket t "
                      "JOIN ticket_change c ON c.ticket = t.id WHERE t.id=%s AND "
                      "c.field='comment' AND (c.oldvalue=%s OR c.oldvalue LIKE %s)",
                      (int(rid), cnum, "%." + cnum))
    if not rows:
        return _a(label, cls="missing ticket", title="ticket comment does not exist")
    summary, status, resolution, type_ = rows[0]
    return _a(label, fmt.href.ticket(rid) + f"#comment:{cnum}", f"{status} ticket",
              f"Comment {cnum} for #{rid}: {_summary(summary, status, resolution, type_)}")


def report_resolver(fmt, ns, target, label, link=None):
    found = shorthand_intertrac(fmt, ns, target, label, link)
    if found is not None:
        return found
    rid, args, fragment = S.split_url(target)
    rows = _query(fmt.env, "SELECT id FROM report WHERE id=%s", (int(rid),)) if rid.isdigit() else []
    if not rows:
        return _a(label, cls="missing report", title="report does not exist")
    if not fmt.ctx.allows("REPORT_VIEW", "report", int(rid)):
        return _a(label, cls="forbidden report", title="no permission to view report")
    return _a(label, fmt.href.report(rid) + args, "report")


def milestone_resolver(fmt, ns, target, label, link=None):
    name, query, fragment = S.split_url(target)
    if not (name or query or fragment):
        return Markup("")
    rows = _query(fmt.env, "SELECT due, completed FROM milestone WHERE name=%s", (name,))
    href = fmt.href.milestone(name) + query + fragment
    if not rows:
        return _a(label, href, "missing milestone", rel="nofollow")
    due, completed = rows[0]
    if completed:
        return _a(label, href, "closed milestone", "Completed")
    return _a(label, href, "milestone", "No date set" if not due else None)


def query_resolver(fmt, ns, target, label, link=None):
    query, args, fragment = S.split_url(target)
    if args and not query:
        return _a(label, fmt.href.query() + args.replace(" ", "+") + fragment, "query")
    params: list[tuple[str, str]] = []
    for clause in re.split(r"(?<!\\)&", query):
        name, sep, values = clause.partition("=")
        if not sep:
            continue
        for value in re.split(r"(?<!\\)\|", values):
            params.append((name.strip(), value.replace("\\", "")))
    if not any(name == "order" for name, _v in params):
        params.append(("order", "priority"))
    return _a(label, fmt.href.query(params) + fragment, "query")


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
    # Links answered from pages, attachments, configuration and permissions alone, and the
    # stand-ins whose answer follows the tickets, milestones and reports tables.
    stable = ("wiki", "attachment", "raw-attachment", "htdocs", "search", "mailto", "http",
              "https", "ftp", "query", "timeline")
    probed = {"ticket": "tickets", "bug": "tickets", "issue": "tickets", "comment": "tickets",
              "milestone": "milestones", "report": "reports"}
    return RenderDependencies(
        namespaces={**dict.fromkeys(stable), **probed},
        macros={"TicketQuery": "tickets"},
        probes={
            "tickets": "SELECT COUNT(*), MAX(changetime) FROM ticket",
            "milestones": "SELECT COUNT(*), SUM(COALESCE(due, 0)), SUM(COALESCE(completed, 0)) "
                          "FROM milestone",
            "reports": "SELECT COUNT(*), MAX(id), MIN(id) FROM report",
        })


@hookimpl(trylast=True)
def wiki_link_resolvers():
    return {
        "wiki": wiki_resolver,
        "attachment": attachment_resolver,
        "raw-attachment": attachment_resolver,
        "htdocs": htdocs_resolver,
        "search": search_resolver,
        "ticket": ticket_resolver,
        "bug": ticket_resolver,
        "issue": ticket_resolver,
        "comment": comment_resolver,
        "report": report_resolver,
        "milestone": milestone_resolver,
        "query": query_resolver,
        "timeline": timeline_resolver,
    }
