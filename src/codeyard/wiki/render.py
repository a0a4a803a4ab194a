"""Renderers of the wiki tree: HTML, one-line HTML, outline and plain text."""

from __future__ import annotations

import html as _html
import re
from typing import Any

from markupsafe import Markup, escape

from codeyard.wiki import syntax as S

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


class Formatter:
    """Render-time state handed to link resolvers, macros and processors.

    ``fmt.env``, ``fmt.ctx`` (the FormatContext), ``fmt.href``; ``fmt.resolvers``,
    ``fmt.macros``, ``fmt.processors`` (from the hooks); ``fmt.unique_anchor(name)``.
    """

    def __init__(self, ctx, anchors: dict | None = None) -> None:
        from codeyard.wiki import macros as M

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

    def memo(self, key: str, compute):
        try:
            return self._memo[key]
        except KeyError:
            value = self._memo[key] = compute()
            return value

    def unique_anchor(self, anchor: str) -> str:
        base, i = anchor, 1
        while anchor in self.anchors:
            anchor = base + str(i)
            i += 1
        self.anchors[anchor] = True
        return anchor

    # -- nested rendering (used by processors and macros)
    def to_html(self, text: str, ctx=None, escape_newlines: bool = False) -> Markup:
        from codeyard.wiki.parser import parse

        fmt = Formatter(ctx if ctx is not None else self.ctx, {})
        fmt.source = text
        return HtmlRenderer(fmt).render(parse(text, escape_newlines))

    def to_oneliner(self, text: str, ctx=None, shorten: bool = False) -> Markup:
        from codeyard.wiki.parser import parse_oneliner

        fmt = Formatter(ctx or self.ctx, self.anchors)
        return HtmlRenderer(fmt).render(parse_oneliner(text, shorten))


class HtmlRenderer:
    """Tree -> HTML, as Trac writes it (the same elements, classes and line breaks)."""

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
        for child in node.children:
            if type(child) is str:
                out.append(text_escape(child))
            else:
                getattr(self, "r_" + child.kind)(child)

    node = children

    def r_document(self, node):
        self.children(node)

    def r_p(self, node):
        out = self.out
        mark = len(out)
        out.append("<p>")
        self.in_paragraph += 1
        saved, self.open_styles = self.open_styles, []
        self.children(node)
        self.open_styles = saved
        self.in_paragraph -= 1
        if not "".join(out[mark + 1:]).strip() and any(
                type(c) is not str and c.kind == "macro" for c in node.children):
            # Only macros that printed nothing: Trac opens no paragraph for them.
            del out[mark:]
            return
        out.append("</p>\n")

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

    def r_list(self, node):
        name = "ol" if node.ordered else "ul"
        attrs = ""
        if node.style:
            attrs += f' class="{node.style}"'
        if node.start is not None:
            attrs += f' start="{node.start}"'
        self.out.append(f"<{name}{attrs}>")
        self.children(node)
        self.out.append(f"</{name}>")

    def r_li(self, node):
        self.out.append("<li>")
        saved, self.in_paragraph = self.in_paragraph, 0
        self.children(node)
        self.in_paragraph = saved
        self.out.append("</li>")

    def r_dl(self, node):
        self.out.append('<dl class="wiki">')
        self.children(node)
        self.out.append("</dl>\n")

    def r_dt(self, node):
        self.out.append("<dt>")
        self.children(node)
        self.out.append("</dt>")

    def r_dd(self, node):
        self.out.append("<dd>")
        saved, self.in_paragraph = self.in_paragraph, 0
        self.children(node)
        self.in_paragraph = saved
        self.out.append("</dd>")

    def r_blockquote(self, node):
        self.out.append('<blockquote class="citation">\n' if node.citation else "<blockquote>")
        self.children(node)
        self.out.append("</blockquote>\n")

    def r_table(self, node):
        self.out.append('<table class="wiki">\n')
        self.children(node)
        self.out.append("</table>\n")

    def r_tr(self, node):
        attrs = ""
        if node.attrs:
            from codeyard.wiki.processors import sanitize_attrs

            attrs = "".join(f' {k}="{escape(v)}"'
                            for k, v in sanitize_attrs(self.fmt, "tr", node.attrs).items())
        self.out.append(f"<tr{attrs}>")
        self.children(node)
        self.out.append("</tr>")

    def r_cell(self, node):
        name = "th" if node.header else "td"
        attrs = f' colspan="{node.colspan}"' if node.colspan > 1 else ""
        if node.align:
            attrs += f' style="text-align: {node.align}"'
        self.out.append(f"<{name}{attrs}>")
        saved, self.in_paragraph = self.in_paragraph, 0
        self.children(node)
        self.in_paragraph = saved
        self.out.append(f"</{name}>")

    def r_processor(self, node):
        from codeyard.wiki.processors import run_processor

        self.out.append(str(run_processor(self.fmt, node)))

    def r_style(self, node):
        opening, closing = STYLE_TAGS[node.style]
        self.out.append(opening)
        self.open_styles.append((opening, closing))
        self.children(node)
        self.open_styles.pop()
        self.out.append(closing)

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
        from codeyard.wiki.macros import render_macro

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
    """Tree -> plain text (search indexing, notifications): markup dropped, links' labels kept."""

    BLOCK_SEP = {"p", "heading", "list", "dl", "blockquote", "table", "processor", "hr"}

    def __init__(self) -> None:
        self.out: list[str] = []

    def render(self, node) -> str:
        self.walk(node)
        text = "".join(self.out)
        return re.sub(r"\n{3,}", "\n\n", text).strip("\n")

    def walk(self, node) -> None:
        for child in node.children:
            if type(child) is str:
                self.out.append(child)
                continue
            kind = child.kind
            if kind == "link":
                self.out.append(child.label or child.text)
                continue
            if kind == "macro":
                if child.name.lower() == "br":
                    self.out.append("\n")
                continue
            if kind == "processor":
                name = child.name
                if name in ("div", "rtl", "td", "th", "tr", "table"):
                    from codeyard.wiki.parser import parse

                    self.walk(parse(child.text))
                elif name == "html":
                    self.out.append(plaintext(child.text))
                elif name not in ("comment", "htmlcomment"):
                    self.out.append(child.text)
                self.out.append("\n")
                continue
            if kind == "hr":
                self.out.append("\n----\n")
                continue
            if kind == "br":
                self.out.append("\n")
                continue
            if kind == "li":
                self.out.append("* ")
            if kind == "cell":
                self.out.append(" ")
            self.walk(child)
            if kind == "heading":
                self.out.append("\n\n")
            elif kind in self.BLOCK_SEP:
                self.out.append("\n")
            elif kind == "dt":
                self.out.append(":\n  ")
            elif kind == "tr":
                self.out.append("\n")


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
