"""Inline wiki syntax: styles, links, macros, escapes; and the one-line flavor.

``InlineRules`` holds the handlers of the inline rules that both the full-page parser
(``parser.BlockParser``) and the one-line parser share. Handlers append events to the line's
result (text, leaf nodes, style opening and closing marks); ``build`` turns a stream of
events into a tree.
"""

from __future__ import annotations

import sys
import time

from codeyard.wiki import syntax as S
from codeyard.wiki import tree as T

STYLES = {
    "bold": "strong", "bold_wc": "strong", "italic": "em", "italic_wc": "em",
    "underline": "underline", "strike": "del", "subscript": "sub", "superscript": "sup",
}
# Wiki-creole bold/italic are tracked apart from the MoinMoin ones (as Trac does).
TAG_KEYS = {
    "bold": "MM_BOLD", "bold_wc": "WC_BOLD", "italic": "MM_ITALIC", "italic_wc": "WC_ITALIC",
    "underline": "MM_UNDERLINE", "strike": "MM_STRIKE", "subscript": "MM_SUBSCRIPT",
    "superscript": "MM_SUPERSCRIPT",
}
KEY_STYLE = {TAG_KEYS[k]: v for k, v in STYLES.items()}
OPEN, CLOSE, LEAF, TEXT = 0, 1, 2, 3


class RenderTimeout(Exception):
    """Parsing or rendering ran past its deadline."""


class Deadline:
    """A point in time after which a parse or render gives up (checked in their loops)."""

    __slots__ = ("at", "seconds")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds

    def check(self) -> None:
        if time.monotonic() > self.at:
            raise RenderTimeout(f"rendering took longer than {self.seconds:g} seconds")


_RUN_GUARDS = S.GUARD_EMAIL | S.GUARD_SHREF


class _Guards:
    """Which rules ``inline`` can switch off at a position of the line (``syntax.GUARD_*``).

    A rule that needs a closing mark further on is off once the last such mark is behind.
    The e-mail, ``ns:target`` and WikiPageName rules scan a run of characters before they
    can fail, and fail the same way from any later start inside that run: after one failure
    at the start of a long run they are off until its end. Either way the result is the one
    of the unguarded pattern, without rescanning the line from every position.
    """

    __slots__ = ("text", "current", "next_change", "_ends", "_line_end", "_code", "_tick",
                 "_until")

    def __init__(self, text: str) -> None:
        self.text = text
        # (guard bit, index of the last closing mark, how far after the start it must be)
        self._ends = ((S.GUARD_BRACKET, text.rfind("]"), 1),
                      (S.GUARD_MACRO, text.rfind("]]"), 3),
                      (S.GUARD_GT, text.rfind(">"), 1))
        self._line_end = -1
        self._code = self._tick = -1
        self._until = {S.GUARD_EMAIL: 0, S.GUARD_SHREF: 0, S.GUARD_CAMEL: 0}
        self.update(0)

    def update(self, pos: int) -> int:
        text = self.text
        guards = 0
        nxt = len(text) + 1
        if pos > self._line_end:
            # ``.`` stops at a newline: code spans need their end on the same line.
            line_end = text.find("\n", pos)
            if line_end < 0:
                line_end = len(text)
            self._line_end = line_end
            self._code = text.rfind("}}}", pos, line_end)
            self._tick = text.rfind("`", pos, line_end)
        if self._line_end < len(text):
            nxt = self._line_end + 1
        for bit, last, offset in self._ends + ((S.GUARD_CODE, self._code, 3),
                                               (S.GUARD_TICK, self._tick, 1)):
            limit = last - offset + 1  # the rule may match while pos < limit
            if pos >= limit:
                guards |= bit
            elif limit < nxt:
                nxt = limit
        for bit, until in self._until.items():
            if pos < until:
                guards |= bit
                if until < nxt:
                    nxt = until
        self.current = guards
        self.next_change = nxt
        return guards

    def failed(self, pos: int) -> bool:
        """No rule matched at ``pos``: note the runs where a rule cannot match either."""
        text = self.text
        current = self.current
        changed = False
        if (current & _RUN_GUARDS) != _RUN_GUARDS and S.LONG_ADDRESS_RE.match(text, pos):
            if not current & S.GUARD_EMAIL:
                end = S.ADDRESS_RUN_RE.match(text, pos).end()  # type: ignore[union-attr]
                changed = self._off(S.GUARD_EMAIL, pos, end)
            if not current & S.GUARD_SHREF and text[pos].isascii() and text[pos].isalpha():
                end = S.SCHEME_RUN_RE.match(text, pos).end()  # type: ignore[union-attr]
                if end - pos >= S.LONG_RUN:
                    changed = self._off(S.GUARD_SHREF, pos, end) or changed
        if (text[pos] in "./" and not current & S.GUARD_CAMEL
                and not (pos and S.WORD_OR_SLASH_RE.match(text, pos - 1))):
            end = S.PATH_PREFIX_RE.match(text, pos).end()  # type: ignore[union-attr]
            if end - pos >= S.LONG_RUN:
                changed = self._off(S.GUARD_CAMEL, pos, end) or changed
        return changed

    def _off(self, bit: int, pos: int, until: int) -> bool:
        if until <= pos + 1:
            return False
        self._until[bit] = until
        self.current |= bit
        if until < self.next_change:
            self.next_change = until
        return True


