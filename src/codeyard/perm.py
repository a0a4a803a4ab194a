"""Permissions: Trac's actions, groups, meta-permissions, store and policies.

A row ``(subject, action)`` of the ``permission`` table grants an action to a user or
group, or - when ``action`` is not an action name - makes ``subject`` a member of the group
``action``. ``anonymous`` covers everyone, ``authenticated`` every logged-in user. An action
ending in ``_ADMIN`` implies its family, ``TRAC_ADMIN`` implies everything; plugins add
actions and meta-actions through the ``permission_actions`` hook, and the project through
``[extra-permissions]``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from codeyard import cachekeys
from codeyard.config import ConfigSection, ListOption, Option
from codeyard.core import hookspec

# ---------------------------------------------------------------------------
# Hooks


@hookspec
def permission_actions():
    """Return action names, or (meta_action, [implied actions]) pairs, that this plugin defines."""


@hookspec
def permission_policies():
    """Return {policy_name: callable(env, action, username, resource, perm) -> True/False/None}.

    A policy may say what it looks at, so that a page listing hundreds of resources checks
    each action once rather than once per resource: ``policy.actions``, the set of actions
    it can have an opinion on (it answers None to every other), and ``policy.resource_blind
    = True`` when its answer never depends on the resource. A policy that says neither is
    asked about every action on every resource."""


# ---------------------------------------------------------------------------
# Options

PERMISSION_POLICIES = ListOption(
    "trac", "permission_policies",
    ("DefaultWikiPolicy", "DefaultTicketPolicy", "DefaultPermissionPolicy", "LegacyAttachmentPolicy"),
    "Policies asked in turn whether a user may do something; the first definite answer wins.")
PERMISSION_STORE = Option("trac", "permission_store", "DefaultPermissionStore",
                          "Where grants are kept (the `permission` table).")
AUTHZ_FILE = Option("authz_policy", "authz_file", "",
                    "File of per-resource rules read by the `AuthzPolicy` policy (relative to the environment).")
EXTRA_PERMISSIONS_SECTION = ConfigSection(
    "extra-permissions", "Extra actions: `ACTION_ADMIN = ACTION_A, ACTION_B` makes new actions and meta-actions.")
AUTHZ_POLICY_SECTION = ConfigSection("authz_policy", "Settings of the fine-grained `AuthzPolicy` permission policy.")

CORE_ACTIONS: list[Any] = [
    "BROWSER_VIEW", "CHANGESET_VIEW", "FILE_VIEW", "LOG_VIEW",
    ("VERSIONCONTROL_ADMIN", ["BROWSER_VIEW", "CHANGESET_VIEW", "FILE_VIEW", "LOG_VIEW",
                              "REPOSITORY_PUSH"]),
    "REPOSITORY_PUSH",
    "CONFIG_VIEW", "EMAIL_VIEW", "SEARCH_VIEW", "TIMELINE_VIEW",
    "MILESTONE_CREATE", "MILESTONE_DELETE", "MILESTONE_MODIFY", "MILESTONE_VIEW",
    ("MILESTONE_ADMIN", ["MILESTONE_CREATE", "MILESTONE_DELETE", "MILESTONE_MODIFY", "MILESTONE_VIEW"]),
    "ROADMAP_VIEW",
    ("ROADMAP_ADMIN", ["MILESTONE_CREATE", "MILESTONE_DELETE", "MILESTONE_MODIFY", "MILESTONE_VIEW",
                       "ROADMAP_VIEW"]),
    "PERMISSION_GRANT", "PERMISSION_REVOKE",
    ("PERMISSION_ADMIN", ["PERMISSION_GRANT", "PERMISSION_REVOKE"]),
    "REPORT_CREATE", "REPORT_DELETE", "REPORT_MODIFY", "REPORT_SQL_VIEW", "REPORT_VIEW",
    ("REPORT_ADMIN", ["REPORT_CREATE", "REPORT_DELETE", "REPORT_MODIFY", "REPORT_SQL_VIEW",
                      "REPORT_VIEW"]),
    "TICKET_APPEND", "TICKET_BATCH_MODIFY", "TICKET_CHGPROP", "TICKET_CREATE", "TICKET_EDIT_CC",
    "TICKET_EDIT_COMMENT", "TICKET_EDIT_DESCRIPTION", "TICKET_VIEW",
    ("TICKET_MODIFY", ["TICKET_APPEND", "TICKET_CHGPROP"]),
    ("TICKET_ADMIN", ["TICKET_APPEND", "TICKET_BATCH_MODIFY", "TICKET_CHGPROP", "TICKET_CREATE",
                      "TICKET_EDIT_CC", "TICKET_EDIT_COMMENT", "TICKET_EDIT_DESCRIPTION",
                      "TICKET_MODIFY", "TICKET_VIEW"]),
    "WIKI_CREATE", "WIKI_DELETE", "WIKI_MODIFY", "WIKI_RENAME", "WIKI_VIEW",
    ("WIKI_ADMIN", ["WIKI_CREATE", "WIKI_DELETE", "WIKI_MODIFY", "WIKI_RENAME", "WIKI_VIEW"]),
    "TRAC_ADMIN",
]

DEFAULT_GRANTS = {
    "anonymous": ["BROWSER_VIEW", "CHANGESET_VIEW", "FILE_VIEW", "LOG_VIEW", "MILESTONE_VIEW",
                  "REPORT_SQL_VIEW", "REPORT_VIEW", "ROADMAP_VIEW", "SEARCH_VIEW", "TICKET_VIEW",
                  "TIMELINE_VIEW", "WIKI_VIEW"],
    "authenticated": ["TICKET_CREATE", "TICKET_MODIFY", "WIKI_CREATE", "WIKI_MODIFY"],
}

ACTION_RE = re.compile(r"^[A-Z][A-Z0-9_]*$")


class PermissionError_(Exception):
    """An action the user may not take (the web layer turns it into a 403 page)."""

    def __init__(self, action: str | None = None, resource: Any = None, message: str = "") -> None:
        self.action = action
        self.resource = resource
        super().__init__(message or (f"{action} privileges are required to perform this operation"
                                     if action else "permission denied"))


class PermissionAdminError(Exception):
    """A grant or revoke that cannot be done (unknown action, duplicate grant)."""


class PermissionExistsError(PermissionAdminError):
    """The grant asked for is already there."""


def is_group_name(action: str) -> bool:
    """A ``permission`` row whose action is not all upper-case names a group (as in Trac)."""
    return not action.isupper()


def no_opinion(env, action, username, resource, perm):
    return None


no_opinion.actions = frozenset()  # type: ignore[attr-defined]


def default_permission_policy(env, action, username, resource, perm):
    """Grants from the permission table, expanded through groups and meta-actions."""
    if isinstance(perm, PermissionCache) and perm.username == username:
        return action in perm.granted_actions() or None
    return action in PermissionSystem(env).user_actions(username) or None


default_permission_policy.resource_blind = True  # type: ignore[attr-defined]


def resource_blind(policies: list[tuple[str, Any]], action: str) -> bool:
    """Whether every policy that may decide ``action`` gives the same answer whatever the
    resource (each declares it, see ``permission_policies``)."""
    for _name, policy in policies:
        if getattr(policy, "resource_blind", False):
            continue
        actions = getattr(policy, "actions", None)
        if actions is None or action in actions:
            return False
    return True


# ---------------------------------------------------------------------------
# The system


@dataclass(frozen=True)
class Resource:
    """What an action applies to: a realm ('wiki', 'ticket'…) and an id, optionally a parent."""

    realm: str | None = None
    id: Any = None
    version: Any = None
    parent: Resource | None = None

    def child(self, realm: str, id: Any, version: Any = None) -> Resource:
        return Resource(realm, id, version, self)


class PermissionSystem:
    def __init__(self, env) -> None:
        self.env = env

    # -- actions
    def action_tree(self) -> dict[str, list[str]]:
        """{action: [directly implied actions]} for every action the enabled plugins define."""

        def compute():
            tree: dict[str, list[str]] = {}
            for result in self.env.hook.permission_actions():
                for item in result or ():
                    if isinstance(item, tuple | list):
                        meta, subs = item
                        tree.setdefault(meta, [])
                        for sub in subs:
                            if sub not in tree[meta]:
                                tree[meta].append(sub)
                            tree.setdefault(sub, [])
                    else:
                        tree.setdefault(item, [])
            for name, value in self.env.config.options("extra-permissions"):
                # `META = A, B` defines A, B and the meta-action META; a name starting
                # with `_` only defines the listed actions.
                meta = name.strip().upper()
                subs = [s.strip().upper() for s in value.split(",") if s.strip()]
                for sub in subs:
                    tree.setdefault(sub, [])
                if not meta or meta.startswith("_"):
                    continue
                tree.setdefault(meta, [])
                for sub in subs:
                    if sub not in tree[meta]:
                        tree[meta].append(sub)
            return tree

        return self.env.memo("perm.action_tree", compute)

    def all_actions(self) -> list[str]:
        return sorted(self.action_tree())

    def expand(self, actions: Iterable[str]) -> set[str]:
        tree = self.action_tree()
        out: set[str] = set()
        todo = list(actions)
        while todo:
            action = todo.pop()
            if action in out:
                continue
            out.add(action)
            if action == "TRAC_ADMIN":
                todo.extend(tree)
            todo.extend(tree.get(action, ()))
        return out

    # -- grants
    def all_grants(self) -> list[tuple[str, str]]:
        """Every (subject, action) row of the ``permission`` table.

        Kept across requests under Trac's own key, which Trac's permission store bumps on
        every grant and revocation, so ``trac-admin permission add`` and Trac's admin panel
        are seen on the next request; codeyard's writes bump it for Trac in turn."""

        def compute():
            with self.env.db_query as db:
                return [tuple(r) for r in db("SELECT username, action FROM permission")]

        return self.env.cached(cachekeys.PERMISSIONS, compute)

    def _changed(self) -> None:
        self.env.invalidate(cachekeys.PERMISSIONS)

    def subjects_of(self, username: str) -> list[str]:
        """The user and every group it belongs to, transitively (with anonymous/authenticated).

        As in Trac, a grant whose action is not all upper-case is a group membership. Names
        are compared as stored: with ``[trac] ignore_auth_case`` the login already lowercases
        the user name.
        """
        membership: dict[str, list[str]] = {}
        for subject, action in self.all_grants():
            if is_group_name(action):
                membership.setdefault(subject, []).append(action)
        start = [username or "anonymous", "anonymous"]
        if username and username != "anonymous":
            start.append("authenticated")
        seen: list[str] = []
        todo = list(start)
        while todo:
            subject = todo.pop(0)
            if subject in seen:
                continue
            seen.append(subject)
            todo.extend(membership.get(subject, ()))
        return seen

    def groups_of(self, username: str) -> list[str]:
        """The groups (including anonymous/authenticated) ``username`` belongs to, sorted."""
        return sorted(s for s in self.subjects_of(username) if s != username)

    def user_actions(self, username: str, undefined: bool = True) -> set[str]:
        """Every action the user holds, through groups and meta-actions; ``undefined=False``
        leaves out granted names that no enabled plugin defines any more."""
        grants = self.all_grants()
        # Worked out once per user while the grants stay the same list (the cached value
        # of the permission table: a grant anywhere replaces it).
        box = self.env.memo("perm.user_actions", dict)
        pair = box.get("actions")
        if pair is None or pair[0] is not grants:
            pair = box["actions"] = (grants, {})
        by_user = pair[1]  # belongs to these grants only, whatever other threads do
        known = by_user.get((username, undefined))
        if known is not None:
            return set(known)
        subjects = set(self.subjects_of(username))
        direct = [action for subject, action in grants
                  if subject in subjects and not is_group_name(action)]
        actions = self.expand(direct)
        if not undefined:
            tree = self.action_tree()
            actions = {a for a in actions if a in tree}
        if len(by_user) < 1000:
            by_user[username, undefined] = frozenset(actions)
        return actions

    def check_grant(self, subject: str, action: str) -> None:
        """Raise PermissionAdminError when (subject, action) is not a valid grant."""
        if not subject.strip():
            raise PermissionAdminError("The user or group name is empty.")
        if subject.isupper():
            raise PermissionAdminError("All upper-cased tokens are reserved for permission names.")
        if not action.strip():
            raise PermissionAdminError("The action or group name is empty.")
        tree = self.action_tree()
        if action.isupper() and action not in tree:
            raise PermissionAdminError(f"{action} is not a valid action.")
        if not action.isupper() and action.upper() in tree:
            raise PermissionAdminError(f"Permission {action} differs from a defined action by "
                                       "casing only, which is not allowed.")
        if action == subject:
            raise PermissionAdminError(f"{subject} cannot be a member of itself.")

    def grant(self, subject: str, action: str) -> None:
        """Grant an action, or make ``subject`` a member of the group ``action``."""
        subject = subject.strip()
        self.check_grant(subject, action)
        with self.env.db_transaction as db:
            if db("SELECT 1 FROM permission WHERE username=%s AND action=%s", (subject, action)):
                if action.isupper():
                    raise PermissionExistsError(
                        f"The user {subject} already has permission {action}.")
                raise PermissionExistsError(f"The user {subject} is already in the group {action}.")
            db("INSERT INTO permission (username, action) VALUES (%s, %s)", (subject, action))
            self._changed()

    def revoke(self, subject: str, action: str) -> None:
        with self.env.db_transaction as db:
            if action == "*":
                db("DELETE FROM permission WHERE username=%s", (subject,))
            else:
                if not db("SELECT 1 FROM permission WHERE username=%s AND action=%s", (subject, action)):
                    raise PermissionAdminError(f"Cannot remove permission {action} for user {subject}: not granted.")
                db("DELETE FROM permission WHERE username=%s AND action=%s", (subject, action))
            self._changed()

    def users_with(self, action: str) -> list[str]:
        """Known users and groups holding ``action`` (directly or through groups/meta)."""
        subjects = {s for s, _ in self.all_grants()}
        return sorted(s for s in subjects if action in self.user_actions(s))

    def user_grants(self, subject: str) -> list[str]:
        """What is stored for ``subject`` itself: actions and group names, sorted."""
        return sorted(a for s, a in self.all_grants() if s == subject)

    # -- checks
    def policies(self) -> list[tuple[str, Any]]:
        available: dict[str, Any] = {}
        for result in self.env.hook.permission_policies():
            available.update(result or {})
        names = PERMISSION_POLICIES(self.env.config)
        return [(name, available[name]) for name in names if name in available]

    def check(self, action: str, username: str, resource: Resource | None = None, perm=None,
              policies: list[tuple[str, Any]] | None = None) -> bool:
        for _name, policy in (self.policies() if policies is None else policies):
            decision = policy(self.env, action, username, resource, perm)
            if decision is not None:
                return bool(decision)
        return False


