"""PermissionSystem: meta-permissions, groups, anonymous/authenticated, [extra-permissions]."""

from __future__ import annotations

import pytest

from codeyard.core import hookimpl
from codeyard.perm import (
    PermissionAdminError,
    PermissionCache,
    PermissionExistsError,
    PermissionSystem,
)

pytestmark = pytest.mark.db


def test_meta_permissions_expand_transitively(env):
    system = PermissionSystem(env)
    expanded = system.expand(["TICKET_ADMIN"])
    assert {"TICKET_MODIFY", "TICKET_APPEND", "TICKET_CHGPROP", "TICKET_VIEW"} <= expanded
    assert "WIKI_VIEW" not in expanded
    assert system.expand(["TRAC_ADMIN"]) == set(system.all_actions())
    assert system.expand(["ROADMAP_ADMIN"]) >= {"MILESTONE_CREATE", "ROADMAP_VIEW"}
    assert "REPOSITORY_PUSH" in system.expand(["VERSIONCONTROL_ADMIN"])


def test_anonymous_and_authenticated(env):
    system = PermissionSystem(env)
    anonymous = system.user_actions("anonymous")
    assert "WIKI_VIEW" in anonymous and "WIKI_MODIFY" not in anonymous
    bob = system.user_actions("bob")
    assert {"WIKI_VIEW", "WIKI_MODIFY", "TICKET_APPEND"} <= bob  # TICKET_MODIFY expanded
    assert "TICKET_ADMIN" not in bob
    assert system.groups_of("bob") == ["anonymous", "authenticated"]
    assert system.groups_of("anonymous") == []
    assert PermissionCache(env, "bob").has("WIKI_MODIFY")
    assert not PermissionCache(env, None).has("WIKI_MODIFY")
    assert PermissionCache(env).has("WIKI_VIEW")


def test_nested_groups(env):
    system = PermissionSystem(env)
    system.grant("admins", "TRAC_ADMIN")
    system.grant("leads", "admins")
    system.grant("carol", "leads")
    system.grant("dave", "Reviewers")
    system.grant("Reviewers", "REPORT_ADMIN")
    assert system.groups_of("carol") == ["admins", "anonymous", "authenticated", "leads"]
    assert "PERMISSION_GRANT" in system.user_actions("carol")
    assert PermissionCache(env, "carol").has("WIKI_DELETE")
    assert "REPORT_DELETE" in system.user_actions("dave")
    assert "REPORT_DELETE" not in system.user_actions("erin")
    assert "carol" in system.users_with("TRAC_ADMIN")
    # A group given to anonymous reaches everyone.
    system.grant("anonymous", "viewers")
    system.grant("viewers", "CONFIG_VIEW")
    assert "CONFIG_VIEW" in system.user_actions("anonymous")
    assert "CONFIG_VIEW" in system.user_actions("erin")


def test_membership_cycles_terminate(env):
    system = PermissionSystem(env)
    system.grant("a", "b")
    system.grant("b", "a")
    system.grant("b", "EMAIL_VIEW")
    assert "EMAIL_VIEW" in system.user_actions("a")


def test_changes_are_seen_by_another_process(env):
    from codeyard.env import Environment

    other = Environment(env.path)
    try:
        assert "WIKI_DELETE" not in PermissionSystem(other).user_actions("bob")
        PermissionSystem(env).grant("bob", "WIKI_DELETE")
        assert "WIKI_DELETE" in PermissionSystem(other).user_actions("bob")
        PermissionSystem(env).revoke("bob", "WIKI_DELETE")
        assert "WIKI_DELETE" not in PermissionSystem(other).user_actions("bob")
    finally:
        other.shutdown()


def test_extra_permissions(make_env):
    env = make_env("extra", options=[
        ("extra-permissions", "extra_admin", "EXTRA_VIEW, extra_modify"),
        ("extra-permissions", "_plain", "LONELY_ACTION"),
    ])
    system = PermissionSystem(env)
    actions = system.all_actions()
    assert {"EXTRA_ADMIN", "EXTRA_VIEW", "EXTRA_MODIFY", "LONELY_ACTION"} <= set(actions)
    assert "_PLAIN" not in actions
    assert system.expand(["EXTRA_ADMIN"]) == {"EXTRA_ADMIN", "EXTRA_VIEW", "EXTRA_MODIFY"}
    assert "LONELY_ACTION" in system.expand(["TRAC_ADMIN"])
    system.grant("fred", "EXTRA_ADMIN")
    assert PermissionCache(env, "fred").has("EXTRA_MODIFY")
    assert not PermissionCache(env, "fred").has("LONELY_ACTION")


