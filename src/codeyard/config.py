"""trac.ini: reading, typed options, inheritance, writing that keeps what it does not know.

Options are declared once, next to the code that reads them, with a type, a default and a
doc string. A declaration registers nothing by itself: each plugin names the declarations it
reads (the ``config_options`` hook, usually ``options_in(module, ...)``), and an
environment's ``OptionRegistry`` holds those of its *enabled* plugins. From it come the
defaults written into a new ``trac.ini``, the sample file and the option reference (the
``TracIni`` macro), the same whatever a process happened to import before.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "BoolOption",
    "ChoiceOption",
    "ConfigSection",
    "ConfigError",
    "Configuration",
    "FloatOption",
    "IntOption",
    "ListOption",
    "Option",
    "OptionRegistry",
    "PathOption",
    "options_in",
]

TRUE_WORDS = {"yes", "true", "enabled", "on", "aye", "1"}
FALSE_WORDS = {"no", "false", "disabled", "off", "nay", "0", ""}


class ConfigError(Exception):
    """A configuration file or value that cannot be used."""


def as_bool(value: Any, default: bool = False) -> bool:
    if isinstance(value, bool):
        return value
    if value is None:
        return default
    text = str(value).strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    return default


def as_list(value: Any, sep: str = ",", keep_empty: bool = False) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        items = [str(v) for v in value]
    else:
        items = []
        for part in str(value).split(sep) if sep else str(value).split():
            items.append(part)
    items = [i.strip() for i in items]
    return items if keep_empty else [i for i in items if i]


# ---------------------------------------------------------------------------
# Option declarations


@dataclass
class Option:
    """A documented ``[section] name`` option with a default, read through a config."""

    section: str
    name: str
    default: Any = ""
    doc: str = ""

    kind = "text"

    def convert(self, raw: str) -> Any:
        return raw

    def __call__(self, config: Configuration) -> Any:
        raw = config.get(self.section, self.name, None)
        if raw is None:
            return self.default
        try:
            return self.convert(raw)
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"[{self.section}] {self.name}: {raw!r} is not a valid {self.kind} ({exc})"
            ) from None

    def default_text(self) -> str:
        if isinstance(self.default, bool):
            return "enabled" if self.default else "disabled"
        if isinstance(self.default, list | tuple):
            return ",".join(str(v) for v in self.default)
        return "" if self.default is None else str(self.default)


@dataclass
class BoolOption(Option):
    default: Any = False
    kind = "boolean"

    def convert(self, raw: str) -> bool:
        return as_bool(raw, bool(self.default))


@dataclass
class IntOption(Option):
    default: Any = 0
    kind = "integer"

    def convert(self, raw: str) -> int:
        return int(raw.strip()) if raw.strip() else int(self.default)


@dataclass
class FloatOption(Option):
    default: Any = 0.0
    kind = "number"

    def convert(self, raw: str) -> float:
        return float(raw.strip()) if raw.strip() else float(self.default)


@dataclass
class ListOption(Option):
    default: Any = ()
    sep: str = ","
    kind = "list"

    def convert(self, raw: str) -> list[str]:
        return as_list(raw, self.sep)

    def __call__(self, config: Configuration) -> Any:
        value = super().__call__(config)
        return list(value) if isinstance(value, tuple) else value


@dataclass
class ChoiceOption(Option):
    choices: tuple[str, ...] = ()
    kind = "choice"

    def __post_init__(self) -> None:
        if not self.default and self.choices:
            self.default = self.choices[0]

    def convert(self, raw: str) -> str:
        value = raw.strip()
        for choice in self.choices:
            if value.lower() == choice.lower():
                return choice
        raise ValueError(f"expected one of {', '.join(self.choices)}")


@dataclass
class PathOption(Option):
    """A path; relative paths are resolved against the directory of the trac.ini file."""

    kind = "path"

    def __call__(self, config: Configuration) -> Any:
        raw = config.get(self.section, self.name, None)
        value = self.default if raw is None else raw
        if not value:
            return value
        return config.resolve_path(self.section, self.name, value)


@dataclass(frozen=True)
class ConfigSection:
    """The doc string of a whole ``[section]`` (for sections of free-form options)."""

    name: str
    doc: str


Declaration = Option | ConfigSection


def options_in(*namespaces: Any) -> list[Declaration]:
    """The option and section declarations found in modules (or classes), in name order."""
    found: list[Declaration] = []
    for namespace in namespaces:
        for attr in sorted(vars(namespace)):
            value = getattr(namespace, attr)
            if isinstance(value, Option | ConfigSection) and value not in found:
                found.append(value)
    return found


class OptionRegistry:
    """The declared options of one environment's enabled plugins, by (section, name)."""

    def __init__(self, declarations: Iterable[Declaration] = ()) -> None:
        self._options: dict[tuple[str, str], Option] = {}
        self.section_docs: dict[str, str] = {}
        for declaration in declarations:
            self.add(declaration)

    def add(self, declaration: Declaration) -> None:
        if isinstance(declaration, ConfigSection):
            self.section_docs[declaration.name] = declaration.doc
        else:
            self._options[(declaration.section, declaration.name)] = declaration

    def get(self, section: str, name: str) -> Option | None:
        return self._options.get((section, name))

    def __iter__(self):
        return iter(sorted(self._options.values(), key=lambda o: (o.section, o.name)))

    def __len__(self) -> int:
        return len(self._options)

    def sections(self) -> list[str]:
        return sorted({o.section for o in self._options.values()} | set(self.section_docs))

    def defaults(self) -> dict[str, dict[str, str]]:
        """Every option's default, as trac.ini sections."""
        sections: dict[str, dict[str, str]] = {}
        for option in self:
            sections.setdefault(option.section, {})[option.name] = option.default_text()
        return sections


