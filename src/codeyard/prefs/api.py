"""Hooks of the preferences pages: panels other features add under ``/prefs/<panel>``."""

from __future__ import annotations

from codeyard.core import hookspec


@hookspec
def preference_panels(req):
    """(name, label, handler) of each panel a plugin adds at /prefs/<name>; handler(req, name) answers it like a route handler."""
