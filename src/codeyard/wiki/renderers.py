"""Renderers of the wiki tree: HTML, one-line HTML, outline and plain text.

Each walks the tree that ``parser`` built, with the ``formatter.Formatter`` of the rendering
(links, macros, processors, anchors) at hand."""

from __future__ import annotations

import html as _html
import re
from typing import TYPE_CHECKING

from markupsafe import Markup, escape

from codeyard.wiki import syntax as S
from codeyard.wiki.inline import Deadline

if TYPE_CHECKING:
    from codeyard.wiki.formatter import Formatter

__all__ = ["HtmlRenderer", "MAX_PROCESSOR_DEPTH", "TextRenderer", "render_outline"]
# Wiki text inside wiki text (``{{{#!div}}}`` in ``{{{#!div}}}``…) is rendered by nested
# calls; deeper than this its text is shown as it is written.
MAX_PROCESSOR_DEPTH = 32

_TAG_RE = re.compile(r"<[^>]*>")
_BLOCK_START_RE = re.compile(r"^\s*<(?:div|table)(?:\s+[^>]+)?>", re.I | re.M)
_CODE_BLOCK_RE = re.compile(r'^<div(?:\s+class="([^"]+)")?>(.*)</div>$', re.S)
STYLE_TAGS = {
    "strong": ("<strong>", "</strong>"), "em": ("<em>", "</em>"),
    "underline": ('<span class="underline">', "</span>"), "del": ("<del>", "</del>"),
    "sub": ("<sub>", "</sub>"), "sup": ("<sup>", "</sup>"),
}


def text_escape(text: str) -> str:
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    return text


def plaintext(html: str) -> str:
    return _html.unescape(_TAG_RE.sub("", html))


