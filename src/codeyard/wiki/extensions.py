"""Macros: the ``[[Name(args)]]`` framework and the hook registry.

The built-in macros live in ``macro_lib`` (a plugin on ``wiki_macros`` like any other).
"""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup, escape

from codeyard.wiki.api import MacroError, system_message


@dataclass
class Registry:
    resolvers: dict
    macros: dict
    processors: dict


def registry(env) -> Registry:
    """What the enabled plugins provide (kept until the configuration or plugins change)."""

    def compute():
        resolvers: dict = {}
        macros: dict = {}
        processors: dict = {}
        if env is not None:
            for found in reversed(env.hook.wiki_link_resolvers()):
                resolvers.update(found or {})
            for found in reversed(env.hook.wiki_macros()):
                macros.update(found or {})
            for found in reversed(env.hook.wiki_processors()):
                processors.update(found or {})
        return Registry(resolvers, macros, processors)

    if env is None:
        return compute()
    return env.memo("wiki.registry", compute)


def linebreak(args: str | None) -> str:
    if args:
        sep = ":" if ":" in args else "="
        kv = args.split(sep, 1)
        if kv[0] == "clear":
            clear = kv[-1] if kv[-1] in ("left", "right") else "both"
            return f'<br style="clear: {clear}" />'
    return "<br />"


def find_macro(fmt, name: str):
    """A processor, a macro, or a highlighter for a language or MIME type (or None)."""
    proc = fmt.processors.get(name) or fmt.macros.get(name)
    if proc is not None:
        return proc
    from codeyard.wiki.highlight import highlighter

    return highlighter(name)


def render_macro(fmt, node) -> tuple[Markup, bool]:
    """(HTML, is macro output) for a Macro node: the macro's output, an error box, or the link
    it really was."""
    name, args = node.name, node.args
    if name.lower() == "br":
        return (Markup(" ") if node.inline_only else Markup(linebreak(args))), False
    listing = name.endswith("?")
    if listing and (name == "?" or find_macro(fmt, name[:-1]) is not None):
        # ``[[Name?]]`` shows Name's documentation, ``[[?]]`` every macro's.
        args = name[:-1] or "*"
        macro = fmt.macros.get("MacroList")
        name = "MacroList"
    else:
        macro = None if listing else find_macro(fmt, name)
    if macro is None:
        if node.children:
            from codeyard.wiki.links import render_link

            return render_link(fmt, node.children[0]), False
        return escape(node.text), False
    if node.inline_only and not macro.is_inline(args):
        return escape(f"[[{node.name}{'(...)' if node.args else ''}]]"), False
    shown = args if args is not None else ""
    try:
        result = macro.expand(fmt, name, args, None)
    except MacroError as exc:
        return system_message(f"Macro {name}({shown}) failed", exc.args[0] if exc.args else ""), False
    except Exception as exc:
        fmt.env.log.exception("Macro %s(%s) failed for %s", name, args, fmt.ctx.resource)
        return system_message(f"Error: Macro {name}({shown}) failed", str(exc)), False
    if result is None:
        return Markup(""), True
    return (result if isinstance(result, Markup) else escape(result)), True
