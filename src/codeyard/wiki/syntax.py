"""The regular expressions of Trac's WikiFormatting, compiled once.

One big alternation is tried on every line, in Trac's order: font styles first, then the
link shorthands (WikiPageNames, ``#1``, ``{1}``, ``[1]``/``r1``, ``[1:2]``), then the
remaining inline and line-start rules. Each alternative is one named group wrapping its
helper groups, so ``match.lastgroup`` names the rule that matched.
"""

from __future__ import annotations

import re


def _chars(test) -> str:
    """A regex character class body for every BMP character passing ``test``."""
    out: list[tuple[int, int]] = []
    start = prev = -2
    for code in range(0x10000):
        if test(chr(code)):
            if code == prev + 1:
                prev = code
                continue
            if start >= 0:
                out.append((start, prev))
            start = prev = code
    if start >= 0:
        out.append((start, prev))
    parts = []
    for a, b in out:
        parts.append(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}")
    return "".join(parts)


UPPER = _chars(str.isupper)
LOWER = _chars(str.islower)

LINK_SCHEME = r"[a-zA-Z][-a-zA-Z0-9+._]*"
INTERTRAC_SCHEME = r"[a-zA-Z.+-]*?"
QUOTED_STRING = r"'[^']+'|\"[^\"]+\""
SHREF_TARGET_FIRST = r"[\w/?!#@](?<!_)"
SHREF_TARGET_MIDDLE = r"(?:\|(?=[^|\s])|[^|<>\s])"
SHREF_TARGET_LAST = r"[\w/=](?<!_)"
# ``(?:MIDDLE*LAST)?`` (the longest run of middle characters that ends with a last one),
# written as possessive steps "middle characters that cannot end it, then one that can": the
# same match without keeping a backtracking point for every character of a long target.
_SHREF_NOT_LAST = r"(?:(?!\|(?![^|\s]))(?!(?!_)[\w/=])[^<>\s])"
SHREF_TARGET_REST = rf"(?:{_SHREF_NOT_LAST}*+(?:(?!_)[\w/=]))*+"
XML_NAME = r"[\w:](?<!\d)[\w:.-]*?"
PAGE_XML_NAME = r"[\w:](?<!\d)(?:[\w:.-]*[\w-])?"
EMAIL = r"[a-zA-Z0-9.'+_-]+@(?:[a-zA-Z0-9_-]+\.)+[a-zA-Z](?:[-a-zA-Z\d]*[a-zA-Z\d])?"
RANGES = r"[0-9]+(?:[-:][0-9]+)?(?:,\u200b?[0-9]+(?:[-:][0-9]+)?)*"
# A hex id is only tried where its run of hex digits begins (a later start would end at the
# same place, and the shortest InterTrac prefix is the one Trac takes anyway).
CHANGESET_ID = r"(?:[0-9]+|(?<![a-fA-F0-9])[a-fA-F0-9]{8,}+)"
PROCESSOR_PARAM = r"""(?P<proc_pname>[-\w]+)=(?P<proc_pval>".*?"|'.*?'|[-,\w]+)"""
BULLET_CHARS = "-*\u2022"


def _relative_target(sep: str) -> str:
    return rf"[/\?#][^{sep}\]]*|\.\.?(?:[/\?#][^{sep}\]]*)?"


WIKI_PAGE_NAME = (
    rf"(?:[{UPPER}](?:[{LOWER}])+/?){{2,}}"
    r"(?:@[0-9]+)?"
    rf"(?:#{PAGE_XML_NAME})?"
    rf"(?=:(?:\Z|\s)|[^:\w{UPPER}{LOWER}]|\s|\Z)"
)

REL_SPACE = _relative_target(r"\s")
REL_PIPE = _relative_target("|")

