"""Every hook and every option must say what it is for."""

from __future__ import annotations

import codeyard.core as core
from codeyard.config import registry
from codeyard.core import ComponentRules, make_plugin_manager, spec_catalogue


def _load_everything():
    # Importing every built-in plugin declares all options.
    make_plugin_manager(ComponentRules([]))


def test_every_hook_has_a_docstring():
    _load_everything()
    hooks = spec_catalogue()
    assert len(hooks) >= 5
    undocumented = [f"{module}.{name}" for module, name, doc in hooks if not doc]
    assert undocumented == []


def test_every_option_has_a_doc():
    _load_everything()
    options = list(registry)
    assert len(options) >= 10
    undocumented = [f"[{o.section}] {o.name}" for o in options if not o.doc.strip()]
    assert undocumented == []


def test_builtin_plugins_all_load():
    pm = make_plugin_manager(ComponentRules([]))
    for name in core.builtin_plugins():
        assert pm.get_plugin(name) is not None, name
