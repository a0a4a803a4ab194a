"""TracLinks of the ticket system, rendered as Trac 1.6 renders them.

``#N`` and ``ticket:N`` (also ``bug:N``, ``issue:N``); ranges (``#1-3``, ``ticket:1,3-5``),
which link to the query of those tickets; ``comment:N`` inside a ticket and
``comment:N:ticket:M`` anywhere; ``{N}`` and ``report:N``; ``milestone:name``; ``query:…``
in the query language or, after a ``?``, as the query page's own arguments.

The wiki parser reads ``#N`` and ``{N}`` as ``ticket`` and ``report`` links and knows
nothing more of them: with this plugin disabled they stay plain text, as in a Trac whose
ticket system is switched off. ``report:``, ``milestone:`` and ``query:`` also stay text
when the plugin serving their pages is disabled (Trac's namespaces belong to those modules).

Cost: the tickets a text mentions are fetched in one query, when the first of them is
resolved; the reports and milestones in one query each. A page's queries do not grow with
its links (``comment:`` links read their ticket, as Trac does).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo
from urllib.parse import quote_plus

from markupsafe import Markup, escape

from codeyard import cachekeys
from codeyard.core import hookimpl
from codeyard.perm import Resource
from codeyard.ticket import values
from codeyard.ticket.model import TICKETS_STAMP, Ticket
from codeyard.ticket.query import Query, QueryError, merge_ranges
from codeyard.ticket.report import reports
from codeyard.util.href import QUERY_SAFE
from codeyard.util.timefmt import pretty_timedelta
from codeyard.wiki import syntax as S
from codeyard.wiki.api import RenderDependencies
from codeyard.wiki.inline import shorten_line
from codeyard.wiki.links import intertrac_link, interwiki_link, shorthand_intertrac

__all__ = ["format_summary", "parse_ranges", "ticket_link", "comment_link", "report_link",
           "milestone_link", "query_link"]

TICKET_NAMESPACES = ("ticket", "bug", "issue")
# With the plugin serving its pages disabled, a namespace is unknown (plain text).
_PAGE_PLUGINS = {"report": "codeyard.ticket.report_web",
                 "milestone": "codeyard.ticket.roadmap_web",
                 "query": "codeyard.ticket.query_web"}
_FETCH_CHUNK = 500  # ids per IN (...) list
_RANGE_SPLIT = re.compile(",\u200b?")
# ``query:?…`` is passed on as written: only blanks and characters outside printable ASCII
# are quoted, as Trac quotes it.
_QS_SAFE = "".join(chr(c) for c in range(0x21, 0x7F))


def ticket_class(status) -> str:
    """The class of a link to a ticket: its status and ``ticket``; a ticket written without a
    status (by a script or an older plugin) is just ``ticket``, not ``None ticket``."""
    return f"{status} ticket" if status else "ticket"


def _a(label, href: str | None = None, cls: str | None = None, title: str | None = None,
       rel: str | None = None) -> Markup:
    """``<a>`` with its attributes in Trac's (alphabetical) order; label is HTML."""
    attrs = Markup("")
    if cls is not None:
        attrs += Markup(' class="%s"') % cls
    if href is not None:
        attrs += Markup(' href="%s"') % href
    if rel is not None:
        attrs += Markup(' rel="%s"') % rel
    if title is not None:
        attrs += Markup(' title="%s"') % title
    return Markup("<a%s>%s</a>") % (attrs, Markup(label))


def _as_int(text) -> int | None:
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


def _page_enabled(fmt, ns: str) -> bool:
    plugin = _PAGE_PLUGINS.get(ns)
    return plugin is None or fmt.env.is_enabled(plugin)


def _unknown(fmt, ns: str, target: str, label, link) -> Markup:
    """What the wiki shows for a namespace nobody provides."""
    text = link.text if link is not None else f"{ns}:{target}"
    return (intertrac_link(fmt, ns, target, label) or interwiki_link(fmt, ns, target, label)
            or escape(text))


def format_summary(summary, status=None, resolution=None, type_=None) -> str:
    """``defect: Summary (closed: fixed)``: a ticket as link titles show it."""
    text = shorten_line(summary or "")
    if type_:
        text = f"{type_}: {text}"
    if not status:
        return text
    if status == "closed" and resolution:
        status = f"{status}: {resolution}"
    return f"{text} ({status})"


# ---------------------------------------------------------------------------
# ticket:, bug:, issue:, #N


