"""``{{{#!name args}}}`` processors: the built-in ones, highlighting and lookup.

``#!html`` and the attributes of ``div``/``span``/``td``… are sanitized with nh3 unless
``[wiki] render_unsafe_content`` is set: no scripts, no event handlers, no ``javascript:``.
"""

from __future__ import annotations

import re

import nh3
from markupsafe import Markup, escape

from codeyard.core import hookimpl
from codeyard.wiki.api import MacroError, RenderDependencies, WikiMacro, parse_args, system_message
from codeyard.wiki.links import RENDER_UNSAFE, SAFE_SCHEMES
from codeyard.wiki.macros import find_macro

_STYLE_PROPS = {
    "background", "background-color", "border", "border-bottom", "border-collapse",
    "border-color", "border-left", "border-radius", "border-right", "border-spacing",
    "border-style", "border-top", "border-width", "clear", "color", "display", "float",
    "font", "font-family", "font-size", "font-style", "font-variant", "font-weight",
    "height", "letter-spacing", "line-height", "list-style", "list-style-type", "margin",
    "margin-bottom", "margin-left", "margin-right", "margin-top", "max-height", "max-width",
    "min-height", "min-width", "overflow", "padding", "padding-bottom", "padding-left",
    "padding-right", "padding-top", "text-align", "text-decoration", "text-indent",
    "text-transform", "vertical-align", "white-space", "width", "word-spacing", "direction",
    "unicode-bidi", "opacity", "visibility", "z-index", "table-layout", "word-wrap",
}
# Forms are allowed as Trac allows them: they submit nothing by themselves.
_EXTRA_TAGS = {"font", "caption", "tfoot", "address", "big", "small", "section", "tt", "form",
               "input", "select", "option", "optgroup", "textarea", "button", "label",
               "fieldset", "legend"}
_GLOBAL_ATTRS = {"class", "id", "style", "title", "lang", "dir", "align", "valign", "width",
                 "height", "name", "border", "cellpadding", "cellspacing", "bgcolor", "color",
                 "face", "size", "colspan", "rowspan", "nowrap", "summary", "abbr", "scope",
                 "headers", "clear", "start", "type", "value", "alt", "src", "href", "target",
                 "hreflang", "rel", "datetime", "cite", "span", "hspace", "vspace", "usemap",
                 "shape", "coords", "rules", "frame", "axis", "char", "charoff", "compact",
                 "noshade", "action", "method", "checked", "selected", "disabled", "readonly",
                 "maxlength", "rows", "cols", "for", "multiple", "placeholder", "accept"}
_URL_ATTRS = {"href", "src", "cite", "usemap", "action", "background", "longdesc"}
_ATTR_NAME_RE = re.compile(r"^[a-zA-Z][-a-zA-Z0-9_:.]*$")
_BAD_CSS_RE = re.compile(r"expression|@import|behavior|javascript|\\", re.I)
_CSS_URL_RE = re.compile(r"url\s*\(\s*(['\"]?)(.*?)\1\s*\)", re.I)
_INNER_TABLE_RE = re.compile(r"\s*<table[^>]*>\s*((?:<tr[^>]*>)?(.*?)(?:</tr>)?)\s*</table>\s*$",
                             re.S)
_MULTI_TABLE_RE = re.compile(r"</table>.*?<table", re.S)


def sanitize_html(fmt, text: str) -> Markup:
    if RENDER_UNSAFE(fmt.env.config):
        return Markup(text)
    schemes = set(SAFE_SCHEMES(fmt.env.config)) | {"mailto", "data"}
    attributes = {"*": set(_GLOBAL_ATTRS)}
    cleaned = nh3.clean(
        text,
        tags=set(nh3.ALLOWED_TAGS) | _EXTRA_TAGS,
        clean_content_tags={"script", "style"},
        attributes=attributes,
        url_schemes=schemes,
        link_rel=None,
        strip_comments=True,
        filter_style_properties=_STYLE_PROPS,
        attribute_filter=_filter_attribute,
    )
    return Markup(cleaned)


def _filter_attribute(tag: str, attr: str, value: str):
    """Drop styles that run anything (``expression()``…) or load from other origins."""
    if attr == "style" and not _safe_css(value):
        return None
    return value


