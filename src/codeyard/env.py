"""Environment: one project's directory, configuration, database and plugins.

The directory is a Trac 1.6 environment (the storage contract in docs/architecture.md), so
Trac and codeyard can open each other's projects.
"""

from __future__ import annotations

import contextvars
import logging
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from codeyard import __version__
from codeyard.cachekeys import FORMER_KEYS as FORMER_CACHE_KEYS
from codeyard.config import (
    BoolOption,
    ChoiceOption,
    ConfigError,
    ConfigSection,
    Configuration,
    IntOption,
    ListOption,
    Option,
    OptionRegistry,
    PathOption,
    format_ini,
    sample_ini,
)
from codeyard.core import ComponentRules, announced, make_plugin_manager
from codeyard.db.api import DatabaseError, DatabaseManager
from codeyard.db.schema import DB_VERSION, OLDEST_UPGRADABLE
from codeyard.util.lru import BoundedCache

__all__ = ["Environment", "EnvironmentError_", "open_environment", "is_environment"]

VERSION_TEXT = "Trac Environment Version 1"
README_TEXT = (
    "This directory contains a project environment: a Trac 1.6-compatible directory served by\n"
    "codeyard (and readable by Trac). Its settings are in conf/trac.ini.\n"
)
SUBDIRS = ("conf", "db", "htdocs", "log", "plugins", "templates", "files")

DATABASE = Option("trac", "database", "sqlite:db/trac.db",
                  "Database connection string: `sqlite:db/trac.db` (relative to the environment) "
                  "or `postgres://user:password@host:port/database?schema=name`.")
BACKUP_DIR = Option("trac", "backup_dir", "db",
                    "Directory (relative to the environment) where `upgrade` puts its database backup.")
DEBUG = BoolOption("trac", "debug", False,
                   "Show tracebacks on error pages. Never enable this on a public site.")
BASE_URL = Option("trac", "base_url", "",
                  "Public URL of this project, used in notifications and when requests carry no host.")
PROJECT_NAME = Option("project", "name", "My Project", "Name of the project.")
PROJECT_DESCR = Option("project", "descr", "My example project", "Short description of the project.")
PROJECT_URL = Option("project", "url", "", "URL of the project's main web site.")
PROJECT_ADMIN = Option("project", "admin", "", "E-mail address of the project's administrator.")
PROJECT_FOOTER = Option("project", "footer", "", "Text shown in the page footer (may contain HTML).")
PROJECT_ICON = Option("project", "icon", "common/codeyard.svg", "URL of the project's icon (favicon).")
PROJECT_ADMIN_URL = Option("project", "admin_trac_url", ".", "Base URL of the Trac that the site admin uses for reporting errors.")
INHERIT_FILE = ListOption("inherit", "file", (), "Other trac.ini files (comma-separated) whose values this one falls back to.")
INHERIT_TEMPLATES = PathOption("inherit", "templates_dir", "", "Shared directory of templates that override the built-in ones.")
INHERIT_HTDOCS = PathOption("inherit", "htdocs_dir", "", "Shared directory of static files served at /chrome/shared/.")
INHERIT_PLUGINS = PathOption("inherit", "plugins_dir", "", "Shared directory of plugins.")
LOG_TYPE = ChoiceOption("logging", "log_type", "file", "Where the log goes: `none`, `file`, `stderr` or `syslog`.",
                        choices=("file", "none", "stderr", "syslog", "eventlog"))
LOG_FILE = Option("logging", "log_file", "trac.log", "Log file name, relative to the environment's `log` directory.")
LOG_LEVEL = ChoiceOption("logging", "log_level", "INFO", "Least severe level logged: CRITICAL, ERROR, WARNING, INFO, DEBUG.",
                         choices=("INFO", "CRITICAL", "ERROR", "WARNING", "WARN", "DEBUG"))
