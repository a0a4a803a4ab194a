"""Names of the shared cache generations: rows of the ``cache`` table.

A process keeps a computed value together with the generation of its key; any writer of the
underlying data bumps the generation, and every process recomputes on its next read. Where
Trac 1.6 caches the same data, the key is Trac's own (``module.Class.attribute`` of its
``@cached`` property), so that ``trac-admin`` and a Trac site running beside codeyard on the
same environment invalidate codeyard's copies, and codeyard's writes invalidate theirs. The row
id is derived from the key as Trac derives it (``codeyard.db.api.key_to_id``).

Keys that only codeyard uses start with ``codeyard.``, a module Trac never names.
"""

from __future__ import annotations

__all__ = [
    "WIKI_PAGES", "INTERWIKI_MAP", "PERMISSIONS", "KNOWN_USERS", "KNOWN_USERS_DICT",
    "KNOWN_USERS_KEYS", "MILESTONES", "TICKET_FIELDS", "TICKET_CUSTOM_FIELDS",
    "ATTACHMENTS", "REPOSITORIES", "TICKET_REWRITES", "repository_metadata", "FORMER_KEYS",
]

# -- shared with Trac 1.6 (what bumps each, on Trac's side, in brackets)

WIKI_PAGES = "trac.wiki.api.WikiSystem.pages"
"""The set of wiki page names [a page created (version 1), renamed or deleted]."""

INTERWIKI_MAP = "trac.wiki.interwiki.InterWikiMap.interwiki_map"
"""The prefixes listed on the ``InterMapTxt`` page [that page added, edited or deleted]."""

PERMISSIONS = "trac.perm.DefaultPermissionStore._all_permissions"
"""Every row of the ``permission`` table [a grant or a revocation]."""

KNOWN_USERS = "trac.env.Environment._known_users"
KNOWN_USERS_DICT = "trac.env.Environment._known_users_dict"
"""Authenticated sessions with their name and e-mail [a new one, or a changed name or
e-mail]. Trac derives a second cached value (the dict) from the first and bumps both."""

KNOWN_USERS_KEYS = (KNOWN_USERS, KNOWN_USERS_DICT)

MILESTONES = "trac.ticket.model.MilestoneCache.milestones"
"""Milestone names, dates and descriptions [a milestone added, changed or deleted]."""

TICKET_FIELDS = "trac.ticket.api.TicketSystem.fields"
"""Ticket fields with their options [enum values, components, versions, milestones]."""

TICKET_CUSTOM_FIELDS = "trac.ticket.api.TicketSystem.custom_fields"
"""Custom ticket fields. Trac never bumps it: they come from ``trac.ini``, whose change
reloads the whole environment on both sides."""


def repository_metadata(repos_id: int | str) -> str:
    """The key of one cached repository's ``repository`` rows (``youngest_rev`` …)."""
    return f"trac.versioncontrol.cache.CachedRepository.metadata:{repos_id}"


# -- codeyard's own

TICKET_REWRITES = "codeyard.ticket.rewrites"
"""Tickets rewritten without a new ``ticket_change`` row (a change removed): what the
tickets' stamp (``ticket.model.TICKETS_STAMP``) cannot see."""

ATTACHMENTS = "codeyard.attachment.changes"
"""Any attachment added, replaced or removed (rendered pages show attachment links)."""

REPOSITORIES = "codeyard.vcs.repositories"
"""The repositories and aliases of the ``repository`` table. Trac keeps no shared cache of
them: it touches trac.ini when it changes one, and codeyard does the same besides bumping
this key, so that either program re-reads the list after the other changed it."""

# Keys written by codeyard before it shared Trac's names; their rows are removed when the
# environment's own tables are checked.
FORMER_KEYS = ("wiki.pages", "perm.grants", "session.known_users", "ticket.fields",
               "ticket.milestones", "attachment.changes")
