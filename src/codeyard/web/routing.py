"""A project's URL map: the routes of its enabled plugins, for matching requests and for
building URLs from route names (``req.url_for`` and ``url_for`` in templates)."""

from __future__ import annotations

import re
import threading
from typing import Any
from urllib.parse import quote

from werkzeug.routing import Map, PathConverter, Rule, UnicodeConverter

from codeyard.util.href import PATH_SAFE, query_string
from codeyard.util.lru import BoundedCache

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
        compiled = _compiled_maps.get_or_make(tuple(_rule_key(r) for r in rules),
                                              lambda: _CompiledMap(rules))
        self.map = compiled.map
        self.arguments = compiled.arguments
        self._builder = compiled.builder
        self._templates = compiled.templates
        self._single = compiled.single

    def bind(self, environ: dict):
        """The matcher for one request."""
        return self.map.bind_to_environ(environ)

    def build(self, endpoint: str, values: dict[str, Any]) -> str:
        """The path (below the project) of ``endpoint`` with ``values``; values that are not
        arguments of its rules make the query string, as ``Href`` writes it."""
        if len(values) == 1:  # the common case (a page, a ticket): one path argument
            for name, value in values.items():
                plan = self.single_plan(endpoint, name)
                if plan is not None and value is not None and value != "":
                    return plan[0] + plan[1](value) + plan[2]
        names = self.arguments.get(endpoint)
        if names is None:
            raise LookupError(f"no route named {endpoint!r} in this project")
        path_values = {k: v for k, v in values.items() if k in names and v is not None}
        query = {k: v for k, v in values.items() if k not in names}
        key = (endpoint, frozenset(path_values))
        template = self._templates.get(key, _UNSET)
        if template is _UNSET:
            template = self._templates[key] = self._template(endpoint, path_values)
        if template is None or "" in path_values.values():  # werkzeug's own way with ""
            path = self._builder.build(endpoint, path_values, append_unknown=False)
        else:
            parts, order, quoters = template
            pieces = [parts[0]]
            for i, name in enumerate(order):
                pieces.append(quoters[i](path_values[name]))
                pieces.append(parts[i + 1])
            path = "".join(pieces)
        return path + query_string(query)

    def single_plan(self, endpoint: str, name: str) -> tuple | None:
        """(text before, quoting, text after) of ``endpoint`` built from ``name`` alone, for
        building many such URLs; None when that takes the general way (``build``). An empty
        or None value always takes the general way."""
        plan = self._single.get((endpoint, name), _UNSET)
        if plan is _UNSET:
            plan = self._single[(endpoint, name)] = self._single_plan(endpoint, name)
        return plan

    def _single_plan(self, endpoint: str, name: str) -> tuple | None:
        """(text before, quoting, text after) when ``name`` alone fills a rule of
        ``endpoint`` (see ``_template``); None when building takes the general way."""
        if name not in self.arguments.get(endpoint, ()):
            return None
        template = self._templates.get((endpoint, frozenset((name,))), _UNSET)
        if template is _UNSET:
            template = self._templates[(endpoint, frozenset((name,)))] = self._template(
                endpoint, {name: None})
        if template is None:
            return None
        parts, _order, quoters = template
        return parts[0], quoters[0], parts[1]

    def _template(self, endpoint: str, path_values: dict[str, Any]) -> Any:
        """What building ``endpoint`` with these argument names always gives, when one rule
        without defaults takes exactly them (werkzeug then always picks that rule)."""
        wanted = set(path_values)
        rules = [r for r in self.map.iter_rules(endpoint)
                 if set(r.arguments) == wanted and not r.defaults]
        if len(rules) != 1:
            return None
        names = sorted(wanted)
        tokens = {name: f"zq{i}qz" for i, name in enumerate(names)}
        built = self._builder.build(endpoint, tokens, append_unknown=False)
        pieces = _TOKEN.split(built)
        parts, found = pieces[0::2], [names[int(i)] for i in pieces[1::2]]
        if sorted(found) != names:
            return None
        converters = rules[0]._converters
        return parts, found, [converters[name].to_url for name in found]


class _CompiledMap:
    """A werkzeug map compiled from rules, with what building URLs from it keeps: the same
    for every project whose plugins give the same rules (werkzeug compiles each rule to code,
    some 50 ms for a project's map, paid again at every change of its trac.ini)."""

    def __init__(self, rules: list[Rule]) -> None:
        self.map = Map(rules, strict_slashes=False, merge_slashes=False,
                       converters={"default": TracStringConverter, "string": TracStringConverter,
                                   "path": TracPathConverter})
        self.arguments: dict[str, set[str]] = {}
        for rule in self.map.iter_rules():
            self.arguments.setdefault(rule.endpoint, set()).update(rule.arguments)
        self.builder = self.map.bind("localhost", "/")
        # (endpoint, argument names) -> the rule's text around its arguments and their
        # quoting, so that building a URL is a join (None: leave it to werkzeug).
        self.templates: dict[tuple[str, frozenset[str]], Any] = {}
        self.single: dict[tuple[str, str], Any] = {}  # (endpoint, argument) -> Router._single_plan


def _rule_key(rule: Rule) -> tuple:
    """All that a rule gives its compiled map."""
    return (rule.rule, rule.endpoint, frozenset(rule.methods or ()),
            repr(sorted((rule.defaults or {}).items(), key=lambda kv: kv[0])), rule.subdomain,
            rule.host, rule.strict_slashes, rule.merge_slashes, rule.build_only,
            rule.redirect_to if isinstance(rule.redirect_to, str) else id(rule.redirect_to),
            rule.alias, rule.websocket)


# A few distinct sets of enabled plugins in a process: a handful of maps.
_compiled_maps = BoundedCache(16)

_UNSET = object()
_TOKEN = re.compile(r"zq(\d+)qz")


# Werkzeug compiles each rule from an AST; CPython before 3.11.8 can fail such compiles run
# in several threads at once (gh-106905, "AST constructor recursion depth mismatch"), as
# when two projects build their routers at the same moment. One router is built at a time.
_BUILD_LOCK = threading.Lock()


def router(env) -> Router:
    def build() -> Router:
        with _BUILD_LOCK:
            return Router(env)

    return env.memo("web.router", build)
