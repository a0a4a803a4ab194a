"""Every hook and every option must say what it is for, and every option must be declared
by the plugin that reads it."""

from __future__ import annotations

import importlib
import pkgutil

import codeyard
import codeyard.core as core
from codeyard.config import ConfigSection, Option, OptionRegistry
from codeyard.core import ComponentRules, make_plugin_manager, spec_catalogue


def _all_plugins_registry() -> OptionRegistry:
    pm = make_plugin_manager(ComponentRules([]))
    return OptionRegistry(d for found in pm.hook.config_options() for d in found or ())


def _every_declaration_in_the_package() -> list[tuple[str, Option | ConfigSection]]:
    found = []
    for info in pkgutil.walk_packages(codeyard.__path__, "codeyard."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for attr, value in vars(module).items():
            if isinstance(value, Option | ConfigSection):
                found.append((f"{info.name}.{attr}", value))
    return found


def test_every_hook_has_a_docstring():
    hooks = spec_catalogue()
    assert len(hooks) >= 5
    undocumented = [f"{module}.{name}" for module, name, doc in hooks if not doc]
    assert undocumented == []


def test_every_option_has_a_doc():
    options = list(_all_plugins_registry())
    assert len(options) >= 10
    undocumented = [f"[{o.section}] {o.name}" for o in options if not o.doc.strip()]
    assert undocumented == []


def test_every_declared_option_belongs_to_a_plugin():
    registry = _all_plugins_registry()
    orphans = []
    for where, declaration in _every_declaration_in_the_package():
        if isinstance(declaration, ConfigSection):
            if declaration.name not in registry.section_docs:
                orphans.append(where)
        elif registry.get(declaration.section, declaration.name) is not declaration:
            orphans.append(where)
    assert orphans == []


def test_builtin_plugins_all_load():
    pm = make_plugin_manager(ComponentRules([]))
    names = core.builtin_plugins()
    assert len(names) >= 10
    for name in names:
        assert pm.get_plugin(name) is not None, name


def test_every_implemented_hook_is_declared():
    # A hook implementation without a spec (a typo, or a catalogue nobody announced) would
    # silently never be checked against its documented signature.
    make_plugin_manager(ComponentRules([])).check_pending()


def test_every_hook_is_in_the_architecture_guide():
    import pathlib

    guide = (pathlib.Path(__file__).resolve().parents[3] / "docs" / "architecture.md").read_text(
        encoding="utf-8")
    missing = [name for _module, name, _doc in spec_catalogue() if f"`{name}`" not in guide]
    assert missing == []