# Guards. A rule whose match needs something that no longer occurs further on (a closing
# ``]``, ``]]``, ``}}}``, backtick or ``>``), or that already failed for the whole run of
# characters it would start in, is switched off by putting ``(?!)`` where its guard comment
# is, so that no position rescans the rest of the line for it (see ``rules_re``). With no
# guard set the comments are no-ops and the pattern is Trac's.
GUARD_BRACKET = 1  # no ']' further on
GUARD_MACRO = 2  # no ']]' further on
GUARD_CODE = 4  # no '}}}' further on the line
GUARD_TICK = 8  # no '`' further on the line
GUARD_GT = 16  # no '>' further on
GUARD_EMAIL = 32  # inside a run of address characters where an address already failed
GUARD_SHREF = 64  # inside a run of scheme characters where ``ns:target`` already failed
GUARD_CAMEL = 128  # inside a run of ``./`` where a WikiPageName already failed
_GUARD_NAMES = {GUARD_BRACKET: "bracket", GUARD_MACRO: "macro", GUARD_CODE: "code",
                GUARD_TICK: "tick", GUARD_GT: "gt", GUARD_EMAIL: "email", GUARD_SHREF: "shref",
                GUARD_CAMEL: "camel"}

_RULES = [
    # font styles
    r"(?P<bolditalic>!?''''')",
    r"(?P<bold>!?''')",
    r"(?P<bold_wc>!?\*\*)",
    r"(?P<italic>!?'')",
    r"(?P<italic_wc>!?//)",
    r"(?P<underline>!?__)",
    r"(?P<strike>!?~~)",
    r"(?P<subscript>!?,,)",
    r"(?P<superscript>!?\^)",
    r"(?P<inlinecode>(?#code)!?\{\{\{(?P<inline>.*?)\}\}\})",
    r"(?P<inlinecode2>(?#tick)!?`(?P<inline2>.*?)`)",
    # link shorthands, in the order Trac's components provide them
    r"(?P<camel>(?#camel)!?(?<![\w/])(?:\.?\.?/)*+" + WIKI_PAGE_NAME + ")",
    rf"(?P<wikilabel>(?#bracket)!?\[(?P<wiki_page>{WIKI_PAGE_NAME})\s+"
    rf"(?P<wiki_label>{QUOTED_STRING}|[^\]]+)\])",
    rf"(?P<freelink>(?#bracket)!?\[(?P<ifl_page>{QUOTED_STRING})"
    rf"(?:\s+(?P<ifl_label>{QUOTED_STRING}|[^\]]+))?\])",
    rf"(?P<ticket>!?(?<!&)#(?P<it_ticket>{INTERTRAC_SCHEME}){RANGES})",
    rf"(?P<report>!?\{{(?P<it_report>{INTERTRAC_SCHEME}\s*)[0-9]+\}})",
    rf"(?P<changeset>(?#bracket)!?\[(?P<it_changeset>{INTERTRAC_SCHEME}\s*){CHANGESET_ID}"
    r"(?:/[^\]]*+)?(?:\?[^\]]*+)?(?:#[^\]]*+)?\]|(?:\b|!)r[0-9]+\b(?!:[0-9])(?:/[a-zA-Z0-9_/+-]+)?)",
    rf"(?P<log>(?#bracket)!?\[(?P<it_log>{INTERTRAC_SCHEME}\s*)(?P<log_revs>{RANGES}|{CHANGESET_ID}"
    rf"(?:[:-]{CHANGESET_ID})?)(?P<log_path>[/?][^\]]*+)?\]|"
    rf"(?:\b|!)r{RANGES}\b(?:/[a-zA-Z0-9_/+-]+)?)",
    # a full Git commit id in running text (Trac's Git connector), the ``sha`` namespace
    r"(?P<sha>(?:\b|!)r?[0-9a-fA-F]{40}\b)",
    # other inline rules
    r"(?P<linebreak_wc>!?\\\\)",
    rf"(?P<email>(?#email)!?{EMAIL})",
    rf"(?P<shrefbr>(?#gt)!?<(?P<snsbr>{LINK_SCHEME}):(?P<stgtbr>[^>]+)>)",
    r"(?P<htmlescape>[&<>])",
    rf"(?P<shref>(?#shref)!?((?P<sns>{LINK_SCHEME}):(?P<stgt>{LINK_SCHEME}:(?:{QUOTED_STRING})|"
    rf"{QUOTED_STRING}|{SHREF_TARGET_FIRST}{SHREF_TARGET_REST})))",
    rf"(?P<lhref>(?#bracket)!?\[(?:(?P<rel>{REL_SPACE})|(?P<lns>{LINK_SCHEME}):"
    rf"(?P<ltgt>{LINK_SCHEME}:(?:{QUOTED_STRING})|{QUOTED_STRING}|[^\]\s\u200b]*))"
    rf"(?:[\s\u200b]+(?P<label>{QUOTED_STRING}|[^\]]*))?\])",
    rf"(?P<anchor>(?#bracket)!?\[=#(?P<anchorname>{XML_NAME})(?:\s+(?P<anchorlabel>[^\]]*))?\])",
    r"(?P<macrolink>(?#macro)!?\[\[(?:[^]]|][^]])+\]\])",
    # The line-start rules (``^`` only matches at the start of the text) are written so that
    # a long line is scanned a bounded number of times: leading blanks are taken
    # possessively, and a heading's text grows by whole runs of blanks.
    rf"(?P<heading>^\s*+(?P<hdepth>={{1,6}})\s(?P<htext>(?:[^\S\n]*+\S)*?)[^\S\n]*+"
    rf"(?P<hanchor>#{XML_NAME})?\s*$)",
    rf"(?P<list>^(?P<ldepth>\s*+)(?:[{BULLET_CHARS}]|(?P<lstart>[0-9]+|[a-zA-Z]|[ivxIVX]{{1,5}})\.)\s)",
    r"(?P<definition>^\s(?:\s*+((?:`[^`]*`|\{\{\{(?:}{,2}[^}])*?\}\}\}|[^`{:]|:[^:])+::)|\s++::)"
    r"(?:\s+|$))",
    rf"(?P<table_row_sep>!?\s*+\|-+\s*(?P<table_row_params>{PROCESSOR_PARAM}\s*)*)",
    r"(?P<indent>^(?P<idepth>\s++)(?=\S))",
    r"(?P<table_cell>!?(?P<table_cell_sep>=?(?:\|\|)++=?)(?P<table_cell_last>\s*\\?$)?)",
]

