"""Code blocks in a language or MIME type (``#!python``, ``#!text/x-python``) and diffs."""

from __future__ import annotations

import re
from functools import lru_cache

from markupsafe import Markup, escape

from codeyard.wiki.api import WikiMacro

DIFF_TYPES = {"diff", "patch", "udiff", "text/x-diff", "text/x-patch"}
_HUNK_RE = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


@lru_cache(maxsize=512)
def _lexer_for(name: str):
    from pygments.lexers import get_lexer_by_name, get_lexer_for_filename, get_lexer_for_mimetype
    from pygments.util import ClassNotFound

    try:
        if "/" in name:
            return get_lexer_for_mimetype(name)
        return get_lexer_by_name(name)
    except ClassNotFound:
        pass
    try:  # a file name extension (``#!cmd``, ``#!pyw``), as Trac's MIME map allows
        return get_lexer_for_filename("file." + name) if name.isalnum() else None
    except ClassNotFound:
        return None


def pygments_css(prefix: str = ".wiki-code .code") -> str:
    """The stylesheet rules for highlighted code blocks (Pygments' default style)."""
    from pygments.formatters import HtmlFormatter

    return HtmlFormatter().get_style_defs(prefix)


def highlighter(name: str):
    """A WikiMacro rendering ``name`` code, or None when nothing knows that name."""
    if name in DIFF_TYPES:
        return WikiMacro(name, lambda fmt, n, content, args: render_diff(content or ""))
    if _lexer_for(name) is None:
        return None
    return WikiMacro(name, lambda fmt, n, content, args: highlight_block(fmt, n, content or "",
                                                                       args))


@lru_cache(maxsize=1)
def _html_formatter():
    """Pygments' HTML formatter for code blocks (it only holds its options and the CSS
    classes of token types, so one serves every block: making one builds a stylesheet)."""
    from pygments.formatters import HtmlFormatter

    return HtmlFormatter(nowrap=True)


def highlight_block(fmt, name: str, text: str, args=None) -> Markup:
    from pygments import highlight

    lexer = _lexer_for(name if name != "text/plain" else "text")
    args = dict(args or {})
    lineno = args.pop("lineno", None)
    if lexer is None:
        body = escape(text)
    else:
        lexer = lexer.__class__(stripnl=False, ensurenl=False)
        body = highlight(text, lexer, _html_formatter())
    if lineno is None:
        return Markup('<div class="wiki-code"><div class="code"><pre>%s</pre></div></div>') % Markup(body)
    try:
        first = max(1, int(lineno))
    except (TypeError, ValueError):
        first = 1
    prefix = str(args.get("id") or fmt.unique_anchor("a")) + "-"
    marked = _marks(str(args.get("marks", "")))
    rows = []
    for i, line in enumerate(str(body).split("\n")[:-1] if str(body).endswith("\n")
                             else str(body).split("\n")):
        num = first + i
        hilite = ' class="hilite"' if num in marked else ""
        rows.append(f'<tr{hilite}><th id="{escape(prefix)}L{num}"><a href="#{escape(prefix)}L{num}">'
                    f"{num}</a></th><td>{line}</td></tr>")
    table = ('<table class="code"><thead><tr><th class="lineno" title="Line numbers">Line</th>'
             '<th class="content">&nbsp;</th></tr></thead><tbody>' + "".join(rows)
             + "</tbody></table>")
    return Markup('<div class="wiki-code">%s</div>') % Markup(table)


class _marks:
    """The line numbers named by ``marks=3-5,8`` (kept as intervals)."""

    def __init__(self, text: str) -> None:
        self.intervals = []
        for part in text.split(","):
            bounds = part.strip().split("-", 1)
            try:
                low = int(bounds[0])
                high = int(bounds[-1]) if len(bounds) > 1 and bounds[-1] else low
            except ValueError:
                continue
            self.intervals.append((low, high))

    def __contains__(self, number: int) -> bool:
        return any(low <= number <= high for low, high in self.intervals)


def render_diff(text: str) -> Markup:
    """A unified diff as Trac shows it: one table per file, changed blocks grouped."""
    files: list[dict] = []
    current: dict | None = None
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            old = line[4:].split("\t")[0].strip()
            new = lines[i + 1][4:].split("\t")[0].strip()
            current = {"old": old, "new": new, "blocks": []}
            files.append(current)
            i += 2
            continue
        m = _HUNK_RE.match(line)
        if m and current is not None:
            oldno, newno = int(m.group(1)), int(m.group(3))
            i += 1
            while i < len(lines) and not lines[i].startswith(("@@", "--- ")):
                row = lines[i]
                tag, content = (row[:1], row[1:]) if row else (" ", "")
                if tag == "-":
                    _add(current["blocks"], "mod", ("l", oldno, None, content))
                    oldno += 1
                elif tag == "+":
                    _add(current["blocks"], "mod", ("r", None, newno, content))
                    newno += 1
                elif tag == "\\":
                    pass
                else:
                    _add(current["blocks"], "unmod", ("l", oldno, newno, content))
                    oldno += 1
                    newno += 1
                i += 1
            continue
        i += 1
    if not files:
        return Markup('<div class="wiki-code"><div class="code"><pre>%s</pre></div></div>') % text
    out = ['<div class="wiki-code"><div class="diff"><ul class="entries">']
    for f in files:
        common, old_rest, new_rest = _split_names(f["old"], f["new"])
        out.append(f'<li class="entry"><h2><a>{escape(common)}</a></h2>'
                   '<table class="trac-diff inline" cellspacing="0"><colgroup>'
                   '<col class="lineno"/><col class="lineno"/><col class="content"/>'
                   '</colgroup><thead><tr>'
                   f'<th title="File {escape(f["old"])}">{escape(old_rest)}</th>'
                   f'<th title="File {escape(f["new"])}">{escape(new_rest)}</th>'
                   "<td><em></em>&nbsp;</td></tr></thead>")
        for kind, rows in f["blocks"]:
            out.append(f'<tbody class="{kind}">')
            for n, (side, a, b, content) in enumerate(rows):
                cls = []
                if kind == "mod" and n == 0:
                    cls.append("first")
                if kind == "mod" and n == len(rows) - 1:
                    cls.append("last")
                attr = f' class="{" ".join(cls)}"' if cls else ""
                out.append(f"<tr{attr}><th>{a if a is not None else '&nbsp;'}</th>"
                           f"<th>{b if b is not None else '&nbsp;'}</th>"
                           f'<td class="{side}"><span>{escape(content)}</span></td></tr>')
            out.append("</tbody>")
        out.append("</table></li>")
    out.append("</ul></div></div>")
    return Markup("".join(out))


def _split_names(old: str, new: str) -> tuple[str, str, str]:
    """(common trailing path, what differs in the old name, in the new name): the heading
    and the two column titles of a file's diff (``a/f.txt``, ``b/f.txt`` -> f.txt, a, b)."""
    old_parts = (old.split() or [old])[0].split("/")
    new_parts = (new.split() or [new])[0].split("/")
    common: list[str] = []
    while old_parts and new_parts and old_parts[-1] == new_parts[-1]:
        common.insert(0, old_parts.pop())
        new_parts.pop()
    return "/".join(common) or "/".join(new_parts), "/".join(old_parts), "/".join(new_parts)


def _add(blocks: list, kind: str, row) -> None:
    if blocks and blocks[-1][0] == kind:
        blocks[-1][1].append(row)
    else:
        blocks.append((kind, [row]))
