"""Which keywords name which MIME type, as Trac's mimeview knows them: the names a
``{{{#!name}}}`` block, ``[[KnownMimeTypes]]`` and file type guesses use.

Three layers, each overriding the one before, in Trac's order: the common types and their
keywords and file extensions; every Pygments lexer's MIME types and aliases (a lexer's
``text/`` types last, so they win over its ``image/`` or ``application/`` ones); and the
``[mimeviewer] mime_map`` option (``type:keyword:keyword``, the type naming itself too).
"""

from __future__ import annotations

from functools import lru_cache

from codeyard.config import ListOption

MIME_MAP_OPTION = ListOption(
    "mimeviewer", "mime_map", ("text/x-dylan:dylan", "text/x-idl:ice", "text/x-ada:ads:adb"),
    "More MIME types and their keywords: comma-separated `type:keyword:keyword` entries "
    "(each keyword, and the type itself, then names that type).")

# Common types: keywords and file extensions naming each (a ``text/x-NAME`` type is also
# named by NAME).
COMMON_TYPES = {
    "application/javascript": "js",
    "application/msword": "doc dot",
    "application/pdf": "pdf",
    "application/postscript": "ps",
    "application/rtf": "rtf",
    "application/x-dos-batch": "bat batch cmd dos",
    "application/x-sh": "sh",
    "application/x-csh": "csh",
    "application/x-genshi": "genshi",
    "application/x-troff": "nroff roff troff",
    "application/x-yaml": "yml yaml",
    "application/rss+xml": "rss",
    "application/xsl+xml": "xsl",
    "application/xslt+xml": "xslt",
    "image/x-icon": "ico",
    "image/svg+xml": "svg",
    "model/vrml": "vrml wrl",
    "text/css": "css",
    "text/html": "html htm",
    "text/html+jinja": "jinja",
    "text/plain": "txt TXT text README INSTALL AUTHORS COPYING ChangeLog RELEASE",
    "text/xml": "xml",
    "text/x-apacheconf": "apache",
    "text/x-csrc": "c xs",
    "text/x-chdr": "h",
    "text/x-c++src": "cc CC cpp C c++ C++",
    "text/x-c++hdr": "hh HH hpp H",
    "text/x-csharp": "cs c# C#",
    "text/x-diff": "patch",
    "text/x-eiffel": "e",
    "text/x-elisp": "el",
    "text/x-fortran": "f",
    "text/x-haskell": "hs",
    "text/x-ini": "ini cfg",
    "text/x-nginx-conf": "nginx",
    "text/x-objc": "m mm",
    "text/x-ocaml": "ml mli",
    "text/x-makefile": "make mk Makefile GNUMakefile",
    "text/x-pascal": "pas",
    "text/x-perl": "pl pm PL",
    "text/x-php": "php3 php4",
    "text/x-python": "py",
    "text/x-python-doctest": "pycon",
    "text/x-pyrex": "pyx",
    "text/x-ruby": "rb",
    "text/x-scheme": "scm",
    "text/x-textile": "txtl",
    "text/x-vba": "vb vba bas",
    "text/x-verilog": "v",
    "text/x-vhdl": "vhd",
}
# More ``text/x-NAME`` types known by their name alone.
PLAIN_TEXT_X = "ada asm asp awk idl inf java ksh lua m4 mail psp rfc rst sql tcl tex zsh"


def _common() -> dict[str, str]:
    keywords: dict[str, list[str]] = {t: words.split() for t, words in COMMON_TYPES.items()}
    for mime, words in keywords.items():
        if mime.startswith("text/x-"):
            words.append(mime[len("text/x-"):])
    for name in PLAIN_TEXT_X.split():
        keywords.setdefault(f"text/x-{name}", []).append(name)
    found: dict[str, str] = {}
    for mime, words in keywords.items():
        found[mime] = mime
        found.update((word, mime) for word in words)
    return found


@lru_cache(maxsize=1)
def _with_lexers() -> dict[str, str]:
    from pygments.lexers import get_all_lexers

    found = _common()
    for _name, aliases, _files, mimetypes in get_all_lexers():
        for mime in sorted(mimetypes, key=lambda t: (t.startswith("text/"), t)):
            found[mime] = mime
            found.update((alias, mime) for alias in aliases)
    return found


def mime_map(config) -> dict[str, str]:
    """keyword (or MIME type) -> MIME type, with the project's ``[mimeviewer] mime_map``."""
    found = dict(_with_lexers())
    for entry in MIME_MAP_OPTION(config):
        if ":" in entry:
            names = [n.strip() for n in entry.split(":")]
            for name in names:
                found[name] = names[0]
    return found


def known_mimetypes(config, prefix: str = "") -> list[tuple[str, list[str]]]:
    """(MIME type, sorted keywords) of the types whose name starts with ``prefix``."""
    grouped: dict[str, list[str]] = {}
    for keyword, mime in mime_map(config).items():
        if keyword != mime and mime.startswith(prefix):
            grouped.setdefault(mime, []).append(keyword)
    return [(mime, sorted(grouped[mime])) for mime in sorted(grouped)]
