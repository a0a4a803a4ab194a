"""URL building relative to a base path: ``href('wiki', 'Page', version=2)``."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, quote_plus

# Characters left unquoted, as Trac leaves them, so links compare equal across the two.
PATH_SAFE = "/!~*'()"
QUERY_SAFE = "!~*'()"


def query_string(query: dict[str, Any], params: list[tuple[str, Any]] | None = None) -> str:
    """``?a=1&b=2`` from keyword values as Href writes them (sorted by name, ``None`` dropped,
    lists repeated, ``True`` as an empty value, a trailing ``_`` stripped); "" when empty."""
    if not query and not params:
        return ""
    params = list(params) if params else []
    for name, value in sorted(query.items()) if len(query) > 1 else query.items():
        if value is None:
            continue
        if name[-1:] == "_":
            name = name[:-1]
        if isinstance(value, _SEQUENCES):
            params.extend((name, v) for v in value)
        else:
            params.append((name, value))
    if not params:
        return ""
    return "?" + "&".join([f"{_query_quote(k)}={_query_quote('' if v is True else str(v))}"
                           for k, v in params])


_SEQUENCES = (list, tuple)


_QUERY_PLAIN = re.compile(r"[A-Za-z0-9_.~!*'()-]*\Z")


def _query_quote(text: str) -> str:
    """``text`` quoted for a query string exactly as ``urlencode(..., safe=QUERY_SAFE)``
    quotes it; most names and values need nothing, and are passed as they are."""
    return text if _QUERY_PLAIN.match(text) else quote_plus(text, safe=QUERY_SAFE)


class Href:
    """Builds URLs under ``base`` (a path like ``/projects/demo`` or an absolute URL).

    Positional arguments are path segments (quoted, ``/`` kept inside a segment), keyword
    arguments the query string, sorted by name (``None`` values dropped, lists repeated, a
    trailing ``_`` stripped so ``class_`` works). Attribute access makes a sub-builder: ``href.wiki('Page')``.
    """

    def __init__(self, base: str = "") -> None:
        self.base = base.rstrip("/")

    def __call__(self, *path: Any, **query: Any) -> str:
        params: list[tuple[str, Any]] = []
        segments = []
        for part in path:
            if isinstance(part, dict):
                query = {**part, **query}
                continue
            if isinstance(part, list | tuple) and part and isinstance(part[0], tuple):
                params.extend(part)
                continue
            if part is None or part == "":
                continue
            segments.append(quote(str(part).strip("/") if str(part) != "/" else "", safe=PATH_SAFE))
        url = self.base + ("/" + "/".join(s for s in segments if s) if any(segments) else "")
        return (url or "/") + query_string(query, params)

    def __getattr__(self, name: str) -> Href:
        if name.startswith("__"):
            raise AttributeError(name)
        return Href(self.base + "/" + quote(name))

    def __repr__(self) -> str:
        return f"Href({self.base!r})"
