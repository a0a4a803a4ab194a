"""Highlighted lines: Pygments once per text, kept by the content's digest."""

from __future__ import annotations

from codeyard.util import highlight


def test_highlighting_is_kept_by_content_not_by_revision(monkeypatch):
    """The same text highlights once; a change of text, name or type is highlighted anew;
    a caller changing its list does not change what the next caller gets."""
    calls = []
    real = highlight._highlight

    def counting(*args):
        calls.append(args)
        return real(*args)

    highlight._LINES.clear()
    monkeypatch.setattr(highlight, "_highlight", counting)
    first = highlight.highlight_lines("a.py", "text/x-python", "x = 1\ny = 2\n")
    again = highlight.highlight_lines("a.py", "text/x-python", "x = 1\ny = 2\n")
    first.append("changed by a caller")
    third = highlight.highlight_lines("a.py", "text/x-python", "x = 1\ny = 2\n")
    highlight.highlight_lines("a.py", "text/x-python", "x = 3\n")
    highlight.highlight_lines("a.txt", "text/plain", "x = 1\ny = 2\n")
    assert again == third and len(third) == 2 and "span" in str(third[0])
    assert len(calls) == 3


def test_unknown_types_and_huge_texts_are_escaped():
    lines = highlight.highlight_lines("notes.zzz-unknown", "application/x-unknown", "<b>\n&\n")
    assert [str(line) for line in lines] == ["&lt;b&gt;", "&amp;"]
