"""Wiki text -> tree.

The line-by-line state machine follows Trac's formatter closely, because pages written
for Trac must come out with the same structure, odd corners included: a line that is not a
list item still continues the open item, a style left open spans lines until the paragraph
ends, indentation opens block quotes, and so on. Instead of writing HTML it records a stream
of open/close/leaf events that ``inline.build`` turns into a tree (closing a node closes whatever
is still open inside it, so the tree is always well formed).
"""

from __future__ import annotations

import re

from codeyard.wiki import syntax as S
from codeyard.wiki import tree as T
from codeyard.wiki.inline import (
    CLOSE,
    LEAF,
    OPEN,
    TEXT,
    Deadline,
    InlineParser,
    InlineRules,
    build,
    lhref_link,
    parse_oneliner,
    shorten_line,
)

__all__ = ["BlockParser", "InlineParser", "lhref_link", "parse", "parse_oneliner",
           "shorten_line"]
TABLE_PROCESSORS = ("th", "td", "tr")
# ``>`` citations nest by parsing their lines again one level down; deeper than this the
# remaining ``>`` are text. (Lists and indentation have no limit.)
MAX_CITATION_DEPTH = 100


def parse(text: str, escape_newlines: bool = False, deadline: Deadline | None = None
          ) -> T.Document:
    """Parse wiki text (full page flavor) into a Document.

    ``escape_newlines`` keeps the writer's line breaks inside paragraphs (as ``<br />``).
    ``deadline`` stops a parse that takes too long (``RenderTimeout``).
    """
    parser = BlockParser(escape_newlines)
    parser.deadline = deadline
    return parser.parse(text)


