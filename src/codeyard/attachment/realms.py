"""Which parents exist in the realms every project has: wiki pages, tickets, milestones.

Other realms answer through their own ``attachment_parent_exists`` implementations.
"""

from __future__ import annotations

from codeyard.attachment.model import CHANGES_CACHE_KEY
from codeyard.core import hookimpl
from codeyard.wiki.api import RenderDependencies

_QUERIES = {
    "wiki": "SELECT 1 FROM wiki WHERE name=%s LIMIT 1",
    "milestone": "SELECT 1 FROM milestone WHERE name=%s",
    "ticket": "SELECT 1 FROM ticket WHERE id=%s",
}


@hookimpl
def wiki_render_dependencies():
    # Attachment links and images show whether their file exists. Trac keeps no generation
    # for attachments, so ``trac-admin attachment add`` is caught by the probe.
    return RenderDependencies(
        cache_keys=(CHANGES_CACHE_KEY,),
        namespaces={"attachment": "attachments", "raw-attachment": "attachments"},
        macros={"Image": "attachments"},
        probes={"attachments": "SELECT COUNT(*), MAX(time) FROM attachment"})


@hookimpl(trylast=True)
def attachment_parent_exists(env, realm, id):
    sql = _QUERIES.get(realm)
    if sql is None:
        return None
    key: str | int = id
    if realm == "ticket":
        if not (id.isascii() and id.isdigit() and len(id) < 19):
            return False
        key = int(id)
    with env.db_query as db:
        return bool(db(sql, (key,)))