T = TypeVar("T")
_ANY = Resource("*any*")  # the memo's key for an answer that holds for every resource


class PermissionCache:
    """What one user may do, memoised for one request."""

    def __init__(self, env, username: str | None = None, resource: Resource | None = None) -> None:
        self.env = env
        self.username = username or "anonymous"
        self.resource = resource
        self._system = PermissionSystem(env)
        self._memo: dict[tuple, bool] = {}
        self._granted: list[set[str]] = []  # shared with child caches of the same request
        self._facts: dict[tuple, Any] = {}  # see cached()

    def granted_actions(self) -> set[str]:
        """The user's actions from the permission table, read once per request."""
        if not self._granted:
            self._granted.append(self._system.user_actions(self.username))
        return self._granted[0]

    def cached(self, key: tuple, compute: Any) -> Any:
        """What ``compute()`` returns, worked out once per request (shared with the child
        caches): for a policy that would otherwise ask the database once per resource."""
        if key not in self._facts:
            self._facts[key] = compute()
        return self._facts[key]

    def uniform(self, action: str) -> bool:
        """Whether ``action`` gets one answer for every resource: no policy in force looks
        at the resource (a page may then filter in SQL, or check once for a list)."""
        blind = self._facts.get(("blind", action))
        if blind is None:
            blind = self._facts[("blind", action)] = resource_blind(self._policies(), action)
        return blind

    def allowed(self, action: str, items: Iterable[T], resource: Callable[[T], Resource]) -> list[T]:
        """The ``items`` on whose ``resource(item)`` the user may do ``action``, in their
        order: one check for all of them when no policy in force looks at the resource."""
        items = list(items)
        if items and self.uniform(action):
            return items if self.has(action, resource(items[0])) else []
        return [item for item in items if self.has(action, resource(item))]

    def has(self, action: str, resource: Resource | None = None) -> bool:
        resource = resource if resource is not None else self.resource
        if resource is not None:
            blind = self._facts.get(("blind", action))
            if blind is None:
                blind = self.uniform(action)
            if blind:  # no policy in force looks at the resource: one answer for all of them
                found = self._memo.get((action, _ANY))
                if found is None:
                    found = self._memo[(action, _ANY)] = self._system.check(
                        action, self.username, resource, self, self._policies())
                return found
        key = (action, resource)
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = self._system.check(action, self.username, resource, self,
                                                         self._policies())
        return found

    def _policies(self) -> list[tuple[str, Any]]:
        return self.cached(("policies",), self._system.policies)  # once per request

    __contains__ = has

    def require(self, action: str, resource: Resource | None = None) -> None:
        if not self.has(action, resource):
            raise PermissionError_(action, resource)

    assert_permission = require

    def __call__(self, realm: str | Resource | None = None, id: Any = None, version: Any = None):
        if isinstance(realm, Resource):
            resource = realm
        else:
            resource = Resource(realm, id, version)
        child = PermissionCache.__new__(PermissionCache)  # as __init__, sharing this one's
        child.env, child.username, child.resource = self.env, self.username, resource
        child._system = self._system
        child._memo = self._memo
        child._facts = self._facts
        child._granted = self._granted
        return child


