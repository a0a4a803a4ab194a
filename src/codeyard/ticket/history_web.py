"""A ticket's history on the web: its changes grouped as the ticket page shows them, and
the pages behind ``/ticket/<n>?action=…`` — ``history`` (the versions of the long text
fields), ``diff`` (``version``, ``old_version``, ``field``: what changed between two
versions of the ticket), ``comment-history`` and ``comment-diff`` (``cnum``, ``version``,
``old_version``: the versions of one edited comment).

Versions are change numbers, as in Trac: version 3 of a ticket is the ticket as its third
change left it, version 0 the ticket as created. A comment's versions count its edits:
version 0 is the text first written.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from codeyard.perm import Resource
from codeyard.ticket.model import Ticket
from codeyard.util.diff import DiffOptions, diff_hunks
from codeyard.web.api import HTTPBadRequest, HTTPNotFound
from codeyard.web.chrome import MINUTES, format_datetime
from codeyard.wiki.api import format_context
from codeyard.wiki.formatter import format_to_html, format_to_oneliner


def changelog_groups(ticket: Ticket) -> list[dict[str, Any]]:
    """The ticket's changes, one dict per change, oldest first.

    Each has ``time``, ``author``, ``permanent`` (False for an attachment), ``cnum`` (the
    change's number; None for attachments), ``replyto`` (the number replied to, as text),
    ``fields`` (name -> (old, new), in the order written), ``attachments`` (file names),
    ``attachment_note`` (an attachment's description), ``comment`` (the comment's text now)
    and ``history`` (every version of the comment, oldest first: dicts of ``version``,
    ``time``, ``author``, ``text``)."""
    groups: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    edits: dict[int, dict[str, Any]] = {}
    last_uid: tuple | None = None
    autonum = 0

    def close() -> None:
        if not current:
            return
        # Edit N kept the text of version N; its row tells who wrote version N+1, and when.
        versions = [{"version": 0, "time": current["time"], "author": current["author"],
                     "text": ""}]
        for rev in sorted(edits):
            edit = edits[rev]
            versions[-1]["text"] = edit.get("text", "")
            versions.append({"version": rev + 1, "time": edit.get("time", current["time"]),
                             "author": edit.get("author"), "text": ""})
        versions[-1]["text"] = current["comment"]
        current["history"] = versions

    for when, author, field, old, new, permanent in ticket.get_changelog():
        # Every row of one change shares its time (comment edits are by other authors);
        # an attachment is its own change.
        uid = (when,) if permanent else (when, author)
        if uid != last_uid:
            close()
            last_uid = uid
            edits = {}
            current = {"time": when, "author": None, "permanent": bool(permanent),
                       "cnum": None, "replyto": None, "fields": {}, "attachments": [],
                       "attachment_note": "", "comment": ""}
            if permanent:
                autonum += 1
                current["cnum"] = autonum
            groups.append(current)
        if not field.startswith("_") and current["author"] is None:
            current["author"] = author
        if field == "comment":
            if not permanent:
                current["attachment_note"] = new
                continue
            current["comment"] = new
            current["author"] = author
            if old:
                parent, _, number = old.rpartition(".")
                current["replyto"] = parent or None
                try:
                    current["cnum"] = autonum = int(number)
                except ValueError:
                    pass
        elif field.startswith("_comment"):
            if field[8:].isdigit():
                rev = int(field[8:])
                edits.setdefault(rev, {})["text"] = old
                try:
                    edits[rev].update(author=author, time=int(new))
                except ValueError:
                    edits[rev].update(author=author)
        elif field.startswith("_"):
            continue
        elif field == "attachment":
            current["attachments"].append(new)
        elif (old or new) and old != new:
            current["fields"][field] = (old, new)
    close()
    return groups


def text_fields(ticket: Ticket) -> list[str]:
    """The fields whose changes are shown as diffs: the textarea ones (the description…)."""
    return [f.name for f in ticket.fields if f.type == "textarea"]


def _int_arg(req, name: str, default: int | None = None) -> int | None:
    raw = req.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise HTTPBadRequest(f"The parameter {name} must be a number, not '{raw}'.") from None


def _stylesheets(req) -> None:
    for path in ("css/wiki.css", "css/ticket.css"):
        href = req.url_for("chrome", prefix="common", path=path)
        if href not in req.chrome["stylesheets"]:
            req.chrome["stylesheets"].append(href)


def _render(req, ticket: Ticket, text: str, oneliner: bool = False) -> Markup:
    ctx = format_context(req, Resource("ticket", ticket.id))
    return (format_to_oneliner if oneliner else format_to_html)(ctx, text or "")


def _style(req) -> str:
    return "sidebyside" if req.args.get("style") == "sidebyside" else "inline"


def _chosen_fields(req, ticket: Ticket) -> list[str]:
    field = req.args.get("field")
    if field:
        if field not in {f.name for f in ticket.fields}:
            raise HTTPNotFound(f"Ticket #{ticket.id} has no field '{field}'.")
        return [field]
    return text_fields(ticket)


def _labels(ticket: Ticket) -> dict[str, str]:
    return {f.name: f.label for f in ticket.fields}


def _value_at(ticket: Ticket, groups: list[dict], field: str, version: int) -> str:
    """The value ``field`` had once change ``version`` was made (0: at creation)."""
    value = None
    for group in groups:
        if not group["permanent"] or field not in group["fields"]:
            continue
        old, new = group["fields"][field]
        if group["cnum"] <= version:
            value = new
        else:
            return value if value is not None else old
    if value is not None:
        return value
    current = ticket[field]
    return "" if current is None else str(current)


# ---------------------------------------------------------------------------
# ?action=history and ?action=diff


def field_history(req, ticket: Ticket):
    """/ticket/<n>?action=history[&field=f] — the versions of the ticket's long text fields."""
    fields = _chosen_fields(req, ticket)
    groups = changelog_groups(ticket)
    versions = [{"version": g["cnum"], "time": g["time"],
                 "date": format_datetime(g["time"], fmt=MINUTES), "author": g["author"],
                 "comment": _render(req, ticket, g["comment"], oneliner=True),
                 "href": req.url_for("ticket", id=ticket.id) + f"#comment:{g['cnum']}"}
                for g in groups if g["permanent"] and any(f in g["fields"] for f in fields)]
    versions.reverse()
    versions.append({"version": 0, "time": ticket.time_created,
                     "date": format_datetime(ticket.time_created, fmt=MINUTES),
                     "author": ticket["reporter"], "comment": Markup("<em>Initial version</em>"),
                     "href": req.url_for("ticket", id=ticket.id)})
    _stylesheets(req)
    labels = _labels(ticket)
    return "ticket/history.html", {
        "ticket": ticket, "versions": versions,
        "title": f"Ticket #{ticket.id}: history of {', '.join(labels[f] for f in fields)}",
        "heading": f"History of {', '.join(labels[f] for f in fields)}",
        "diff_action": "diff", "diff_args": [("field", req.args["field"])] if req.args.get("field") else [],
        "back": req.url_for("ticket", id=ticket.id),
    }


def field_diff(req, ticket: Ticket):
    """/ticket/<n>?action=diff&version=V[&old_version=W][&field=f] — the changes of the
    ticket between two versions: its long text fields as diffs, the others as a list."""
    fields = _chosen_fields(req, ticket)
    new_version = _int_arg(req, "version", 1)
    old_version = _int_arg(req, "old_version", new_version)
    assert new_version is not None and old_version is not None
    if old_version > new_version:
        old_version, new_version = new_version, old_version
    groups = changelog_groups(ticket)
    changed = [g for g in groups if g["permanent"] and any(f in g["fields"] for f in fields)]
    # The versions compared: the change of a text field at or after `version`, and the one
    # before it (or at or before `old_version` when that was given).
    new_idx = next((i for i, g in enumerate(changed) if g["cnum"] >= new_version), -1)
    if new_idx < 0:
        raise HTTPNotFound(f"Ticket #{ticket.id} has no change of "
                           f"{', '.join(fields) or 'its text fields'} at or after version "
                           f"{new_version}: no differences to show.",
                           title="No differences to show")
    if old_version == new_version:
        old_idx = new_idx - 1
    else:
        old_idx = max((i for i, g in enumerate(changed) if g["cnum"] <= old_version), default=-1)
    new_change = changed[new_idx]
    new_version = new_change["cnum"]
    old_version = changed[old_idx]["cnum"] if old_idx >= 0 else 0
    labels = _labels(ticket)
    options = DiffOptions.from_args(req.args)
    diffs = []
    for field in fields:
        old_text = _value_at(ticket, groups, field, old_version)
        new_text = _value_at(ticket, groups, field, new_version)
        if old_text != new_text:
            diffs.append({"field": field, "label": labels.get(field, field),
                          "hunks": diff_hunks(old_text.splitlines(), new_text.splitlines(),
                                              options)})
    props: list[dict[str, Any]] = []
    long_fields = text_fields(ticket)
    for group in groups:
        if group["permanent"] and old_version < group["cnum"] <= new_version:
            for name in group["fields"]:
                if name not in fields and name not in (p["field"] for p in props):
                    props.append({"field": name, "label": labels.get(name, name),
                                  "old": _value_at(ticket, groups, name, old_version),
                                  "new": _value_at(ticket, groups, name, new_version),
                                  "long": name in long_fields})
    props = [p for p in props if p["old"] != p["new"]]
    url = req.url_for("ticket", id=ticket.id)
    extra = {"field": req.args["field"]} if req.args.get("field") else {}
    links = {"up": req.url_for("ticket", id=ticket.id, action="history", **extra)}
    if old_version:
        links["prev"] = req.url_for("ticket", id=ticket.id, action="diff", version=old_version,
                                    **extra)
    if new_idx + 1 < len(changed):
        links["next"] = req.url_for("ticket", id=ticket.id, action="diff",
                                    version=changed[new_idx + 1]["cnum"], **extra)
    _stylesheets(req)
    what = ", ".join(labels.get(f, f) for f in fields)
    return "ticket/diff.html", {
        "ticket": ticket, "title": f"Ticket #{ticket.id}: changes of {what}",
        "heading": f"Ticket #{ticket.id}: {what}",
        "old_label": f"Version {old_version}" if old_version else "Initial version",
        "new_label": f"Version {new_version}",
        "old_href": url + (f"#comment:{old_version}" if old_version else ""),
        "new_href": url + f"#comment:{new_version}",
        "change": {"author": new_change["author"],
                   "date": format_datetime(new_change["time"], fmt=MINUTES),
                   "comment": _render(req, ticket, new_change["comment"]),
                   "count": new_idx - old_idx},
        "props": props, "diffs": diffs, "style": _style(req), "options": options,
        "links": links, "labels": {"prev": "Previous Change", "up": "Ticket History",
                                   "next": "Next Change"},
        "form_args": [("action", "diff"), ("version", new_version),
                      ("old_version", old_version), *extra.items()],
        "back": url,
    }


# ---------------------------------------------------------------------------
# ?action=comment-history and ?action=comment-diff


def _comment_versions(req, ticket: Ticket) -> tuple[int, list[dict]]:
    if not req.args.get("cnum"):
        raise HTTPBadRequest("Which comment? The parameter cnum is missing.")
    cnum = _int_arg(req, "cnum")
    assert cnum is not None
    history = ticket.get_comment_history(cnum=cnum) if cnum > 0 else None
    if not history:
        raise HTTPNotFound(f"Ticket #{ticket.id} has no comment {cnum}.",
                           title="No such comment")
    url = req.url_for("ticket", id=ticket.id)
    return cnum, [{"version": rev, "time": when, "date": format_datetime(when, fmt=MINUTES),
                   "author": author, "text": text,
                   "href": req.url_for("ticket", id=ticket.id, cnum_hist=cnum, cversion=rev)
                   + f"#comment:{cnum}" if rev < len(history) - 1 else url + f"#comment:{cnum}"}
                  for rev, when, author, text in history]


def comment_history(req, ticket: Ticket):
    """/ticket/<n>?action=comment-history&cnum=C — the versions of one comment."""
    cnum, versions = _comment_versions(req, ticket)
    for v in versions:
        v["comment"] = _render(req, ticket, v["text"], oneliner=True)
    _stylesheets(req)
    return "ticket/history.html", {
        "ticket": ticket, "versions": list(reversed(versions)),
        "title": f"Ticket #{ticket.id}: history of comment {cnum}",
        "heading": f"History of comment {cnum}",
        "diff_action": "comment-diff", "diff_args": [("cnum", cnum)],
        "back": req.url_for("ticket", id=ticket.id) + f"#comment:{cnum}",
    }


def comment_diff(req, ticket: Ticket):
    """/ticket/<n>?action=comment-diff&cnum=C&version=K[&old_version=J] — what an edit of a
    comment changed (from version K-1 to K unless old_version says otherwise)."""
    cnum, versions = _comment_versions(req, ticket)
    new_version = _int_arg(req, "version", 1)
    old_version = _int_arg(req, "old_version", new_version)
    assert new_version is not None and old_version is not None
    if old_version > new_version:
        old_version, new_version = new_version, old_version
    elif old_version == new_version:
        old_version = new_version - 1
    for version in (old_version, new_version):
        if not 0 <= version < len(versions):
            raise HTTPNotFound(f"Comment {cnum} of ticket #{ticket.id} has no version "
                               f"{version} (versions 0 to {len(versions) - 1}).",
                               title="No such version")
    old, new = versions[old_version], versions[new_version]
    options = DiffOptions.from_args(req.args)
    links = {"up": req.url_for("ticket", id=ticket.id, action="comment-history", cnum=cnum)}
    if old_version > 0:
        links["prev"] = req.url_for("ticket", id=ticket.id, action="comment-diff", cnum=cnum,
                                    version=old_version)
    if new_version + 1 < len(versions):
        links["next"] = req.url_for("ticket", id=ticket.id, action="comment-diff", cnum=cnum,
                                    version=new_version + 1)
    _stylesheets(req)
    return "ticket/diff.html", {
        "ticket": ticket, "title": f"Ticket #{ticket.id}: changes of comment {cnum}",
        "heading": f"Ticket #{ticket.id}, comment {cnum}",
        "old_label": f"Version {old_version}" if old_version else "Initial version",
        "new_label": f"Version {new_version}",
        "old_href": old["href"], "new_href": new["href"],
        "change": {"author": new["author"], "date": new["date"], "comment": None,
                   "count": new_version - old_version},
        "props": [],
        "diffs": [{"field": "comment", "label": "Comment",
                   "hunks": diff_hunks(old["text"].splitlines(), new["text"].splitlines(),
                                       options)}],
        "style": _style(req), "options": options, "links": links,
        "labels": {"prev": "Previous Change", "up": "Comment History", "next": "Next Change"},
        "form_args": [("action", "comment-diff"), ("cnum", cnum), ("version", new_version),
                      ("old_version", old_version)],
        "back": req.url_for("ticket", id=ticket.id) + f"#comment:{cnum}",
    }


PAGES = {"history": field_history, "diff": field_diff, "comment-history": comment_history,
         "comment-diff": comment_diff}