_EMPTY_REGISTRY = OptionRegistry()


# ---------------------------------------------------------------------------
# Parsing and writing

_SECTION_RE = re.compile(r"^\[(?P<name>[^\]]+)\]\s*$")
_OPTION_RE = re.compile(r"^(?P<name>[^=:\s][^=:]*?)\s*[=:]\s?(?P<value>.*)$")


def parse_ini(text: str, filename: str = "trac.ini") -> dict[str, dict[str, str]]:
    """Parse INI text the way Trac's (ConfigParser-based) reader accepts it."""
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    last_name: str | None = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip("\r\n")
        stripped = line.strip()
        if not stripped or stripped[0] in "#;":
            last_name = None if not stripped else last_name
            continue
        if line[0] in " \t" and current is not None and last_name is not None:
            current[last_name] += "\n" + stripped
            continue
        match = _SECTION_RE.match(stripped)
        if match:
            name = match.group("name").strip()
            current = sections.setdefault(name, {})
            last_name = None
            continue
        match = _OPTION_RE.match(stripped)
        if match and current is not None:
            last_name = match.group("name").strip()
            current[last_name] = match.group("value").strip()
            continue
        if current is None:
            raise ConfigError(f"{filename}, line {lineno}: an option outside any [section]: {stripped!r}")
        raise ConfigError(f"{filename}, line {lineno}: cannot read {stripped!r}")
    return sections


def format_ini(sections: dict[str, dict[str, str]]) -> str:
    out = ["# -*- coding: utf-8 -*-", ""]
    for section in sorted(sections):
        options = sections[section]
        if not options:
            continue
        out.append(f"[{section}]")
        for name in sorted(options):
            value = options[name]
            value = value.replace("\n", "\n ") if value else value
            out.append(f"{name} = {value}" if value != "" else f"{name} = ")
        out.append("")
    return "\n".join(out)