RULES_RE = re.compile("(?:" + "|".join(_RULES) + ")")
_VARIANTS: dict[int, re.Pattern] = {0: RULES_RE}


def rules_re(guards: int) -> re.Pattern:
    """RULES_RE with the rules named by the ``GUARD_*`` bits switched off."""
    try:
        return _VARIANTS[guards]
    except KeyError:
        pattern = RULES_RE.pattern
        for bit, name in _GUARD_NAMES.items():
            if guards & bit:
                pattern = pattern.replace(f"(?#{name})", "(?!)")
        compiled = _VARIANTS[guards] = re.compile(pattern)
        return compiled


# Where a rule can start, as a position at which RULES_RE may match (every other position
# is skipped, so that the big pattern is only tried where it may succeed): a markup
# character followed by what every rule starting with it needs next (``''``, ``,,``,
# ``||``...); the blanks before a table row separator (only where they begin: if it fails
# there, it fails at every later blank of the run too); and, for the rules that start with
# a letter or a digit, the start of a run they need:
# - an e-mail address: a run of address characters followed by ``@`` (a later start in the
#   run would end at the same place, so only the run's start is tried);
# - ``ns:target``: a letter not after a letter whose run of scheme characters reaches a
#   ``:`` (looked at over 32 characters: a longer run is tried anyway, and ``_Guards`` keeps
#   it linear);
# - ``r1``, ``r1:3`` and a full commit id: at the start of a word;
# - a WikiPageName: an upper case letter then a lower case one, or a ``.`` (``../Page``),
#   not after a word character or a slash.
# Every rule's possible starts are covered, so trying RULES_RE only there (and right after
# the previous match) finds exactly what finditer would.
CANDIDATE_RE = re.compile(
    r"[!/^{`\[#<>&]|''|\*\*|__|~~|,,|\\\\|=?\|[|-]"
    r"|(?<!\s)\s(?=\s*+\|)"
    r"|(?<![a-zA-Z0-9.'+_-])(?=[a-zA-Z0-9.'+_-]++@)"
    r"|(?<![a-zA-Z])(?=[a-zA-Z][-a-zA-Z0-9+._]{0,31}+[-a-zA-Z0-9+._:])"
    r"|(?<!\w)(?=r[0-9]|r?[0-9a-fA-F]{40})"
    rf"|(?<![\w/])(?=[{UPPER}][{LOWER}]|\.)")
