"""The fields of a ticket: the standard ones and the ``[ticket-custom]`` ones, as Trac 1.6
defines them (names, types, labels, options, order).

``ticket_fields(env)`` is what the model, the workflow, the query language and the pages
agree on. Its options come from the ``enum``, ``component``, ``milestone`` and ``version``
tables and the workflow's states; it is cached under Trac's ``TicketSystem.fields`` key,
which every change to those tables bumps (here and in a Trac running beside us).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from codeyard import cachekeys
from codeyard.config import ConfigSection, as_bool

__all__ = ["TicketField", "ticket_fields", "custom_fields", "field_by_name", "FIELD_TYPES",
           "PROTECTED_FIELD_NAMES"]

FIELD_TYPES = ("text", "checkbox", "select", "radio", "textarea", "time")
FIELD_FORMATS = ("plain", "wiki", "reference", "list")
# Names a custom field may not take (Trac refuses them too).
PROTECTED_FIELD_NAMES = frozenset({
    "cc", "changetime", "comment", "component", "description", "id", "keywords", "milestone",
    "owner", "priority", "reporter", "resolution", "severity", "status", "summary", "time",
    "type", "version", "col", "row", "format", "max", "page", "verbose", "desc", "order",
    "groupdesc", "group", "report"})

TICKET_CUSTOM_SECTION = ConfigSection(
    "ticket-custom",
    "Custom ticket fields: `name = type` (text, checkbox, select, radio, textarea, time), "
    "with `name.label`, `name.value` (default), `name.options` (`|`-separated), "
    "`name.order`, `name.format` (plain, wiki, reference, list), `name.max_size`, "
    "`name.rows`, `name.cols`.")


@dataclass
class TicketField:
    """One ticket field. ``options`` for select and radio fields; ``value`` the default."""

    name: str
    type: str = "text"
    label: str = ""
    options: list[str] = field(default_factory=list)
    value: str = ""
    optional: bool = False  # a select that may stay empty
    order: int = 0
    custom: bool = False
    format: str = "plain"
    max_size: int = 0  # 0: [ticket] max_description_size / no limit
    rows: int = 0
    cols: int = 0
    skip: bool = False  # not edited in the fields box (summary, description, status…)

    def __post_init__(self) -> None:
        if not self.label:
            self.label = self.name.replace("_", " ").capitalize()


def _names(env, sql: str) -> list[str]:
    with env.db_query as db:
        return [row[0] for row in db(sql)]


def _standard_fields(env) -> list[TicketField]:
    from codeyard.ticket import values, workflow

    def enum(kind: str) -> list[str]:
        return [e.name for e in values.list_enum(env, kind)]

    fields = [
        TicketField("summary", "text", "Summary", skip=True),
        TicketField("reporter", "text", "Reporter", skip=True),
        TicketField("owner", "text", "Owner", skip=True),
        TicketField("description", "textarea", "Description", skip=True, format="wiki"),
        TicketField("type", "select", "Type", enum("ticket_type")),
        TicketField("status", "radio", "Status", workflow.all_states(env), skip=True),
        TicketField("priority", "select", "Priority", enum("priority")),
        TicketField("milestone", "select", "Milestone",
                    [m.name for m in values.list_milestones(env)], optional=True),
        TicketField("component", "select", "Component",
                    [c.name for c in values.list_components(env)]),
        TicketField("version", "select", "Version", [v.name for v in values.list_versions(env)],
                    optional=True),
        TicketField("severity", "select", "Severity", enum("severity")),
        TicketField("resolution", "radio", "Resolution", enum("resolution"), skip=True),
        TicketField("keywords", "text", "Keywords"),
        TicketField("cc", "text", "Cc"),
        TicketField("time", "time", "Created", skip=True),
        TicketField("changetime", "time", "Modified", skip=True),
    ]
    # Like Trac, an empty list of options hides the field (no severities: no severity field),
    # except for the fields every ticket has.
    return [f for f in fields
            if f.type not in ("select", "radio") or f.options
            or f.name in ("milestone", "version", "status", "resolution")]


def custom_fields(env) -> list[TicketField]:
    """The ``[ticket-custom]`` fields in their order (by ``.order``, then name)."""
    config = env.config
    out: list[TicketField] = []
    for name, value in config.options("ticket-custom"):
        if "." in name:
            continue
        kind = value.strip().lower()
        if kind not in FIELD_TYPES or name.lower() in PROTECTED_FIELD_NAMES or not name.isidentifier():
            env.log.warning("[ticket-custom] %s = %s: not a valid custom field; ignored", name, value)
            continue
        def get(key: str, default: str = "", name: str = name) -> str:
            return config.get("ticket-custom", f"{name}.{key}", default)

        options = [o.strip() for o in get("options").split("|")] if kind in ("select", "radio") else []
        optional = bool(options) and options[0] == ""
        options = [o for o in options if o]
        fmt = get("format", "plain").strip().lower()
        f = TicketField(name, kind, get("label").strip(), options, get("value"), optional,
                        _int(get("order", "0")), custom=True,
                        format=fmt if fmt in FIELD_FORMATS else "plain",
                        max_size=_int(get("max_size", "0")), rows=_int(get("rows", "0")),
                        cols=_int(get("cols", "0")))
        if kind == "checkbox":
            f.value = "1" if as_bool(f.value) else "0"
        out.append(f)
    out.sort(key=lambda f: (f.order, f.name))
    return out


def _int(text: str) -> int:
    try:
        return int(str(text).strip() or 0)
    except ValueError:
        return 0


def ticket_fields(env) -> list[TicketField]:
    """Every field, standard ones first, then the custom ones (copies: callers may change them)."""

    def compute() -> list[TicketField]:
        return _standard_fields(env)

    standard = env.cached(cachekeys.TICKET_FIELDS, compute)
    # Custom fields come from trac.ini, whose change reloads the environment's memo.
    custom = env.memo("ticket.custom_fields", lambda: custom_fields(env))
    return [TicketField(**vars(f)) for f in (*standard, *custom)]


def field_by_name(env, name: str) -> TicketField | None:
    for f in ticket_fields(env):
        if f.name == name:
            return f
    return None