class HtmlRenderer:
    """Tree -> HTML, as Trac writes it (the same elements, classes and line breaks).

    Blocks and styles are walked with an explicit stack (``o_<kind>`` opens a node and
    returns what closes it), so a tree of any depth renders without deep recursion.
    """

    def __init__(self, fmt: Formatter) -> None:
        self.fmt = fmt
        self.out: list[str] = []
        self.in_paragraph = 0
        self.open_styles: list[tuple[str, str]] = []

    def render(self, node) -> Markup:
        self.node(node)
        return Markup("".join(self.out))

    def children(self, node) -> None:
        out = self.out
        deadline = self.fmt.deadline
        stack: list = [(iter(node.children), None)]
        steps = 0
        while stack:
            children, close = stack[-1]
            for child in children:
                if type(child) is str:
                    out.append(text_escape(child))
                    continue
                steps += 1
                if not steps & 255 and deadline is not None:
                    deadline.check()
                kind = child.kind
                opener = _OPENERS.get(kind)
                if opener is None:
                    getattr(self, "r_" + kind)(child)
                    continue
                stack.append((iter(child.children), opener(self, child)))
                break
            else:
                stack.pop()
                if close is not None:
                    close()

    node = children

    def o_document(self, node):
        return None

    def o_p(self, node):
        out = self.out
        mark = len(out)
        out.append("<p>")
        self.in_paragraph += 1
        saved, self.open_styles = self.open_styles, []

        def close():
            self.open_styles = saved
            self.in_paragraph -= 1
            if not "".join(out[mark + 1:]).strip() and any(
                    type(c) is not str and c.kind == "macro" for c in node.children):
                # Only macros that printed nothing: Trac opens no paragraph for them.
                del out[mark:]
                return
            out.append("</p>\n")

        return close

    def _wrap(self, opening: str, closing: str, block: bool = False):
        """Write ``opening`` now and ``closing`` after the children; ``block`` resets the
        paragraph state inside (list items, definitions, cells)."""
        out = self.out
        out.append(opening)
        if not block:
            return lambda: out.append(closing)
        saved, self.in_paragraph = self.in_paragraph, 0

        def close():
            self.in_paragraph = saved
            out.append(closing)

        return close

    def r_heading(self, node):
        fmt = self.fmt
        inner = HtmlRenderer(fmt)
        inner.children(node)
        heading = "".join(inner.out)
        anchor = node.anchor
        if not anchor:
            anchor = S.ANCHOR_STRIP_RE.sub("", plaintext(heading).replace("\n", " "))
            if not anchor or anchor[0].isdigit() or anchor[0] in ".-":
                anchor = "a" + anchor
        anchor = fmt.unique_anchor(anchor)
        level = node.level
        self.out.append(f'<h{level} class="section" id="{escape(anchor)}">{heading}</h{level}>')

    def r_hr(self, node):
        self.out.append("<hr />\n")

    def o_list(self, node):
        name = "ol" if node.ordered else "ul"
        attrs = ""
        if node.style:
            attrs += f' class="{node.style}"'
        if node.start is not None:
            attrs += f' start="{node.start}"'
        return self._wrap(f"<{name}{attrs}>", f"</{name}>")

    def o_li(self, node):
        return self._wrap("<li>", "</li>", block=True)

    def o_dl(self, node):
        return self._wrap('<dl class="wiki">', "</dl>\n")

    def o_dt(self, node):
        return self._wrap("<dt>", "</dt>")

    def o_dd(self, node):
        return self._wrap("<dd>", "</dd>", block=True)

    def o_blockquote(self, node):
        return self._wrap('<blockquote class="citation">\n' if node.citation else "<blockquote>",
                          "</blockquote>\n")

    def o_table(self, node):
        return self._wrap('<table class="wiki">\n', "</table>\n")

    def o_tr(self, node):
        attrs = ""
        if node.attrs:
            from codeyard.wiki.processors import sanitize_attrs

            attrs = "".join(f' {k}="{escape(v)}"'
                            for k, v in sanitize_attrs(self.fmt, "tr", node.attrs).items())
        return self._wrap(f"<tr{attrs}>", "</tr>")

    def o_cell(self, node):
        name = "th" if node.header else "td"
        attrs = f' colspan="{node.colspan}"' if node.colspan > 1 else ""
        if node.align:
            attrs += f' style="text-align: {node.align}"'
        return self._wrap(f"<{name}{attrs}>", f"</{name}>", block=True)

    def r_processor(self, node):
        from codeyard.wiki.processors import run_processor

        self.out.append(str(run_processor(self.fmt, node)))

    def o_style(self, node):
        opening, closing = STYLE_TAGS[node.style]
        self.out.append(opening)
        styles = self.open_styles
        styles.append((opening, closing))

        def close():
            styles.pop()
            self.out.append(closing)

        return close

    def r_code(self, node):
        self.out.append("<code>" + text_escape(node.children[0] if node.children else "")
                        + "</code>")

    def r_br(self, node):
        if node.clear:
            self.out.append(f'<br style="clear: {node.clear}" />')
        else:
            self.out.append("<br />")

    def r_link(self, node):
        from codeyard.wiki.links import render_link

        self.out.append(str(render_link(self.fmt, node)))

    def r_anchor(self, node):
        inner = HtmlRenderer(self.fmt)
        inner.children(node)
        self.out.append(f'<span class="wikianchor" id="{escape(node.name)}">'
                        f'{"".join(inner.out)}</span>')

    def r_macro(self, node):
        from codeyard.wiki.extensions import render_macro

        html, ok = render_macro(self.fmt, node)
        if ok and not node.inline_only and self.in_paragraph:
            html = ensure_inline(html)
            if self.open_styles and html.startswith("</p>"):
                # Unlike Trac, close the open styles around the block and reopen them
                # after it, so the HTML stays well formed.
                closing = "".join(c for _o, c in reversed(self.open_styles))
                opening = "".join(o for o, _c in self.open_styles)
                html = closing + html + opening
        self.out.append(str(html))


_OPENERS = {name[2:]: getattr(HtmlRenderer, name) for name in dir(HtmlRenderer)
            if name.startswith("o_")}


def ensure_inline(html) -> str:
    """Block output inside a paragraph closes and reopens it (as Trac does)."""
    text = str(html)
    m = _CODE_BLOCK_RE.match(text)
    if m:
        if m.group(1) and "code" in m.group(1):
            return f'<span class="code-block">{m.group(2)}</span>'
        return f"</p>{text}<p>"
    if _BLOCK_START_RE.match(text):
        return f"</p>{text}<p>"
    return text