class _NoGuards:
    """The guards of a short line: none (rescanning it from every position costs little)."""

    __slots__ = ()
    current = 0
    next_change = sys.maxsize

    def update(self, pos: int) -> int:
        return 0

    def failed(self, pos: int) -> bool:
        return False


_NO_GUARDS = _NoGuards()
# Lines up to this length are matched without guards.
UNGUARDED_LENGTH = 200


def parse_oneliner(text: str, shorten: bool = False, deadline: Deadline | None = None
                   ) -> T.Document:
    """Parse text the way one-line contexts do (ticket summaries, headings, commit messages)."""
    parser = InlineParser()
    parser.deadline = deadline
    return parser.parse(text, shorten)


def shorten_line(text: str, maxlen: int = 75) -> str:
    if len(text or "") <= maxlen:
        return text
    limit = maxlen - 4
    cut = max(text.rfind(" ", 0, limit), text.rfind("\n", 0, limit))
    if cut < 0:
        cut = limit
    return text[:cut] + " ..."


class InlineRules:
    """Inline rules shared by the full and the one-line parsers.

    ``deadline`` (a ``Deadline`` or None) stops a parse that runs too long.
    """

    oneliner = False
    deadline: Deadline | None = None

    def close_list(self, depth: int = -1) -> None:
        """Close lists deeper than ``depth`` (only the full-page parser has lists)."""

    def reset(self) -> None:
        self.out: list = []
        self.open_tags: list[str] = []
        self.list_stack: list[tuple[str, int]] = []
        self.quote_stack: list[int] = []
        self.tabstops: list[int] = []
        self.quote_buffer: list[str] = []
        self.in_code_block = 0
        self.in_table = self.in_def_list = self.in_table_row = False
        self.continue_table = self.continue_table_row = False
        self.in_table_cell = ""
        self.paragraph_open = False
        self.in_list_item = self.in_quote = False
        self.line = ""

    # -- the stream
    def emit_open(self, node) -> None:
        self.out.append((OPEN, node))

    def emit_close(self, kind: str) -> None:
        self.out.append((CLOSE, kind))

    def inline(self, text: str) -> list:
        """Run the inline rules over one line: a list of events (text, nodes, style marks).

        Equivalent to ``RULES_RE.finditer`` but only tries the big pattern where a rule can
        start (``syntax.CANDIDATE_RE``; right after a match, see ``RETRY_AT_ONCE_RE``), which
        skips most of a line's words, and with the rules that cannot match any more switched
        off (``_Guards``, on lines longer than ``UNGUARDED_LENGTH``), which keeps the time
        linear in the length of the line whatever it holds.
        """
        res: list = []
        pos = last = 0
        end = len(text)
        guards: _Guards | _NoGuards = _Guards(text) if end > UNGUARDED_LENGTH else _NO_GUARDS
        match = S.rules_re(guards.current).match
        search = S.CANDIDATE_RE.search
        at_once = S.RETRY_AT_ONCE_RE.match
        deadline = self.deadline
        steps = 0
        while pos < end:
            if pos >= guards.next_change:
                match = S.rules_re(guards.update(pos)).match
            m = match(text, pos)
            steps += 1
            if not steps & 1023 and deadline is not None:
                deadline.check()
            if m is None:
                if guards.failed(pos):
                    match = S.rules_re(guards.current).match
                c = search(text, pos + 1)
                if c is None:
                    break
                pos = c.start()
                continue
            if pos > last:
                res.append((TEXT, text[last:pos]))
            last = pos = m.end()
            rule: str = m.lastgroup  # type: ignore[assignment]  # every rule is a named group
            matched = m.group(rule)
            if matched[0] == "!" and rule != "htmlescape":
                res.append((TEXT, matched[1:]))
            else:
                getattr(self, "_" + rule)(matched, m, res)
            if pos < end and not at_once(text, pos):
                c = search(text, pos)
                if c is None:
                    break
                pos = c.start()
        if last < end:
            res.append((TEXT, text[last:]))
        return res

    # -- font styles
    def _close_list_if_outside(self) -> None:
        if self.list_stack and not self.in_list_item:
            self.close_list()

    def _toggle(self, key: str, res: list) -> None:
        if key in self.open_tags:
            self._close_tag(key, res)
        else:
            self.open_tags.append(key)
            res.append((OPEN, T.Style(KEY_STYLE[key])))

    def _close_tag(self, key: str, res: list) -> None:
        for i in range(len(self.open_tags) - 1, -1, -1):
            tag = self.open_tags[i]
            res.append((CLOSE, "style"))
            if tag == key:
                del self.open_tags[i]
                for reopen in self.open_tags[i:]:
                    res.append((OPEN, T.Style(KEY_STYLE[reopen])))
                break

    def _style(self, rule: str, res: list) -> None:
        self._close_list_if_outside()
        self._toggle(TAG_KEYS[rule], res)

    def _bold(self, match, m, res):
        self._style("bold", res)

    def _bold_wc(self, match, m, res):
        self._style("bold_wc", res)

    def _italic(self, match, m, res):
        self._style("italic", res)

    def _italic_wc(self, match, m, res):
        self._style("italic_wc", res)

    def _underline(self, match, m, res):
        self._style("underline", res)

    def _strike(self, match, m, res):
        self._style("strike", res)

    def _subscript(self, match, m, res):
        self._style("subscript", res)

    def _superscript(self, match, m, res):
        self._style("superscript", res)

    def _bolditalic(self, match, m, res):
        self._close_list_if_outside()
        tags = self.open_tags
        bold, italic = "MM_BOLD" in tags, "MM_ITALIC" in tags
        if bold and italic:
            if tags.index("MM_ITALIC") < tags.index("MM_BOLD"):
                closing, opening = ("MM_BOLD", "MM_ITALIC"), ()
            else:
                closing, opening = ("MM_ITALIC", "MM_BOLD"), ()
        elif bold:
            closing, opening = ("MM_BOLD",), ("MM_ITALIC",)
        elif italic:
            closing, opening = ("MM_ITALIC",), ("MM_BOLD",)
        else:
            closing, opening = (), ("MM_BOLD", "MM_ITALIC")
        for key in closing:
            self._close_tag(key, res)
        for key in opening:
            self.open_tags.append(key)
            res.append((OPEN, T.Style(KEY_STYLE[key])))

    def flush_tags(self, res: list | None = None) -> None:
        target = self.out if res is None else res
        while self.open_tags:
            self.open_tags.pop()
            target.append((CLOSE, "style"))

    def _inlinecode(self, match, m, res):
        res.append((LEAF, T.Monospace([m.group("inline")])))

    def _inlinecode2(self, match, m, res):
        res.append((LEAF, T.Monospace([m.group("inline2")])))

    # -- links
    def _link(self, res, form, ns, target, label, text, **kw):
        res.append((LEAF, T.Link(form, ns, target, label, text, **kw)))

    def _camel(self, match, m, res):
        self._link(res, "camel", "wiki", match, match, match)

    def _wikilabel(self, match, m, res):
        label = m.group("wiki_label")
        self._link(res, "wikilabel", "wiki", m.group("wiki_page"), label.strip(), match,
                   explicit=True, bracketed=True)

    def _freelink(self, match, m, res):
        page = m.group("ifl_page")[1:-1]
        label = m.group("ifl_label")
        self._link(res, "freelink", "wiki", page, label.strip() if label is not None else "",
                   match, explicit=label is not None, bracketed=True)

    def _ticket(self, match, m, res):
        self._link(res, "shorthand", "ticket", match[1:], match, match,
                   prefix=m.group("it_ticket") or "")

    def _report(self, match, m, res):
        self._link(res, "shorthand", "report", match[1:-1], match, match,
                   prefix=m.group("it_report") or "")

    def _changeset(self, match, m, res):
        target = match[1:] if match[0] == "r" else match[1:-1]
        self._link(res, "shorthand", "changeset", target, match, match,
                   prefix=m.group("it_changeset") or "")

    def _log(self, match, m, res):
        if match[0] == "[":
            prefix = m.group("it_log") or ""
            target = f"{prefix}{m.group('log_path') or '/'}@{m.group('log_revs')}"
        else:
            prefix = ""
            body = match[1:] if match[0] == "r" else match[2:]
            target = "@" + "".join(reversed(body.split("/", 1)))
        self._link(res, "shorthand", "log", target, match, match, prefix=prefix)

    def _sha(self, match, m, res):
        self._link(res, "shorthand", "sha", match[1:] if match[0] == "r" else match, match, match)

    def _linebreak_wc(self, match, m, res):
        if self.oneliner:
            res.append((TEXT, " "))
        else:
            res.append((LEAF, T.LineBreak()))

    def _email(self, match, m, res):
        self._link(res, "email", "mailto", match, match, match)

    def _htmlescape(self, match, m, res):
        res.append((TEXT, match))

    def _shrefbr(self, match, m, res):
        inner = match[1:-1]
        self._link(res, "shrefbr", m.group("snsbr"), S.unquote_label(m.group("stgtbr")),
                   inner, inner)

    def _shref(self, match, m, res):
        self._link(res, "shref", m.group("sns"), S.unquote_label(m.group("stgt")), match, match)

    def _lhref(self, match, m, res):
        res.append((LEAF, lhref_link(match, m.group("rel"), m.group("lns"),
                                     S.unquote_label(m.group("ltgt")), m.group("label"))))

    def _anchor(self, match, m, res):
        label = m.group("anchorlabel") or ""
        children = parse_oneliner(label).children if label else []
        res.append((LEAF, T.Anchor(m.group("anchorname"), children)))

    def _macrolink(self, match, m, res):
        inner = match[2:-2]
        if inner.startswith("=#"):
            am = S.SET_ANCHOR_WC_RE.match(inner)
            if am:
                label = am.group("anchorlabel") or ""
                children = parse_oneliner(label).children if label else []
                res.append((LEAF, T.Anchor(am.group("anchorname"), children)))
                return
        mm = S.MACRO_RE.match(inner)
        cm = S.CREOLE_LINK_RE.match(inner)
        fallback = None
        if cm:
            fallback = lhref_link(match, cm.group("rel"), cm.group("lns"),
                                  S.unquote_label(cm.group("ltgt")), cm.group("label"),
                                  form="creole")
        if mm:
            macro = T.Macro(mm.group("macroname"), mm.group("macroargs"), match)
            macro.children = [fallback] if fallback is not None else []
            res.append((LEAF, macro))
            self.macro_seen(macro)
        elif fallback is not None:
            res.append((LEAF, fallback))
        else:
            res.append((TEXT, match))

    def macro_seen(self, macro) -> None:
        macro.inline_only = self.oneliner


