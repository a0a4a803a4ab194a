"""The repositories of a project: where they are declared, their ids, and opening them.

Repositories come from two places, read as Trac 1.6 reads them: rows of the ``repository``
table (``repository add`` / the admin panel) and the ``[repositories]`` section of trac.ini
(``name.dir``, ``name.type``, ``name.alias`` or ``name = target``, ``name.hidden`` …; ``.dir``
for the default repository, whose name is ""). A name in both places is the table's.

Every repository has the id Trac gives it: the ``id`` of its ``name`` row in ``repository``,
created on first use for those only in trac.ini, so the changeset cache rows of either
program belong to the same repository.

The list is kept per process and re-read when the generation ``codeyard.vcs.repositories``
moves (bumped by every change made here) or trac.ini changes (Trac touches trac.ini when it
changes a repository, and so do we, so that a Trac running beside us re-reads it too).
Opened repositories are kept per process under their name, directory, type and settings.
"""

from __future__ import annotations

import os
import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from codeyard import cachekeys
from codeyard.config import ConfigSection, Option, as_bool, options_in
from codeyard.core import hookimpl
from codeyard.db.api import ScopeError
from codeyard.vcs.api import Repository, RepositoryError, normalize_path

DEFAULT_REPOSITORY_TYPE = Option(
    "versioncontrol", "default_repository_type", "svn",
    "The type of a repository whose own ``type`` is empty (in ``[repositories]``, the "
    "admin panel or ``repository add`` without a type): ``git``, ``bzr``…")

REPOSITORIES_SECTION = ConfigSection(
    "repositories",
    "Repositories declared in trac.ini: ``NAME.dir`` (the directory), ``NAME.type``, "
    "``NAME.description``, ``NAME.url``, ``NAME.hidden``, ``NAME.sync_per_request``, "
    "``NAME.readonly`` (hosting refuses pushes), and "
    "``NAME.alias = TARGET`` (or ``NAME = TARGET``) for another name of a repository. An "
    "empty NAME (``.dir``) is the default repository.")

REPOSITORY_ATTRS = ("alias", "description", "dir", "hidden", "name", "readonly",
                    "sync_per_request", "type", "url")
"""The keys of a repository's rows in the ``repository`` table (``repository set`` keys)."""

DEFAULT_NAMES = ("", "(default)")
MAX_OPEN = 32  # opened repositories kept per environment


class RepositoryExists(RepositoryError):
    """A name already taken by a repository or an alias."""


def is_default(name: str | None) -> bool:
    return not name or name in DEFAULT_NAMES


def display_name(name: str) -> str:
    return name or "(default)"


@dataclass(frozen=True)
class RepositoryInfo:
    """What a project declares about one repository (or alias)."""

    name: str
    id: int
    dir: str | None = None  # absolute, or relative to the environment; None for an alias
    type: str = ""  # as declared; "" means [versioncontrol] default_repository_type
    alias: str | None = None  # the target's name for an alias
    description: str = ""
    url: str = ""
    hidden: bool = False
    sync_per_request: bool = False
    source: str = "db"  # "db" (the repository table) or "ini" ([repositories])
    extra: tuple[tuple[str, str], ...] = field(default=())  # other NAME.key options of trac.ini

    @property
    def is_alias(self) -> bool:
        return self.alias is not None

    @property
    def display_name(self) -> str:
        return display_name(self.name)

    def params(self) -> dict[str, Any]:
        """The settings a connector gets (Trac's repository info dict)."""
        params: dict[str, Any] = dict(self.extra)
        params.update(name=self.name, id=self.id, dir=self.dir, type=self.type,
                      description=self.description, url=self.url, hidden=self.hidden,
                      sync_per_request=self.sync_per_request)
        if self.alias is not None:
            params["alias"] = self.alias
        return params


# ---------------------------------------------------------------------------
# Reading the declarations


def _db_infos(db) -> dict[str, dict[str, Any]]:
    holders = ",".join(["%s"] * len(REPOSITORY_ATTRS))
    by_id: dict[int, dict[str, Any]] = {}
    for rid, name, value in db(f"SELECT id, name, value FROM repository WHERE name IN ({holders})",
                               REPOSITORY_ATTRS):
        if value is not None:
            by_id.setdefault(int(rid), {})[name] = value
    found = {}
    for rid, attrs in sorted(by_id.items()):
        if "name" in attrs and ("dir" in attrs or "alias" in attrs):
            attrs["id"] = rid
            found[attrs["name"]] = attrs
    return found


