"""The public entry points of the wiki engine."""

from __future__ import annotations

import contextlib

from markupsafe import Markup

from codeyard.wiki.api import FormatContext
from codeyard.wiki.parser import parse, parse_oneliner
from codeyard.wiki.render import Formatter, HtmlRenderer, TextRenderer, render_outline

__all__ = ["FormatContext", "format_to_html", "format_to_oneliner", "format_to_outline",
           "format_to_text", "parse", "parse_oneliner"]


def format_to_html(ctx: FormatContext, text: str, escape_newlines: bool = False) -> Markup:
    """Wiki text -> HTML fragment (a page, a ticket description, a comment)."""
    if not text:
        return Markup()
    fmt = Formatter(ctx)
    fmt.source = text
    fmt.tree = parse(text, escape_newlines)
    with _read_scope(ctx):
        return HtmlRenderer(fmt).render(fmt.tree)


def format_to_oneliner(ctx: FormatContext, text: str, shorten: bool = False) -> Markup:
    """Wiki text -> inline HTML (summaries, commit messages): block syntax stays text."""
    if not text:
        return Markup()
    fmt = Formatter(ctx)
    fmt.source = text
    fmt.tree = parse_oneliner(text, shorten)
    with _read_scope(ctx):
        return HtmlRenderer(fmt).render(fmt.tree)


def format_to_outline(ctx: FormatContext, text: str, max_depth: int = 6, min_depth: int = 1,
                      shorten: bool = True) -> Markup:
    """Nested ``<ol>`` of links to the headings of the text."""
    if not text:
        return Markup()
    return render_outline(Formatter(ctx), parse(text), max_depth, min_depth, shorten)


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
