"""Hooks of the wiki (its engine and its page model) and the rendering context.

Feature packages extend wiki text through these hooks: TracLinks namespaces
(``wiki_link_resolvers``), macros (``wiki_macros``) and ``{{{#!name}}}`` processors
(``wiki_processors``). The built-in ones are plugins on the same hooks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from markupsafe import Markup

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


@hookspec
def wiki_render_dependencies():
    """Return a RenderDependencies: what wiki text using your links and macros depends on."""


@dataclass(frozen=True)
class RenderDependencies:
    """What rendered wiki text depends on, for the rendered-page cache.

    ``cache_keys``: generations (rows of the ``cache`` table) that every rendered page
    depends on, bumped by whoever changes that data. ``namespaces`` and ``macros``: for each
    TracLinks namespace and macro or processor name, None when its output depends only on
    those generations, the configuration and the reader's permissions, or the name of a
    ``probes`` query whose answer changes whenever its output may. Names nobody declares make
    a page uncacheable. ``wiki_text``: processors whose content is wiki text (scanned too).
    """

    cache_keys: tuple[str, ...] = ()
    namespaces: Mapping[str, str | None] = field(default_factory=dict)
    macros: Mapping[str, str | None] = field(default_factory=dict)
    probes: Mapping[str, str] = field(default_factory=dict)
    wiki_text: frozenset[str] = frozenset()


@hookspec
def wiki_page_changed(env, event, page, old_name, version):
    """A page changed: event is created, changed, readonly_changed, replaced, comment_changed, renamed (old_name set), deleted or version_deleted (version set)."""


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


def format_context(req, resource, **kw) -> FormatContext:
    """The rendering context of a request: its links, its reader's permissions."""
    return FormatContext(req.env, href=req.href, abs_href=req.abs_href,
                         perm=req.perm(resource), resource=resource, req=req, **kw)


_SPLIT_ARGS_RE = re.compile(r"(?<!\\),")
_STRICT_KW_RE = re.compile(r"\s*[a-zA-Z_]\w+=")
_LOOSE_KW_RE = re.compile(r"\s*[^=]+=")


def parse_args(args: str | None, strict: bool = True) -> tuple[list[str], dict[str, str]]:
    """Split macro arguments as Trac does: ``a, b=c, d\\,e`` -> (['a', ' d,e'], {'b': 'c'}).

    Commas separate arguments unless escaped with a backslash; ``name=value`` makes a keyword
    argument (``strict`` requires a Python-like name).
    """
    positional: list[str] = []
    keywords: dict[str, str] = {}
    if not args:
        return positional, keywords
    for arg in _SPLIT_ARGS_RE.split(args):
        arg = arg.replace("\\,", ",")
        m = (_STRICT_KW_RE if strict else _LOOSE_KW_RE).match(arg)
        if m:
            keywords[arg[:m.end() - 1].strip()] = arg[m.end():]
        else:
            positional.append(arg)
    return positional, keywords


def system_message(message, text=None) -> Markup:
    body = Markup("<strong>%s</strong>") % message
    if text:
        body += Markup("<pre>%s</pre>") % text
    return Markup('<div class="system-message">%s</div>') % body
