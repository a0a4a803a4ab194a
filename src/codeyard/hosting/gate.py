"""What every hosted repository request goes through, whatever the protocol: who the
client is, whether it may pull or push, the per-repository write lock, and what happens
after a push is accepted (the changeset cache, the ticket updater and the ``push_received``
listeners, before the push returns).

Permissions: pulling needs ``BROWSER_VIEW`` and ``FILE_VIEW`` on the repository, pushing
``REPOSITORY_PUSH`` (implied by ``VERSIONCONTROL_ADMIN`` and ``TRAC_ADMIN``); the
``authz_policy`` file can give per-repository rules (realm ``repository``, the repository's
name, "" for the default one). An anonymous client that lacks a permission gets a 401 with
a Basic challenge, so ``git`` and ``brz`` ask for credentials (or use their stores); a
logged-in one a 403.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator

from codeyard.perm import Resource
from codeyard.web.api import HTTPForbidden, HTTPUnauthorized

PULL_ACTIONS = ("BROWSER_VIEW", "FILE_VIEW")
PUSH_ACTION = "REPOSITORY_PUSH"
LOCK_NAME = ".codeyard-push.lock"


def challenge(req, message: str) -> HTTPUnauthorized:
    from codeyard.web.auth import HTTP_REALM

    realm = HTTP_REALM(req.env.config)
    return HTTPUnauthorized(message, headers=[("WWW-Authenticate", f'Basic realm="{realm}"')])


def repository_resource(repos_name: str) -> Resource:
    return Resource("repository", repos_name or "")


def can_pull(req, repos_name: str) -> bool:
    perm = req.perm(repository_resource(repos_name))
    return all(perm.has(action) for action in PULL_ACTIONS)


def can_push(req, repos_name: str) -> bool:
    return req.perm(repository_resource(repos_name)).has(PUSH_ACTION)


def check_access(req, repos_name: str, write: bool) -> None:
    """Raise the 401/403 the client should see unless it may pull (and, with ``write``,
    push) this repository."""
    allowed = can_pull(req, repos_name) and (not write or can_push(req, repos_name))
    if allowed:
        return
    what = "push to" if write else "read"
    label = f"repository '{repos_name}'" if repos_name else "the default repository"
    if not req.is_authenticated:
        raise challenge(req, f"Log in to {what} {label}.")
    needed = PUSH_ACTION if write else " and ".join(PULL_ACTIONS)
    raise HTTPForbidden(f"{req.authname} may not {what} {label} ({needed} is needed).")


@contextlib.contextmanager
def write_lock(directory: str) -> Iterator[None]:
    """Serialize pushes into one repository across threads and processes (an advisory
    lock on a file in the repository's directory; the kernel drops it if the process
    dies, so an interrupted push never leaves the repository locked)."""
    path = os.path.join(directory, LOCK_NAME)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def after_push(env, repos, pusher: str | None) -> list[str]:
    """Bring the changeset cache up to date with what was pushed, let the listeners (the
    ticket updater) hear of each new changeset as done by ``pusher``, then tell the
    ``push_received`` listeners of the push as a whole. Never raises: the push has already
    been accepted; a failure is logged."""
    from codeyard.vcs import cache

    try:
        added = cache.sync(env, repos, notify=True, pusher=pusher or None)
    except Exception:  # noqa: BLE001 - logged; the client's push stands
        env.log.exception("After the push to %s: updating the changeset cache failed",
                          repos.name or "(default)")
        return []
    try:
        env.hook.push_received(env=env, repos=repos, revisions=list(added),
                               pusher=pusher or None)
    except Exception:  # noqa: BLE001 - logged; the client's push stands
        env.log.exception("After the push to %s: a push listener failed",
                          repos.name or "(default)")
    return added


def access_commands(req, repos, fetch: str, push: str, url: str, readonly: bool
                    ) -> list[tuple[str, str]]:
    """(label, command) pairs for the browser: how to get the repository (``fetch``, e.g.
    "git clone") and, for those who may push to it, how to push (``push``)."""
    if not can_pull(req, repos.name):
        return []
    label = fetch.split()[-1].capitalize()
    out = [(label, f"{fetch} {url}")]
    if can_push(req, repos.name) and not readonly:
        out.append(("Push", f"{push} {url}"))
    return out
