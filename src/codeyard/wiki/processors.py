"""``{{{#!name args}}}`` processors: the built-in ones, highlighting and lookup.

``#!html`` and the attributes of ``div``/``span``/``td``… are sanitized with nh3 unless
``[wiki] render_unsafe_content`` is set: no scripts, no event handlers, no URL whose scheme
is not in ``[wiki] safe_schemes``, no password field and no form that posts to another
site, and pictures or styles from origins outside ``[wiki] safe_origins`` are fetched
without credentials (``crossorigin="anonymous"``) or dropped (CSS), as in Trac 1.6.
"""

from __future__ import annotations

import html as html_module
import re
from urllib.parse import urlsplit

import nh3
from markupsafe import Markup, escape

from codeyard.core import hookimpl
from codeyard.wiki.api import MacroError, RenderDependencies, WikiMacro, parse_args, system_message
from codeyard.wiki.extensions import find_macro
from codeyard.wiki.links import RENDER_UNSAFE, SAFE_ORIGINS, SAFE_SCHEMES

# The CSS properties a style may set (Trac 1.6's list); ``position`` only as ``static`` and
# margins never negative, as both can move content over the page's own.
_STYLE_PROPS = frozenset("""
    background background-attachment background-color background-image background-position
    background-repeat border border-bottom border-bottom-color border-bottom-style
    border-bottom-left-radius border-bottom-right-radius border-bottom-width border-collapse
    border-color border-left border-left-color border-left-style border-left-width
    border-radius border-right border-right-color border-right-style border-right-width
    border-spacing border-style border-top border-top-color border-top-left-radius
    border-top-right-radius border-top-style border-top-width border-width bottom
    caption-side clear clip color content counter-increment counter-reset cursor direction
    display empty-cells float font font-family font-size font-style font-variant font-weight
    height left letter-spacing line-height list-style list-style-image list-style-position
    list-style-type margin margin-bottom margin-left margin-right margin-top max-height
    max-width min-height min-width opacity orphans outline outline-color outline-style
    outline-width overflow padding padding-bottom padding-left padding-right padding-top
    page-break-after page-break-before page-break-inside position quotes right table-layout
    text-align text-decoration text-indent text-transform top unicode-bidi vertical-align
    visibility white-space widows width word-spacing z-index
""".split())
# Forms are allowed as Trac allows them, but only when they post to this site, and never
# with a password field (the means of a fake login form).
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
# ``expression(`` in any of the letter forms old Internet Explorer read as Latin ones.
_CSS_EXPRESSION_RE = re.compile("[eE\uff25\uff45][xX\uff38\uff58][pP\uff30\uff50]"
                                "[rR\u0280\uff32\uff52][eE\uff25\uff45][sS\uff33\uff53]{2}"
                                "[iI\u026a\uff29\uff49][oO\uff2f\uff4f][nN\u0274\uff2e\uff4e]")
_CSS_URL_RE = re.compile("[Uu][Rr\u0280][Ll\u029f]\\s*\\(([^)]+)")
_CSS_ESCAPE_RE = re.compile(r"""\\([0-9a-fA-F]{1,6})\s?|\\([^\r\n\f0-9a-fA-F'"{};:()#*])""")
_CSS_COMMENT_RE = re.compile(r"/\*.*?\*/")
_INNER_TABLE_RE = re.compile(r"\s*<table[^>]*>\s*((?:<tr[^>]*>)?(.*?)(?:</tr>)?)\s*</table>\s*$",
                             re.S)
_MULTI_TABLE_RE = re.compile(r"</table>.*?<table", re.S)


