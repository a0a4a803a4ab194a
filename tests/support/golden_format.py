"""The golden files of the wiki tests (``tests/unit/wiki/golden/*.txt``): cases of wiki text
and the HTML Trac 1.6 renders for it. Read by the tests and by ``tools/trac_oracle.py``,
which runs under Trac's own Python: the standard library only here.

A case starts with ``~~~~~~~~ case: NAME | opt=value | flag``; its text follows, then
``~~~~~~~~ html`` and the HTML.
"""

from __future__ import annotations

CASE_MARK = "~~~~~~~~ case: "
HTML_MARK = "~~~~~~~~ html"


def read_cases(path: str) -> list[tuple[str, str, str]]:
    """[(header, text, html)] of one golden file."""
    cases = []
    header = None
    text: list[str] = []
    html: list[str] = []
    target = None
    with open(path, encoding="utf-8") as fh:
        lines = fh.read().split("\n")
    for line in lines:
        if line.startswith(CASE_MARK):
            if header is not None:
                cases.append((header, "\n".join(text), "\n".join(html).rstrip("\n")))
            header, text, html, target = line[len(CASE_MARK):].strip(), [], [], "text"
        elif line == HTML_MARK and header is not None:
            target = "html"
        elif target == "text":
            text.append(line)
        elif target == "html":
            html.append(line)
    if header is not None:
        cases.append((header, "\n".join(text), "\n".join(html).rstrip("\n")))
    return cases


def write_cases(path: str, cases, preamble: str) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(preamble)
        for header, text, html in cases:
            fh.write(f"{CASE_MARK}{header}\n{text}\n{HTML_MARK}\n{html}\n")


def parse_header(header: str) -> tuple[str, dict]:
    """(case name, {option: value, flag: True}) of a case's header."""
    parts = [p.strip() for p in header.split("|")]
    opts: dict = {}
    for part in parts[1:]:
        if "=" in part:
            key, value = part.split("=", 1)
            opts[key.strip()] = value.strip()
        elif part:
            opts[part] = True
    return parts[0], opts


def ini_settings(opts: dict) -> list[tuple[str, str, str]]:
    """[(section, option, value)] of a case's ``ini=section.option=value;…`` header option."""
    found = []
    for item in filter(None, (opts.get("ini") or "").split(";")):
        key, _, value = item.partition("=")
        section, _, option = key.strip().partition(".")
        found.append((section, option, value.strip()))
    return found