class BlockParser(InlineRules):
    """The full-page parser (``level`` counts the ``>`` citations it is inside)."""

    def __init__(self, escape_newlines: bool = False, level: int = 0) -> None:
        self.level = level
        self.escape_newlines = escape_newlines
        self.code_name: str | None = None
        self.code_args: dict | None = None
        self.code_set = False
        self.code_buf: list[str] = []
        self.code_prefix = ""

    def parse(self, text: str) -> T.Document:
        self.reset()
        if "\v" in text or "\f" in text:
            text = S.NORMALIZE_RE.sub(" ", text)
        self.run(text.splitlines())
        return build(self.out)

    def run(self, lines: list[str]) -> None:
        startblock = S.STARTBLOCK_RE
        deadline = self.deadline
        quotes = self.level < MAX_CITATION_DEPTH
        for line in lines:
            if deadline is not None:
                deadline.check()
            start = None
            if "}}}" not in line:
                start = startblock.match(line)
            if self.in_code_block:
                self.code_block(line, start)
                continue
            stripped = line.strip()
            if quotes and stripped.startswith(">"):
                self.quote_line(line)
                continue
            self.close_quote_block()
            if start:
                self.code_block(line, start)
                continue
            if line[:4] == "----":
                self.close_all_blocks()
                self.out.append((LEAF, T.HorizontalRule()))
                continue
            if line == "":
                self.close_all_blocks()
                continue
            if "\t" in line:
                line = line.replace("\t", " " * 8)
            if not line.startswith(" "):
                self.tabstops = []
                if self.quote_stack:
                    self.close_indentation()
            self.in_list_item = False
            self.in_quote = False
            self.line = line
            result = self.inline(line)
            if not self.in_list_item:
                self.close_list()
            if not self.in_quote:
                self.close_indentation()
            if self.in_def_list and not line.startswith(" "):
                self.close_def_list()
            if self.in_table and not self.continue_table:
                self.close_table()
            self.continue_table = False
            newline_break = False
            if not (self.in_list_item or self.in_def_list or self.in_table):
                if result:
                    self.open_paragraph()
                if self.escape_newlines and self.paragraph_open:
                    newline_break = not _ends_with_break(result)
            self.out.extend(result)
            if newline_break:
                self.out.append((LEAF, T.LineBreak()))
            self.out.append((TEXT, "\n"))
            self.close_table_row()
        self.close_code_blocks()
        self.close_quote_block()
        self.close_all_blocks()

    def close_all_blocks(self) -> None:
        self.close_table()
        self.close_paragraph()
        self.close_indentation()
        self.close_list()
        self.close_def_list()

    # -- headings
    def _heading(self, match, m, res):
        self.close_table()
        self.close_paragraph()
        self.close_indentation()
        self.close_list()
        self.close_def_list()
        hdepth = m.group("hdepth")
        depth = len(hdepth)
        anchor = (m.group("hanchor") or "")[1:]
        htext = m.group("htext").strip()
        if htext.endswith(hdepth):
            htext = htext[:-depth]
        heading = T.Heading(depth, anchor, htext, parse_oneliner(htext).children)
        self.out.append((LEAF, heading))

    # -- lists
    def set_tab(self, depth: int) -> None:
        tabstops = []
        for ts in self.tabstops:
            if ts >= depth:
                break
            tabstops.append(ts)
        tabstops.append(depth)
        self.tabstops = tabstops

    def _list(self, match, m, res):
        ldepth = len(m.group("ldepth"))
        listid = match[ldepth]
        self.in_list_item = True
        style, start = "", None
        if listid in S.BULLET_CHARS:
            ordered = False
        else:
            ordered = True
            lstart = m.group("lstart")
            if listid == "i":
                style = "lowerroman"
            elif listid == "I":
                style = "upperroman"
            elif listid.isdigit() and lstart != "1":
                start = int(lstart)
            elif listid.islower():
                style = "loweralpha"
                if len(lstart) == 1 and lstart != "a":
                    start = ord(lstart) - ord("a") + 1
            elif listid.isupper():
                style = "upperalpha"
                if len(lstart) == 1 and lstart != "A":
                    start = ord(lstart) - ord("A") + 1
        self.set_list_depth(ldepth, ("ol" if ordered else "ul"), style, start)

    def list_depth(self) -> int:
        return self.list_stack[-1][1] if self.list_stack else -1

    def set_list_depth(self, depth, new_type=None, style="", start=None) -> None:
        def open_list():
            self.close_table()
            self.close_paragraph()
            self.close_indentation()
            self.list_stack.append((new_type, depth))
            self.set_tab(depth)
            self.emit_open(T.List(new_type == "ol", style, start))
            self.emit_open(T.ListItem())

        def close_item():
            self.flush_tags()
            self.emit_close("li")

        def close_list():
            self.list_stack.pop()
            close_item()
            self.emit_close("list")

        if depth > self.list_depth():
            open_list()
            return
        while self.list_stack:
            if depth >= self.list_stack[-1][1]:
                break
            close_list()
        if new_type and depth >= 0:
            if self.list_stack:
                old_type, old_offset = self.list_stack[-1]
                if old_type != new_type:
                    close_list()
                    open_list()
                else:
                    if old_offset != depth:
                        self.list_stack[-1] = (old_type, depth)
                    close_item()
                    self.emit_open(T.ListItem())
            else:
                open_list()

    def close_list(self, depth: int = -1) -> None:
        self.set_list_depth(depth)

    # -- definition lists
    def _definition(self, match, m, res):
        if self.in_def_list:
            res.append((CLOSE, "dd"))
        else:
            self.close_paragraph()
            res.append((OPEN, T.DefinitionList()))
        term = match[:match.find("::")]
        res.append((LEAF, T.DefinitionTerm(parse_oneliner(term).children)))
        res.append((OPEN, T.DefinitionBody()))
        self.in_def_list = True

    def close_def_list(self) -> None:
        if self.in_def_list:
            self.emit_close("dd")
            self.emit_close("dl")
        self.in_def_list = False

    # -- indentation (block quotes)
    def _indent(self, match, m, res):
        idepth = len(m.group("idepth"))
        if self.list_stack:
            ltype, ldepth = self.list_stack[-1]
            if idepth < ldepth:
                for _, ldepth in self.list_stack:
                    if idepth > ldepth:
                        self.in_list_item = True
                        self.set_list_depth(idepth)
                        return
            elif idepth <= ldepth + (3 if ltype == "ol" else 2):
                self.in_list_item = True
                return
        if not self.in_def_list:
            self.set_quote_depth(idepth)

    def close_indentation(self) -> None:
        self.set_quote_depth(0)

    def set_quote_depth(self, depth: int) -> None:
        quote_depth = self.quote_stack[-1] if self.quote_stack else 0

        def open_quote(d):
            self.close_table()
            self.close_paragraph()
            self.close_list()
            self.quote_stack.append(d)
            self.set_tab(d)
            self.emit_open(T.Blockquote())
            self.out.append((TEXT, "\n"))

        if depth > quote_depth:
            self.set_tab(depth)
            for tab in self.tabstops:
                if tab > quote_depth:
                    open_quote(tab)
        else:
            while self.quote_stack:
                if depth >= self.quote_stack[-1]:
                    break
                self.close_table()
                self.close_paragraph()
                self.quote_stack.pop()
                self.emit_close("blockquote")
            if depth > 0:
                if self.quote_stack:
                    self.quote_stack[-1] = depth
                else:
                    open_quote(depth)
        if depth > 0:
            self.in_quote = True

    # -- tables
    def _table_cell(self, match, m, res):
        self.open_table()
        self.open_table_row()
        self.continue_table = True
        sep = m.group("table_cell_sep")
        is_last = m.group("table_cell_last")
        numpipes = len(sep)
        header = False
        if sep[0] == "=":
            numpipes -= 1
        if sep[-1] == "=":
            numpipes -= 1
            header = True
        colspan = numpipes // 2
        if is_last is not None:
            if is_last and is_last[-1] == "\\":
                self.continue_table_row = True
            colspan -= 1
            if not colspan:
                return
        line = self.line
        after = m.end("table_cell_sep")
        alignleft = after < len(line) and line[after] != " "
        next_sep = _NEXT_SEP_RE.search(line, after)
        alignright = next_sep is not None and next_sep.group(1) != " "
        align = ""
        if alignleft:
            if not alignright:
                align = "left"
        elif alignright:
            align = "right"
        elif next_sep:
            first, last = after + 1, next_sep.start() - 1
            if first < last and line[first] == line[last] == " ":
                align = "center"
        if self.in_table_cell:
            self.flush_tags(res)
            res.append((CLOSE, "cell"))
        res.append((OPEN, T.TableCell(header, colspan, align)))
        self.in_table_cell = "th" if header else "td"

    def _table_row_sep(self, match, m, res):
        self.open_table()
        self.close_table_row(force=True)
        params = m.group("table_row_params")
        attrs = {}
        if params:
            attrs = S.parse_processor_args(match[match.find("-"):].lstrip("-"))
        self.open_table_row(attrs)
        self.continue_table = True
        self.continue_table_row = True

    def open_table(self) -> None:
        if not self.in_table:
            self.close_paragraph()
            self.close_list()
            self.close_def_list()
            self.in_table = True
            self.emit_open(T.Table())

    def open_table_row(self, attrs=None) -> None:
        if not self.in_table_row:
            self.open_table()
            self.in_table_row = True
            self.emit_open(T.TableRow(attrs))

    def close_table_row(self, force: bool = False) -> None:
        if self.in_table_row and (not self.continue_table_row or force):
            self.in_table_row = False
            if self.in_table_cell:
                self.flush_tags()
                self.emit_close("cell")
                self.in_table_cell = ""
            self.emit_close("tr")
        self.continue_table_row = False

    def close_table(self) -> None:
        if self.in_table:
            self.close_table_row(force=True)
            self.emit_close("table")
            self.in_table = False

    # -- paragraphs
    def open_paragraph(self) -> None:
        if not self.paragraph_open:
            self.emit_open(T.Paragraph())
            self.out.append((TEXT, "\n"))
            self.paragraph_open = True

    def close_paragraph(self) -> None:
        self.flush_tags()
        if self.paragraph_open:
            self.emit_close("p")
            self.paragraph_open = False

    # -- code blocks and processors
    def code_block(self, line: str, start=None) -> None:
        if start:
            self.in_code_block += 1
            if self.in_code_block == 1:
                name = start.group(2)
                if name:
                    self.code_name = name
                    self.code_args = S.parse_processor_args(line[start.end():])
                else:
                    self.code_name, self.code_args = None, None
                self.code_set = bool(name)
                self.code_buf = []
                self.code_prefix = line[:line.find("{{{")]
            else:
                self.code_buf.append(line)
                if not self.code_set:
                    self.code_name, self.code_args, self.code_set = "default", None, True
        elif line.strip() == "}}}":
            self.in_code_block -= 1
            if self.in_code_block == 0 and self.code_set:
                if self.code_name not in TABLE_PROCESSORS:
                    self.close_table()
                self.close_paragraph()
                buf = self.code_buf
                if buf:
                    prefix = self.code_prefix
                    if prefix and all(not ln or ln.startswith(prefix) for ln in buf):
                        buf = [ln[len(prefix):] for ln in buf]
                    buf.append("")
                self.emit_processor(self.code_name, self.code_args, "\n".join(buf))
            else:
                self.code_buf.append(line)
        elif not self.code_set:
            pm = S.PROCESSOR_RE.match(line)
            if pm:
                self.code_prefix = pm.group(1)
                self.code_name = pm.group(2)
                self.code_args = S.parse_processor_args(line[pm.end():])
            else:
                self.code_buf.append(line)
                self.code_name, self.code_args = "default", None
            self.code_set = True
        else:
            self.code_buf.append(line)

    def emit_processor(self, name, args, text) -> None:
        if name in ("td", "th"):
            self.open_table_row()
        elif name == "tr" and self._is_one_table(text):
            # Trac opens the table only when the row's content is table cells.
            self.open_table()
        self.out.append((LEAF, T.Processor(name, args, text)))

    def close_code_blocks(self) -> None:
        while self.in_code_block > 0:
            self.code_block("}}}")

    # -- > citations
    def quote_line(self, line: str) -> None:
        self.close_paragraph()
        depth = line.find(">")
        if not self.quote_buffer and depth < self.list_depth():
            self.close_list(depth)
        self.quote_buffer.append(line[depth + 1:])

    def close_quote_block(self) -> None:
        if self.quote_buffer:
            buf = self.quote_buffer
            if all(not ln or ln[0] in "> " for ln in buf):
                buf = [ln[1:] if ln and ln[0] == " " else ln for ln in buf]
            inner = BlockParser(self.escape_newlines, self.level + 1)
            inner.deadline = self.deadline
            inner.reset()
            inner.run(buf)
            quote = T.Blockquote(True, build(inner.out).children)
            self.out.append((LEAF, quote))
            self.quote_buffer = []

    def _is_one_table(self, text: str) -> bool:
        if not text:
            return True
        if self.level >= MAX_CITATION_DEPTH:
            return False  # rows in rows this deep are not looked into (it nests without bound)
        inner = BlockParser(level=self.level + MAX_CITATION_DEPTH // 8)
        inner.deadline = self.deadline
        found = [c for c in inner.parse(text).children if not isinstance(c, str) or c.strip()]
        return len(found) == 1 and isinstance(found[0], T.Table)


_NEXT_SEP_RE = re.compile(r"([^!])=?\|\|")


def _ends_with_break(events: list) -> bool:
    for op, value in reversed(events):
        if op == TEXT:
            if value.strip():
                return False
            continue
        if op == LEAF and value.kind in ("br", "macro") and (
                value.kind == "br" or value.name.lower() == "br"):
            return True
        return False
    return False