def _safe_css(value: str, origins=("data:",)) -> bool:
    if _BAD_CSS_RE.search(value):
        return False
    for m in _CSS_URL_RE.finditer(value):
        url = m.group(2).strip()
        if ":" in url.split("/", 1)[0] or url.startswith("//"):
            if not url.startswith(tuple(origins)):
                return False
    return True


def sanitize_attrs(fmt, tagname: str, attrs: dict) -> dict:
    """Attributes safe on an element (processor parameters like ``class``, ``style``)."""
    out = {}
    unsafe_ok = RENDER_UNSAFE(fmt.env.config)
    for key, value in attrs.items():
        if value is False or value is None:
            continue
        key = str(key).rstrip("_").lower()
        if not _ATTR_NAME_RE.match(key):
            continue
        if value is True:
            value = key
        value = str(value)
        if not value:
            continue
        if unsafe_ok:
            out[key] = value
            continue
        if key.startswith("on") or key not in _GLOBAL_ATTRS and not key.startswith("data-"):
            continue
        if key in _URL_ATTRS:
            scheme = value.split(":", 1)[0].strip().lower() if ":" in value.split("/", 1)[0] else ""
            if scheme and scheme not in set(SAFE_SCHEMES(fmt.env.config)) | {"mailto"}:
                continue
        if key == "style":
            if not _safe_css(value):
                continue
        out[key] = value
    return out


def _element(fmt, name: str, attrs: dict, inner) -> Markup:
    safe = sanitize_attrs(fmt, name, attrs or {})
    attr_html = "".join(f' {k}="{escape(v)}"' for k, v in safe.items())
    return Markup(f"<{name}{attr_html}>{inner}</{name}>")


# -- the built-in processors


def _default(fmt, name, content, args):
    return Markup('<pre class="wiki">%s</pre>') % (content or "")


def _comment(fmt, name, content, args):
    return Markup("")


def _html(fmt, name, content, args):
    return sanitize_html(fmt, content or "")


def _html_is_inline(content):
    if content:
        tag = content[1:].lstrip()
        idx = tag.find(" ")
        if idx > -1:
            tag = tag[:idx]
        return tag.lower() in ("a", "span", "bdo", "img", "big", "small", "font", "tt", "i", "b",
                               "u", "s", "strike", "em", "strong", "dfn", "code", "q", "samp",
                               "kbd", "var", "cite", "abbr", "acronym", "sub", "sup")
    return False


def _htmlcomment(fmt, name, content, args):
    content = content or ""
    if "--" in content:
        return system_message('Error: Forbidden character sequence "--" in htmlcomment wiki '
                              'code block')
    return Markup("<!--\n%s-->\n") % Markup(content.replace("<", "&lt;").replace(">", "&gt;"))


def _div(fmt, name, content, args):
    args = dict(args or {})
    args.setdefault("class", "wikipage")
    return _element(fmt, "div", args, fmt.to_html(content or ""))


def _rtl(fmt, name, content, args):
    args = dict(args or {})
    args["class"] = ("rtl " + str(args.get("class", ""))).rstrip()
    return _element(fmt, "div", args, fmt.to_html(content or ""))


def _span(fmt, name, content, args):
    if args is None:

        pos, args = parse_args(content or "", strict=True)
        content = ", ".join(pos)
    return _element(fmt, "span", args, fmt.to_oneliner(content or ""))


def _cell(fmt, name, content, args):
    return _element(fmt, name, args or {}, fmt.to_html(content or ""))


def _inner_table(fmt, name, content) -> Markup:
    if not content:
        return Markup("")
    html = str(fmt.to_html(content))
    if _MULTI_TABLE_RE.search(html):
        raise MacroError(f"!#{name} must contain at most one table")
    m = _INNER_TABLE_RE.match(html)
    if not m:
        raise MacroError(f"!#{name} must contain at least one table cell (and table cells only)")
    return Markup(m.group(1 if name == "table" else 2))


def _tr(fmt, name, content, args):
    try:
        return _element(fmt, "tr", args or {}, _inner_table(fmt, "tr", content))
    except MacroError as exc:
        return system_message(str(exc))


