"""Webhooks as a plugin: the listeners that turn a project's changes into queued deliveries,
and the sender started when the project is first served in a process.

A listener only inserts rows (in the changing transaction when the change runs in one, so
a rolled-back change sends nothing) and wakes this process's sender once the rows are
committed. It never fails the change: a payload that cannot be built is logged.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from codeyard.config import options_in
from codeyard.core import hookimpl
from codeyard.util.outbox import now_us
from codeyard.webhooks import api, model, sender

WIKI_ACTIONS = ("created", "changed", "replaced", "renamed", "deleted", "version_deleted")


def queue_event(env, event: str, sender_name: str | None, when_us: int,
                body: Callable[[], dict[str, Any]], hooks: list[api.Webhook] | None = None
                ) -> list[int]:
    """Queue ``event`` for every active hook that wants it (or for ``hooks``); ``body()``
    gives the event's own fields, asked only when some hook wants them. Returns the ids
    of the rows queued."""
    targets = [h for h in model.all_hooks(env) if h.wants(event)] if hooks is None else hooks
    if not targets:
        return []
    fields = body()
    ids = []
    with env.db_transaction as db:
        for hook in targets:
            payload = api.envelope(env, event, model.new_delivery_id(), sender_name, when_us,
                                   fields)
            ids.append(model.enqueue(env, hook, event, payload))
        db.on_commit(lambda: wake(env))
    return ids


# The projects this process serves: only these run a sender (a command queues and leaves
# the sending to the servers).
_served: weakref.WeakSet = weakref.WeakSet()


def wake(env) -> None:
    if env in _served:
        sender.start_sender(env)  # once; a running sender is left as it is
    sender.wake_sender(env)


def _guarded(env, what: str, build) -> None:
    try:
        build()
    except Exception:
        # A delivery that cannot be queued must not undo or fail the change.
        env.log.exception("could not queue the webhooks of %s", what)


def ping(env, hook: api.Webhook, who: str | None) -> int:
    """Queue a ``ping`` to one hook (whatever its events)."""
    return queue_event(env, api.PING, who, now_us(),
                       lambda: {"hook": {"name": hook.name, "events": hook.events}}, [hook])[0]


# -- tickets

def _value(ticket, name: str, value):
    if name in ticket.time_fields or name in ("time", "changetime"):
        return api.iso(value) if value else None
    return value


def ticket_body(env, event, ticket, old_values, comment, when) -> dict[str, Any]:
    base = api.project_url(env)
    ticket_url = f"{base}/ticket/{ticket.id}"
    fields = {"id": ticket.id, "url": ticket_url}
    for name in [f.name for f in ticket.fields] + ["time", "changetime"]:
        fields[name] = _value(ticket, name, ticket[name])
    changes = {name: {"old": _value(ticket, name, old), "new": _value(ticket, name, ticket[name])}
               for name, old in (old_values or {}).items()
               if (old or "") != (ticket[name] or "")}
    url = ticket_url
    if event == "changed":
        cnum = ticket.get_comment_number(when) if when else None
        if cnum is not None:
            url += f"#comment:{cnum}"
    return {"ticket": fields, "changes": changes, "comment": comment or "", "url": url}


@hookimpl
def ticket_changed(env, event, ticket, old_values, comment, author, when):
    if event not in ("created", "changed", "deleted"):
        return
    name = f"ticket.{event}"

    _guarded(env, f"ticket #{ticket.id}", lambda: queue_event(
        env, name, author, int(when or now_us()),
        lambda: ticket_body(env, event, ticket, old_values, comment, when)))


# -- wiki pages

@hookimpl
def wiki_page_changed(env, event, page, old_name, version):
    if event not in WIKI_ACTIONS:
        return
    edit = event in ("created", "changed", "replaced")

    def body():
        return {"action": event, "page": {
            "name": page.name, "old_name": old_name, "version": version or page.version,
            "author": page.author, "comment": page.comment, "time": api.iso(page.time),
            "url": f"{api.project_url(env)}/wiki/{quote(page.name)}"}}

    _guarded(env, f"wiki page {page.name}", lambda: queue_event(
        env, "wiki.changed", page.author if edit else None,
        int(page.time or now_us()) if edit else now_us(), body))


# -- milestones

def milestone_body(env, milestone) -> dict[str, Any]:
    return {"milestone": {
        "name": milestone.name, "due": api.iso(milestone.due),
        "completed": api.iso(milestone.completed), "description": milestone.description or "",
        "url": f"{api.project_url(env)}/milestone/{quote(milestone.name)}"}}


@hookimpl
def milestone_changed(env, event, name, old_name, previous):
    if event not in ("created", "changed"):
        return

    def build():
        from codeyard.ticket.values import get_milestone

        milestone = get_milestone(env, name)
        if not milestone.completed or (previous is not None and previous.completed):
            return  # completed only when it gains a completion date
        queue_event(env, "milestone.completed", None, int(milestone.completed),
                    lambda: milestone_body(env, milestone))

    _guarded(env, f"milestone {name}", build)


# -- pushes

@hookimpl
def push_received(env, repos, revisions, pusher):
    if not revisions:
        return

    def body():
        base = api.project_url(env)
        suffix = f"/{quote(repos.name)}" if repos.name else ""
        items = []
        for rev in revisions:
            cset = repos.get_changeset(rev)
            items.append({"id": rev, "display": repos.display_rev(rev),
                          "author": cset.author, "message": cset.message,
                          "time": api.iso(cset.date),
                          "url": f"{base}/changeset/{quote(repos.display_rev(rev))}{suffix}"})
        return {"repository": {"name": repos.name or "", "url": f"{base}/browser{suffix}"},
                "pusher": pusher, "revisions": items}

    _guarded(env, f"a push to {repos.name or '(default)'}",
             lambda: queue_event(env, "push", pusher, now_us(), body))


# -- the plugin's set-up

@hookimpl
def environment_served(env):
    # A project without hooks (or anything left to send) gets no thread until a delivery
    # is queued in this process: serving never polls the database for nothing.
    _served.add(env)
    if model.all_hooks(env) or model.OUTBOX.next_due(env) is not None:
        sender.start_sender(env)


@hookimpl
def database_tables():
    return model.tables()


@hookimpl
def config_options():
    return options_in(api)


@hookimpl
def environment_checks(env):
    _hooks, problems = api.ini_hooks(env.config)
    found = [("FAIL", "webhooks", f"{p}: fix the URL, the name or the events") for p in problems]
    failed = model.deliveries(env, limit=1, status="failed")
    if failed:
        found.append(("warn", "webhooks", f"some webhook deliveries were given up (see the "
                      f"admin panel or `codeyard admin ENV webhook deliveries`); last error: "
                      f"{failed[0].last_error}"))
    hooks = model.all_hooks(env)
    if not found and hooks:
        active = sum(1 for h in hooks if h.active)
        found.append(("ok", "webhooks", f"{len(hooks)} webhooks, {active} active"))
    return found