# ---------------------------------------------------------------------------
# authz_policy: per-resource rules in an INI-like file
#
#   [wiki:PrivatePage@*]
#   john = WIKI_VIEW
#   @admins = WIKI_ADMIN
#   * =
#
# Sections are glob patterns over the resource path (parent resources first, joined with
# '/'); within the first matching section the first line naming the user (or one of its
# groups, written @group, or *) decides. An empty value or an action prefixed with '!'
# denies.


def _resource_path(resource: Resource | None) -> str:
    parts = []
    while resource is not None:
        if resource.realm:
            version = "*" if resource.version is None else str(resource.version)
            parts.append(f"{resource.realm}:{'' if resource.id is None else resource.id}@{version}")
        resource = resource.parent
    return "/".join(reversed(parts))


def authz_policy(env, action, username, resource, perm):
    import fnmatch
    import os

    from codeyard.config import parse_ini

    if resource is None or resource.realm is None:
        return None
    filename = AUTHZ_FILE(env.config)
    if not filename:
        return None
    if not os.path.isabs(filename):
        filename = os.path.join(env.path, filename)
    try:
        stamp = os.stat(filename).st_mtime_ns
    except OSError:
        return False  # a configured but missing rules file denies rather than opens

    def load():
        with open(filename, encoding="utf-8") as fh:
            text = fh.read()
        sections: list[tuple[str, list[tuple[str, str]]]] = []
        parsed = parse_ini(text, filename)
        for name, options in parsed.items():
            sections.append((name, list(options.items())))
        return sections

    sections = env.memo_stamped("perm.authz_policy", (filename, stamp), load)
    path = _resource_path(resource)
    groups = {name for name, opts in sections if name == "groups"}
    members: dict[str, list[str]] = {}
    if groups:
        for name, opts in sections:
            if name == "groups":
                for group, users in opts:
                    members[group] = [u.strip() for u in users.split(",")]
    subjects = {username, "*"}
    if username != "anonymous":
        subjects.add("authenticated")
    subjects.add("anonymous")
    for group, users in members.items():
        if username in users or "*" in users:
            subjects.add("@" + group)
    system = PermissionSystem(env)
    for pattern, options in sections:
        if pattern == "groups":
            continue
        if not fnmatch.fnmatchcase(path, pattern) and not fnmatch.fnmatchcase(path, pattern + "/*"):
            continue
        for who, value in options:
            if who not in subjects:
                continue
            allowed: set[str] = set()
            denied: set[str] = set()
            for item in (v.strip() for v in value.split(",")):
                if not item:
                    continue
                if item.startswith("!"):
                    denied |= system.expand([item[1:]])
                else:
                    allowed |= system.expand([item])
            if action in denied:
                return False
            # The first line naming the user decides: what it does not list is denied.
            return action in allowed
    return None