# Right after a match RULES_RE is tried at once where the character there is one that the
# starts above only take at the start of a run (a letter, a digit, ``.'+-``) or a blank after
# a blank; anywhere else the next start is searched for from there.
RETRY_AT_ONCE_RE = re.compile(r"[\w.'+-]|(?<=\s)\s")
# The runs the e-mail, ``ns:target`` and WikiPageName rules scan before they can fail.
ADDRESS_RUN_RE = re.compile(r"[a-zA-Z0-9.'+_-]+")
LONG_RUN = 32
LONG_ADDRESS_RE = re.compile(r"[a-zA-Z0-9.'+_-]{%d}" % LONG_RUN)
WORD_OR_SLASH_RE = re.compile(r"[\w/]")
SCHEME_RUN_RE = re.compile(r"[-a-zA-Z0-9+._]+")
PATH_PREFIX_RE = re.compile(r"(?:\.?\.?/)*")

PROCESSOR_RE = re.compile(r"(\s*)#\!([\w+-][\w+-/]*)")
STARTBLOCK_RE = re.compile(r"\s*\{\{\{(?:(\s*)#\!([\w+-][\w+-/]*)|\s*$)")
PROCESSOR_PARAM_RE = re.compile(PROCESSOR_PARAM)
ANCHOR_STRIP_RE = re.compile(r"[^\w:.-]+")
MACRO_RE = re.compile(r"(?P<macroname>[\w/+-]+\??|\?)(?:\((?P<macroargs>.*?)\))?$")
CREOLE_LINK_RE = re.compile(
    rf"(?:(?P<rel>{REL_PIPE})|(?:(?P<lns>{LINK_SCHEME}):)?"
    rf"(?P<ltgt>{LINK_SCHEME}:(?:{QUOTED_STRING})|{QUOTED_STRING}|[^|]+)?)"
    r"\s*(?:\|(?P<label>.*))?$")
SET_ANCHOR_WC_RE = re.compile(rf"=#(?P<anchorname>{XML_NAME})(?:\|\s*(?P<anchorlabel>[^\]]*))?$")
PAGE_SPLIT_RE = re.compile(r"([a-z])([A-Z])(?=[a-z])")
NORMALIZE_RE = re.compile(r"[\v\f]")
_PNAME_RE = re.compile(r"[-\w]+$")


def parse_processor_args(text: str) -> dict:
    """``a=1 b="x y" flag -off`` -> {'a': '1', 'b': 'x y', 'flag': True, 'off': False}."""
    parts = PROCESSOR_PARAM_RE.split(text)
    keys = [str(k) for k in parts[1::3]]
    values: list = [v[1:-1] if v[:1] + v[-1:] in ('""', "''") else v for v in parts[2::3]]
    for flags in parts[::3]:
        for flag in flags.strip().split():
            if _PNAME_RE.match(flag):
                if flag[0] == "-":
                    if len(flag) > 1:
                        keys.append(flag[1:])
                        values.append(False)
                else:
                    keys.append(flag)
                    values.append(True)
    return dict(zip(keys, values, strict=False))


def unquote_label(text: str | None) -> str | None:
    if text and len(text) > 1 and text[0] in "'\"" and text[0] == text[-1]:
        return text[1:-1]
    return text


def split_url(target: str) -> tuple[str, str, str]:
    """``path?query#frag`` -> (path, '?query', '#frag')."""
    query = fragment = ""
    idx = target.find("#")
    if idx >= 0:
        target, fragment = target[:idx], target[idx:]
    idx = target.find("?")
    if idx >= 0:
        target, query = target[:idx], target[idx:]
    return target, query, fragment


def concat_path_query_fragment(path: str, query: str, fragment: str = "") -> str:
    p, q, f = split_url(path)
    if query:
        q += ("&" if q else "?") + query.lstrip("?&")
    if fragment:
        f = fragment
    return p + q + ("" if f == "#" else f)


