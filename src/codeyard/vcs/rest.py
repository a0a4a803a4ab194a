"""Repositories and changesets in the REST API, with the permissions of the repository
index (BROWSER_VIEW) and the changeset pages (CHANGESET_VIEW). The default repository is
named ``(default)`` in URLs."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from codeyard.core import hookimpl
from codeyard.rest.api import (
    BOOL,
    STR,
    TIME,
    Call,
    Endpoint,
    Paged,
    Param,
    array,
    bad_request,
    iso_datetime,
    not_found,
    obj,
)
from codeyard.vcs import api, cache
from codeyard.vcs import web_util as U
from codeyard.vcs.manager import display_name, is_default

TAG = "repositories"
REPO = Param("repo", "path", STR, "The repository's name; (default) for the default one.", True)
REV = Param("rev", "path", STR, "A revision.", True)
REPO_SCHEMA = obj({"name": STR, "type": STR, "description": STR, "url": STR, "alias": STR,
                   "youngest_rev": {"type": ["string", "null"]}, "hidden": BOOL})
CHANGESET_SCHEMA = obj({"rev": STR, "author": STR, "date": TIME, "message": STR,
                        "parents": array(STR), "branches": array(STR), "tags": array(STR),
                        "changes": array(obj({"path": STR, "kind": STR, "change": STR,
                                              "base_path": {"type": ["string", "null"]},
                                              "base_rev": {"type": ["string", "null"]}}))})


@hookimpl
def rest_endpoints():
    return [
        Endpoint("GET", "/repositories", "The repositories one may browse", list_repositories,
                 TAG, "BROWSER_VIEW", response_schema=REPO_SCHEMA, paged=True),
        Endpoint("GET", "/repositories/{repo}", "A repository", get_repository, TAG,
                 "BROWSER_VIEW", [REPO], response_schema=REPO_SCHEMA),
        Endpoint("GET", "/repositories/{repo}/changesets", "The changesets of a repository, "
                 "newest first", list_changesets, TAG, "CHANGESET_VIEW", [REPO],
                 response_schema=CHANGESET_SCHEMA, paged=True),
        Endpoint("GET", "/repositories/{repo}/changesets/{rev}", "A changeset with the paths "
                 "it changed", get_changeset, TAG, "CHANGESET_VIEW", [REPO, REV],
                 response_schema=CHANGESET_SCHEMA),
    ]


@contextlib.contextmanager
def _readable(what: str) -> Iterator[None]:
    try:
        yield
    except api.InvalidPath as exc:
        raise bad_request(str(exc)) from None
    except (api.NoSuchChangeset, api.NoSuchNode) as exc:
        raise not_found(str(exc)) from None
    except api.RepositoryError as exc:
        raise not_found(str(exc) or f"The repository {what} cannot be read.") from None


def _name(call: Call) -> str:
    name = call.args["repo"]
    return "" if is_default(name) or name == "(default)" else name


def _repository(call: Call, action: str = "BROWSER_VIEW") -> tuple[str, api.Repository]:
    name = _name(call)
    repos_list = U.repositories(call.req)
    if name not in repos_list.get_all_repositories():
        raise not_found(f"No repository {display_name(name)}.")
    call.req.perm.require("BROWSER_VIEW", U.repository_resource(name))
    with _readable(display_name(name)):
        repos = repos_list.get_repository(name)
    if repos is None:
        raise not_found(f"No repository {display_name(name)}.")
    return name, repos


def _repo_json(repos_list, name: str, youngest: bool = True) -> dict:
    info = repos_list.get_all_repositories()[name]
    out = {"name": display_name(name), "type": info.type or "", "description": info.description
           or "", "url": info.url or "", "alias": info.alias or "", "hidden": info.hidden,
           "youngest_rev": None}
    if youngest:
        try:
            repos = repos_list.get_repository(name)
            out["youngest_rev"] = repos.youngest_rev if repos is not None else None
        except api.RepositoryError:
            out["youngest_rev"] = None
    return out


def list_repositories(call: Call) -> Paged:
    req = call.req
    repos_list = U.repositories(req)
    names = [n for n in repos_list.visible_names()
             if req.perm.has("BROWSER_VIEW", U.repository_resource(n))]
    page = call.page_of(names)
    return Paged([_repo_json(repos_list, n) for n in page.items], page.total)


def get_repository(call: Call) -> dict:
    name, _repos = _repository(call)
    return _repo_json(U.repositories(call.req), name)


def _changeset_json(repos: api.Repository, changeset: api.Changeset,
                    changes: list[api.Change] | None = None) -> dict:
    out: dict[str, Any] = {"rev": repos.display_rev(changeset.rev), "author": changeset.author or "",
           "date": iso_datetime(changeset.date), "message": changeset.message or "",
           "parents": [repos.display_rev(p) for p in changeset.parents],
           "branches": list(changeset.branches), "tags": list(changeset.tags)}
    if changes is not None:
        out["changes"] = [{"path": c.path, "kind": c.kind, "change": c.change,
                           "base_path": c.base_path, "base_rev": c.base_rev} for c in changes]
    return out


def list_changesets(call: Call) -> Paged:
    req = call.req
    name, repos = _repository(call)
    with _readable(display_name(name)):
        # From the changeset cache (a list of the history, not a walk of it); a repository
        # nobody synced yet is walked.
        revs = cache.revisions_newest_first(req.env, repos)
        youngest = repos.youngest_rev if not revs else None
        if youngest:
            revs = [rev for _path, rev, _kind in repos.get_path_history("", youngest)]
        visible = [r for r in revs
                   if req.perm.has("CHANGESET_VIEW", U.changeset_resource(name, r))]
        page = call.page_of(visible)
        items = [_changeset_json(repos, repos.get_changeset(r)) for r in page.items]
    return Paged(items, page.total)


def get_changeset(call: Call) -> dict:
    name, repos = _repository(call)
    with _readable(display_name(name)):
        rev = U.normalize_rev(repos, call.args["rev"])  # its HTTP errors are sent as JSON
        if rev is None:
            raise not_found(f"The repository {display_name(name)} has no changesets yet.")
        call.req.perm.require("CHANGESET_VIEW", U.changeset_resource(name, rev))
        return _changeset_json(repos, repos.get_changeset(rev), list(repos.get_changes(rev)))