class TextRenderer:
    """Tree -> plain text (search indexing, notifications): markup dropped, links' labels kept.

    The tree is walked with an explicit stack, so any depth of nesting is fine.
    """

    BLOCK_SEP = {"p", "heading", "list", "dl", "blockquote", "table", "processor", "hr"}

    def __init__(self, deadline: Deadline | None = None) -> None:
        self.out: list[str] = []
        self.deadline = deadline

    def render(self, node) -> str:
        self.walk(node)
        text = "".join(self.out)
        return re.sub(r"\n{3,}", "\n\n", text).strip("\n")

    def walk(self, node, depth: int = 0) -> None:
        out = self.out
        deadline = self.deadline
        # (children left to visit, what to write after them, processor nesting)
        stack: list = [(iter(node.children), None, depth)]
        steps = 0
        while stack:
            children, after, level = stack[-1]
            for child in children:
                if type(child) is str:
                    out.append(child)
                    continue
                steps += 1
                if not steps & 255 and deadline is not None:
                    deadline.check()
                kind = child.kind
                if kind == "link":
                    out.append(child.label or child.text)
                    continue
                if kind == "macro":
                    if child.name.lower() == "br":
                        out.append("\n")
                    continue
                if kind == "processor":
                    name = child.name
                    if name in ("div", "rtl", "td", "th", "tr", "table"):
                        if level >= MAX_PROCESSOR_DEPTH:
                            out.append(child.text)
                            out.append("\n")
                            continue
                        from codeyard.wiki.parser import parse

                        stack.append((iter(parse(child.text, False, deadline).children),
                                      "\n", level + 1))
                        break
                    elif name == "html":
                        out.append(plaintext(child.text))
                    elif name not in ("comment", "htmlcomment"):
                        out.append(child.text)
                    out.append("\n")
                    continue
                if kind == "hr":
                    out.append("\n----\n")
                    continue
                if kind == "br":
                    out.append("\n")
                    continue
                if kind == "li":
                    out.append("* ")
                if kind == "cell":
                    out.append(" ")
                if kind == "heading":
                    closing = "\n\n"
                elif kind in self.BLOCK_SEP:
                    closing = "\n"
                elif kind == "dt":
                    closing = ":\n  "
                elif kind == "tr":
                    closing = "\n"
                else:
                    closing = None
                stack.append((iter(child.children), closing, level))
                break
            else:
                stack.pop()
                if after is not None:
                    out.append(after)


def render_outline(fmt: Formatter, doc, max_depth: int = 6, min_depth: int = 1,
                   shorten: bool = True) -> Markup:
    """Nested ``<ol>`` of links to the headings (what PageOutline shows)."""
    if min_depth > max_depth:
        min_depth, max_depth = max_depth, min_depth
    max_depth = min(6, max_depth)
    min_depth = max(1, min_depth)
    outline = []
    for node in doc.children:
        if type(node) is str or node.kind != "heading":
            continue
        inner = HtmlRenderer(fmt)
        if shorten:
            from codeyard.wiki.parser import parse_oneliner

            inner.children(parse_oneliner(node.source, True))
        else:
            inner.children(node)
        text = "".join(inner.out)
        anchor = node.anchor
        if not anchor:
            full = HtmlRenderer(fmt)
            full.children(node)
            anchor = S.ANCHOR_STRIP_RE.sub("", plaintext("".join(full.out)))
            if not anchor or anchor[0].isdigit() or anchor[0] in ".-":
                anchor = "a" + anchor
        anchor = fmt.unique_anchor(anchor)
        text = re.sub(r"</?a(?: .*?)?>", "", text)
        outline.append((node.level, anchor, text))
    ind = "  "
    out = ["\n"]
    curr = min_depth - 1
    for depth, anchor, text in outline:
        if depth < min_depth or depth > max_depth:
            continue
        if depth > curr:
            for i in range(curr, depth):
                out.append(ind * (2 * i) + "<ol>\n" + ind * (2 * i + 1) + "<li>\n")
        elif depth < curr:
            for i in range(curr - 1, depth - 1, -1):
                out.append(ind * (2 * i + 1) + "</li>\n" + ind * (2 * i) + "</ol>\n")
            out.append(ind * (2 * depth - 1) + "</li>\n" + ind * (2 * depth - 1) + "<li>\n")
        else:
            out.append(ind * (2 * depth - 1) + "</li>\n" + ind * (2 * depth - 1) + "<li>\n")
        curr = depth
        out.append(ind * (2 * depth) + f'<a href="#{escape(anchor)}">{text}</a>\n')
    for i in range(curr - 1, min_depth - 2, -1):
        out.append(ind * (2 * i + 1) + "</li>\n" + ind * (2 * i) + "</ol>\n")
    return Markup("".join(out))
