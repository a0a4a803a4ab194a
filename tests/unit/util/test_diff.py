"""The line diff behind the wiki's and the source browser's diff views."""

from __future__ import annotations

from codeyard.util.diff import DiffOptions, diff_hunks, inline_changes, unified_diff

OLD = [f"line {n}" for n in range(1, 21)]


def changed(**edits) -> list[str]:
    new = list(OLD)
    for index, text in edits.items():
        new[int(index[1:])] = text
    return new


def kinds(hunks) -> list[list[str]]:
    return [[block.type for block in hunk] for hunk in hunks]


def test_identical_texts_have_no_hunks():
    assert diff_hunks(OLD, list(OLD)) == []


def test_changes_far_apart_make_two_hunks_with_context():
    hunks = diff_hunks(OLD, changed(i2="line three", i15="line 16!"), DiffOptions(context=2))
    assert kinds(hunks) == [["unmod", "mod", "unmod"], ["unmod", "mod", "unmod"]]
    first = hunks[0]
    assert [str(x) for x in first[0].base] == ["line 1", "line 2"]
    assert first[1].base_offset == 2 and first[1].changed_offset == 2
    assert len(first[2].base) == 2
    assert kinds(diff_hunks(OLD, changed(i2="x", i15="y"), DiffOptions(context=-1))) == [
        ["unmod", "mod", "unmod", "mod", "unmod"]]


def test_inline_highlight_marks_only_the_changed_words_and_escapes():
    old, new = inline_changes("a <b> c d", "a <b> x d")
    assert str(old) == "a &lt;b&gt; <del>c</del> d"
    assert str(new) == "a &lt;b&gt; <ins>x</ins> d"


def test_added_and_removed_lines():
    new = OLD[:5] + ["inserted"] + OLD[5:18]
    hunks = diff_hunks(OLD, new, DiffOptions(context=1))
    assert kinds(hunks) == [["unmod", "add", "unmod"], ["unmod", "rem"]]
    assert [str(x) for x in hunks[0][1].changed] == ["inserted"]
    assert [str(x) for x in hunks[1][1].base] == ["line 19", "line 20"]
    rows = list(hunks[0][1].rows())
    assert rows == [(None, None, 6, "inserted")]


def test_whitespace_case_and_blank_line_options():
    new = ["LINE 1", "line   2", "", *OLD[2:]]
    assert diff_hunks(OLD, new)
    assert kinds(diff_hunks(OLD, new, DiffOptions(ignore_case=True, ignore_whitespace=True))) == [
        ["unmod", "add", "unmod"]]
    assert diff_hunks(OLD, new, DiffOptions(ignore_case=True, ignore_whitespace=True,
                                            ignore_blank_lines=True)) == []


def test_options_from_trac_query_parameters():
    options = DiffOptions.from_args({"contextlines": "5", "ignorecase": "1", "ignorews": "on"})
    assert (options.context, options.ignore_case, options.ignore_whitespace,
            options.ignore_blank_lines) == (5, True, True, False)
    assert DiffOptions.from_args({"contextall": "1"}).context < 0
    assert DiffOptions.from_args({"contextlines": "x"}).context == 2


def test_unified_text():
    text = unified_diff(["a", "b", "c"], ["a", "B", "c", "d"], "old", "new")
    assert text == "--- old\n+++ new\n@@ -1,3 +1,4 @@\n a\n-b\n+B\n c\n+d\n"
    assert unified_diff(["a"], ["a"]) == ""


def test_line_matching_rebuilds_the_new_text_and_keeps_every_unchanged_line():
    """The anchor-based matcher: applying its opcodes to the old lines gives the new ones,
    and on the big every-other-line edit (where plain difflib is quadratic) every
    untouched line is matched."""
    import random

    from codeyard.util.diff import _line_opcodes

    rnd = random.Random(5)

    def rebuild(a, b):
        out, i, j = [], 0, 0
        for tag, i1, i2, j1, j2 in _line_opcodes(a, b):
            assert (i1, j1) == (i, j)
            if tag == "equal":
                assert a[i1:i2] == b[j1:j2]
            out.extend(b[j1:j2])
            i, j = i2, j2
        assert (i, j) == (len(a), len(b)) and out == b

    for _ in range(500):
        a = [rnd.choice("abcdef") + str(rnd.randrange(4)) for _ in range(rnd.randrange(30))]
        b = list(a)
        for _ in range(rnd.randrange(6)):
            if rnd.random() < .4 and b:
                del b[rnd.randrange(len(b))]
            else:
                b.insert(rnd.randrange(len(b) + 1), rnd.choice("xyab") + "9")
        rebuild(a, b)
    old = [f"ENTRY_{n} = 'name-{n}'\n" for n in range(4000)]
    new = [line.replace("name", "renamed") if n % 2 == 0 else line for n, line in enumerate(old)]
    rebuild(old, new)
    codes = _line_opcodes(old, new)
    assert sum(i2 - i1 for tag, i1, i2, _, _ in codes if tag == "equal") == 2000