def lhref_link(match, rel, ns, target, label, form="lhref") -> T.Link:
    explicit = bool(label)
    if not label:
        if target:
            label = ns + ":" + target if ns and target.startswith("//") else target.lstrip("/")
        else:
            label = ns or ""
    else:
        label = S.unquote_label(label)
    if rel:
        return T.Link("relative", "", rel, label, match, explicit=explicit, bracketed=True)
    link = T.Link(form, ns or "wiki", target or "", label, match, explicit=explicit,
                  bracketed=True)
    link.ns_given = bool(ns)
    return link



class InlineParser(InlineRules):
    """The one-line flavor: block syntax is kept as text, code blocks become ``[…]``."""

    oneliner = True

    def parse(self, text: str, shorten: bool = False) -> T.Document:
        self.reset()
        if not text:
            return T.Document()
        if "\v" in text or "\f" in text:
            text = S.NORMALIZE_RE.sub(" ", text)
        depth = 0
        name = None
        kept: list[str] = []
        unterminated = False
        startblock = S.STARTBLOCK_RE
        for line in text.strip().splitlines():
            if "}}}" not in line and startblock.match(line):
                depth += 1
            elif line.strip() == "}}}":
                if depth:
                    depth -= 1
                    if depth == 0:
                        if name != "comment":
                            kept.append(" [...]")
                        name = None
            elif depth:
                if not name and line.startswith("#!"):
                    name = line[2:].strip()
            else:
                kept.append(line)
        unterminated = depth > 0
        result = "\n".join(kept)
        if shorten:
            result = shorten_line(result)
        self.line = result
        events = self.inline(result)
        fixed = []
        for ev in events:
            if ev[0] == TEXT and "[...]" in ev[1]:
                ev = (TEXT, ev[1].replace("[...]", "[\u2026]"))
            fixed.append(ev)
        if fixed and fixed[-1][0] == TEXT and fixed[-1][1].endswith("..."):
            fixed[-1] = (TEXT, fixed[-1][1][:-3] + "\u2026")
        self.out.extend(fixed)
        self.flush_tags()
        if unterminated:
            self.out.append((TEXT, "[\u2026]"))
        return build(self.out)

    # block syntax is literal text here
    def _heading(self, match, m, res):
        res.append((TEXT, match))

    def _list(self, match, m, res):
        res.append((TEXT, match))

    def _indent(self, match, m, res):
        res.append((TEXT, match))

    def _definition(self, match, m, res):
        res.append((TEXT, match))

    def _table_cell(self, match, m, res):
        res.append((TEXT, match))

    def _table_row_sep(self, match, m, res):
        pass


def build(events: list) -> T.Document:
    """Turn the event stream into a tree."""
    root = T.Document()
    stack: list = [root]
    kinds: list[str] = ["document"]
    for op, value in events:
        if op == TEXT:
            children = stack[-1].children
            if children and type(children[-1]) is str:
                children[-1] += value
            else:
                children.append(value)
        elif op == LEAF:
            stack[-1].children.append(value)
        elif op == OPEN:
            stack[-1].children.append(value)
            stack.append(value)
            kinds.append(value.kind)
        else:  # CLOSE: pop up to the nearest open node of that kind
            for i in range(len(kinds) - 1, 0, -1):
                if kinds[i] == value:
                    del stack[i:]
                    del kinds[i:]
                    break
    return root
