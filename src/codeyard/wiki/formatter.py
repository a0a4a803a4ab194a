"""The public entry points of the wiki engine."""

from __future__ import annotations

import contextlib

from markupsafe import Markup

from codeyard.config import FloatOption
from codeyard.wiki.api import FormatContext
from codeyard.wiki.parser import parse, parse_oneliner
from codeyard.wiki.render import (
    Deadline,
    Formatter,
    HtmlRenderer,
    RenderTimeout,
    TextRenderer,
    render_outline,
)

__all__ = ["FormatContext", "RenderFailed", "RenderTimeout", "format_to_html",
           "format_to_oneliner", "format_to_outline", "format_to_text", "parse",
           "parse_oneliner"]

RENDER_TIMEOUT = FloatOption(
    "wiki", "render_timeout", 10.0,
    "Seconds a piece of wiki text may take to render; past them an error box is shown "
    "instead (0 for no limit). The page can still be edited.")


class RenderFailed(Markup):
    """The error box shown instead of wiki text whose rendering was stopped (never cached)."""

    __slots__ = ()
    cacheable = False


def _deadline(ctx: FormatContext) -> Deadline | None:
    seconds = RENDER_TIMEOUT(ctx.env.config) if ctx.env is not None else RENDER_TIMEOUT.default
    return Deadline(seconds) if seconds and seconds > 0 else None


def _stopped(ctx: FormatContext, exc: Exception) -> RenderFailed:
    from codeyard.wiki.processors import system_message

    if ctx.env is not None:
        ctx.env.log.warning("Wiki rendering of %s stopped: %s", ctx.resource, exc)
    return RenderFailed(system_message("Error: Wiki text not rendered", str(exc)))


def format_to_html(ctx: FormatContext, text: str, escape_newlines: bool = False) -> Markup:
    """Wiki text -> HTML fragment (a page, a ticket description, a comment)."""
    if not text:
        return Markup()
    deadline = _deadline(ctx)
    fmt = Formatter(ctx, deadline=deadline)
    fmt.source = text
    try:
        fmt.tree = parse(text, escape_newlines, deadline)
        with _read_scope(ctx):
            return HtmlRenderer(fmt).render(fmt.tree)
    except RenderTimeout as exc:
        return _stopped(ctx, exc)


def format_to_oneliner(ctx: FormatContext, text: str, shorten: bool = False) -> Markup:
    """Wiki text -> inline HTML (summaries, commit messages): block syntax stays text."""
    if not text:
        return Markup()
    deadline = _deadline(ctx)
    fmt = Formatter(ctx, deadline=deadline)
    fmt.source = text
    try:
        fmt.tree = parse_oneliner(text, shorten, deadline)
        with _read_scope(ctx):
            return HtmlRenderer(fmt).render(fmt.tree)
    except RenderTimeout as exc:
        return _stopped(ctx, exc)


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
