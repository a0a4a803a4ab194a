"""The extension mechanism: one pluggy plugin manager per environment.

Every feature, built-in or third-party, is a *plugin*: a module (or object) with functions
marked ``@hookimpl``, announced by its distribution in the ``codeyard.plugins`` entry point
group. The hooks an area offers are declared in that area's ``api`` module as stubs marked
``@hookspec`` with a one-line doc string, announced in the ``codeyard.hookspecs`` group. The
core names no feature: it finds them all through those two groups, codeyard's own exactly as
a third party's.

``[components]`` in trac.ini enables or disables plugins per project by dotted name, with
``*`` wildcards, the longest matching rule winning (as Trac does). Plugins that codeyard's
own distribution ships are on unless disabled; other distributions' plugins are off until
a project turns them on.
"""

from __future__ import annotations

import fnmatch
import importlib
import importlib.metadata
import logging
import sys
import threading
import types
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pluggy

PROJECT = "codeyard"
ENTRY_POINT_GROUP = "codeyard.plugins"
HOOKSPEC_GROUP = "codeyard.hookspecs"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

log = logging.getLogger(__name__)


class PluginSetupError(RuntimeError):
    """The installation announces no plugins: codeyard's own metadata is missing."""


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


@dataclass(frozen=True)
class PluginInfo:
    """One announced plugin: its name (the module's dotted name), where it comes from, and
    whether it is codeyard's own (on by default)."""

    name: str
    target: str  # the entry point's value, "module" or "module:attribute"
    distribution: str
    builtin: bool

    def load(self) -> Any:
        module_name, _, attr = self.target.partition(":")
        obj: Any = importlib.import_module(module_name)
        for part in filter(None, attr.split(".")):
            obj = getattr(obj, part)
        return obj


# Entry points are read once per sys.path (a plugin installed into a new path entry, as the
# tests do, is seen; the scan itself costs milliseconds, so it is not repeated per project).
_announced: dict[tuple[str, ...], tuple[list[PluginInfo], list[PluginInfo]]] = {}
_announced_lock = threading.Lock()


def _read_group(group: str) -> list[PluginInfo]:
    found: dict[str, PluginInfo] = {}
    for ep in importlib.metadata.entry_points(group=group):
        dist = ep.dist.name if ep.dist is not None else ""
        module_name, _, attr = ep.value.partition(":")
        name = module_name if not attr else f"{module_name}.{attr}"
        builtin = dist.lower() == PROJECT
        if name in found and found[name].builtin and not builtin:
            continue  # codeyard's own name cannot be taken over by another distribution
        found[name] = PluginInfo(name, ep.value, dist, builtin)
    return sorted(found.values(), key=lambda p: (not p.builtin, p.name))


def announced() -> tuple[list[PluginInfo], list[PluginInfo]]:
    """(hook catalogues, plugins) that the installed distributions announce."""
    key = tuple(sys.path)
    hit = _announced.get(key)
    if hit is None:
        with _announced_lock:
            hit = _announced.get(key)
            if hit is None:
                specs, plugins = _read_group(HOOKSPEC_GROUP), _read_group(ENTRY_POINT_GROUP)
                if not any(p.builtin for p in plugins):
                    raise PluginSetupError(
                        "codeyard's features are not registered: install codeyard "
                        "(`pip install codeyard`, or `pip install -e .` in a checkout) "
                        "rather than running it from a bare source tree")
                if len(_announced) > 8:
                    _announced.clear()
                hit = _announced[key] = (specs, plugins)
    return hit


# Which attributes of a module are hook implementations (or hook declarations), with their
# options. pluggy finds them by inspecting every attribute of every module at each
# registration; a plugin manager is built per project (and per test environment), and that
# inspection was nearly all of its cost. A module's markers are set when it is imported, so
# they are read once per module.
_module_marks: weakref.WeakKeyDictionary[types.ModuleType, dict[str, dict[str, dict]]] = (
    weakref.WeakKeyDictionary())
_module_marks_lock = threading.Lock()


def _marked(module: types.ModuleType, kind: str, parse) -> dict[str, dict]:
    table = _module_marks.get(module, {}).get(kind)
    if table is None:
        with _module_marks_lock:
            tables = _module_marks.setdefault(module, {})
            table = tables.get(kind)
            if table is None:
                table = tables[kind] = {attr: dict(opts) for attr in dir(module)
                                        if (opts := parse(module, attr)) is not None}
    return table


class PluginManager(pluggy.PluginManager):
    """pluggy's manager, reading each plugin module's hook markers once per process."""

    def parse_hookimpl_opts(self, plugin: Any, name: str) -> Any:
        if not isinstance(plugin, types.ModuleType):
            return super().parse_hookimpl_opts(plugin, name)
        opts = _marked(plugin, "impl", super().parse_hookimpl_opts).get(name)
        return None if opts is None else dict(opts)  # pluggy fills in defaults in place

    def parse_hookspec_opts(self, module_or_class: Any, name: str) -> Any:
        if not isinstance(module_or_class, types.ModuleType):
            return super().parse_hookspec_opts(module_or_class, name)
        opts = _marked(module_or_class, "spec", super().parse_hookspec_opts).get(name)
        return None if opts is None else dict(opts)


def make_plugin_manager(rules: ComponentRules, extra: Iterable[Any] = ()) -> pluggy.PluginManager:
    """Build a plugin manager with every announced catalogue and the plugins the rules enable."""
    pm = PluginManager(PROJECT)
    specs, plugins = announced()
    for spec in specs:
        try:
            pm.add_hookspecs(spec.load())
        except Exception:
            log.exception("hook catalogue %s (from %s) failed to load", spec.name, spec.distribution)
    for info in plugins:
        if not rules.decide(info.name, info.builtin) or pm.get_plugin(info.name) is not None:
            continue
        try:
            plugin = info.load()
        except Exception:
            if info.builtin:
                raise
            log.exception("plugin %s (from %s) failed to load", info.name, info.distribution)
            continue
        pm.register(plugin, name=info.name)
    for plugin in extra:
        pm.register(plugin)
    return pm


def known_plugins() -> list[tuple[str, bool]]:
    """(name, built-in?) for every plugin this installation knows of."""
    return [(p.name, p.builtin) for p in announced()[1]]


def builtin_plugins() -> list[str]:
    """The names of the plugins codeyard itself ships."""
    return [p.name for p in announced()[1] if p.builtin]


def spec_catalogue() -> list[tuple[str, str, str]]:
    """(module, hook name, doc) for every declared hook."""
    out = []
    for spec in announced()[0]:
        module = spec.load()
        for attr in dir(module):
            fn = getattr(module, attr)
            if callable(fn) and getattr(fn, PROJECT + "_spec", None) is not None:
                out.append((spec.name, attr, (fn.__doc__ or "").strip()))
    return out
