"""Source text as highlighted HTML lines (Pygments, when it knows the file's type), for
every page that shows a file: the source browser, attachment previews.

Highlighting is most of such a page's time and depends only on the text, the file name and
the type, so each process keeps the lines of recent texts by their digest: a file shown
again — at any revision that did not change it — costs a hash.
"""

from __future__ import annotations

import hashlib

from markupsafe import Markup, escape

from codeyard.util.lru import BoundedCache

MAX_HIGHLIGHTED = 2_000_000  # characters; longer texts are shown escaped, not highlighted
_LINES = BoundedCache(64)


def highlight_lines(filename: str, mimetype: str, text: str) -> list[Markup]:
    """Each line of the text as HTML (a new list: callers may change it)."""
    key = (filename, mimetype,
           hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=20).digest())
    return list(_LINES.get_or_make(key, lambda: tuple(_highlight(filename, mimetype, text))))


def _highlight(filename: str, mimetype: str, text: str) -> list[Markup]:
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import get_lexer_for_filename, get_lexer_for_mimetype
    from pygments.util import ClassNotFound

    lexer = None
    try:
        lexer = get_lexer_for_filename(filename, stripnl=False, ensurenl=False)
    except ClassNotFound:
        try:
            lexer = get_lexer_for_mimetype(mimetype, stripnl=False, ensurenl=False)
        except ClassNotFound:
            lexer = None
    if lexer is None or len(text) > MAX_HIGHLIGHTED:
        body = str(escape(text))
    else:
        # HtmlFormatter closes and reopens its spans at each line end, so lines split cleanly.
        body = highlight(text, lexer, HtmlFormatter(nowrap=True))
    lines = body.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [Markup(line) for line in lines]