def _ini_infos(config) -> dict[str, dict[str, Any]]:
    options = dict(config.options("repositories"))
    found: dict[str, dict[str, Any]] = {}
    for option, value in options.items():
        if option.endswith(".dir") and value:
            found[option[:-4]] = {"dir": value}
    for option, value in options.items():
        key = option if "." in option else option + ".alias"
        if key.endswith(".alias") and value in found:
            found.setdefault(key[:-6], {})["alias"] = value
    for option, value in options.items():
        if "." in option:
            name, detail = option.rsplit(".", 1)
            if name in found and detail != "alias":
                found[name].setdefault(detail, value)
    return found


def _make_info(name: str, attrs: dict[str, Any], rid: int, source: str, env_path: str
               ) -> RepositoryInfo:
    directory = attrs.get("dir") or None
    if directory and not os.path.isabs(directory):
        directory = os.path.join(env_path, directory)
    alias = attrs.get("alias")
    if alias is not None:
        directory = None
    known = {"dir", "type", "alias", "description", "url", "hidden", "sync_per_request",
             "name", "id"}
    extra = tuple(sorted((k, str(v)) for k, v in attrs.items() if k not in known))
    return RepositoryInfo(
        name=name, id=rid, dir=directory, type=attrs.get("type") or "",
        alias=alias if alias is None or not is_default(alias) else "",
        description=attrs.get("description") or "", url=attrs.get("url") or "",
        hidden=as_bool(attrs.get("hidden")), sync_per_request=as_bool(attrs.get("sync_per_request")),
        source=source, extra=extra)


def _assign_ids(env, names: list[str]) -> dict[str, int] | None:
    """Trac's ids for repositories known only from trac.ini (a ``name`` row each); None
    when called inside a read scope, where nothing may be written."""
    try:
        with env.db_transaction as db:
            ids = {}
            for name in names:
                ids[name] = _repository_id(db, name)
            return ids
    except ScopeError:
        return None


def _repository_id(db, name: str) -> int:
    rows = db("SELECT id FROM repository WHERE name='name' AND value=%s", (name,))
    if rows:
        return int(rows[0][0])
    db.lock("codeyard.vcs.repository_id")
    rows = db("SELECT id FROM repository WHERE name='name' AND value=%s", (name,))
    if rows:
        return int(rows[0][0])
    new_id = int(db("SELECT COALESCE(MAX(id), 0) FROM repository")[0][0]) + 1
    db("INSERT INTO repository (id, name, value) VALUES (%s, 'name', %s)", (new_id, name))
    return new_id


def _load(env) -> tuple[dict[str, RepositoryInfo], bool]:
    """(name -> info, complete): complete is False when ids could not be assigned yet."""
    with env.db_query as db:
        db_attrs = _db_infos(db)
        known_ids = {value: int(rid) for rid, value in
                     db("SELECT id, value FROM repository WHERE name='name'")}
    ini_attrs = {name: attrs for name, attrs in _ini_infos(env.config).items()
                 if name not in db_attrs}
    missing = [name for name in sorted(ini_attrs) if name not in known_ids]
    complete = True
    if missing:
        assigned = _assign_ids(env, missing)
        if assigned is None:
            complete = False
            assigned = {name: 0 for name in missing}
        known_ids.update(assigned)
    infos: dict[str, RepositoryInfo] = {}
    for name, attrs in db_attrs.items():
        infos[name] = _make_info(name, attrs, attrs["id"], "db", env.path)
    for name, attrs in ini_attrs.items():
        infos[name] = _make_info(name, attrs, known_ids[name], "ini", env.path)
    return dict(sorted(infos.items())), complete


# ---------------------------------------------------------------------------
# The manager