def test_grant_checks(env):
    system = PermissionSystem(env)
    with pytest.raises(PermissionAdminError, match="NOT_THERE is not a valid action"):
        system.grant("bob", "NOT_THERE")
    with pytest.raises(PermissionAdminError, match="casing only"):
        system.grant("bob", "Wiki_View")
    with pytest.raises(PermissionAdminError, match="reserved"):
        system.grant("BOB", "WIKI_VIEW")
    with pytest.raises(PermissionAdminError, match="empty"):
        system.grant(" ", "WIKI_VIEW")
    system.grant("bob", "WIKI_DELETE")
    with pytest.raises(PermissionExistsError, match="already has permission WIKI_DELETE"):
        system.grant("bob", "WIKI_DELETE")
    with pytest.raises(PermissionAdminError, match="not granted"):
        system.revoke("bob", "WIKI_RENAME")
    assert system.user_grants("bob") == ["WIKI_DELETE"]


def test_undefined_granted_action_is_kept_apart(env):
    with env.db_transaction as db:
        db("INSERT INTO permission (username, action) VALUES ('gus', 'OLD_PLUGIN_ACTION')")
    PermissionSystem(env)._changed()
    system = PermissionSystem(env)
    assert "OLD_PLUGIN_ACTION" in system.user_actions("gus")
    assert "OLD_PLUGIN_ACTION" not in system.user_actions("gus", undefined=False)
    assert "OLD_PLUGIN_ACTION" not in system.groups_of("gus")


class _Policies:
    """A plugin's policies: one that looks at the page it is asked about, and one that says
    it does not (counting how often it is asked)."""

    def __init__(self):
        self.blind_calls = 0

        def by_page(env, action, username, resource, perm):
            if action == "WIKI_VIEW" and resource is not None and resource.id == "Secret":
                return False
            return None

        def blind(env, action, username, resource, perm):
            self.blind_calls += 1
            return True if action == "REPORT_SQL_VIEW" else None

        blind.resource_blind = True
        self.by_page, self.blind = by_page, blind

    @hookimpl
    def permission_policies(self):
        return {"ByPage": self.by_page, "Blind": self.blind}


def test_a_policy_that_reads_the_resource_is_asked_per_resource(env):
    """Checks of one action on many resources are answered once when no policy in force
    looks at the resource; a policy that does not declare so is asked about each one."""
    from codeyard.perm import Resource, resource_blind

    policies = _Policies()
    env.plugins.register(policies)
    system = PermissionSystem(env)
    builtin = system.policies()
    assert [name for name, _ in builtin] == ["DefaultWikiPolicy", "DefaultTicketPolicy",
                                             "DefaultPermissionPolicy", "LegacyAttachmentPolicy"]
    assert resource_blind(builtin, "WIKI_VIEW") and resource_blind(builtin, "TICKET_VIEW")
    # the built-in policies that look at the resource say for which actions
    assert not resource_blind(builtin, "WIKI_MODIFY")
    assert not resource_blind(builtin, "TICKET_EDIT_COMMENT")
    assert not resource_blind(builtin, "ATTACHMENT_VIEW")

    env.config.set("trac", "permission_policies", "ByPage, Blind, DefaultPermissionPolicy")
    perm = PermissionCache(env, "anonymous")
    assert perm.has("WIKI_VIEW", Resource("wiki", "Public", 1))
    assert not perm.has("WIKI_VIEW", Resource("wiki", "Secret", 1))
    assert perm.has("WIKI_VIEW", Resource("wiki", "Other", 2))

    env.config.set("trac", "permission_policies", "Blind, DefaultPermissionPolicy")
    perm = PermissionCache(env, "anonymous")
    asked = policies.blind_calls
    assert all(perm.has("REPORT_SQL_VIEW", Resource("report", n)) for n in range(50))
    assert all(perm.has("WIKI_VIEW", Resource("wiki", f"P{n}")) for n in range(50))
    assert not perm.has("WIKI_DELETE", Resource("wiki", "P1"))
    assert policies.blind_calls - asked == 3  # once per action, not per resource