def write_atomically(path: str, data: str, mode: int | None = None) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(data)
        if mode is None and os.path.exists(path):
            mode = os.stat(path).st_mode & 0o7777
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class Configuration:
    """One trac.ini file plus the files it inherits from.

    Values are strings as written; typed access goes through option declarations or the
    ``get*`` helpers. ``reload_if_changed`` is a cheap stat that every request makes, so a
    file edited by hand or by another process is picked up without a restart.
    """

    def __init__(self, filename: str, parents: Iterable[Configuration] = ()) -> None:
        self.filename = os.path.abspath(filename)
        self.sections: dict[str, dict[str, str]] = {}
        self.parents: list[Configuration] = list(parents)
        self._extra_parents = list(self.parents)
        self._stamp: tuple = ()
        self.listeners: list[Callable[[Configuration], None]] = []
        # Where the declared options come from whose defaults ``get*`` fall back to: the
        # environment sets it to its enabled plugins' registry.
        self.registry_source: Callable[[], OptionRegistry] | None = None
        self.parse()

    @property
    def registry(self) -> OptionRegistry:
        return self.registry_source() if self.registry_source is not None else _EMPTY_REGISTRY

    # -- loading
    def _file_stamp(self) -> tuple:
        stamps: list[object] = []
        try:
            st = os.stat(self.filename)
            stamps.append((st.st_mtime_ns, st.st_size))
        except FileNotFoundError:
            stamps.append(None)
        for parent in self.parents:
            stamps.append(parent._file_stamp())
        return tuple(stamps)

    def parse(self) -> None:
        if os.path.exists(self.filename):
            try:
                with open(self.filename, encoding="utf-8") as fh:
                    text = fh.read()
            except UnicodeDecodeError as exc:
                raise ConfigError(f"{self.filename}: not UTF-8 text ({exc})") from None
            except OSError as exc:
                raise ConfigError(f"{self.filename}: {exc.strerror}") from None
            self.sections = parse_ini(text, self.filename)
        else:
            self.sections = {}
        parents = list(self._extra_parents)
        for name in as_list(self.sections.get("inherit", {}).get("file", "")):
            path = name if os.path.isabs(name) else os.path.join(os.path.dirname(self.filename), name)
            path = os.path.abspath(path)
            if path == self.filename or any(p.filename == path for p in parents):
                continue
            if not os.path.exists(path):
                raise ConfigError(f"{self.filename}: [inherit] file {name!r} does not exist")
            parents.append(Configuration(path))
        self.parents = parents
        self._stamp = self._file_stamp()

    def reload_if_changed(self) -> bool:
        if self._file_stamp() != self._stamp:
            self.parse()
            for listener in list(self.listeners):
                listener(self)
            return True
        return False

    # -- reading
    def has_option(self, section: str, name: str) -> bool:
        if name in self.sections.get(section, {}):
            return True
        return any(p.has_option(section, name) for p in self.parents)

    def get(self, section: str, name: str, default: Any = "") -> Any:
        if name in self.sections.get(section, {}):
            return self.sections[section][name]
        for parent in self.parents:
            if parent.has_option(section, name):
                return parent.get(section, name)
        if default == "":
            option = self.registry.get(section, name)
            if option is not None:
                return option.default_text()
        return default

    def getbool(self, section: str, name: str, default: bool | None = None) -> bool:
        raw = self.get(section, name, None)
        if raw is None:
            option = self.registry.get(section, name)
            if default is None and option is not None:
                return bool(option.default)
            return bool(default)
        return as_bool(raw, bool(default))

    def getint(self, section: str, name: str, default: int | None = None) -> int:
        raw = self.get(section, name, None)
        if raw is None or str(raw).strip() == "":
            option = self.registry.get(section, name)
            if default is None and option is not None:
                return int(option.default)
            return int(default or 0)
        try:
            return int(str(raw).strip())
        except ValueError:
            raise ConfigError(f"[{section}] {name}: {raw!r} is not an integer") from None

    def getlist(self, section: str, name: str, default: Any = None, sep: str = ",") -> list[str]:
        raw = self.get(section, name, None)
        if raw is None:
            option = self.registry.get(section, name)
            if default is None and option is not None:
                return as_list(option.default, sep)
            return as_list(default, sep)
        return as_list(raw, sep)

    def options(self, section: str) -> list[tuple[str, str]]:
        """Own and inherited options of a section (own values win), sorted by name."""
        merged: dict[str, str] = {}
        for parent in reversed(self.parents):
            merged.update(dict(parent.options(section)))
        merged.update(self.sections.get(section, {}))
        return sorted(merged.items())

    def section_names(self) -> list[str]:
        names = set(self.sections)
        for parent in self.parents:
            names.update(parent.section_names())
        return sorted(names)

    def resolve_path(self, section: str, name: str, value: str) -> str:
        if os.path.isabs(value):
            return value
        owner = self
        if name not in self.sections.get(section, {}):
            for parent in self.parents:
                if parent.has_option(section, name):
                    owner = parent
                    break
        return os.path.normpath(os.path.join(os.path.dirname(owner.filename), value))

    # -- writing
    def set(self, section: str, name: str, value: Any) -> None:
        if isinstance(value, bool):
            value = "enabled" if value else "disabled"
        elif isinstance(value, list | tuple):
            value = ",".join(str(v) for v in value)
        elif value is None:
            value = ""
        self.sections.setdefault(section, {})[name] = str(value)

    def remove(self, section: str, name: str | None = None) -> None:
        if name is None:
            self.sections.pop(section, None)
        elif section in self.sections:
            self.sections[section].pop(name, None)

    def save(self) -> None:
        """Write own values (inherited ones stay in their files), atomically."""
        directory = os.path.dirname(self.filename)
        if not os.path.isdir(directory):
            raise ConfigError(f"{directory}: no such directory")
        mode = None if os.path.exists(self.filename) else 0o600
        write_atomically(self.filename, format_ini(self.sections), mode)
        self._stamp = self._file_stamp()
        for listener in list(self.listeners):  # this process's derived state follows at once
            listener(self)


def sample_ini(registry: OptionRegistry, project_name: str = "My Project") -> str:
    """Every declared option with its default, for a sample file."""
    sections = registry.defaults()
    sections.setdefault("project", {})["name"] = project_name
    return format_ini(sections)