class RepositoryManager:
    """The repositories of one environment. Cheap to make: state lives on the environment."""

    def __init__(self, env) -> None:
        self.env = env

    # -- declarations
    def get_all_repositories(self) -> dict[str, RepositoryInfo]:
        """Every repository and alias, by name (sorted), hidden ones included."""
        env = self.env
        key = cachekeys.REPOSITORIES
        found, kept, generation = env.cache_lookup(key)
        if found:
            return kept
        # Loaded outside a read scope: it may write ids for repositories of trac.ini.
        infos, complete = _load(env)
        if complete:
            env.cache_store(key, generation, infos)
        return infos

    def get_info(self, name: str | None) -> RepositoryInfo | None:
        """The declaration of ``name`` ("" or "(default)": the default repository)."""
        return self.get_all_repositories().get("" if is_default(name) else name or "")

    def resolve(self, name: str | None) -> RepositoryInfo | None:
        """The declaration of the real repository ``name`` names (an alias's target)."""
        info = self.get_info(name)
        if info is not None and info.is_alias:
            info = self.get_all_repositories().get(info.alias or "")
        return info

    def get_repository_id(self, name: str) -> int:
        """Trac's id for a repository name, created (a ``name`` row) when it has none."""
        name = "" if is_default(name) else name
        with self.env.db_transaction as db:
            return _repository_id(db, name)

    def get_supported_types(self) -> list[str]:
        return sorted(self._connectors())

    def default_type(self) -> str:
        return DEFAULT_REPOSITORY_TYPE(self.env.config) or "svn"

    def type_of(self, info: RepositoryInfo) -> str:
        return info.type or self.default_type()

    # -- opening
    def _connectors(self) -> dict[str, Any]:
        def collect():
            found: dict[str, Any] = {}
            for result in self.env.hook.repository_connectors():
                for kind, factory in (result or {}).items():
                    found.setdefault(kind, factory)
            return found
        return self.env.memo("codeyard.vcs.connectors", collect)

    def _opened(self) -> tuple[threading.Lock, OrderedDict]:
        return self.env.memo("codeyard.vcs.opened", lambda: (threading.Lock(), OrderedDict()))

    def get_repository(self, name: str | None) -> Repository | None:
        """The opened repository ``name`` names (an alias: its target's), or None when no
        repository has that name. Raises ``RepositoryError`` when it cannot be opened."""
        info = self.resolve(name)
        if info is None or not info.dir:
            return None
        return self.open(info)

    def require_repository(self, name: str | None) -> Repository:
        """As ``get_repository``, raising ``RepositoryError`` for an unknown name."""
        repos = self.get_repository(name)
        if repos is None:
            raise RepositoryError(f'Repository "{display_name(name or "")}" doesn\'t exist')
        return repos

    def open(self, info: RepositoryInfo) -> Repository:
        kind = self.type_of(info)
        directory = info.dir or ""
        params = info.params()
        key = (info.name, directory, kind, tuple(sorted((k, repr(v)) for k, v in params.items())))
        lock, opened = self._opened()
        factory = self._connectors().get(kind)
        # A backend whose repositories may be named by a path inside them (Subversion's
        # scopes) checks the directory itself.
        if not os.path.isdir(directory) and not getattr(factory, "opens_paths_inside", False):
            self._forget(info.name)
            raise RepositoryError(
                f'Repository "{info.display_name}": the directory {directory} does not exist '
                "(moved or removed? change it with: repository set "
                f"{info.display_name} dir NEW_DIRECTORY)")
        with lock:
            repos = opened.get(key)
            if repos is not None:
                opened.move_to_end(key)
                return repos
        if factory is None:
            raise RepositoryError(self._unsupported(kind, info))
        try:
            repos = factory(self.env, info.name, directory, params)
        except RepositoryError as error:
            if info.type:
                raise
            raise RepositoryError(
                f"{error} — repository \"{info.display_name}\" has no type, so "
                f"[versioncontrol] default_repository_type ({kind}) was used; set its type, "
                f"e.g. with: repository set {info.display_name} type git") from error
        if not repos.id:
            repos.id = info.id
        with lock:
            stale = [k for k in opened if k[0] == info.name and k != key]
            for old_key in stale:
                _close(opened.pop(old_key))
            opened[key] = repos
            while len(opened) > MAX_OPEN:
                _close(opened.popitem(last=False)[1])
        return repos

    def _forget(self, name: str) -> None:
        lock, opened = self._opened()
        with lock:
            for old_key in [k for k in opened if k[0] == name]:
                _close(opened.pop(old_key))

    def _unsupported(self, kind: str, info: RepositoryInfo) -> str:
        types = ", ".join(self.get_supported_types()) or "none"
        why = "no enabled plugin opens this type"
        origin = ("[versioncontrol] default_repository_type" if not info.type
                  else f"the type of repository \"{info.display_name}\"")
        return (f'Unsupported version control system "{kind}": {why} (supported: {types}). '
                f"Correct {origin}, e.g. with: repository set {info.display_name} type git")

    def get_real_repositories(self) -> list[Repository]:
        """Every repository that opens (aliases and broken ones left out), by name."""
        found = []
        for info in self.get_all_repositories().values():
            if info.is_alias or not info.dir:
                continue
            try:
                found.append(self.open(info))
            except RepositoryError as exc:
                self.env.log.warning("repository %s: %s", info.display_name, exc)
        return found

    def get_repository_by_path(self, path: str) -> tuple[str, Repository | None, str]:
        """(name, repository, rest) for a browser path whose first segments may name a
        repository (the longest name wins), else the default repository. Raises
        ``InvalidPath`` for a path that tries to escape."""
        clean = normalize_path(path)
        padded = clean + "/"
        best = ""
        for name in self.get_all_repositories():
            if name and padded.startswith(name.strip("/") + "/") and len(name) > len(best):
                best = name
        rest = clean[len(best.strip("/")):].strip("/") if best else clean
        return best, self.get_repository(best), rest

    def repository_for_request(self, req, name: str | None) -> Repository | None:
        """``get_repository`` for a page: a ``sync_per_request`` repository is brought up
        to date first (once per request; a cheap check when nothing changed). A failed
        sync becomes a warning on the page, never an error."""
        repos = self.get_repository(name)
        info = self.resolve(name)
        if repos is None or info is None or not info.sync_per_request:
            return repos
        done = getattr(req, "_codeyard_synced", None)
        if done is None:
            done = set()
            try:
                req._codeyard_synced = done
            except AttributeError:
                pass
        if info.name in done:
            return repos
        done.add(info.name)
        from codeyard.vcs import cache

        try:
            cache.sync_if_changed(self.env, repos)
        except cache.SyncInProgress:
            pass  # another process or thread is bringing it up to date
        except RepositoryError as exc:
            self.env.log.warning("sync of %s failed: %s", info.display_name, exc)
            add_warning = getattr(req, "add_warning", None)
            if add_warning is not None:
                add_warning(f"Can't synchronize with repository \"{info.display_name}\" "
                            f"({exc}).")
        return repos

    # -- changes
    def _bump(self, db) -> None:
        """Inside a write: every process re-reads the list after it commits."""
        self.env.database.invalidate(db, cachekeys.REPOSITORIES)
        self.env.caches.pop(cachekeys.REPOSITORIES, None)

    def _changed(self, event: str, info: RepositoryInfo) -> None:
        env = self.env
        env.caches.pop(cachekeys.REPOSITORIES, None)
        self._forget(info.name)
        try:
            os.utime(env.config.filename)  # what Trac does: running Trac processes reload
        except OSError:
            pass
        env.hook.repository_changed(env=env, event=event, repos=info)

    def _check_new_name(self, name: str) -> None:
        if name in self.get_all_repositories():
            raise RepositoryExists(f'The repository "{display_name(name)}" already exists.')

    def add_repository(self, name: str, directory: str, kind: str | None = None
                       ) -> RepositoryInfo:
        """Register a repository in the ``repository`` table."""
        name = "" if is_default(name) else name.strip()
        if not os.path.isabs(directory):
            raise RepositoryError("The repository directory must be absolute")
        if kind and kind not in self.get_supported_types():
            raise RepositoryError(f"The repository type '{kind}' is not supported "
                                  f"(supported: {', '.join(self.get_supported_types()) or 'none'})")
        self._check_new_name(name)
        with self.env.db_transaction as db:
            rid = _repository_id(db, name)
            with db.unique(RepositoryExists(
                    f'The repository "{display_name(name)}" already exists.')):
                db.executemany("INSERT INTO repository (id, name, value) VALUES (%s, %s, %s)",
                               [(rid, "dir", os.path.normpath(directory)), (rid, "type", kind or "")])
            self._bump(db)
        info = self._reloaded(name)
        self._changed("added", info)
        return info

    def add_alias(self, name: str, target: str) -> RepositoryInfo:
        name = "" if is_default(name) else name.strip()
        target = "" if is_default(target) else target
        repositories = self.get_all_repositories()
        if target not in repositories:
            raise RepositoryError(f'Repository "{display_name(target)}" doesn\'t exist')
        if repositories[target].is_alias:
            raise RepositoryError(
                f'Cannot create an alias to the alias "{display_name(target)}"')
        self._check_new_name(name)
        with self.env.db_transaction as db:
            rid = _repository_id(db, name)
            with db.unique(RepositoryExists(
                    f'The repository "{display_name(name)}" already exists.')):
                db.executemany("INSERT INTO repository (id, name, value) VALUES (%s, %s, %s)",
                               [(rid, "dir", None), (rid, "alias", target)])
            self._bump(db)
        info = self._reloaded(name)
        self._changed("added", info)
        return info

    def _reloaded(self, name: str) -> RepositoryInfo:
        self.env.caches.pop(cachekeys.REPOSITORIES, None)
        info = self.get_all_repositories().get(name)
        assert info is not None
        return info

    def _db_info(self, name: str | None) -> RepositoryInfo:
        name = "" if is_default(name) else name or ""
        info = self.get_all_repositories().get(name)
        if info is None:
            raise RepositoryError(f'Repository "{display_name(name)}" doesn\'t exist')
        if info.source != "db":
            raise RepositoryError(
                f'Repository "{display_name(name)}" is declared in trac.ini; change it in the '
                "[repositories] section there")
        return info

    def remove_repository(self, name: str) -> None:
        """Remove a repository (or alias) with its cached changesets."""
        info = self._db_info(name)
        users = [a.display_name for a in self.get_all_repositories().values()
                 if a.alias == info.name]
        if users and not info.is_alias:
            raise RepositoryError(f'Cannot remove the repository "{info.display_name}" used in '
                                  f"aliases ({', '.join(users)})")
        with self.env.db_transaction as db:
            db("DELETE FROM repository WHERE id=%s", (info.id,))
            db("DELETE FROM revision WHERE repos=%s", (info.id,))
            db("DELETE FROM node_change WHERE repos=%s", (info.id,))
            self.env.database.invalidate(db, cachekeys.repository_metadata(info.id))
            self._bump(db)
        self._changed("removed", info)

    def modify_repository(self, name: str, changes: dict[str, Any]) -> RepositoryInfo:
        """Change settings of a repository of the table (``REPOSITORY_ATTRS`` keys; a
        ``name`` renames it)."""
        info = self._db_info(name)
        for key in changes:
            if key not in REPOSITORY_ATTRS:
                raise RepositoryError(f'Invalid key "{key}"')
        new_name = changes.get("name", info.name)
        new_name = "" if is_default(new_name) else str(new_name).strip()
        if new_name != info.name:
            if any(a.alias == info.name for a in self.get_all_repositories().values()):
                raise RepositoryError(f'Cannot rename the repository "{info.display_name}" '
                                      "used in aliases")
            self._check_new_name(new_name)
        if "type" in changes and changes["type"] and changes["type"] not in self.get_supported_types():
            raise RepositoryError(f"The repository type '{changes['type']}' is not supported "
                                  f"(supported: {', '.join(self.get_supported_types()) or 'none'})")
        if "alias" in changes and not info.is_alias:
            raise RepositoryError(f'Repository "{info.display_name}" is not an alias')
        with self.env.db_transaction as db:
            for key, value in changes.items():
                if key in ("alias", "name"):
                    value = "" if is_default(value) else str(value).strip()
                elif key in ("hidden", "sync_per_request"):
                    value = "1" if as_bool(value) else None
                elif key == "dir":
                    if not value or not os.path.isabs(str(value)):
                        raise RepositoryError("The repository directory must be absolute")
                    value = os.path.normpath(str(value))
                elif value is not None:
                    value = str(value)
                if key == "name":
                    with db.unique(RepositoryExists(
                            f'The repository "{display_name(value)}" already exists.')):
                        db("UPDATE repository SET value=%s WHERE id=%s AND name='name'",
                           (value, info.id))
                    continue
                if not db("SELECT 1 FROM repository WHERE id=%s AND name=%s", (info.id, key)):
                    db("INSERT INTO repository (id, name, value) VALUES (%s, %s, %s)",
                       (info.id, key, value))
                else:
                    db("UPDATE repository SET value=%s WHERE id=%s AND name=%s",
                       (value, info.id, key))
            self._bump(db)
        self._forget(info.name)
        new_info = self._reloaded(new_name)
        self._changed("changed", new_info)
        return new_info


def _close(repos: Repository) -> None:
    try:
        repos.close()
    except Exception:  # a backend failing to let go must not break the caller
        pass


@hookimpl
def environment_checks(env):
    """Each repository opens and reads its youngest revision, or a warning saying why not
    (the other repositories keep working)."""
    manager = RepositoryManager(env)
    found = []
    for info in manager.get_all_repositories().values():
        if info.is_alias:
            continue
        subject = f"repository {info.display_name}"
        try:
            repos = manager.open(info)
            youngest = repos.youngest_rev
        except RepositoryError as error:
            found.append(("warn", subject, str(error)))
            continue
        found.append(("ok", subject, f"{manager.type_of(info)} at {info.dir}, youngest "
                                      f"revision {repos.display_rev(youngest) if youngest else 'none'}"))
    return found


@hookimpl
def config_options():
    return options_in(sys.modules[__name__])