LOG_FORMAT = Option("logging", "log_format", "", "Log line format (Python logging syntax); `$(project)s` etc. as Trac allows.")
POOL_SIZE = IntOption(
    "codeyard", "database_pool_size", 2,
    "Connections to this project's PostgreSQL database a process keeps open while idle. A "
    "process serving many projects keeps this many for each: projects × processes × this "
    "must stay below the server's `max_connections`, with room for the busy ones.")
POOL_OVERFLOW = IntOption(
    "codeyard", "database_pool_overflow", 13,
    "Connections a process may open beyond the kept ones while busy (one per request being "
    "answered); closed again when the load passes. At most size + overflow per project and "
    "process.")
REFRESH_CHECK = IntOption("codeyard", "config_check_interval", 1,
                          "Seconds between checks of trac.ini, and of each template file, for changes made "
                          "by other processes.")
TRAC_SECTION = ConfigSection("trac", "Core settings of the project environment.")
PROJECT_SECTION = ConfigSection("project", "How the project presents itself.")
LOGGING_SECTION = ConfigSection("logging", "Where and how much the project logs.")
INHERIT_SECTION = ConfigSection("inherit", "Settings and files shared between several projects.")


# Cache entries this request already checked against their generations: a page asks the
# repository declarations or the permission tables many times, the database once.
_VALIDATED: contextvars.ContextVar[dict | None] = contextvars.ContextVar(
    "codeyard_validated_caches", default=None)


@contextmanager
def request_scope() -> Iterator[None]:
    """Within it, an entry of ``Environment.caches`` found current once is trusted until it
    is replaced or dropped (what this process writes replaces or drops it; what another
    process writes meanwhile is seen by the next request)."""
    from codeyard.db.api import generations_scope

    token = _VALIDATED.set({})
    try:
        with generations_scope():
            yield
    finally:
        _VALIDATED.reset(token)


class EnvironmentError_(Exception):
    """The environment cannot be created, opened or used; the message says why."""


def is_environment(path: str) -> bool:
    """Whether ``path`` holds a project (its VERSION file says so). Asked at every request:
    the file is read again only when its ``stat`` changes."""
    def says_so(version: str) -> bool:
        with open(version, encoding="utf-8") as fh:
            return fh.read().startswith(VERSION_TEXT)

    try:
        return _version_files.by_stat(os.path.join(path, "VERSION"), says_so)
    except OSError:
        return False


_version_files = BoundedCache(20_000)  # VERSION file -> (its stat, what it says)


