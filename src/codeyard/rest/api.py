"""Hooks of the JSON REST API under ``/api/v1``, and what an endpoint is.

Each feature offers its operations with ``rest_endpoints``: a list of ``Endpoint``. An
endpoint names its method, its path template (``/tickets/{id}``), the permission its
page needs (shown in the documentation; the handler checks it as the page does), its
parameters and the JSON schemas of its request and response bodies. The OpenAPI document
and the endpoint page are generated from these declarations, and the dispatcher checks
the parameters and the body against them before the handler runs.

A handler takes a ``Call`` and returns a JSON value (sent with the endpoint's status), a
``Paged`` list (for ``paged`` endpoints), a ``Reply`` (its own status and headers), or a Werkzeug ``Response`` (raw downloads).
It raises ``ApiError`` (or a ``PermissionError_``) for a refusal.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from codeyard.core import hookspec


@hookspec
def rest_endpoints():
    """Return Endpoint objects: the operations a plugin offers in the JSON REST API under /api/v1."""


API_PREFIX = "/api/v1"
DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 100


class ApiError(Exception):
    """A refusal answered as ``{"error": {"status": …, "message": …}}``."""

    def __init__(self, status: int, message: str, headers: list[tuple[str, str]] | None = None
                 ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = list(headers or [])


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def not_found(message: str) -> ApiError:
    return ApiError(404, message)


def conflict(message: str) -> ApiError:
    return ApiError(409, message)


@dataclass
class Param:
    """A path or query parameter; ``schema`` is its JSON schema (``{"type": "integer"}``)."""

    name: str
    where: str = "query"  # "path" or "query"
    schema: dict = field(default_factory=lambda: {"type": "string"})
    description: str = ""
    required: bool = False


@dataclass
class Endpoint:
    """One operation: ``method`` and ``path`` (``/tickets/{id}``; ``{name:path}`` takes
    slashes), served under /api/v1."""

    method: str
    path: str
    summary: str
    handler: Callable[[Call], Any]
    tag: str
    permission: str | None = None
    params: list[Param] = field(default_factory=list)
    request_schema: dict | None = None
    response_schema: dict | None = None
    status: int = 200
    paged: bool = False
    raw_body: bool = False  # the body is the bytes of a file (an upload), not JSON
    raw_response: str | None = None  # media type of a raw answer (a download)

    @property
    def operation_id(self) -> str:
        words = re.findall(r"[A-Za-z0-9]+", self.path.replace(":path", ""))
        return self.method.lower() + "".join(w[:1].upper() + w[1:] for w in words)

    @property
    def openapi_path(self) -> str:
        return re.sub(r"\{(\w+):path\}", r"{\1}", self.path)

    @property
    def rule_path(self) -> str:
        """The Werkzeug rule of the path (below /api/v1)."""
        def convert(match: re.Match) -> str:
            name, kind = match.group(1), match.group(2)
            return f"<path:{name}>" if kind == "path" else f"<{name}>"

        return re.sub(r"\{(\w+)(?::(\w+))?\}", convert, self.path)

    def path_params(self) -> list[str]:
        return re.findall(r"\{(\w+)(?::\w+)?\}", self.path)

    def all_params(self) -> list[Param]:
        declared = {p.name for p in self.params}
        found = list(self.params)
        for name in self.path_params():
            if name not in declared:
                found.insert(0, Param(name, "path", {"type": "string"}, required=True))
        if self.paged:
            found += [Param("page", "query", {"type": "integer", "minimum": 1},
                            "Page number, from 1."),
                      Param("per_page", "query",
                            {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE},
                            f"Items per page (default {DEFAULT_PER_PAGE}).")]
        return found


@dataclass
class Paged:
    """One page of a list: its items and the number of items of every page."""

    items: list
    total: int


@dataclass
class Reply:
    """A JSON value with its own status and headers (a 201 with its Location, an ETag)."""

    value: Any
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Call:
    """What a handler gets: the request, the checked arguments (path and query, by
    name, converted to their schema's type), the JSON body and the paging."""

    req: Any
    endpoint: Endpoint
    args: dict[str, Any]
    body: Any = None
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE
    if_match: str | None = None

    @property
    def env(self):
        return self.req.env

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    def page_of(self, items: list) -> Paged:
        """The current page of a whole list."""
        return Paged(items[self.offset:self.offset + self.per_page], len(items))


def all_endpoints(env) -> list[Endpoint]:
    """Every endpoint of the enabled plugins, in path then method order (a method and
    path offered twice: the first offer wins)."""
    def compute() -> list[Endpoint]:
        found: dict[tuple[str, str], Endpoint] = {}
        for offered in env.hook.rest_endpoints():
            for endpoint in offered or ():
                found.setdefault((endpoint.openapi_path, endpoint.method.upper()), endpoint)
        order = {"GET": 0, "POST": 1, "PUT": 2, "PATCH": 3, "DELETE": 4}
        return sorted(found.values(), key=lambda e: (e.tag, e.openapi_path,
                                                     order.get(e.method.upper(), 9)))

    return env.memo("rest.endpoints", compute)


# ---------------------------------------------------------------------------
# JSON values and schemas

def iso(us: int | None) -> str | None:
    """Trac's microseconds since the epoch as an ISO 8601 UTC time (None stays None)."""
    if not us:
        return None
    return datetime.fromtimestamp(us / 1_000_000, UTC).isoformat().replace("+00:00", "Z")


def iso_datetime(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_time(text: Any, what: str) -> int | None:
    """An ISO 8601 time (naive = UTC) as microseconds; null or "" as None."""
    if text in (None, ""):
        return None
    if not isinstance(text, str):
        raise bad_request(f"{what} must be an ISO 8601 date and time")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise bad_request(f"{what}: {text!r} is not an ISO 8601 date and time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1_000_000)


def obj(properties: dict[str, dict], required: tuple[str, ...] = (), extra: bool = False,
        **more: Any) -> dict:
    """A JSON schema of an object (no other properties unless ``extra``)."""
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    if not extra:
        schema["additionalProperties"] = False
    schema.update(more)
    return schema


STR: dict = {"type": "string"}
INT: dict = {"type": "integer"}
BOOL: dict = {"type": "boolean"}
TIME: dict = {"type": ["string", "null"], "format": "date-time"}
OPT_STR: dict = {"type": ["string", "null"]}


def array(items: dict) -> dict:
    return {"type": "array", "items": items}


_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "null": lambda v: v is None,
}


def check(value: Any, schema: dict, where: str = "body") -> None:
    """Check ``value`` against the subset of JSON Schema the endpoints use (type, enum,
    properties, required, additionalProperties, patternProperties, items, minimum,
    maximum, minLength); raise a 400 naming the first place that differs."""
    kinds = schema.get("type")
    if kinds is not None:
        names = [kinds] if isinstance(kinds, str) else list(kinds)
        if not any(_TYPES[k](value) for k in names):
            raise bad_request(f"{where} must be {' or '.join(names)}, not {_json_type(value)}")
    if "enum" in schema and value not in schema["enum"]:
        raise bad_request(f"{where} must be one of {', '.join(map(str, schema['enum']))}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            raise bad_request(f"{where} must be at least {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            raise bad_request(f"{where} must be at most {schema['maximum']}")
    if isinstance(value, str) and len(value) < schema.get("minLength", 0):
        raise bad_request(f"{where} must not be empty")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for name in schema.get("required", ()):
            if name not in value:
                raise bad_request(f"{where}: the field {name!r} is missing")
        patterns = schema.get("patternProperties", {})
        for name, item in value.items():
            inner = f"{where}.{name}"
            if name in props:
                check(item, props[name], inner)
                continue
            matched = [s for p, s in patterns.items() if re.search(p, name)]
            if matched:
                check(item, matched[0], inner)
            elif isinstance(schema.get("additionalProperties"), dict):
                check(item, schema["additionalProperties"], inner)
            elif schema.get("additionalProperties") is False:
                known = ", ".join(props) or "none"
                raise bad_request(f"{where}: unknown field {name!r} (known: {known})")
    if isinstance(value, list) and "items" in schema:
        for n, item in enumerate(value):
            check(item, schema["items"], f"{where}[{n}]")


def _json_type(value: Any) -> str:
    for name, test in _TYPES.items():
        if name != "number" and test(value):
            return name
    return "number" if isinstance(value, float) else type(value).__name__