def parse_ranges(text: str) -> list[tuple[int, int]]:
    """``"3,1-2,9-7"`` -> [(1, 3)]: Trac's reading of a link's ticket numbers. Parts are
    merged and sorted, a decreasing range is dropped, anything else raises ValueError."""
    pairs: list[tuple[int, int]] = []
    for part in _RANGE_SPLIT.split(text):
        try:
            low, high = (int(x) for x in part.split("-", 1))
        except ValueError:
            low = high = int(part)
        if high >= low:
            pairs.append((low, high))
    return merge_ranges(pairs)


def _span(pairs: list[tuple[int, int]]) -> int:
    return pairs[-1][1] - pairs[0][0] + 1 if pairs else 0


def _ranges_text(pairs: list[tuple[int, int]]) -> str:
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in pairs)


def _single_ticket(target: str) -> int | None:
    """The ticket number a ticket link names, when it names one valid number."""
    try:
        pairs = parse_ranges(S.split_url(target)[0])
    except ValueError:
        return None
    if _span(pairs) == 1 and Ticket.id_is_valid(pairs[0][0]):
        return pairs[0][0]
    return None


def _fetch_tickets(env, ids) -> dict[int, tuple]:
    """{id: (type, summary, status, resolution)} of the existing tickets among ``ids``."""
    found: dict[int, tuple] = {}
    ids = sorted(ids)
    with env.db_query as db:
        for i in range(0, len(ids), _FETCH_CHUNK):
            chunk = ids[i:i + _FETCH_CHUNK]
            marks = ",".join(["%s"] * len(chunk))
            for tid, *row in db("SELECT id, type, summary, status, resolution FROM ticket "
                                f"WHERE id IN ({marks})", tuple(chunk)):
                found[int(tid)] = tuple(row)
    return found


def _mentioned_tickets(tree) -> set[int]:
    """Every ticket a parsed text links to."""
    ids: set[int] = set()
    for node in tree.walk():
        if node.kind == "link" and node.ns in TICKET_NAMESPACES and not node.prefix:
            num = _single_ticket(node.target)
            if num is not None:
                ids.add(num)
    return ids


def _ticket_row(fmt, num: int) -> tuple | None:
    """The ticket's row (None: no such ticket). The first link of a text fetches every ticket
    the text links to at once; the texts of one rendering (a page and the wiki text of its
    processor blocks) share what was fetched."""
    known: dict[int, tuple | None] = fmt.memo("ticket.links.tickets", dict)
    if num not in known:
        walked: set = fmt.memo("ticket.links.walked", set)
        ids = {num}
        if fmt.tree is not None and fmt.tree not in walked:
            walked.add(fmt.tree)
            ids |= _mentioned_tickets(fmt.tree) - known.keys()
        # (a link the tree did not show, e.g. ``[.]`` in a ticket, is fetched alone)
        known.update(dict.fromkeys(ids))
        known.update(_fetch_tickets(fmt.env, ids))
    return known[num]


def ticket_link(fmt, ns, target, label, link=None) -> Markup:
    found = shorthand_intertrac(fmt, ns, target, label, link)
    if found is not None:
        return found
    path, params, fragment = S.split_url(target)
    try:
        pairs = parse_ranges(path)
    except ValueError:
        return _a(label, cls="missing ticket")
    if _span(pairs) != 1:
        ranges = _ranges_text(pairs)
        if params:
            params = "&" + params[1:]
        return _a(Markup(str(label).replace(",", ",\u200b")), fmt.href.query(id=ranges) + params,
                  title="Tickets " + ranges.replace(",", ", "))
    num = pairs[0][0]
    if Ticket.id_is_valid(num) and fmt.ctx.allows("TICKET_VIEW", "ticket", num):
        row = _ticket_row(fmt, num)
        if row is not None:
            type_, summary, status, resolution = row
            return _a(label, fmt.href.ticket(num) + params + fragment, ticket_class(status),
                      f"#{num}: {format_summary(summary, status, resolution, type_)}")
    return _a(label, cls="missing ticket")


# ---------------------------------------------------------------------------
# comment:


def _existing_ticket(env, resource) -> Ticket | None:
    try:
        ticket = Ticket(env, resource.id)
    except values.ResourceNotFound:
        return None
    if resource.version is not None:
        # A version of the ticket: it exists if the ticket has had that many changes.
        with env.db_query as db:
            changes = db("SELECT COUNT(DISTINCT time) FROM ticket_change WHERE ticket=%s",
                         (ticket.id,))[0][0]
        if _as_int(resource.version) is None or changes < int(resource.version):
            return None
    return ticket


