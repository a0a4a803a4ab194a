"""The Version Control → Repositories panel of /admin (``/admin/versioncontrol/repository``,
as in Trac): the list, adding a repository or an alias, editing one, removing and
resynchronizing the selected ones.

Forms use the field names of Trac's panel (``name``, ``dir``, ``type`` with ``add_repos``;
``name``, ``alias`` with ``add_alias``; ``sel`` with ``remove``; ``description``, ``url``,
``hidden``, ``sync_per_request`` with ``save``), so scripts written against Trac's work.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from werkzeug.datastructures import MultiDict

from codeyard.config import ListOption, options_in
from codeyard.core import hookimpl
from codeyard.vcs import cache
from codeyard.vcs.api import RepositoryError
from codeyard.vcs.manager import RepositoryInfo, RepositoryManager, is_default
from codeyard.web.api import AdminPanel, HTTPNotFound

ALLOWED_DIR_PREFIXES = ListOption(
    "versioncontrol", "allowed_repository_dir_prefixes", "",
    "Directories under which the Repositories admin panel may add or move repositories "
    "(relative ones are relative to the environment). Empty: anywhere.")

CATEGORY, PANEL = "versioncontrol", "repository"
DONE_MESSAGES = {
    "added": "The repository has been added. Synchronize it with the \"Resync\" button or "
             "\"repository resync\", and let pushes or a post-commit hook "
             "(\"changeset added\") keep it up to date.",
    "alias": "The alias has been added.",
    "removed": "The selected repositories have been removed.",
    "resynced": "The selected repositories have been synchronized.",
    "saved": "Your changes have been saved.",
    "moved": "Your changes have been saved. The directory or type changed: resynchronize "
             "the repository.",
}


def _one_line(value: str | None) -> str | None:
    return " ".join(value.split()) if value is not None else None


def _check_dir(env, directory: str) -> None:
    if not os.path.isabs(directory):
        raise RepositoryError("The repository directory must be an absolute path.")
    prefixes = [os.path.join(env.path, p) for p in ALLOWED_DIR_PREFIXES(env.config)]
    real = os.path.realpath(directory)
    if prefixes and not any(real == os.path.realpath(p) or
                            real.startswith(os.path.join(os.path.realpath(p), ""))
                            for p in prefixes):
        raise RepositoryError("The repository directory must be located below one of the "
                              "following directories: " + ", ".join(prefixes))


def _row(manager: RepositoryManager, info: RepositoryInfo) -> dict[str, Any]:
    row: dict[str, Any] = {"info": info, "name": info.display_name, "editable": info.source == "db",
                           "error": None, "youngest": None, "type": manager.type_of(info)}
    if not info.is_alias:
        try:
            repos = manager.open(info)
            youngest = cache.cached_youngest_rev(manager.env, info.id)
            row["youngest"] = repos.short_rev(youngest) if youngest else None
            row["cached"] = cache.count_revisions(manager.env, info.id)
        except RepositoryError as exc:
            row["error"] = str(exc)
    return row


def _add(env, manager: RepositoryManager, form) -> str:
    if "add_repos" in form:
        name = _one_line(form.get("name", "")) or ""
        directory = _one_line(form.get("dir", "")) or ""
        if not directory:
            raise RepositoryError("Missing arguments to add a repository: the directory.")
        _check_dir(env, directory)
        manager.add_repository(name, directory, form.get("type") or None)
        return "added"
    name = _one_line(form.get("name", "")) or ""
    target = form.get("alias")
    if target is None:
        raise RepositoryError("Missing arguments to add an alias: its target.")
    manager.add_alias(name, target)
    return "alias"


def _save(env, manager: RepositoryManager, info: RepositoryInfo, form) -> str:
    changes: dict[str, Any] = {}
    for key in ("name", "dir", "type", "alias", "description", "url"):
        if key not in form:
            continue
        value = form.get(key, "") if key == "description" else _one_line(form.get(key))
        current = getattr(info, key)
        if key == "name":
            value = "" if is_default(value) else value
        if (value or "") != (current or ""):
            changes[key] = value
    if info.is_alias:
        changes.pop("dir", None)
        changes.pop("type", None)
    else:
        changes.pop("alias", None)
    for flag in ("hidden", "sync_per_request"):
        wanted = bool(form.get(flag))
        if wanted != getattr(info, flag):
            changes[flag] = "1" if wanted else ""
    if "dir" in changes:
        _check_dir(env, changes["dir"] or "")
    if changes:
        manager.modify_repository(info.name, changes)
    return "moved" if {"dir", "type"} & set(changes) else "saved"


def repository_panel(req, category: str, panel: str, path_info: str | None):
    """/admin/versioncontrol/repository[/name] — the list and forms, or one repository."""
    req.perm.require("VERSIONCONTROL_ADMIN")
    env = req.env
    manager = RepositoryManager(env)
    here = req.url_for("admin.panel", category=category, panel=panel)
    errors: list[str] = []
    form = req.form if req.method == "POST" else MultiDict()
    if path_info:
        name = "" if is_default(path_info) else path_info
        info = manager.get_info(name)
        if info is None:
            raise HTTPNotFound(f"Repository '{path_info}' not found")
        if req.method == "POST":
            if form.get("cancel"):
                return req.redirect(here)
            if info.source != "db":
                errors.append(f'Repository "{info.display_name}" is declared in trac.ini; '
                              "change it in the [repositories] section there.")
            else:
                try:
                    done = _save(env, manager, info, form)
                    return req.redirect(req.url_for("admin.panel", category=category,
                                                    panel=panel, done=done))
                except RepositoryError as exc:
                    errors.append(str(exc))
        values = {"name": info.display_name if info.name else "", "dir": info.dir or "",
                  "type": info.type, "alias": info.alias or "",
                  "description": info.description, "url": info.url,
                  "hidden": info.hidden, "sync_per_request": info.sync_per_request}
        if form:
            values.update({k: form.get(k, "") for k in ("name", "dir", "type", "alias",
                                                        "description", "url") if k in form})
            values.update({k: bool(form.get(k)) for k in ("hidden", "sync_per_request")})
        return ("admin/vcs_repository.html",
                {"info": info, "values": values, "errors": errors, "back": here,
                 "types": [""] + manager.get_supported_types(),
                 "default_type": manager.default_type(),
                 "reals": [i for i in manager.get_all_repositories().values() if not i.is_alias],
                 "editable": info.source == "db"},
                400 if errors else 200)
    if req.method == "POST":
        try:
            if "add_repos" in form or "add_alias" in form:
                done = _add(env, manager, form)
            elif "remove" in form or "resync" in form:
                selected = form.getlist("sel")
                if not selected:
                    raise RepositoryError("No repositories were selected.")
                if "remove" in form:
                    for name in selected:
                        manager.remove_repository(name)
                    done = "removed"
                else:
                    for name in selected:
                        cache.resync(env, manager.require_repository(name))
                    done = "resynced"
            else:
                done = ""
            return req.redirect(req.url_for("admin.panel", category=category, panel=panel,
                                            **({"done": done} if done else {})))
        except RepositoryError as exc:
            errors.append(str(exc))
    infos = manager.get_all_repositories()
    return ("admin/vcs_repositories.html",
            {"rows": [_row(manager, info) for info in infos.values()],
             "errors": errors, "form": form, "here": here,
             "types": [""] + manager.get_supported_types(),
             "default_type": manager.default_type(),
             "reals": [i for i in infos.values() if not i.is_alias],
             "notice": DONE_MESSAGES.get(req.args.get("done", ""))},
            400 if errors else 200)


@hookimpl
def admin_panels(req):
    if req.perm.has("VERSIONCONTROL_ADMIN"):
        return [AdminPanel(CATEGORY, "Version Control", PANEL, "Repositories",
                           repository_panel, 10)]
    return []


@hookimpl
def config_options():
    return options_in(sys.modules[__name__])