class UrlPolicy:
    """Which URLs wiki HTML may use: ``[wiki] safe_schemes`` and ``safe_origins``."""

    def __init__(self, fmt) -> None:
        config = fmt.env.config
        self.schemes = {scheme.strip().lower() for scheme in SAFE_SCHEMES(config) if scheme}
        self.origins = [origin.strip() for origin in SAFE_ORIGINS(config) if origin.strip()]
        base = fmt.ctx.abs_href.base if fmt.ctx.abs_href is not None else ""
        parts = urlsplit(base)
        self.site = (parts.scheme.lower(), parts.netloc.lower()) if parts.netloc else None

    def is_safe_uri(self, uri: str) -> bool:
        """A relative URL, or one whose scheme is a safe one."""
        scheme = _scheme(uri)
        return scheme is None or scheme in self.schemes

    def is_safe_origin(self, uri: str) -> bool:
        """Whether a resource at ``uri`` may be fetched as it is (Trac's safe_origins rules)."""
        uri = _clean_url(uri)
        if not uri or _scheme(uri) is None and not _is_network_path(uri):
            return True
        if "*" in self.origins:
            return True
        if _is_network_path(uri):
            uri = f"{self.site[0] if self.site else 'http'}:{uri}"
        uri = _with_root_path(uri)
        for safe in self.origins:
            safe = _with_root_path(safe)
            if uri == safe or safe.endswith(":") and uri.lower().startswith(safe.lower()):
                return True
            if uri.startswith(safe if safe.endswith("/") else safe + "/"):
                return True
        return False

    def is_same_site(self, uri: str) -> bool:
        """A relative URL, or one on this site's own origin."""
        uri = _clean_url(uri)
        if _scheme(uri) is None and not _is_network_path(uri):
            return True
        if self.site is None:
            return False
        parts = urlsplit(uri.replace("\\", "/"))
        scheme = parts.scheme.lower() or self.site[0]
        return (scheme, parts.netloc.lower()) == self.site

    def is_safe_link_target(self, uri: str) -> bool:
        """Trac's test of a URL read from CSS (quotes and all): a safe scheme, judged from
        the letters and digits before the first colon, and a safe origin."""
        path = uri.split("#", 1)[0]
        if ":" in path:
            scheme = "".join(c for c in path.split(":", 1)[0] if c.isalnum()).lower()
            if scheme not in self.schemes:
                return False
        if ":" not in uri and not uri.startswith("//"):
            return True
        if "*" in self.origins:
            return True
        if uri.startswith("//"):
            uri = f"{self.site[0] if self.site else 'http'}:{uri}"
        uri = _with_root_path(uri)
        for safe in self.origins:
            safe = _with_root_path(safe)
            if uri == safe or safe.endswith(":") and uri.startswith(safe):
                return True
            if uri.startswith(safe if safe.endswith("/") else safe + "/"):
                return True
        return False

    def sanitize_css(self, text: str) -> str | None:
        """The safe declarations of a ``style`` value, as Trac keeps them (``None``: none).

        CSS escapes are decoded and comments blanked first; a declaration stays when its
        property is a safe one, it holds no ``expression(`` and every ``url(`` in it is safe.
        """
        text = _CSS_COMMENT_RE.sub(" ", _CSS_ESCAPE_RE.sub(_css_unescape,
                                                           text.replace("\r\n", "\n")))
        kept = []
        for declaration in text.split(";"):
            declaration = declaration.strip()
            prop, colon, value = declaration.partition(":")
            if not colon:
                continue
            prop, value = prop.strip().lower(), value.strip()
            if prop not in _STYLE_PROPS:
                continue
            if prop == "position" and value.lower() != "static":
                continue
            if prop.startswith("margin") and "-" in value:
                continue
            if _CSS_EXPRESSION_RE.search(declaration):
                continue
            if all(self.is_safe_link_target(m.group(1))
                   for m in _CSS_URL_RE.finditer(declaration)):
                kept.append(declaration)
        return "; ".join(kept) or None


def _css_unescape(match: re.Match) -> str:
    if match.group(1):
        code = int(match.group(1), 16)
        if code <= 0x1F:
            return " "  # control characters are ignored by some browsers: a space instead
        char = chr(code) if code <= 0x10FFFF else "\ufffd"
        return "\\\\" if char == "\\" else char
    return "\\\\" if match.group(2) == "\\" else match.group(2)


_SCHEME_RE = re.compile(r"\A([a-zA-Z][a-zA-Z0-9+.\-]*):")
_URL_NOISE_RE = re.compile(r"[\t\n\r]")


