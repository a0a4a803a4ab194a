"""The wiki formatter: the state of one rendering (``Formatter``) and the public entry points
(``format_to_html``, ``format_to_oneliner``, ``format_to_outline``, ``format_to_text``).

Text is parsed to a tree (``parser``), then a renderer (``renderers``) walks the tree."""

from __future__ import annotations

import contextlib
from typing import Any

from markupsafe import Markup, escape

from codeyard.config import FloatOption
from codeyard.wiki.api import FormatContext
from codeyard.wiki.inline import Deadline, RenderTimeout
from codeyard.wiki.parser import parse, parse_oneliner
from codeyard.wiki.renderers import MAX_PROCESSOR_DEPTH, HtmlRenderer, TextRenderer, render_outline

__all__ = ["FormatContext", "Formatter", "RenderFailed", "RenderTimeout", "format_to_html",
           "format_to_oneliner", "format_to_outline", "format_to_text", "parse",
           "parse_oneliner"]

RENDER_TIMEOUT = FloatOption(
    "wiki", "render_timeout", 10.0,
    "Seconds a piece of wiki text may take to render; past them an error box is shown "
    "instead (0 for no limit). The page can still be edited.")


class Formatter:
    """Render-time state handed to link resolvers, macros and processors.

    ``fmt.env``, ``fmt.ctx`` (the FormatContext), ``fmt.href``; ``fmt.resolvers``,
    ``fmt.macros``, ``fmt.processors`` (from the hooks); ``fmt.unique_anchor(name)``.
    """

    def __init__(self, ctx, anchors: dict | None = None, deadline: Deadline | None = None,
                 depth: int = 0) -> None:
        from codeyard.wiki import extensions as M

        self.ctx = ctx
        self.env = ctx.env
        self.href = ctx.abs_href if ctx.absurls else ctx.href
        self.anchors = anchors if anchors is not None else {}
        registry = M.registry(self.env)
        self.resolvers = registry.resolvers
        self.macros = registry.macros
        self.processors = registry.processors
        self._memo: dict[str, Any] = {}
        self.flavor = ctx.flavor
        self.source = ""
        self.tree: Any = None
        self._page_tree: Any = None
        self.deadline = deadline
        self.depth = depth

    def memo(self, key: str, compute):
        try:
            return self._memo[key]
        except KeyError:
            value = self._memo[key] = compute()
            return value

    def page_tree(self):
        """The full-page tree of ``self.source``: the one this rendering walks when it
        parsed the source as a page (PageOutline then costs no second parse)."""
        if self._page_tree is None:
            self._page_tree = parse(self.source, False, self.deadline)
        return self._page_tree

    def unique_anchor(self, anchor: str) -> str:
        anchors = self.anchors
        if anchor in anchors:
            # Continue from the last number given to this name (names are only ever added,
            # so every smaller number is still taken): n headings alike cost n, not n².
            base = anchor
            i = anchors.get((base,), 1)
            anchor = base + str(i)
            while anchor in anchors:
                i += 1
                anchor = base + str(i)
            anchors[(base,)] = i + 1
        anchors[anchor] = True
        return anchor

    # -- nested rendering (used by processors and macros)
    def _nested(self, ctx, anchors: dict) -> Formatter:
        """A formatter for a piece of text inside this rendering; in the same context it
        shares this rendering's look-ups (page names, tickets...), made once per render."""
        fmt = Formatter(ctx or self.ctx, anchors, self.deadline, self.depth + 1)
        if fmt.ctx is self.ctx:
            fmt._memo = self._memo
        return fmt

    def to_html(self, text: str, ctx=None, escape_newlines: bool = False) -> Markup:
        from codeyard.wiki.parser import parse

        if self.depth >= MAX_PROCESSOR_DEPTH:
            return Markup('<pre class="wiki">%s</pre>') % text
        fmt = self._nested(ctx, {})
        fmt.source = text
        fmt.tree = parse(text, escape_newlines, self.deadline)
        if not escape_newlines:
            fmt._page_tree = fmt.tree
        return HtmlRenderer(fmt).render(fmt.tree)

    def to_oneliner(self, text: str, ctx=None, shorten: bool = False) -> Markup:
        from codeyard.wiki.parser import parse_oneliner

        if self.depth >= MAX_PROCESSOR_DEPTH:
            return escape(text)
        fmt = self._nested(ctx, self.anchors)
        fmt.tree = parse_oneliner(text, shorten, self.deadline)
        return HtmlRenderer(fmt).render(fmt.tree)


class RenderFailed(Markup):
    """The error box shown instead of wiki text whose rendering was stopped (never cached)."""

    __slots__ = ()
    cacheable = False