def _table(fmt, name, content, args):
    args = dict(args or {})
    args.setdefault("class", "wiki")
    try:
        return _element(fmt, "table", args, _inner_table(fmt, "table", content))
    except MacroError as exc:
        return system_message(str(exc))


def _rst(fmt, name, content, args):
    from docutils.core import publish_parts

    settings = {
        "file_insertion_enabled": False, "raw_enabled": False, "report_level": 5,
        "halt_level": 5, "warning_stream": False, "_disable_config": True,
        "embed_stylesheet": False, "input_encoding": "unicode", "output_encoding": "unicode",
        "syntax_highlight": "none", "traceback": True, "doctitle_xform": False,
    }
    try:
        parts = publish_parts(content or "", writer="html", settings_overrides=settings)
    except Exception as exc:  # docutils raises many kinds on bad input
        raise MacroError(f"reStructuredText error: {exc}") from None
    html = sanitize_html(fmt, parts["body"])
    return Markup('<div class="rst">%s</div>') % html


def _markdown(fmt, name, content, args):
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": True, "linkify": False}).enable("table")
    return Markup('<div class="markdown">%s</div>') % sanitize_html(fmt, md.render(content or ""))


BUILTIN = {
    "default": WikiMacro("default", _default, "Show the text as it is, in a preformatted block."),
    "comment": WikiMacro("comment", _comment, "Hide the text (a comment for writers).", True),
    "html": WikiMacro("html", _html, "Insert HTML, sanitized unless unsafe content is allowed.",
                      _html_is_inline),
    "htmlcomment": WikiMacro("htmlcomment", _htmlcomment, "Insert an HTML comment.", True),
    "div": WikiMacro("div", _div, "Wrap wiki text in a `div` (parameters become attributes)."),
    "rtl": WikiMacro("rtl", _rtl, "Wiki text written right to left."),
    "span": WikiMacro("span", _span, "Wrap one line of wiki text in a `span`.", True),
    "Span": WikiMacro("Span", _span, "Same as `span`.", True),
    "td": WikiMacro("td", _cell, "A table cell holding wiki text."),
    "th": WikiMacro("th", _cell, "A table header cell holding wiki text."),
    "tr": WikiMacro("tr", _tr, "A table row (its text must be table cells)."),
    "table": WikiMacro("table", _table, "A table (its text must be table rows)."),
    "rst": WikiMacro("rst", _rst, "reStructuredText, rendered with docutils (no file "
                                  "inclusion, no raw HTML)."),
    "markdown": WikiMacro("markdown", _markdown, "Markdown (CommonMark with tables), "
                                                 "sanitized."),
}


@hookimpl
def wiki_render_dependencies():
    # Every built-in processor's output follows from its text (and the wiki text inside).
    stable = tuple(BUILTIN)
    return RenderDependencies(macros=dict.fromkeys(stable),
                              wiki_text=frozenset({"div", "span", "td", "th", "tr", "table", "rtl"}))


@hookimpl(trylast=True)
def wiki_processors():
    return dict(BUILTIN)


def run_processor(fmt, node) -> Markup:
    """HTML of a ``{{{#!name}}}`` block (errors become an error box)."""
    name = node.name or "default"
    proc = find_macro(fmt, name)
    if proc is None:
        return system_message(Markup("Error: Failed to load processor <code>%s</code>") % name,
                              f"No macro or processor named '{name}' found")
    args = node.args
    if name == "default" and args and "lineno" in args:
        from codeyard.wiki.highlight import highlight_block

        return highlight_block(fmt, "text/plain", node.text, args)
    try:
        result = proc.expand(fmt, name, node.text, args if args is not None else {})
    except MacroError as exc:
        return system_message(f"Processor {name} failed", exc.args[0] if exc.args else "")
    except Exception as exc:
        fmt.env.log.exception("Processor %s failed for %s", name, fmt.ctx.resource)
        return system_message(f"Error: Processor {name} failed", str(exc))
    if result is None:
        return Markup("")
    return result if isinstance(result, Markup) else escape(result)


