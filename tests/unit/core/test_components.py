from __future__ import annotations

import pytest

from codeyard.core import ComponentRules

pytestmark = pytest.mark.db


def test_rules_longest_match_wins():
    rules = ComponentRules([("codeyard.wiki.*", "disabled"), ("codeyard.wiki.setup", "enabled"),
                            ("other.*", "enabled")])
    assert rules.decide("codeyard.wiki.macros", True) is False
    assert rules.decide("codeyard.wiki.setup", True) is True
    assert rules.decide("codeyard.ticket.admin", True) is True
    assert rules.decide("other.plugin", False) is True
    assert rules.decide("third.party", False) is False


def test_components_section_disables_a_plugin_per_project(make_env):
    a = make_env("a")
    b = make_env("b")
    b.config.set("components", "codeyard.admin.env_commands", "disabled")
    b.config.save()
    b._config_changed(b.config)
    assert a.is_enabled("codeyard.admin.env_commands")
    assert not b.is_enabled("codeyard.admin.env_commands")
    names_a = {c.name for r in a.hook.admin_commands() for c in r}
    names_b = {c.name for r in b.hook.admin_commands() for c in r}
    assert "config get" in names_a and "config get" not in names_b
