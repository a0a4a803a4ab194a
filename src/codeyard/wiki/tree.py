"""The wiki document tree: what the parser produces and the renderers walk.

Blocks hold blocks or inline nodes in ``children``; inline nodes are plain ``str`` text or
the small classes below. Links, macros and processors are kept unresolved: whether a page
exists, what a macro prints or how a processor highlights is decided when rendering, with a
``FormatContext``. So one tree can be rendered several times, in several flavors.
"""

from __future__ import annotations

from typing import Any


class Node:
    """A node with children (``str`` or ``Node``)."""

    __slots__ = ("children",)
    kind = "node"

    def __init__(self, children: list | None = None) -> None:
        self.children = children if children is not None else []

    def __repr__(self) -> str:
        extra = {k: getattr(self, k) for k in self.__slots__ if k != "children"}
        return f"{type(self).__name__}({extra or ''}{self.children!r})"

    def walk(self):
        """Every node below this one, depth first (text excluded); any depth of nesting."""
        stack = [iter(self.children)]
        while stack:
            for child in stack[-1]:
                if isinstance(child, Node):
                    yield child
                    stack.append(iter(child.children))
                    break
            else:
                stack.pop()


# -- blocks


class Document(Node):
    __slots__ = ()
    kind = "document"


class Paragraph(Node):
    __slots__ = ()
    kind = "p"


class Heading(Node):
    """``== text == #anchor``: children are the inline content; ``anchor`` is explicit or ''."""

    __slots__ = ("level", "anchor", "source")
    kind = "heading"

    def __init__(self, level: int, anchor: str, source: str, children=None) -> None:
        super().__init__(children)
        self.level, self.anchor, self.source = level, anchor, source


class HorizontalRule(Node):
    __slots__ = ()
    kind = "hr"


class List(Node):
    """A ``ul`` (bullets) or ``ol``; ``style`` is lowerroman, upperalpha… or ''."""

    __slots__ = ("ordered", "style", "start")
    kind = "list"

    def __init__(self, ordered: bool, style: str = "", start: int | None = None) -> None:
        super().__init__()
        self.ordered, self.style, self.start = ordered, style, start


class ListItem(Node):
    __slots__ = ()
    kind = "li"


class DefinitionList(Node):
    __slots__ = ()
    kind = "dl"


class DefinitionTerm(Node):
    __slots__ = ()
    kind = "dt"


class DefinitionBody(Node):
    __slots__ = ()
    kind = "dd"


class Blockquote(Node):
    """An indented block, or a ``>`` citation (``citation`` True)."""

    __slots__ = ("citation",)
    kind = "blockquote"

    def __init__(self, citation: bool = False, children=None) -> None:
        super().__init__(children)
        self.citation = citation


class Table(Node):
    __slots__ = ()
    kind = "table"


class TableRow(Node):
    """``attrs`` come from ``|---- style=…`` separators (already sanitized when rendering)."""

    __slots__ = ("attrs",)
    kind = "tr"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.attrs = attrs or {}


class TableCell(Node):
    __slots__ = ("header", "colspan", "align")
    kind = "cell"

    def __init__(self, header: bool, colspan: int = 1, align: str = "") -> None:
        super().__init__()
        self.header, self.colspan, self.align = header, colspan, align


class Processor(Node):
    """A ``{{{#!name args … }}}`` block (``name`` None for a plain ``{{{ }}}`` block)."""

    __slots__ = ("name", "args", "text")
    kind = "processor"

    def __init__(self, name: str | None, args: dict | None, text: str) -> None:
        super().__init__()
        self.name, self.args, self.text = name, args, text


# -- inline


class Style(Node):
    """strong, em, underline, del, sub or sup."""

    __slots__ = ("style",)
    kind = "style"

    def __init__(self, style: str, children=None) -> None:
        super().__init__(children)
        self.style = style


class Monospace(Node):
    """`` `code` `` or ``{{{code}}}``: its single child is the verbatim text."""

    __slots__ = ()
    kind = "code"


class LineBreak(Node):
    __slots__ = ("clear",)
    kind = "br"

    def __init__(self, clear: str = "") -> None:
        super().__init__()
        self.clear = clear


class Link(Node):
    """A TracLink before resolution.

    ``form`` says which syntax produced it: ``camel`` (a WikiPageName), ``short``
    (``ns:target``), ``long`` (``[ns:target label]``), ``creole`` (``[[target|label]]``),
    ``relative`` (``[./Sub]``), ``shorthand`` (``#1``, ``r2``, ``[3]``, ``{4}``), ``email``,
    ``freelink`` (``["page"]``). ``text`` is the source as written (shown when unresolvable);
    ``label`` the label to show; ``explicit`` whether the writer gave the label.
    """

    __slots__ = ("form", "ns", "target", "label", "text", "explicit", "bracketed", "prefix",
                 "ns_given")
    kind = "link"

    def __init__(self, form: str, ns: str, target: str, label: str, text: str,
                 explicit: bool = False, bracketed: bool = False, prefix: str = "") -> None:
        super().__init__()
        self.ns_given = False
        self.form, self.ns, self.target, self.label, self.text = form, ns, target, label, text
        self.explicit, self.bracketed, self.prefix = explicit, bracketed, prefix


class Anchor(Node):
    """``[=#name label]``: children are the label's inline content."""

    __slots__ = ("name",)
    kind = "anchor"

    def __init__(self, name: str, children=None) -> None:
        super().__init__(children)
        self.name = name


class Macro(Node):
    """``[[Name(args)]]``; ``text`` is the whole source. Its only child, if any, is the link
    to show when Name is no macro (``[[Page]]``). ``inline_only`` marks one-line contexts,
    where a macro that is not inline shows as its source."""

    __slots__ = ("name", "args", "text", "inline_only")
    kind = "macro"

    def __init__(self, name: str, args: str | None, text: str) -> None:
        super().__init__()
        self.name, self.args, self.text = name, args, text
        self.inline_only = False