def comment_link(fmt, ns, target, label, link=None) -> Markup:
    """``comment:N`` (in the ticket being rendered), ``comment:N:ticket:M`` and the older
    ``comment:ticket:M:N``; ``description`` for N names the description."""
    here = fmt.ctx.resource
    if ":" in target:
        parts = target.split(":")
        if len(parts) != 3:
            return label
        cnum, realm, rid = parts
        if cnum != "description" and cnum and not cnum[0].isdigit():
            realm, rid, cnum = parts
        realm = "ticket" if realm in ("bug", "issue") else realm
        resource = Resource(realm, _as_int(rid))
    else:
        resource, cnum = here, target
    if (resource is None or not resource.id or resource.realm != "ticket" or not cnum
            or not (cnum.isdigit() or cnum == "description")):
        return label
    ticket = _existing_ticket(fmt.env, resource)
    if ticket is None:
        return _a(label, cls="missing ticket", title="ticket does not exist")
    if cnum != "description" and not ticket.get_change(cnum):
        return _a(label, cls="missing ticket", title="ticket comment does not exist")
    if not fmt.ctx.allows("TICKET_VIEW", "ticket", resource.id):
        return _a(label, cls="forbidden ticket", title="no permission to view ticket")
    href = fmt.href.ticket(resource.id) + f"#comment:{cnum}"
    if here is not None and here.realm == "ticket" and str(here.id) == str(resource.id):
        return _a(label, href, "ticket", "Description" if cnum == "description"
                  else f"Comment {cnum}")
    summary = format_summary(ticket["summary"], ticket["status"], ticket["resolution"],
                             ticket["type"])
    title = (f"Description for #{resource.id}: {summary}" if cnum == "description"
             else f"Comment {cnum} for #{resource.id}: {summary}")
    return _a(label, href, ticket_class(ticket["status"]), title)


# ---------------------------------------------------------------------------
# report:, {N}


def report_link(fmt, ns, target, label, link=None) -> Markup:
    if not _page_enabled(fmt, ns):
        return _unknown(fmt, ns, target, label, link)
    found = shorthand_intertrac(fmt, ns, target, label, link)
    if found is not None:
        return found
    rid, args, _fragment = S.split_url(target)
    known = fmt.memo("ticket.links.reports", lambda: {r.id for r in reports(fmt.env)})
    if _as_int(rid) not in known:
        return _a(label, cls="missing report", title="report does not exist")
    if not fmt.ctx.allows("REPORT_VIEW", "report", rid):
        return _a(label, cls="forbidden report", title="no permission to view report")
    return _a(label, fmt.href.report(rid) + args, "report")


# ---------------------------------------------------------------------------
# milestone:


def _reader_time(fmt, moment: datetime) -> str:
    """A moment in the reader's time zone, in Trac's default (ISO 8601 when chosen) form."""
    from codeyard.web.request import DEFAULT_DATE_FORMAT

    req = fmt.ctx.req
    tz: tzinfo = getattr(req, "tz", None) or UTC
    session = getattr(req, "session", None)
    chosen = (session.get("lc_time", "") if session is not None else "") or ""
    if not chosen or chosen == "locale":
        chosen = DEFAULT_DATE_FORMAT(fmt.env.config)
    local = moment.astimezone(tz)
    if chosen == "iso8601":
        text = local.replace(microsecond=0).isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    return local.strftime("%m/%d/%y %H:%M:%S")  # ``%x %X`` of the C locale, spelled out


def _moment(us: int) -> datetime:
    return datetime.fromtimestamp(us / 1_000_000, UTC)


def _milestone_title(fmt, milestone) -> str:
    now = datetime.now(UTC)
    if milestone.completed:
        done = _moment(milestone.completed)
        return f"Completed {pretty_timedelta(done, now)} ago ({_reader_time(fmt, done)})"
    if milestone.due:
        due = _moment(milestone.due)
        if due < now:
            return f"{pretty_timedelta(due, now)} late ({_reader_time(fmt, due)})"
        return f"Due in {pretty_timedelta(due, now)} ({_reader_time(fmt, due)})"
    return "No date set"


