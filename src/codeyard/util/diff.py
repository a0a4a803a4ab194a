"""Line diffs for people: hunks of context, additions, removals and changes, with the
changed characters inside a changed line marked (``<del>``/``<ins>``).

Options as Trac's diff views name them: ``contextlines`` (lines of context around each
change, or everything with ``contextall``), ``ignorecase``, ``ignorewhitespace`` (changes in
the amount of white space) and ``ignoreblanklines`` (blank lines added or removed).
"""

from __future__ import annotations

import difflib
import itertools
import re
from bisect import bisect_left
from dataclasses import dataclass, field

from markupsafe import Markup, escape

__all__ = ["DiffOptions", "Block", "diff_hunks", "unified_diff", "inline_changes",
           "matching_lines"]

_SPACE_RE = re.compile(r"\s+")
# Compare words and the runs of spaces between them: readable highlights, fast matching.
_TOKEN_RE = re.compile(r"\s+|\w+|[^\w\s]")


@dataclass
class DiffOptions:
    context: int = 2  # lines around each change; negative: the whole text
    ignore_case: bool = False
    ignore_whitespace: bool = False
    ignore_blank_lines: bool = False

    @classmethod
    def from_args(cls, args, default_context: int = 2) -> DiffOptions:
        """Read Trac's query parameters (a mapping with ``get``)."""

        def flag(*names: str) -> bool:
            return any(str(args.get(n, "")).strip().lower() in ("1", "on", "true", "yes")
                       for n in names)

        try:
            context = int(args.get("contextlines", default_context))
        except (TypeError, ValueError):
            context = default_context
        if flag("contextall"):
            context = -1
        return cls(context=context, ignore_case=flag("ignorecase"),
                   ignore_whitespace=flag("ignorewhitespace", "ignorews"),
                   ignore_blank_lines=flag("ignoreblanklines"))


@dataclass
class Block:
    """A run of lines: ``unmod`` (context), ``add``, ``rem`` or ``mod``.

    ``base`` and ``changed`` are the lines of each side as HTML (changed characters wrapped
    in ``<del>``/``<ins>`` for ``mod``); ``base_offset`` / ``changed_offset`` the 0-based
    number of the first line of each side.
    """

    type: str
    base_offset: int
    changed_offset: int
    base: list[Markup] = field(default_factory=list)
    changed: list[Markup] = field(default_factory=list)

    def rows(self):
        """Side-by-side rows: (base line number, base html, changed number, changed html);
        a number is None where that side has no line."""
        for i in range(max(len(self.base), len(self.changed))):
            old = (self.base_offset + i + 1, self.base[i]) if i < len(self.base) else (None, None)
            new = ((self.changed_offset + i + 1, self.changed[i]) if i < len(self.changed)
                   else (None, None))
            yield (*old, *new)


def _key(line: str, options: DiffOptions) -> str:
    if options.ignore_whitespace:
        line = _SPACE_RE.sub(" ", line.strip())
    if options.ignore_case:
        line = line.lower()
    return line


def _anchors(a: list[str], b: list[str], alo: int, ahi: int, blo: int, bhi: int
             ) -> list[tuple[int, int]]:
    """The longest increasing run of lines that occur exactly once on each side of the
    region (patience sorting): the matches everything else aligns around."""
    count_a: dict[str, int] = {}
    for i in range(alo, ahi):
        count_a[a[i]] = count_a.get(a[i], 0) + 1
    count_b: dict[str, int] = {}
    where_b: dict[str, int] = {}
    for j in range(blo, bhi):
        count_b[b[j]] = count_b.get(b[j], 0) + 1
        where_b[b[j]] = j
    pairs = [(i, where_b[a[i]]) for i in range(alo, ahi)
             if count_a[a[i]] == 1 and count_b.get(a[i]) == 1]
    if not pairs:
        return []
    # Longest increasing subsequence of the b positions (pairs are in a order).
    tails: list[int] = []  # index into pairs of the smallest tail of each length
    back: list[int] = [-1] * len(pairs)
    tail_values: list[int] = []
    for k, (_, j) in enumerate(pairs):
        pos = bisect_left(tail_values, j)
        back[k] = tails[pos - 1] if pos else -1
        if pos == len(tails):
            tails.append(k)
            tail_values.append(j)
        else:
            tails[pos] = k
            tail_values[pos] = j
    out: list[tuple[int, int]] = []
    k = tails[-1]
    while k != -1:
        out.append(pairs[k])
        k = back[k]
    out.reverse()
    return out


