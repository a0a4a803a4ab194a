"""The extension mechanism: one pluggy plugin manager per environment.

Every feature, built-in or third-party, is a *plugin*: a module (or object) with functions
marked ``@hookimpl``. The hooks each area offers are declared in that area's ``api``
module as stubs marked ``@hookspec`` with a one-line doc string. ``[components]`` in
trac.ini enables or disables plugins per project by dotted name, with ``*`` wildcards, the
longest matching rule winning (as Trac does).
"""

from __future__ import annotations

import fnmatch
import importlib
import importlib.metadata
import logging
from collections.abc import Iterable
from types import ModuleType
from typing import Any

import pluggy

PROJECT = "codeyard"
ENTRY_POINT_GROUP = "codeyard.plugins"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

log = logging.getLogger(__name__)

# Modules holding @hookspec catalogues, one per area.
SPEC_MODULES = [
    "codeyard.env_api",
    "codeyard.perm",
    "codeyard.admin.api",
    "codeyard.web.api",
    "codeyard.wiki.model_api",
    "codeyard.wiki.api",
    "codeyard.attachment.api",
]

# Built-in plugins, enabled unless [components] disables them.
BUILTIN_PLUGINS = [
    "codeyard.env_setup",
    "codeyard.perm_setup",
    "codeyard.web.auth",
    "codeyard.web.pages",
    "codeyard.prefs.web",
    "codeyard.admin.web_ui",
    "codeyard.admin.env_commands",
    "codeyard.admin.db_commands",
    "codeyard.admin.perm_commands",
    "codeyard.admin.session_commands",
    "codeyard.admin.deploy_commands",
    "codeyard.ticket.admin",
    "codeyard.wiki.setup",
    "codeyard.wiki.builtin_links",
    "codeyard.wiki.processors",
    "codeyard.wiki.macro_lib",
    "codeyard.wiki.admin",
    "codeyard.attachment.realms",
    "codeyard.attachment.admin",
    "codeyard.wiki.web",
    "codeyard.attachment.web",
]


def register_spec_module(name: str) -> None:
    """Let a feature package add its hook catalogue (call at import time)."""
    if name not in SPEC_MODULES:
        SPEC_MODULES.append(name)


def register_builtin_plugin(name: str) -> None:
    if name not in BUILTIN_PLUGINS:
        BUILTIN_PLUGINS.append(name)


class ComponentRules:
    """The ``[components]`` section: which plugin names are enabled."""

    def __init__(self, rules: Iterable[tuple[str, str]]):
        from codeyard.config import as_bool

        self.rules = [(pattern.strip(), as_bool(value)) for pattern, value in rules]

    def decide(self, name: str, default: bool) -> bool:
        best: tuple[int, bool] | None = None
        for pattern, enabled in self.rules:
            if pattern == name or fnmatch.fnmatchcase(name, pattern):
                # Exact names beat wildcards; longer patterns beat shorter ones.
                weight = 10_000 if pattern == name else len(pattern.rstrip("*"))
                if best is None or weight >= best[0]:
                    best = (weight, enabled)
            elif pattern.endswith(".*") and name == pattern[:-2]:
                weight = len(pattern) - 2
                if best is None or weight >= best[0]:
                    best = (weight, enabled)
        return default if best is None else best[1]


def load_module(name: str) -> ModuleType:
    return importlib.import_module(name)


def entry_point_plugins() -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    try:
        eps = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    except Exception:  # pragma: no cover - broken metadata in site-packages
        log.exception("could not read entry points")
        return found
    for ep in eps:
        try:
            found.append((ep.value.split(":")[0] if ":" not in ep.value else ep.value, ep.load()))
        except Exception:
            log.exception("plugin %s failed to load", ep.value)
    return found


def make_plugin_manager(rules: ComponentRules, extra: Iterable[Any] = ()) -> pluggy.PluginManager:
    """Build a plugin manager with every spec and the plugins the rules enable."""
    pm = pluggy.PluginManager(PROJECT)
    for spec_module in SPEC_MODULES:
        pm.add_hookspecs(load_module(spec_module))
    for name in BUILTIN_PLUGINS:
        if rules.decide(name, True):
            module = load_module(name)
            if pm.get_plugin(name) is None:
                pm.register(module, name=name)
    for name, plugin in entry_point_plugins():
        plugin_name = getattr(plugin, "__name__", name)
        if rules.decide(plugin_name, False) and pm.get_plugin(plugin_name) is None:
            pm.register(plugin, name=plugin_name)
    for plugin in extra:
        pm.register(plugin)
    return pm


def known_plugins() -> list[tuple[str, bool]]:
    """(name, built-in?) for every plugin this installation knows of."""
    names = [(name, True) for name in BUILTIN_PLUGINS]
    names += [(getattr(p, "__name__", n), False) for n, p in entry_point_plugins()]
    return names


def spec_catalogue() -> list[tuple[str, str, str]]:
    """(module, hook name, doc) for every declared hook."""
    out = []
    for spec_module in SPEC_MODULES:
        module = load_module(spec_module)
        for attr in dir(module):
            fn = getattr(module, attr)
            if callable(fn) and getattr(fn, PROJECT + "_spec", None) is not None:
                out.append((spec_module, attr, (fn.__doc__ or "").strip()))
    return out
