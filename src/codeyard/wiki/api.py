"""Hooks of the wiki engine and the rendering context.

Feature packages extend wiki text through these hooks: TracLinks namespaces
(``wiki_link_resolvers``), macros (``wiki_macros``) and ``{{{#!name}}}`` processors
(``wiki_processors``). The built-in ones are plugins on the same hooks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from codeyard.core import hookspec
from codeyard.util.href import Href


@hookspec
def wiki_link_resolvers():
    """Return {namespace: resolver(fmt, ns, target, label_html, link) -> HTML} for TracLinks."""


@hookspec
def wiki_macros():
    """Return {name: WikiMacro} for the ``[[Name(args)]]`` macros this plugin provides."""


@hookspec
def wiki_processors():
    """Return {name: WikiMacro} for the ``{{{#!name}}}`` processors this plugin provides."""


class MacroError(Exception):
    """Bad macro or processor usage: shown to the reader in an error box, not logged."""


@dataclass
class WikiMacro:
    """A macro or processor.

    ``expand(fmt, name, content, args)`` returns HTML (``Markup`` or plain text, which is
    escaped). ``content`` is the text inside ``(...)`` or the processor block; ``args`` the
    processor parameters (a dict) or None for a macro call. ``inline`` (a bool or a callable
    of the content) says whether the output fits inside a line of text. Raise ``MacroError``
    for bad usage; any other exception is logged; both show as an error box.

    ``fmt`` (``render.Formatter``) offers ``fmt.env``, ``fmt.ctx`` (the FormatContext),
    ``fmt.href``, ``fmt.source`` (the whole text being rendered), ``fmt.to_html(text)``,
    ``fmt.to_oneliner(text)`` and ``fmt.memo(key, compute)`` (per rendering).
    Link resolvers are called as ``resolver(fmt, ns, target, label_html, link)``.
    """

    name: str
    expand: Callable[..., Any]
    doc: str = ""
    inline: bool | Callable[[str | None], bool] = False

    def is_inline(self, content: str | None) -> bool:
        return self.inline(content) if callable(self.inline) else bool(self.inline)


@dataclass
class FormatContext:
    """Everything rendering needs: where links point, who reads, and what is rendered.

    ``perm`` None means every action is allowed (tools, tests). ``resource`` is what the text
    belongs to (relative links and attachments resolve against it).
    """

    env: Any
    href: Href = field(default_factory=lambda: Href(""))
    abs_href: Href | None = None
    perm: Any = None
    resource: Any = None
    req: Any = None
    flavor: str = "html"
    absurls: bool = False
    hints: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.abs_href is None:
            from codeyard.env import BASE_URL

            base = BASE_URL(self.env.config) if self.env is not None else ""
            self.abs_href = Href(base or self.href.base)
        if self.resource is None:
            from codeyard.perm import Resource

            self.resource = Resource("wiki", "WikiStart")

    def allows(self, action: str, realm: str | None = None, id: Any = None,
               version: Any = None) -> bool:
        if self.perm is None:
            return True
        from codeyard.perm import Resource

        resource = Resource(realm, id, version) if realm is not None else None
        return self.perm.has(action, resource)

    def child(self, resource=None, **changes) -> FormatContext:
        if resource is not None:
            changes["resource"] = resource
        return replace(self, **changes)
