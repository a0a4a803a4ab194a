"""The ``#!rst`` processor: reStructuredText rendered with docutils, as Trac renders it.

Beyond plain docutils, as in Trac: the ``:trac:`` role (``:trac:`#1```, ``:trac:`wiki:Page
label```) and the ``trac`` directive (``.. |a ticket| trac:: #42``) make TracLinks; the
``code-block`` directive and role run a wiki processor (``.. code-block:: python``); the
output is ``div.wiki-code > div.document``; links whose scheme is not in ``[wiki]
safe_schemes`` lose their ``href`` and pictures from outside ``[wiki] safe_origins`` are
fetched anonymously (both unless ``[wiki] render_unsafe_content``); docutils' problems show
as small ``?`` marks carrying the message instead of boxes.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

from markupsafe import Markup, escape

from codeyard.core import hookimpl
from codeyard.wiki.api import WikiMacro
from codeyard.wiki.links import RENDER_UNSAFE, SAFE_SCHEMES, page_exists

_FIRST_LINK = re.compile(r"^<a\b([^>]*)>(.*?)</a>", re.S)
_TAGS = re.compile(r"<[^>]+>")


def _link_of(fmt, target: str, text: str | None):
    """(text, uri, missing) of the TracLink ``target`` (with ``text``), as Trac's rst reads
    it: the link at the start of ``target text``; a word that is no link names a wiki page."""
    from html import unescape

    from codeyard.wiki.formatter import format_to_oneliner

    fulltext = f"{target} {text}" if text else target
    rendered = str(format_to_oneliner(fmt.ctx, fulltext)).strip()
    match = _FIRST_LINK.match(rendered)
    if match is None:
        return text, fmt.href.wiki(target), not page_exists(fmt.env, target)
    attrs = match.group(1)
    linktext = unescape(_TAGS.sub("", match.group(2)))
    if linktext.rstrip("?").replace(" ", "") != target:
        text = linktext
    href = re.search(r'\bhref="([^"]*)"', attrs)
    classes = re.search(r'\bclass="([^"]*)"', attrs)
    missing = bool(classes) and "missing" in classes.group(1).split()  # type: ignore[union-attr]
    uri = unescape(href.group(1)) if href else ""
    return text, uri, missing


def _reference(fmt, rawtext: str, target: str, text: str | None):
    from docutils import nodes

    text, uri, missing = _link_of(fmt, target, text)
    if not uri and not missing:
        return None
    reference = nodes.reference(rawtext, text or target)
    reference["refuri"] = uri
    if missing:
        reference["classes"].append("missing")
    return reference


def _trac_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    from docutils import nodes

    fmt = getattr(inliner, "codeyard_fmt", None)
    if fmt is None:
        return [], []
    link, _, label = text.partition(" ")
    reference = _reference(fmt, rawtext, link, label or None)
    if reference is not None:
        return [reference], []
    return [nodes.warning(None, nodes.literal_block(text, f"{rawtext} is not a valid TracLink"))], []


def _trac_directive(name, arguments, options, content, lineno, content_offset, block_text,
                    state, state_machine):
    from docutils import nodes
    from docutils.parsers import rst

    fmt = getattr(state.inliner, "codeyard_fmt", None)
    if fmt is not None:
        reference = _reference(fmt, block_text, arguments[0],
                               arguments[1] if len(arguments) == 2 else None)
        if reference is not None:
            if isinstance(state, rst.states.SubstitutionDef):
                return [reference]
            paragraph = nodes.paragraph()
            paragraph += reference
            return [paragraph]
        message = f"{arguments[0]} is not a valid TracLink"
    else:
        message = "No wiki context while rendering"
    return [state_machine.reporter.warning(message, nodes.literal_block(block_text, block_text),
                                           line=lineno)]


_trac_directive.arguments = (1, 1, 1)  # type: ignore[attr-defined]
_trac_directive.options = None  # type: ignore[attr-defined]
_trac_directive.content = None  # type: ignore[attr-defined]


def _code_html(fmt, language: str, text: str):
    from docutils import nodes

    from codeyard.wiki.processors import run_processor

    html = run_processor(fmt, SimpleNamespace(name=language, args={}, text=text))
    return nodes.raw("", str(html), format="html")


def _code_block_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    fmt = getattr(inliner, "codeyard_fmt", None)
    if fmt is None:
        return [], []
    language = (options or {}).get("language")
    if not language:
        language, _, text = text.partition(":")
    return [_code_html(fmt, language, text)], []


def _code_block_directive(name, arguments, options, content, lineno, content_offset,
                          block_text, state, state_machine):
    fmt = getattr(state.inliner, "codeyard_fmt", None)
    if fmt is None:
        return []
    return [_code_html(fmt, arguments[0], "\n".join(content))]


_code_block_directive.arguments = (1, 0, 0)  # type: ignore[attr-defined]
_code_block_directive.content = 1  # type: ignore[attr-defined]

_registered = False


def _register() -> None:
    """docutils keeps roles and directives in module tables: ours go there once, and read
    the formatter of the document being rendered from its inliner."""
    global _registered
    if _registered:
        return
    from docutils.parsers.rst import directives, roles

    unchanged = directives.unchanged
    _code_block_role.options = {"language": unchanged}  # type: ignore[attr-defined]
    _code_block_directive.options = {"language": unchanged}  # type: ignore[attr-defined]
    directives.register_directive("trac", _trac_directive)
    roles.register_canonical_role("trac", _trac_role)
    directives.register_directive("code-block", _code_block_directive)
    roles.register_local_role("code-block", _code_block_role)
    _registered = True


def _translator(fmt):
    from docutils.writers import html4css1

    from codeyard.wiki.processors import UrlPolicy

    unsafe = RENDER_UNSAFE(fmt.env.config)
    schemes = set(SAFE_SCHEMES(fmt.env.config))
    policy = UrlPolicy(fmt)

    def safe(uri) -> bool:
        if unsafe or not uri:
            return True
        scheme, colon, _rest = uri.partition(":")
        return not colon or scheme in schemes

    class Translator(html4css1.HTMLTranslator):
        def visit_system_message(self, node):
            first = node.children.pop(0) if node.children else None
            message = escape(first.astext()) if first is not None else ""
            backrefs = node["backrefs"]
            if backrefs:
                marks = "".join(f'<a href="#{b}" title="{message}">?</a>' for b in backrefs)
                self.body.append(f'<span class="system-message">{marks}</span>')
            else:
                self.body.append(f'<span class="system-message" title="{message}">?</span>')

        def depart_system_message(self, node):
            pass

        def visit_image(self, node):
            super().visit_image(node)
            if not unsafe and not policy.is_safe_origin(node.attributes.get("uri") or ""):
                self.body[-1] = self.body[-1].replace("<img ", '<img crossorigin="anonymous" ')

        def visit_reference(self, node):
            if safe(node.get("refuri")):
                super().visit_reference(node)

        def depart_reference(self, node):
            if safe(node.get("refuri")):
                super().depart_reference(node)

    return Translator


def render_rst(fmt, content: str) -> Markup:
    """reStructuredText as Trac's wiki shows it (``div.document`` inside ``div.wiki-code``)."""
    from docutils.core import publish_parts
    from docutils.parsers import rst
    from docutils.readers import standalone
    from docutils.writers import html4css1

    _register()
    writer = html4css1.Writer()
    writer.translator_class = _translator(fmt)
    inliner = rst.states.Inliner()
    inliner.codeyard_fmt = fmt  # type: ignore[attr-defined]
    parser = rst.Parser(inliner=inliner)
    parts = publish_parts(content or "", writer=writer, parser=parser,
                          reader=standalone.Reader(parser),
                          settings_overrides={"halt_level": 6, "file_insertion_enabled": False,
                                              "raw_enabled": False, "warning_stream": False,
                                              "_disable_config": True})
    return Markup('<div class="wiki-code">%s</div>') % Markup(parts["html_body"])


def _rst(fmt, name, content, args):
    return render_rst(fmt, content)


@hookimpl
def wiki_processors():
    return {"rst": WikiMacro("rst", _rst, "reStructuredText, rendered with docutils as Trac "
                                          "renders it (the `trac` role and directive make "
                                          "TracLinks; `code-block` highlights code).")}

# No wiki_render_dependencies: the TracLinks inside make the output depend on whatever they
# point at, so a page with an rst block is rendered afresh each time.