class Environment:
    """An opened project. Cheap to keep open; shared by all requests of a process."""

    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(path)
        if not os.path.isdir(self.path):
            raise EnvironmentError_(f"{self.path}: no such directory")
        if not is_environment(self.path):
            raise EnvironmentError_(f"{self.path}: not a project environment (no VERSION file saying so)")
        config_file = os.path.join(self.path, "conf", "trac.ini")
        if not os.path.isfile(config_file):
            raise EnvironmentError_(f"{config_file}: missing")
        try:
            self.config = Configuration(config_file)
        except ConfigError as exc:
            raise EnvironmentError_(str(exc)) from None
        self._next_config_check = 0.0
        self._lock = threading.RLock()
        self.log = self._setup_log()
        self._db: DatabaseManager | None = None
        self._plugins = None
        self._plugins_rules: tuple | None = None  # what the plugins were built from
        self.caches: dict[str, tuple[int, Any]] = {}
        self._memo: dict[str, Any] = {}
        # The database and plugins last found ready to serve (web.main.ensure_ready): kept
        # across configuration changes that touch neither.
        self.ready_for: tuple | None = None
        self.config.listeners.append(self._config_changed)
        self.config.registry_source = lambda: self.options

    # -- identity
    @property
    def name(self) -> str:
        return os.path.basename(self.path.rstrip(os.sep))

    @property
    def project_name(self) -> str:
        return PROJECT_NAME(self.config)

    @property
    def project_description(self) -> str:
        return PROJECT_DESCR(self.config)

    def __repr__(self) -> str:
        return f"<Environment {self.path}>"

    # -- paths
    def _dir(self, name: str) -> str:
        return os.path.join(self.path, name)

    @property
    def conf_dir(self) -> str:
        return self._dir("conf")

    @property
    def htdocs_dir(self) -> str:
        return self._dir("htdocs")

    @property
    def templates_dir(self) -> str:
        return self._dir("templates")

    @property
    def files_dir(self) -> str:
        return self._dir("files")

    @property
    def attachments_dir(self) -> str:
        return os.path.join(self.files_dir, "attachments")

    @property
    def log_dir(self) -> str:
        return self._dir("log")

    @property
    def plugins_dir(self) -> str:
        return self._dir("plugins")

    # -- configuration
    def refresh_config(self) -> None:
        """Pick up a trac.ini changed by another process (a stat at most once a second)."""
        now = time.monotonic()
        if now < self._next_config_check:
            return
        with self._lock:
            self._next_config_check = now + max(0, REFRESH_CHECK(self.config))
            self.config.reload_if_changed()

    def memo(self, key: str, compute: Callable[[], Any]) -> Any:
        """A value derived from configuration and plugins only: kept until either changes.

        Computed once even when many threads ask at the same moment."""
        try:
            return self._memo[key]
        except KeyError:
            pass
        with self._lock:
            if key not in self._memo:
                self._memo[key] = compute()
            return self._memo[key]

    def per_request(self, key: str, compute: Callable[[], Any]) -> Any:
        """``compute()`` once per request (inside ``request_scope``; every time outside): for
        what a page asks for many times and may change between requests, such as a
        look at the disk."""
        memo = _VALIDATED.get()
        if memo is None:
            return compute()
        slot = ("per-request", id(self), key)
        if slot not in memo:
            memo[slot] = compute()
        return memo[slot]

    def memo_stamped(self, key: str, stamp: Any, compute: Callable[[], Any]) -> Any:
        """As ``memo``, but also recomputed when ``stamp`` (e.g. a directory's mtime) changes."""
        hit = self._memo.get(key)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        with self._lock:
            hit = self._memo.get(key)
            if hit is None or hit[0] != stamp:
                hit = self._memo[key] = (stamp, compute())
            return hit[1]

    def _config_changed(self, config: Configuration) -> None:
        if self._plugins_rules != self._component_rules():
            self._plugins = None
        self.caches.clear()
        self._memo.clear()
        self.log = self._setup_log()
        if self._db is not None and self._db.url_text != DATABASE(self.config):
            self._db.dispose()
            self._db = None

    def _setup_log(self) -> logging.Logger:
        logger = logging.getLogger(f"codeyard.env.{self.path}")
        for old in list(logger.handlers):
            logger.removeHandler(old)
            old.close()
        logger.propagate = False
        try:
            log_type = LOG_TYPE(self.config).lower()
            level_name = LOG_LEVEL(self.config).upper()
        except ConfigError:
            log_type, level_name = "stderr", "INFO"
        level = getattr(logging, "WARNING" if level_name == "WARN" else level_name, logging.INFO)
        logger.setLevel(level)
        handler: logging.Handler
        if log_type == "file":
            log_file = LOG_FILE(self.config)
            if not os.path.isabs(log_file):
                log_file = os.path.join(self.log_dir, log_file)
            try:
                handler = logging.FileHandler(log_file, encoding="utf-8", delay=True)
            except OSError:
                handler = logging.StreamHandler(sys.stderr)
        elif log_type == "stderr":
            handler = logging.StreamHandler(sys.stderr)
        elif log_type == "syslog":
            from logging.handlers import SysLogHandler

            try:
                handler = SysLogHandler(address="/dev/log")
            except OSError:
                handler = logging.NullHandler()
        else:
            handler = logging.NullHandler()
        fmt = LOG_FORMAT(self.config) or "%(asctime)s codeyard[%(process)d] %(levelname)s: %(message)s"
        fmt = (fmt.replace("$(", "%(").replace("%(project)s", self.name)
               .replace("%(path)s", self.path).replace("%(basename)s", self.name))
        handler.setFormatter(logging.Formatter(fmt))
        logger.addHandler(handler)
        return logger

    # -- plugins
    @property
    def plugins(self):
        pm = self._plugins
        if pm is None:
            with self._lock:
                if self._plugins is None:
                    self._plugins_rules = self._component_rules()
                    self._plugins = make_plugin_manager(ComponentRules(self._plugins_rules[0]))
                pm = self._plugins
        return pm

    def _component_rules(self) -> tuple:
        """What the plugin manager is built from: [components], and the installed plugins."""
        return tuple(self.config.options("components")), tuple(announced()[1])

    @property
    def hook(self):
        return self.plugins.hook

    @property
    def options(self) -> OptionRegistry:
        """The options declared by this project's enabled plugins."""
        return self.memo("config.options", lambda: OptionRegistry(
            declaration for found in self.hook.config_options() for declaration in found or ()))

    def is_enabled(self, plugin_name: str) -> bool:
        return self.plugins.get_plugin(plugin_name) is not None

    # -- database
    @property
    def database(self) -> DatabaseManager:
        db = self._db
        if db is None:
            with self._lock:
                if self._db is None:
                    try:
                        self._db = DatabaseManager(
                            DATABASE(self.config), self.path,
                            pool_size=max(0, POOL_SIZE(self.config)),
                            max_overflow=max(0, POOL_OVERFLOW(self.config)))
                    except DatabaseError as exc:
                        raise EnvironmentError_(str(exc)) from None
                db = self._db
        return db

    @property
    def db_query(self):
        """``with env.db_query as db:`` a read scope (joins an enclosing scope)."""
        return self.database.query()

    @property
    def db_transaction(self):
        """``with env.db_transaction as db:`` a write scope, committed at the outermost end."""
        return self.database.transaction()

    def get_system_value(self, name: str, db=None) -> str | None:
        with self.db_query as db:
            rows = db("SELECT value FROM system WHERE name=%s", (name,))
        return rows[0][0] if rows else None

    def set_system_value(self, name: str, value: Any) -> None:
        with self.db_transaction as db:
            if db("SELECT 1 FROM system WHERE name=%s", (name,)):
                db("UPDATE system SET value=%s WHERE name=%s", (str(value), name))
            else:
                db("INSERT INTO system (name, value) VALUES (%s, %s)", (name, str(value)))

    def database_version(self) -> int:
        try:
            value = self.get_system_value("database_version")
        except Exception as exc:
            raise EnvironmentError_(
                f"{self.path}: cannot read the database ({DATABASE(self.config)}): {exc}"
            ) from None
        try:
            return int(value) if value is not None else 0
        except ValueError:
            raise EnvironmentError_(f"{self.path}: database_version {value!r} is not a number") from None

    # -- upgrades
    def pending_upgrades(self) -> list[str]:
        """What ``upgrade`` would do; an empty list when the schema is current."""
        from codeyard.db.upgrades import pending_steps

        version = self.database_version()
        if version > DB_VERSION:
            raise EnvironmentError_(
                f"{self.path}: the database schema is version {version}, newer than this codeyard "
                f"({__version__}) knows ({DB_VERSION}); upgrade codeyard"
            )
        if version < OLDEST_UPGRADABLE:
            raise EnvironmentError_(
                f"{self.path}: the database schema is version {version}; codeyard upgrades from "
                f"version {OLDEST_UPGRADABLE} (Trac 1.2) on. Upgrade with Trac 1.2 or later first"
            )
        return [doc for doc, _ in pending_steps(version)]

    def needs_upgrade(self) -> bool:
        return bool(self.pending_upgrades())

    def check_ready(self) -> None:
        """Refuse to serve an environment whose schema needs upgrading."""
        pending = self.pending_upgrades()
        if pending:
            raise EnvironmentError_(
                f"The project at {self.path} needs an upgrade before it can be used: run "
                f"`codeyard admin {self.path} upgrade`"
            )

    def upgrade(self, backup: bool = True, out: Callable[[str], None] = print) -> list[str]:
        from codeyard.db.upgrades import pending_steps

        version = self.database_version()
        self.pending_upgrades()  # refuses too-new or too-old schemas
        steps = pending_steps(version)
        if not steps:
            self.ensure_own_tables()
            return []
        if backup:
            path = self.backup()
            out(f"Database backed up to {path}")
        done = []
        before = format_ini(self.config.sections)
        try:
            with self.db_transaction as db:
                for doc, apply in steps:
                    apply(self, db, out)
                    done.append(doc)
                db("UPDATE system SET value=%s WHERE name='database_version'", (str(DB_VERSION),))
        except BaseException:
            self.config.parse()  # forget settings the rolled-back steps changed
            raise
        if format_ini(self.config.sections) != before:
            # Keep the file as it was, as Trac does when an upgrade rewrites settings.
            shutil.copy2(self.config.filename, f"{self.config.filename}.db{version}.bak")
            self.config.save()
        self.ensure_own_tables()
        self.log.info("upgraded the database to version %s", DB_VERSION)
        return done

    def ensure_own_tables(self) -> None:
        """Create codeyard's own (additive) tables when missing; Trac ignores them."""
        from sqlalchemy import MetaData

        md = MetaData()
        for tables in self.hook.database_tables():
            for table in tables or ():
                table.to_metadata(md)
        with self.db_transaction as db:
            if md.tables:
                missing = [t for name, t in md.tables.items() if not db.has_table(name)]
                if missing:
                    md.create_all(db.conn, tables=missing)
            self.hook.database_extras(env=self, db=db)
            current = db("SELECT value FROM system WHERE name='codeyard_version'")
            if not current:
                db("INSERT INTO system (name, value) VALUES ('codeyard_version', %s)", ("1",))
            # Generations under the names codeyard used before it shared Trac's: nobody
            # reads them any more.
            former = tuple(FORMER_CACHE_KEYS)
            marks = ", ".join(["%s"] * len(former))
            if db(f"SELECT 1 FROM cache WHERE key IN ({marks})", former):
                db(f"DELETE FROM cache WHERE key IN ({marks})", former)

    def derived_tables(self) -> set[str]:
        """Names of the tables ``database_extras`` made: rebuilt by their plugins, never copied."""
        with self.db_transaction as db:
            return {name for names in self.hook.database_extras(env=self, db=db)
                    for name in names or ()}

    def backup(self, dest: str | None = None) -> str:
        """Copy the database to the backup directory (or ``dest``); return the file written."""
        url = self.database.url
        directory = BACKUP_DIR(self.config) or os.path.join(self.path, "db")
        if not os.path.isabs(directory):
            directory = os.path.join(self.path, directory)
        os.makedirs(directory, exist_ok=True)
        version = self.database_version()
        if url.scheme == "sqlite":
            target = dest or os.path.join(directory, f"{os.path.basename(url.path)}.{version}.bak")
            sqlite_backup(url.path, target)
            return target
        from codeyard.db.convert import dump_to_sqlite

        target = dest or os.path.join(directory, f"postgres-{url.path}.{version}.bak.db")
        dump_to_sqlite(self, target)
        return target

    # -- caches shared across processes through the `cache` table (keys: codeyard.cachekeys)
    def cached(self, key: str, compute: Callable[[], Any]) -> Any:
        """The value of ``compute()``, kept while the generation of ``key`` is unchanged."""
        found, value, generation = self.cache_lookup(key)
        if found:
            return value
        with self.db_query:
            value = compute()
        self.cache_store(key, generation, value)
        return value

    def cache_lookup(self, key: str) -> tuple[bool, Any, int]:
        """(found, value, generation): the kept value of ``key`` when it is current, else
        the generation a value computed now is to be kept under (``cache_store``)."""
        entry = self._validated(key)
        if entry is not None:
            return True, entry[1], entry[0]
        generation = self.database.request_generation(key)
        hit = self.caches.get(key)
        if hit is not None and hit[0] == generation:
            self._mark_validated(key)
            return True, hit[1], generation
        return False, None, generation

    def cache_store(self, key: str, generation: int, value: Any) -> None:
        self.caches[key] = (generation, value)
        self._mark_validated(key)

    def _validated(self, key: str) -> tuple | None:
        """The ``caches`` entry of ``key`` when this request already checked it against its
        generation and nothing replaced it since (None outside a request scope)."""
        memo = _VALIDATED.get()
        if memo is None:
            return None
        entry = memo.get((id(self), key))
        if entry is not None and self.caches.get(key) is entry:
            return entry
        return None

    def _mark_validated(self, key: str) -> None:
        memo = _VALIDATED.get()
        if memo is not None:
            entry = self.caches.get(key)
            if entry is not None:
                memo[(id(self), key)] = entry

    def invalidate(self, *keys: str) -> None:
        """Bump the generation of each key (in the caller's transaction when there is one)."""
        with self.db_transaction as db:
            for key in keys:
                self.database.invalidate(db, key)
        for key in keys:
            self.caches.pop(key, None)

    def announce_served(self) -> None:
        """Tell the plugins, once per process, that this project is being served."""
        if getattr(self, "_served", False):
            return
        with self._lock:
            if getattr(self, "_served", False):
                return
            self._served = True
        try:
            self.hook.environment_served(env=self)
        except Exception:
            self.log.exception("a plugin failed to start its work for a served project")

    def shutdown(self) -> None:
        if self._db is not None:
            self._db.dispose()
            self._db = None

    # -- creation
    @classmethod
    def create(cls, path: str, options: Iterable[tuple[str, str, str]] = (),
               inherit: str | None = None, default_data: bool = True) -> Environment:
        """Create a new environment; on any failure nothing is left behind."""
        path = os.path.abspath(path)
        if os.path.exists(path) and (not os.path.isdir(path) or os.listdir(path)):
            raise EnvironmentError_(f"{path}: already exists and is not an empty directory")
        parent = os.path.dirname(path)
        if not os.path.isdir(parent):
            raise EnvironmentError_(f"{parent}: no such directory")
        if not os.access(parent, os.W_OK):
            raise EnvironmentError_(f"{parent}: not writable")
        options = list(options)
        existed = os.path.isdir(path)
        created_db = None
        try:
            os.makedirs(path, exist_ok=True)
            for sub in SUBDIRS:
                os.makedirs(os.path.join(path, sub), exist_ok=True)
            with open(os.path.join(path, "VERSION"), "w", encoding="utf-8") as fh:
                fh.write(VERSION_TEXT + "\n")
            with open(os.path.join(path, "README"), "w", encoding="utf-8") as fh:
                fh.write(README_TEXT)
            sections: dict[str, dict[str, str]] = {}
            for section, name, value in options:
                sections.setdefault(section, {})[name] = value
            sections.setdefault("trac", {}).setdefault("database", "sqlite:db/trac.db")
            if inherit:
                if not os.path.exists(inherit):
                    raise EnvironmentError_(f"{inherit}: the file to inherit from does not exist")
                sections.setdefault("inherit", {})["file"] = inherit
            conf = os.path.join(path, "conf", "trac.ini")
            fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(format_ini(sections))
            env = cls(path)
            write_config_defaults(env)
            db_manager = env.database
            db_manager.check()
            if db_manager.url.scheme == "postgres":
                with db_manager.query() as db:
                    exists = db("SELECT 1 FROM pg_namespace WHERE nspname=%s", (db_manager.url.schema,))
                    if exists and db("SELECT 1 FROM information_schema.tables WHERE table_schema=%s",
                                     (db_manager.url.schema,)):
                        raise EnvironmentError_(
                            f"{db_manager.url.display()}: schema {db_manager.url.schema!r} already has tables"
                        )
            created_db = db_manager
            from codeyard.db.schema import TRAC_METADATA

            with env.db_transaction as db:
                db_manager.create_tables(db, TRAC_METADATA)
                db("INSERT INTO system (name, value) VALUES ('database_version', %s)", (str(DB_VERSION),))
                db("INSERT INTO system (name, value) VALUES ('initial_database_version', %s)", (str(DB_VERSION),))
                if default_data:
                    env.hook.environment_created(env=env, db=db)
            env.ensure_own_tables()
            return env
        except BaseException as exc:
            if created_db is not None:
                _drop_created_database(created_db)
                created_db.dispose()
            remove_created_tree(path, existed)
            if isinstance(exc, DatabaseError):
                raise EnvironmentError_(str(exc)) from None
            if isinstance(exc, OSError):
                raise EnvironmentError_(f"{exc.filename or path}: {exc.strerror}") from None
            raise


