"""Hooks of the RPC interface, and what a method is.

Each feature offers its namespace (``wiki.*``, ``ticket.*``, …) with ``rpc_methods``: a
list of ``RpcMethod``. The functions take ``(req, *args)`` where ``args`` are the XML-RPC
or JSON-RPC parameters, already decoded (``datetime`` for dates, ``bytes`` for binary
data), and return plain values (str, int, bool, float, list, dict, datetime, bytes).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from codeyard.core import hookspec


@hookspec
def rpc_methods():
    """Return RpcMethod objects: the XML-RPC / JSON-RPC methods a plugin offers (``wiki.getPage``, …)."""


# The version triple XmlRpcPlugin answers to system.getAPIVersion (its release 1.1.9).
API_VERSION = [1, 1, 9]

# XmlRpcPlugin's fault codes.
PARSE_ERROR = -32700
METHOD_NOT_FOUND = -32601
INTERNAL_ERROR = -32603
FORBIDDEN = 403
NOT_FOUND = 404
GENERIC = 1

TYPE_NAMES: dict[Any, str] = {
    int: "int", bool: "boolean", str: "string", float: "double", list: "array",
    dict: "struct", datetime: "dateTime.iso8601", bytes: "base64", None: "nil",
}


class RpcError(Exception):
    """A fault with its code and message (``name`` is the JSON-RPC error name)."""

    def __init__(self, message: str, code: int = GENERIC, name: str = "JSONRPCError") -> None:
        super().__init__(message)
        self.code = code
        self.name = name


class MethodNotFound(RpcError):
    def __init__(self, name: str) -> None:
        super().__init__(f'RPC method "{name}" not found', METHOD_NOT_FOUND)


class NotFound(RpcError):
    def __init__(self, message: str) -> None:
        super().__init__(message, NOT_FOUND, "ResourceNotFound")


@dataclass
class RpcMethod:
    """``name`` (``wiki.getPage``), ``func(req, *args)``, its ``signatures`` as lists of
    types (return type first, as the plugin declares them) and the ``permission`` every
    call needs besides XML_RPC. The help is the function's docstring."""

    name: str
    func: Callable[..., Any]
    signatures: list[list[Any]] = field(default_factory=list)
    permission: str | None = None

    @property
    def description(self) -> str:
        return inspect.getdoc(self.func) or ""

    def signature_text(self) -> str:
        """``array wiki.getAllPages()``, with the parameter names and defaults."""
        params = list(inspect.signature(self.func).parameters.values())[1:]
        longest = max(self.signatures, key=len) if self.signatures else [None]
        args = []
        for i, p in enumerate(params):
            kind = TYPE_NAMES.get(longest[i + 1], "") if i + 1 < len(longest) else ""
            text = f"{kind} {p.name}".strip()
            if p.default is not inspect.Parameter.empty:
                text += f"={p.default!r}"
            args.append(text)
        return f"{TYPE_NAMES.get(longest[0], 'any')} {self.name}({', '.join(args)})"

    def signature_strings(self) -> list[str]:
        return [",".join(TYPE_NAMES.get(t, "any") for t in sig) for sig in self.signatures]

    def check_args(self, args: list) -> None:
        try:
            inspect.signature(self.func).bind(None, *args)
        except TypeError:
            params = list(inspect.signature(self.func).parameters.values())[1:]
            needed = sum(1 for p in params if p.default is inspect.Parameter.empty)
            raise RpcError(f"{self.name}() takes {needed}"
                           + (f" to {len(params)}" if len(params) > needed else "")
                           + f" arguments ({len(args)} given)") from None


def all_methods(env) -> dict[str, RpcMethod]:
    """Every method of the enabled plugins, by name (kept until the plugins change)."""
    def compute() -> dict[str, RpcMethod]:
        found: dict[str, RpcMethod] = {}
        for offered in env.hook.rpc_methods():
            for method in offered or ():
                found.setdefault(method.name, method)
        return dict(sorted(found.items()))

    return env.memo("rpc.methods", compute)


# Argument helpers for method implementations

def want(value: Any, kind: type | tuple, what: str) -> Any:
    """``value`` if it is of ``kind``, else a fault naming the argument."""
    if isinstance(value, bool) and kind in (int, (int,)):
        raise RpcError(f"{what} must be an integer, not a boolean")
    if not isinstance(value, kind):
        names = (kind,) if isinstance(kind, type) else kind
        raise RpcError(f"{what} must be {' or '.join(TYPE_NAMES.get(k, k.__name__) for k in names)}"
                       f", not {TYPE_NAMES.get(type(value), type(value).__name__)}")
    return value


def to_datetime(us: int | None) -> datetime:
    """Trac's microseconds since the epoch as an aware UTC datetime."""
    return datetime.fromtimestamp((us or 0) / 1_000_000, UTC)


def to_us(moment: Any, what: str = "since") -> int:
    """An RPC date (datetime, naive = UTC, or an int of seconds) in microseconds."""
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return int(moment.timestamp() * 1_000_000)
    if isinstance(moment, int) and not isinstance(moment, bool):
        return moment * 1_000_000
    raise RpcError(f"{what} must be a dateTime.iso8601")