def _clean_url(uri: str) -> str:
    """The URL as a browser reads it: tabs and newlines dropped, outer controls stripped."""
    return _URL_NOISE_RE.sub("", uri).strip("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b"
                                            "\x0c\x0e\x0f\x10\x11\x12\x13\x14\x15\x16"
                                            "\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f ")


def _scheme(uri: str) -> str | None:
    match = _SCHEME_RE.match(_clean_url(uri))
    return match.group(1).lower() if match else None


def _is_network_path(uri: str) -> bool:
    return uri[:2] in ("//", "\\\\", "/\\", "\\/")


def _with_root_path(uri: str) -> str:
    return uri + "/" if re.match(r"\A(?:[a-zA-Z][-a-zA-Z0-9+._]*:)?//[^/]+\Z", uri) else uri


def sanitize_html(fmt, text: str) -> Markup:
    if RENDER_UNSAFE(fmt.env.config):
        return Markup(text)
    policy = url_policy(fmt)

    def filter_attribute(tag: str, attr: str, value: str):
        if attr == "style":
            return policy.sanitize_css(value)
        if attr in _URL_ATTRS and not policy.is_safe_uri(value):
            return None
        return value

    cleaned = nh3.clean(
        text,
        tags=set(nh3.ALLOWED_TAGS) | _EXTRA_TAGS,
        clean_content_tags={"script", "style"},
        attributes={"*": set(_GLOBAL_ATTRS)},
        url_schemes=set(policy.schemes),
        link_rel=None,
        strip_comments=True,
        attribute_filter=filter_attribute,
    )
    return Markup(_filter_elements(cleaned, policy))


# nh3 writes well-formed HTML: every ``<`` opens a tag, attribute values are double-quoted
# and contain no ``"``, so its tags can be read back with these two patterns.
_TAG_RE = re.compile(r'<(/?)([a-zA-Z][a-zA-Z0-9]*)((?:[^<>"]|"[^"]*")*)>')
_ATTR_RE = re.compile(r'([^\s="/]+)(?:="([^"]*)")?')


def _filter_elements(cleaned: str, policy: UrlPolicy) -> str:
    """Drop password fields and forms that post elsewhere; mark cross-origin pictures."""
    forms: list[bool] = []  # for each open form: dropped?

    def rewrite(match: re.Match) -> str:
        closing, tag, attr_text = match.group(1), match.group(2).lower(), match.group(3)
        if tag == "form":
            if closing:
                return "" if forms and forms.pop() else match.group(0)
            attrs = _attrs(attr_text)
            drop = not policy.is_same_site(attrs.get("action", ""))
            forms.append(drop)
            return "" if drop else match.group(0)
        if closing:
            return match.group(0)
        if tag not in ("input", "img"):
            return match.group(0)
        attrs = _attrs(attr_text)
        if tag == "input" and attrs.get("type", "").strip().lower() == "password":
            return ""
        src = attrs.get("src")
        if src is not None and not policy.is_safe_origin(src):
            end = "/>" if match.group(0).endswith("/>") else ">"
            return match.group(0)[:-len(end)].rstrip() + ' crossorigin="anonymous"' + end
        return match.group(0)

    return _TAG_RE.sub(rewrite, cleaned)


def url_policy(fmt) -> UrlPolicy:
    """The URL policy of this rendering (read from the configuration once per render)."""
    return fmt.memo("wiki.url_policy", lambda: UrlPolicy(fmt))


def _attrs(text: str) -> dict[str, str]:
    return {m.group(1).lower(): html_module.unescape(m.group(2) or "")
            for m in _ATTR_RE.finditer(text)}


def sanitize_attrs(fmt, tagname: str, attrs: dict) -> dict:
    """Attributes safe on an element (processor parameters like ``class``, ``style``)."""
    out: dict[str, str] = {}
    if not attrs:
        return out
    unsafe_ok = RENDER_UNSAFE(fmt.env.config)
    policy = None if unsafe_ok else url_policy(fmt)
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
        assert policy is not None
        if key in _URL_ATTRS and not policy.is_safe_uri(value):
            continue
        if key == "style":
            css = policy.sanitize_css(value)
            if css is None:
                continue
            value = css
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