def write_config_defaults(env: Environment) -> None:
    """Complete a new trac.ini: the default of every option of the enabled plugins that no
    inherited file sets (so the file documents itself, as Trac's does), what plugins add
    beyond option defaults, and the sample file beside it."""
    config = env.config
    registry = env.options
    for option in registry:
        if (option.section, option.name) == ("inherit", "file"):
            continue
        if not config.has_option(option.section, option.name):
            config.set(option.section, option.name, option.default_text())
    env.hook.new_environment_config(config=config)
    config.save()
    with open(os.path.join(env.path, "conf", "trac.ini.sample"), "w", encoding="utf-8") as fh:
        fh.write(sample_ini(registry, PROJECT_NAME(config)))


def remove_created_tree(path: str, existed: bool) -> None:
    """Undo a directory a failed command filled: empty it if it existed before, else remove it."""
    if not existed:
        shutil.rmtree(path, ignore_errors=True)
        return
    for entry in os.listdir(path):
        full = os.path.join(path, entry)
        if os.path.isdir(full) and not os.path.islink(full):
            shutil.rmtree(full)
        else:
            os.unlink(full)


def _drop_created_database(manager: DatabaseManager) -> None:
    """Undo a half-made PostgreSQL schema (SQLite files go with the directory)."""
    if manager.url.scheme != "postgres":
        return
    try:
        with manager.transaction() as db:
            schema = manager.url.schema
            if schema != "public":
                db(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            else:
                from codeyard.db.schema import TRAC_TABLES

                for table in TRAC_TABLES:
                    db(f'DROP TABLE IF EXISTS "{table}" CASCADE')
    except Exception:  # pragma: no cover - best effort clean-up
        pass


def sqlite_backup(source: str, target: str) -> None:
    """A consistent copy of a live SQLite database (the online backup API)."""
    import sqlite3

    tmp = target + ".tmp"
    if os.path.exists(tmp):
        os.unlink(tmp)
    src = sqlite3.connect(source, timeout=30)
    try:
        dst = sqlite3.connect(tmp)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode = DELETE")
        finally:
            dst.close()
    finally:
        src.close()
    os.replace(tmp, target)


# ---------------------------------------------------------------------------
# Process-wide cache of opened environments (reopened when the directory is replaced)

_env_cache: dict[str, Environment] = {}
_env_cache_lock = threading.Lock()


def open_environment(path: str, use_cache: bool = True) -> Environment:
    path = os.path.abspath(path)
    if not use_cache:
        return Environment(path)
    with _env_cache_lock:
        env = _env_cache.get(path)
    if env is not None:
        if is_environment(path):
            env.refresh_config()
            return env
        stale = env
    else:
        stale = None
    with _env_cache_lock:
        env = _env_cache.get(path)
        if env is not None and env is stale:
            # The directory went away or was replaced: open it afresh.
            del _env_cache[path]
            env = None
        if env is None:
            env = Environment(path)
            _env_cache[path] = env
    return env


def forget_environment(path: str) -> None:
    with _env_cache_lock:
        env = _env_cache.pop(os.path.abspath(path), None)
    if env is not None:
        env.shutdown()