def _matches(a: list[str], b: list[str]) -> list[tuple[int, int]]:
    """Matching line pairs (i, j), increasing on both sides: common ends first, then
    unique lines as anchors, recursively; difflib only inside regions without anchors
    (difflib alone is quadratic on big files where every other line changed)."""
    out: list[tuple[int, int]] = []
    stack = [(0, len(a), 0, len(b))]
    regions: list[tuple[int, int, int, int]] = []
    while stack:
        alo, ahi, blo, bhi = stack.pop()
        head: list[tuple[int, int]] = []
        while alo < ahi and blo < bhi and a[alo] == b[blo]:
            head.append((alo, blo))
            alo += 1
            blo += 1
        tail: list[tuple[int, int]] = []
        while alo < ahi and blo < bhi and a[ahi - 1] == b[bhi - 1]:
            ahi -= 1
            bhi -= 1
            tail.append((ahi, bhi))
        out.extend(head)
        out.extend(tail)
        if alo >= ahi or blo >= bhi:
            continue
        anchors = _anchors(a, b, alo, ahi, blo, bhi)
        if not anchors:
            regions.append((alo, ahi, blo, bhi))
            continue
        out.extend(anchors)
        bounds = [(alo - 1, blo - 1), *anchors, (ahi, bhi)]
        for (i1, j1), (i2, j2) in itertools.pairwise(bounds):
            if i2 - i1 > 1 and j2 - j1 > 1:
                stack.append((i1 + 1, i2, j1 + 1, j2))
    for alo, ahi, blo, bhi in regions:
        matcher = difflib.SequenceMatcher(None, a[alo:ahi], b[blo:bhi], autojunk=False)
        for i, j, size in matcher.get_matching_blocks():
            out.extend((alo + i + k, blo + j + k) for k in range(size))
    out.sort()
    return out


def matching_lines(a: list[str], b: list[str]) -> list[tuple[int, int]]:
    """The pairs (i, j) of lines of ``a`` and ``b`` a line diff keeps, in order (what an
    annotation carries from one version of a file to the next)."""
    return _matches(a, b)


def _line_opcodes(a: list[str], b: list[str]) -> list[tuple[str, int, int, int, int]]:
    """difflib-style opcodes from the matching lines."""
    codes: list[tuple[str, int, int, int, int]] = []
    i = j = 0
    for mi, mj in [*_matches(a, b), (len(a), len(b))]:
        if mi > i or mj > j:
            tag = "replace" if mi > i and mj > j else "delete" if mi > i else "insert"
            codes.append((tag, i, mi, j, mj))
        if mi < len(a) and mj < len(b):
            if codes and codes[-1][0] == "equal" and codes[-1][2] == mi and codes[-1][4] == mj:
                codes[-1] = ("equal", codes[-1][1], mi + 1, codes[-1][3], mj + 1)
            else:
                codes.append(("equal", mi, mi + 1, mj, mj + 1))
        i, j = mi + 1, mj + 1
    return codes


def _opcodes(old: list[str], new: list[str], options: DiffOptions):
    a = [_key(line, options) for line in old]
    b = [_key(line, options) for line in new]
    codes = _line_opcodes(a, b)
    if options.ignore_blank_lines:
        codes = [("equal" if tag != "equal" and all(not s.strip() for s in a[i1:i2] + b[j1:j2])
                  else tag, i1, i2, j1, j2) for tag, i1, i2, j1, j2 in codes]
    return codes