def milestone_link(fmt, ns, target, label, link=None) -> Markup:
    if not _page_enabled(fmt, ns):
        return _unknown(fmt, ns, target, label, link)
    name, query, fragment = S.split_url(target)
    extra = query + fragment
    if not (name or extra):
        return Markup("")
    known = fmt.memo("ticket.links.milestones",
                     lambda: {m.name: m for m in values.list_milestones(fmt.env)})
    milestone = known.get(name) if name else None
    href = fmt.href.milestone(name) if name else fmt.href.milestone() + "/"
    if milestone is not None:
        if fmt.ctx.allows("MILESTONE_VIEW", "milestone", name):
            return _a(label, href + extra,
                      "closed milestone" if milestone.completed else "milestone",
                      _milestone_title(fmt, milestone))
        return _a(label, cls="milestone")
    if fmt.ctx.allows("MILESTONE_CREATE", "milestone", name):
        return _a(label, href + extra, "missing milestone", rel="nofollow")
    return _a(label, cls="milestone missing")


# ---------------------------------------------------------------------------
# query:


class _LinkQuery(Query):
    """A query that is only linked to, never run: its values are not checked (Trac links
    ``query:id=abc`` too; the query page says what is wrong with it)."""

    def validate(self, now=None, tz=None) -> None:
        return None


# The syntax errors of the query language, worded as Trac words them in a link.
_SYNTAX_ERRORS = (
    ("Query filter requires field and constraints separated by a",
     'Query filter requires field and constraints separated by a "="'),
    ("Query filter requires a field name", "Query filter requires field name"),
)
_BARE = object()  # an argument written without ``=`` (``or``)


def _query_string(pairs) -> str:
    parts = []
    for name, value in pairs:
        if value is None:
            continue
        for item in value if isinstance(value, list) else [value]:
            key = quote_plus(name, safe=QUERY_SAFE)
            parts.append(key if item is _BARE else f"{key}={quote_plus(str(item), safe=QUERY_SAFE)}")
    return "?" + "&".join(parts) if parts else ""


def query_href(href, query: Query) -> str:
    """The ``/query`` URL of a query, with Trac's arguments in Trac's order: the filters,
    then only what differs from the defaults (columns, page size, page)."""
    max_, page = query.max, query.page
    if query.format == "rss":
        max_, page = query.items_per_page, 1
    cols: list[str] | None = query.get_columns()
    if cols == query.get_default_columns():
        cols = None
    pairs: list[tuple[str, object]] = []
    for i, clause in enumerate(query.constraints):
        if i:
            pairs.append(("or", _BARE))
        pairs.extend((name, list(clause[name])) for name in sorted(clause))
    pairs += [("report", query.report), ("group", query.group),
              ("groupdesc", 1 if query.groupdesc else None),
              ("max", None if max_ == query.items_per_page else max_), ("order", query.order),
              ("desc", 1 if query.desc else None), ("col", cols), ("row", list(query.rows)),
              ("page", None if page == 1 else page), ("format", query.format)]
    return href.query() + _query_string(pairs)


def query_link(fmt, ns, target, label, link=None) -> Markup:
    if not _page_enabled(fmt, ns):
        return _unknown(fmt, ns, target, label, link)
    if target.startswith("?"):
        return _a(label, fmt.href.query() + quote_plus(target, safe=_QS_SAFE), "query")
    try:
        query = _LinkQuery.from_string(fmt.env, target, strict=False)
    except QueryError as exc:
        message = str(exc)
        for ours, trac in _SYNTAX_ERRORS:
            if message.startswith(ours):
                message = trac
        return Markup('<em class="error">%s</em>') % f"[Error: {message}]"
    return _a(label, query_href(fmt.href, query), "query")


# ---------------------------------------------------------------------------
# hooks


@hookimpl
def wiki_link_resolvers():
    return {**dict.fromkeys(TICKET_NAMESPACES, ticket_link), "comment": comment_link,
            "report": report_link, "milestone": milestone_link, "query": query_link}


@hookimpl
def wiki_render_dependencies():
    # ``milestone:`` is left out on purpose: its titles count the time to the due date, so
    # a page linking to a milestone is rendered each time. [[TicketQuery]] (query_web)
    # follows the tickets as these links do.
    return RenderDependencies(
        cache_keys=(cachekeys.TICKET_REWRITES,),
        namespaces={**dict.fromkeys(TICKET_NAMESPACES, "tickets"), "comment": "tickets",
                    "report": "reports", "query": None},
        macros={"TicketQuery": "tickets"},
        probes={
            "tickets": TICKETS_STAMP,
            "reports": "SELECT COUNT(*), MAX(id), MIN(id) FROM report",
        })
