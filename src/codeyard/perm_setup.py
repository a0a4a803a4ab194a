"""The built-in permission actions, default grants and policies, as a plugin."""

from __future__ import annotations

from codeyard import perm
from codeyard.config import options_in
from codeyard.core import hookimpl
from codeyard.perm import (
    CORE_ACTIONS,
    DEFAULT_GRANTS,
    authz_policy,
    default_permission_policy,
    no_opinion,
)


@hookimpl
def config_options():
    return options_in(perm)


@hookimpl
def permission_actions():
    return CORE_ACTIONS


@hookimpl
def environment_created(env, db):
    rows = [(user, action) for user, actions in DEFAULT_GRANTS.items() for action in actions]
    db.executemany("INSERT INTO permission (username, action) VALUES (%s, %s)", rows)


@hookimpl
def permission_policies():
    return {
        "DefaultPermissionPolicy": default_permission_policy,
        "ReadonlyWikiPolicy": no_opinion,
        "AuthzPolicy": authz_policy,
    }