def _deadline(ctx: FormatContext) -> Deadline | None:
    seconds = RENDER_TIMEOUT(ctx.env.config) if ctx.env is not None else RENDER_TIMEOUT.default
    return Deadline(seconds) if seconds and seconds > 0 else None


def _stopped(ctx: FormatContext, exc: Exception) -> RenderFailed:
    from codeyard.wiki.api import system_message

    if ctx.env is not None:
        ctx.env.log.warning("Wiki rendering of %s stopped: %s", ctx.resource, exc)
    return RenderFailed(system_message("Error: Wiki text not rendered", str(exc)))


def format_to_html(ctx: FormatContext, text: str, escape_newlines: bool = False) -> Markup:
    """Wiki text -> HTML fragment (a page, a ticket description, a comment)."""
    return _render_html(ctx, text, lambda deadline: parse(text, escape_newlines, deadline),
                        page=not escape_newlines)


def format_to_oneliner(ctx: FormatContext, text: str, shorten: bool = False) -> Markup:
    """Wiki text -> inline HTML (summaries, commit messages): block syntax stays text."""
    return _render_html(ctx, text, lambda deadline: parse_oneliner(text, shorten, deadline))


def _render_html(ctx: FormatContext, text: str, parse_text, page: bool = False) -> Markup:
    """Render ``parse_text(deadline)``; ``page``: that is ``parse(text)`` (kept for
    ``Formatter.page_tree``)."""
    if not text:
        return Markup()
    deadline = _deadline(ctx)
    fmt = Formatter(ctx, deadline=deadline)
    fmt.source = text
    try:
        fmt.tree = parse_text(deadline)
        if page:
            fmt._page_tree = fmt.tree
        with _read_scope(ctx):
            return HtmlRenderer(fmt).render(fmt.tree)
    except RenderTimeout as exc:
        return _stopped(ctx, exc)


class _Forest:
    """The trees of several texts rendered together, walked as one (for look-ups that
    fetch what a whole text mentions at once: tickets, changesets)."""

    def __init__(self, trees: list) -> None:
        self.trees = trees

    def walk(self):
        for tree in self.trees:
            yield from tree.walk()


def format_many(ctx: FormatContext, texts: list[str], oneliner: bool = False,
                shorten: bool = False,
                contexts: list[FormatContext] | None = None) -> list[Markup]:
    """Several texts in one context (a log's commit messages, a list's summaries): each
    rendered on its own, with one read scope and one set of look-ups for all of them — a
    page of 100 messages mentioning 100 tickets asks for them in one query. ``contexts``
    gives each text a context of its own (the ticket a comment belongs to), sharing the
    look-ups all the same."""
    deadline = _deadline(ctx)
    trees: list[Any] = []
    for text in texts:
        if not text:
            trees.append(None)
        elif oneliner:
            trees.append(parse_oneliner(text, shorten, deadline))
        else:
            trees.append(parse(text, False, deadline))
    memo: dict[str, Any] = {}
    forest = _Forest([t for t in trees if t is not None])
    out: list[Markup] = []
    try:
        with _read_scope(ctx):
            for text, tree in zip(texts, trees, strict=True):
                if tree is None:
                    out.append(Markup())
                    continue
                fmt = Formatter(contexts[len(out)] if contexts else ctx, deadline=deadline)
                fmt.source = text
                fmt._memo = memo
                fmt.tree = forest
                if not oneliner:
                    fmt._page_tree = tree
                out.append(HtmlRenderer(fmt).render(tree))
    except RenderTimeout as exc:
        stopped = _stopped(ctx, exc)
        out.extend(stopped for _ in range(len(texts) - len(out)))
    return out


def format_to_outline(ctx: FormatContext, text: str, max_depth: int = 6, min_depth: int = 1,
                      shorten: bool = True) -> Markup:
    """Nested ``<ol>`` of links to the headings of the text."""
    if not text:
        return Markup()
    deadline = _deadline(ctx)
    try:
        return render_outline(Formatter(ctx, deadline=deadline), parse(text, False, deadline),
                              max_depth, min_depth, shorten)
    except RenderTimeout as exc:
        return _stopped(ctx, exc)


def _read_scope(ctx):
    """One database read scope for a whole rendering: every lookup joins it."""
    if ctx.env is None:
        return contextlib.nullcontext()
    return ctx.env.db_query


def format_to_text(ctx_or_text, text: str | None = None) -> str:
    """Wiki text -> plain text (markup removed, link labels kept).

    Called as ``format_to_text(text)`` or, like the other entry points,
    ``format_to_text(ctx, text)`` (the context is not needed for plain text).
    """
    if text is None and isinstance(ctx_or_text, str):
        text = ctx_or_text
    if not text:
        return ""
    return TextRenderer().render(parse(text))
