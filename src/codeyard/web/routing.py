"""A project's URL map: the routes of its enabled plugins, for matching requests and for
building URLs from route names (``req.url_for`` and ``url_for`` in templates)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from werkzeug.routing import Map, PathConverter, Rule, UnicodeConverter

from codeyard.util.href import PATH_SAFE, query_string

__all__ = ["DEFAULT_HANDLER_ENDPOINT", "Router", "router"]

# The project's root ("/"): the start page chosen by ``[trac] default_handler``.
DEFAULT_HANDLER_ENDPOINT = "start"


class TracPathConverter(PathConverter):
    """``<path:…>``, quoted as Trac quotes paths, so built URLs equal Trac's (and TracLinks')."""

    def to_url(self, value: Any) -> str:
        return quote(str(value), safe=PATH_SAFE)


class TracStringConverter(UnicodeConverter):
    """A single path segment (``<name>``), quoted as Trac quotes paths."""

    def to_url(self, value: Any) -> str:
        return quote(str(value), safe=PATH_SAFE.replace("/", ""))


class Router:
    """The URL map of a project's enabled plugins: matching requests and building URLs.

    An endpoint names one handler; several rules may lead to it (``/wiki`` and
    ``/wiki/<path:page>``), and ``build`` picks the rule that the given values fill."""

    def __init__(self, env) -> None:
        self.handlers: dict[str, Any] = {}
        self.arguments: dict[str, set[str]] = {}
        rules: list[Rule] = [Rule("/", endpoint=DEFAULT_HANDLER_ENDPOINT, methods=["GET", "HEAD"])]
        for result in env.hook.web_routes():
            for rule, handler in result or ():
                known = self.handlers.get(rule.endpoint)
                if known is not None and known is not handler:
                    env.log.warning("two plugins route endpoint %s; the first one wins", rule.endpoint)
                    continue
                if rule.methods is None:  # a rule that names no methods answers GET (and HEAD)
                    rule.methods = {"GET", "HEAD"}
                self.handlers[rule.endpoint] = handler
                rules.append(rule)
        self.map = Map(rules, strict_slashes=False, merge_slashes=False,
                       converters={"default": TracStringConverter, "string": TracStringConverter,
                                   "path": TracPathConverter})
        for rule in self.map.iter_rules():
            self.arguments.setdefault(rule.endpoint, set()).update(rule.arguments)
        self._builder = self.map.bind("localhost", "/")

    def bind(self, environ: dict):
        """The matcher for one request."""
        return self.map.bind_to_environ(environ)

    def build(self, endpoint: str, values: dict[str, Any]) -> str:
        """The path (below the project) of ``endpoint`` with ``values``; values that are not
        arguments of its rules make the query string, as ``Href`` writes it."""
        names = self.arguments.get(endpoint)
        if names is None:
            raise LookupError(f"no route named {endpoint!r} in this project")
        path_values = {k: v for k, v in values.items() if k in names and v is not None}
        query = {k: v for k, v in values.items() if k not in names}
        path = self._builder.build(endpoint, path_values, append_unknown=False)
        return path + query_string(query)


def router(env) -> Router:
    return env.memo("web.router", lambda: Router(env))
