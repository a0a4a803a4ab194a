"""Hooks of the wiki page model: what other features hear about page changes."""

from __future__ import annotations

from codeyard.core import hookspec


@hookspec
def wiki_page_changed(env, event, page, old_name, version):
    """A page changed: event is created, changed, readonly_changed, replaced, comment_changed, renamed (old_name set), deleted or version_deleted (version set)."""