def inline_changes(old: str, new: str, options: DiffOptions | None = None) -> tuple[Markup, Markup]:
    """Both lines as HTML, with what differs wrapped in ``<del>`` (old) and ``<ins>`` (new)."""
    a, b = _TOKEN_RE.findall(old), _TOKEN_RE.findall(new)
    out_old: list[str] = []
    out_new: list[str] = []
    if options is not None and (options.ignore_case or options.ignore_whitespace):
        key_a = [_key(t, options) or " " for t in a]
        key_b = [_key(t, options) or " " for t in b]
    else:
        key_a, key_b = a, b
    matcher = difflib.SequenceMatcher(None, key_a, key_b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        left, right = escape("".join(a[i1:i2])), escape("".join(b[j1:j2]))
        if tag == "equal":
            out_old.append(left)
            out_new.append(right)
            continue
        if left:
            out_old.append(Markup("<del>%s</del>") % left)
        if right:
            out_new.append(Markup("<ins>%s</ins>") % right)
    return Markup("".join(out_old)), Markup("".join(out_new))


def _esc(lines: list[str]) -> list[Markup]:
    return [escape(line) for line in lines]


def diff_hunks(old: list[str], new: list[str], options: DiffOptions | None = None) -> list[list[Block]]:
    """Hunks (lists of Blocks) turning ``old`` into ``new``; empty when nothing differs."""
    options = options or DiffOptions()
    codes = _opcodes(old, new, options)
    if all(tag == "equal" for tag, *_ in codes) and not options.context < 0:
        return []
    if options.context < 0:
        groups = [codes]
    else:
        groups = _group(codes, options.context)
    hunks: list[list[Block]] = []
    for group in groups:
        blocks: list[Block] = []
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                blocks.append(Block("unmod", i1, j1, _esc(old[i1:i2]), _esc(new[j1:j2])))
            elif tag == "delete":
                blocks.append(Block("rem", i1, j1, _esc(old[i1:i2]), []))
            elif tag == "insert":
                blocks.append(Block("add", i1, j1, [], _esc(new[j1:j2])))
            else:
                base, changed = [], []
                pairs = min(i2 - i1, j2 - j1)
                for k in range(pairs):
                    left, right = inline_changes(old[i1 + k], new[j1 + k], options)
                    base.append(left)
                    changed.append(right)
                base += _esc(old[i1 + pairs:i2])
                changed += _esc(new[j1 + pairs:j2])
                blocks.append(Block("mod", i1, j1, base, changed))
        hunks.append(blocks)
    return hunks


def _group(codes, context: int):
    """Split opcodes into hunks with ``context`` lines of equal text around the changes."""
    codes = list(codes)
    if not codes:
        return []
    if codes[0][0] == "equal":
        tag, i1, i2, j1, j2 = codes[0]
        codes[0] = tag, max(i1, i2 - context), i2, max(j1, j2 - context), j2
    if codes[-1][0] == "equal":
        tag, i1, i2, j1, j2 = codes[-1]
        codes[-1] = tag, i1, min(i2, i1 + context), j1, min(j2, j1 + context)
    groups: list[list[tuple]] = []
    group: list[tuple] = []
    for tag, i1, i2, j1, j2 in codes:
        # An equal run longer than twice the context splits the hunk (lengths may differ
        # when blank lines were ignored: use the longer side).
        if tag == "equal" and max(i2 - i1, j2 - j1) > 2 * context and group:
            n = context
            group.append((tag, i1, min(i2, i1 + n), j1, min(j2, j1 + n)))
            groups.append(group)
            group = []
            i1, j1 = max(i1, i2 - n), max(j1, j2 - n)
        group.append((tag, i1, i2, j1, j2))
    if group and not (len(group) == 1 and group[0][0] == "equal"):
        groups.append(group)
    # Drop empty equal edges (context 0).
    return [[c for c in g if not (c[0] == "equal" and c[1] == c[2] and c[3] == c[4])] for g in groups]


def unified_diff(old: list[str], new: list[str], fromfile: str = "", tofile: str = "",
                 options: DiffOptions | None = None) -> str:
    """The diff as ``diff -u`` text (whitespace options affect which lines count as changed)."""
    options = options or DiffOptions(context=3)
    context = options.context if options.context >= 0 else max(len(old), len(new))
    out = [f"--- {fromfile}", f"+++ {tofile}"]
    for group in _group(_opcodes(old, new, options), context):
        if not group:
            continue
        i1, i2 = group[0][1], group[-1][2]
        j1, j2 = group[0][3], group[-1][4]
        out.append(f"@@ -{_range(i1, i2)} +{_range(j1, j2)} @@")
        for tag, a1, a2, b1, b2 in group:
            if tag == "equal":
                out.extend(" " + line for line in new[b1:b2])
                continue
            out.extend("-" + line for line in old[a1:a2])
            out.extend("+" + line for line in new[b1:b2])
    return "\n".join(out) + "\n" if len(out) > 2 else ""


def _range(start: int, stop: int) -> str:
    length = stop - start
    first = start + 1 if length else start
    return str(first) if length == 1 else f"{first},{length}"
