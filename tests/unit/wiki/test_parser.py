"""The parser alone: tree shapes, argument parsing, the one-line flavor, plain text."""

from __future__ import annotations

import random

import pytest

from codeyard.wiki import syntax as S
from codeyard.wiki import tree as T
from codeyard.wiki.api import parse_args
from codeyard.wiki.formatter import format_to_text, parse, parse_oneliner
from codeyard.wiki.parser import shorten_line


def blocks(doc):
    return [c for c in doc.children if not isinstance(c, str)]


def test_heading_levels_and_anchors():
    doc = parse("= One =\n=== Three === #here\n")
    h1, h3 = blocks(doc)
    assert (h1.level, h1.anchor, h1.children) == (1, "", ["One"])
    assert (h3.level, h3.anchor) == (3, "here")


def test_nested_lists_and_styles():
    doc = parse(" * a\n   1. b\n * c\n")
    (outer,) = blocks(doc)
    assert isinstance(outer, T.List) and not outer.ordered
    first, second = outer.children
    inner = [c for c in first.children if isinstance(c, T.List)][0]
    assert inner.ordered and inner.children[0].children[0].strip() == "b"
    assert second.children[0].strip() == "c"


def test_list_start_and_styles():
    (lst,) = blocks(parse(" c. third\n"))
    assert (lst.style, lst.start) == ("loweralpha", 3)
    (lst,) = blocks(parse(" 7. seven\n"))
    assert (lst.style, lst.start) == ("", 7)
    (lst,) = blocks(parse(" ii. two\n"))
    assert lst.style == "lowerroman"


def test_table_cells_alignment_and_continuation():
    (table,) = blocks(parse("||=h=||  c  || r||\n||a||\\\n||b||\n"))
    rows = [r for r in table.children if isinstance(r, T.TableRow)]
    assert len(rows) == 2
    cells = [c for c in rows[0].children if isinstance(c, T.TableCell)]
    assert [c.header for c in cells] == [True, False, False]
    assert cells[1].align == "center"
    assert cells[2].align == "right"
    assert len([c for c in rows[1].children if isinstance(c, T.TableCell)]) == 2


def test_processor_blocks_keep_name_args_and_text():
    (proc,) = blocks(parse("{{{#!div class=note style=\"color: red\"\n''x''\n}}}\n"))
    assert proc.name == "div"
    assert proc.args == {"class": "note", "style": "color: red"}
    assert proc.text == "''x''\n"
    (nested,) = blocks(parse("{{{#!div\n{{{#!span\ninner\n}}}\n}}}\n"))
    assert "{{{#!span" in nested.text


def test_links_are_kept_unresolved():
    (para,) = blocks(parse("See CamelCase, #12, [wiki:Page label] and [[Other|x]].\n"))
    links = [c for c in para.children if isinstance(c, T.Link)]
    assert [(k.form, k.ns, k.target, k.label) for k in links] == [
        ("camel", "wiki", "CamelCase", "CamelCase"),
        ("shorthand", "ticket", "12", "#12"),
        ("lhref", "wiki", "Page", "label"),
        ("creole", "wiki", "Other", "x"),
    ]


def test_escapes_make_text():
    (para,) = blocks(parse("!CamelCase !#1 !'''x!'''\n"))
    assert "".join(c for c in para.children if isinstance(c, str)).strip() == \
        "CamelCase #1 '''x'''"


def test_macro_node_carries_fallback_link():
    (para,) = blocks(parse("[[Name(a, b=c)]] [[Page]]\n"))
    macros = [c for c in para.children if isinstance(c, T.Macro)]
    assert [(m.name, m.args) for m in macros] == [("Name", "a, b=c"), ("Page", None)]
    assert macros[1].children[0].target == "Page"


@pytest.mark.parametrize("args,expected", [
    ("", ([], {})),
    ("a, b", (["a", " b"], {})),
    ("a=1, b", (["a=1", " b"], {})),  # one-letter names are not keywords (as in Trac)
    ("ab=1, b", ([" b"], {"ab": "1"})),
    (r"x\, y, zz=1\,2", (["x, y"], {"zz": "1,2"})),
    ("1x=2", (["1x=2"], {})),
])
def test_parse_args_strict(args, expected):
    assert parse_args(args) == expected


def test_parse_args_loose_keywords():
    assert parse_args("data-x=1, 2=two", strict=False) == ([], {"data-x": "1", "2": "two"})


def test_processor_args():
    assert S.parse_processor_args('ab="c de -f gh=ij" -') == {"ab": "c de -f gh=ij"}
    assert S.parse_processor_args("ab=c de -f gh='ij k' p=q-r,s") == {
        "ab": "c", "de": True, "f": False, "gh": "ij k", "p": "q-r,s"}


def test_oneliner_keeps_block_syntax_as_text():
    doc = parse_oneliner("= x =\n * y\n{{{\ncode\n}}}")
    text = "".join(c for c in doc.children if isinstance(c, str))
    assert "= x =" in text and " * y" in text and "[\u2026]" in text


def test_shorten_line():
    assert shorten_line("short") == "short"
    long = "word " * 30
    assert shorten_line(long).endswith(" ...") and len(shorten_line(long)) <= 75


def test_format_to_text():
    text = format_to_text("= Title =\nSome '''bold''' [wiki:Page label].\n * item\n{{{\ncode\n}}}\n")
    assert "Title" in text and "Some bold label." in text and "* item" in text
    assert "code" in text and "'''" not in text


def test_candidate_scan_finds_what_finditer_finds():
    """The fast scan in the parser must find the very matches the plain regex finds."""
    pieces = ["'''", "''", "**", "//", "__", "~~", "^", ",,", "{{{", "}}}", "`", "!", "[", "]",
              "[[", "]]", "#1", "r1", "{1}", "CamelCase", "a@b.com", "http://x", "<", ">",
              "&", "||", "=", " ", "  ", "\\\\", "-", "é", "Über", "x", "1", ":", "/", ".",
              "|-", "* ", "1. ", "::", "wiki:", "'", "\t", "_", "+", "@", "a", "b.c", "1a",
              "r12", "r1:3", "ab-c+d:", "x1y:", "Wiki", "Page", "../", "./", "0123456789abcdef",
              "deadbeef" * 5, "r" + "cafe" * 10, "ä", "Éa", "a" * 40, "q.", "-x"]
    rnd = random.Random(7)

    def fast(line):
        found, pos = [], 0
        while pos < len(line):
            m = S.RULES_RE.match(line, pos)
            if m:
                found.append((m.start(), m.end(), m.lastgroup))
                pos = m.end()
                if pos >= len(line) or S.RETRY_AT_ONCE_RE.match(line, pos):
                    continue
                c = S.CANDIDATE_RE.search(line, pos)
            else:
                c = S.CANDIDATE_RE.search(line, pos + 1)
            if not c:
                break
            pos = c.start()
        return found

    for _ in range(20000):
        line = "".join(rnd.choice(pieces) for _ in range(rnd.randint(1, 14)))
        slow = [(m.start(), m.end(), m.lastgroup) for m in S.RULES_RE.finditer(line)]
        assert fast(line) == slow, line


def test_large_page_parses_quickly():
    import time

    page = ("= Section =\nText with '''bold''', CamelCase and #1.\n * item\n"
            "||a||b||\n{{{\ncode\n}}}\n\n") * 1500
    start = time.perf_counter()
    doc = parse(page)
    assert time.perf_counter() - start < 2.0
    assert sum(1 for n in doc.children if isinstance(n, T.Heading)) == 1500
