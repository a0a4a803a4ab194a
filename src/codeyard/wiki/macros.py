"""The built-in wiki macros (a plugin on ``wiki_macros``)."""

from __future__ import annotations

import os
import re
from datetime import datetime

from markupsafe import Markup, escape

from codeyard.core import hookimpl
from codeyard.wiki.api import MacroError, RenderDependencies, WikiMacro, parse_args, system_message
from codeyard.wiki.links import (
    SAFE_ORIGINS,
    format_page_name,
    intertrac_url,
    interwiki_map,
    interwiki_url,
    page_names,
)

_SPLIT_RE = r"""((?:[^%s"']|"[^"]*"|'[^']*')+)"""
_SPLIT_ARGS_RE = re.compile(_SPLIT_RE % ",")
_SPLIT_FILESPEC_RE = re.compile(_SPLIT_RE % ":")
_SIZE_RE = re.compile(r"(?:[0-9]+|(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)(?:%|ch|em|ex|ic|rem|vh|vw|"
                      r"vmax|vmin|vb|vi|px|cm|mm|Q|in|pc|pt))$")
_ATTR_RE = re.compile(r"(align|valign|border|width|height|alt|margin(?:-(?:left|right|top|bottom))?"
                      r"|title|longdesc|class|id|usemap)=(.+)")
_QUOTED_RE = re.compile(r"""(?:["'])(.*)(?:["'])$""")


def _int_arg(value, name, minimum=None, maximum=None):
    try:
        number = int(str(value).strip())
    except ValueError:
        shown = f"{name}={value}" if name else str(value).strip()
        raise MacroError(Markup("Invalid macro argument <code>%s</code>") % shown) from None
    if minimum is not None:
        number = max(minimum, number)
    if maximum is not None:
        number = min(maximum, number)
    return number


def _a(href, label, **attrs) -> Markup:
    extra = "".join(f' {k.rstrip("_")}="{escape(v)}"' for k, v in attrs.items() if v)
    return Markup(f'<a href="{escape(href)}"{extra}>{escape(label)}</a>')


# -- TitleIndex

_GROUP_SPLIT_RE = re.compile(r"(/| )")
_NUM_SPLIT_RE = re.compile(r"([0-9.]+)")


def title_index(fmt, name, content, args):
    import fnmatch
    from itertools import groupby

    from codeyard.wiki.links import resolve_relative_name

    pos, kw = parse_args(content or "")
    prefix = pos[0].strip() if pos else None
    hideprefix = len(pos) > 1 and pos[1].strip() == "hideprefix"
    minsize = _int_arg(kw.get("min", 1), "min", 1)
    min_group = max(minsize, 2)
    depth = _int_arg(kw.get("depth", -1), "depth", -1)
    kind = kw.get("format", "")
    includes = [p.strip() for p in kw.get("include", "").split(":") if p.strip()] or ["*"]
    excludes = [p.strip() for p in kw.get("exclude", "").split(":") if p.strip()]
    resource = fmt.ctx.resource
    if prefix and resource is not None and resource.realm == "wiki" and (
            prefix.startswith(("./", "../")) or prefix in (".", "..")):
        prefix = resolve_relative_name(prefix, resource.id or "")
    start = prefix.count("/") if prefix else 0
    env = fmt.env

    def shown(page):
        return page[len(prefix):] if hideprefix and prefix else page

    pages = sorted(
        page for page in page_names(env)
        if (not prefix or page.startswith(prefix))
        and (depth < 0 or depth >= page.count("/") - start)
        and fmt.ctx.allows("WIKI_VIEW", "wiki", page)
        and any(fnmatch.fnmatchcase(page, inc) for inc in includes)
        and not any(fnmatch.fnmatchcase(page, exc) for exc in excludes))

    def link(page, label=None):
        text = label if label is not None else format_page_name(env, shown(page))
        return str(_a(fmt.href.wiki(page), text))

    if kind == "compact":
        return Markup(", ".join(link(p) for p in pages))

    def first(entry):
        return entry[0][0] if entry[0] else ""

    def tree_group(entries):
        groups: list = []
        for key, grouper in groupby(entries, first):
            grouped = [(path[1:], page) for path, page in grouper]
            if key and len(grouped) >= min_group:
                subnodes = tree_group(sorted(grouped))
                if len(subnodes) == 1 and isinstance(subnodes[0], tuple):
                    subkey, children = subnodes[0]
                    groups.append((key + subkey, children))
                elif _GROUP_SPLIT_RE.match(key):
                    for elt in subnodes:
                        if isinstance(elt, tuple):
                            elt = (key + elt[0], elt[1])
                        groups.append(elt)
                else:
                    groups.append((key, subnodes))
            else:
                groups.extend(page for _path, page in grouped)
        return groups

    def render_group(group) -> str:
        items = []
        for elt in group:
            if isinstance(elt, tuple):
                items.append(f"<li><strong>{escape(elt[0].strip('/'))}</strong>"
                             f"{render_group(elt[1])}</li>")
            else:
                items.append(f"<li>{link(elt)}</li>")
        return f"<ul>{''.join(items)}</ul>"

    def tree_hierarchy(entries):
        groups: list = []
        for key, grouper in groupby(entries, first):
            grouped = list(grouper)
            subs = [e for e in grouped if len(e[0]) > 1]
            keyed = [e for e in grouped if len(e[0]) == 1]
            key_entry = keyed[0] if keyed else None
            if key and len(subs) >= minsize:
                children = tree_hierarchy(sorted((path[1:], page) for path, page in subs))
                groups.append((key, key_entry[1] if key_entry else None, children))
            else:
                if key_entry:
                    groups.append(key_entry)
                groups.extend(subs)
        return groups

    def render_hierarchy(group) -> str:
        items = []
        for elt in group:
            if len(elt) == 3:
                head = link(elt[1], elt[0]) if elt[1] else str(escape(elt[0]))
                items.append(f"<li>{head}{render_hierarchy(elt[2])}</li>")
            else:
                items.append(f"<li>{link(elt[1], '/'.join(elt[0]))}</li>")
        return f"<ul>{''.join(items)}</ul>"

    if kind == "group":
        entries = []
        for page in pages:
            split = format_page_name(env, shown(page), split=True)
            path = [e.strip() for e in _GROUP_SPLIT_RE.split(_NUM_SPLIT_RE.sub(r" \1 ", split))]
            entries.append(([e for e in path if e], page))
        body = render_group(tree_group(entries))
    elif kind == "hierarchy":
        entries = [(format_page_name(env, shown(page)).split("/"), page) for page in pages]
        body = render_hierarchy(tree_hierarchy(entries))
    else:
        body = "<ul>" + "".join(f"<li>{link(p)}</li>" for p in pages) + "</ul>"
    return Markup(f'<div class="titleindex">{body}</div>')


# -- RecentChanges


def recent_changes(fmt, name, content, args):
    pos, kw = parse_args(content or "")
    prefix = pos[0].strip() if pos else None
    limit = _int_arg(pos[1], "", 1) if len(pos) > 1 else None
    group = kw.get("group", "date")
    sql = "SELECT name, max(version), max(time) FROM wiki"
    params: list = []
    with fmt.env.db_query as db:
        if prefix:
            sql += " WHERE name LIKE %s ESCAPE '/'"
            params.append(prefix.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%")
        sql += " GROUP BY name ORDER BY max(time) DESC"
        if limit:
            sql += " LIMIT %s"
            params.append(limit)
        rows = db(sql, tuple(params))
    by_date: list = []
    previous = None
    for page, version, ts in rows:
        if not fmt.ctx.allows("WIKI_VIEW", "wiki", page, version):
            continue
        date = datetime.fromtimestamp((ts or 0) / 1_000_000).strftime("%m/%d/%y")
        if date != previous:
            previous = date
            by_date.append((date, []))
        diff = ""
        if int(version) > 1:
            diff = f' <small>({_a(fmt.href.wiki(page, action="diff", version=version), "diff")})</small>'
        by_date[-1][1].append(f"<li>{_a(fmt.href.wiki(page), format_page_name(fmt.env, page))}"
                              f"{diff}\n</li>")
    if group == "date":
        body = "".join(f'<h3 class="section">{date}</h3><ul>{"".join(items)}</ul>'
                       for date, items in by_date)
    else:
        body = "<ul>" + "".join("".join(items) for _d, items in by_date) + "</ul>"
    return Markup(f'<div class="wikipage">{body}</div>')


# -- PageOutline


def page_outline(fmt, name, content, args):
    from codeyard.wiki.formatter import Formatter
    from codeyard.wiki.renderers import render_outline

    min_depth, max_depth = 1, 6
    title = None
    inline = False
    numbered = True
    if content:
        argv = [a.strip() for a in content.split(",")]
        depth = argv[0]
        if depth:
            if "-" in depth:
                a, b = depth.split("-", 1)
                min_depth = _int_arg(a, "depth", 1, 6)
                max_depth = _int_arg(b, "depth", 1, 6)
            else:
                min_depth = max_depth = _int_arg(depth, "depth", 1, 6)
        if len(argv) > 1:
            title = argv[1].strip()
            for arg in argv[2:]:
                arg = arg.strip().lower()
                if arg == "inline":
                    inline = True
                elif arg == "unnumbered":
                    numbered = False
    outline = render_outline(Formatter(fmt.ctx, {}), fmt.page_tree(), max_depth, min_depth,
                             shorten=not inline)
    if title:
        outline = Markup('<h4 class="section">%s</h4>') % title + outline
    if not inline:
        return Markup('<div class="wiki-toc">%s</div>') % outline
    if not numbered:
        return Markup('<div class="wiki-toc-un">%s</div>') % outline
    return outline


# -- Image


def image(fmt, name, content, args):
    if not content:
        return Markup("")
    content = content.strip()
    parts_args = [a.strip() for a in _SPLIT_ARGS_RE.split(content)[1::2]]
    if not parts_args:
        return Markup("")
    filespec = parts_args.pop(0)
    attr: dict[str, str] = {}
    style: dict[str, str] = {}
    link: str | None = ""
    while parts_args:
        arg = parts_args.pop(0)
        if _SIZE_RE.match(arg):
            attr["width"] = arg
        elif arg == "nolink":
            link = None
        elif arg.startswith("link="):
            link = _image_link(fmt, arg.split("=", 1)[1].strip())
        elif arg in ("left", "right"):
            style["float"] = arg
        elif arg == "center":
            style["margin-left"] = style["margin-right"] = "auto"
            style["display"] = "block"
            style.pop("margin", "")
        elif arg in ("top", "bottom", "middle"):
            style["vertical-align"] = arg
        else:
            m = _ATTR_RE.match(arg)
            if not m:
                continue
            key, val = m.groups()
            if (key == "align" and val in ("left", "right", "center")) or (
                    key == "valign" and val in ("top", "middle", "bottom")):
                parts_args.append(val)
            elif key in ("margin-top", "margin-bottom"):
                style[key] = _length(val, key)
            elif key in ("margin", "margin-left", "margin-right") and "display" not in style:
                style[key] = _length(val, key)
            elif key == "border":
                style["border"] = f"{_length(val, key)} solid"
            else:
                q = _QUOTED_RE.search(val)
                attr[key] = q.group(1) if q else val
    if _QUOTED_RE.match(filespec):
        filespec = filespec.strip("'\"")
    parts = [p.strip("'\"") for p in _SPLIT_FILESPEC_RE.split(filespec)[1::2]]
    realm = parts[0] if parts else None
    url = raw_url = desc = None
    attachment = None
    if realm in ("http", "https", "ftp", "data"):
        raw_url = url = filespec
        desc = url.rsplit("?")[0]
    elif realm and realm.upper() in interwiki_map(fmt.env):
        url, desc = interwiki_url(fmt, realm, ":".join(parts[1:]))
        raw_url = url
    elif filespec.startswith("//"):
        raw_url = url = filespec[1:]
        desc = url.rsplit("?")[0]
    elif filespec.startswith("/"):
        params = ""
        if "?" in filespec:
            filespec, params = filespec.rsplit("?", 1)
        url = fmt.href(filespec) + ("?" + params if params else "")
        raw_url, desc = url, filespec
    elif len(parts) == 3:
        realm, rid, filename = parts
        found = intertrac_url(fmt, realm, f"{rid}:{filename}")
        if found:
            url, desc = found
            raw_url = url + "%3Fformat%3Draw"
        else:
            attachment = (realm, rid, filename)
    elif len(parts) == 2:
        rid, filename = parts
        if rid in ("source", "browser", "repos", "export"):
            rev = None
            if "@" in filename:
                filename, rev = filename.rsplit("@", 1)
            url = fmt.href.browser(filename, rev=rev)
            raw_url = fmt.href.browser(filename, format="raw", rev=rev)
            desc = filespec
        elif rid and rid[0] == "#":
            attachment = ("ticket", rid[1:], filename)
        elif rid == "htdocs":
            raw_url = url = fmt.href.chrome("site", filename)
            desc = os.path.basename(filename)
        elif rid == "shared":
            raw_url = url = fmt.href.chrome("shared", filename)
            desc = os.path.basename(filename)
        else:
            attachment = ("wiki", rid, filename)
    elif len(parts) == 1:
        resource = fmt.ctx.resource
        attachment = (resource.realm, resource.id, filespec)
    else:
        return system_message("No filespec given")
    if attachment:
        realm, rid, filename = attachment
        described = _attachment_description(fmt, realm, rid, filename)
        if described is None:
            link = None
            raw_url = fmt.href.chrome("common", "attachment.png")
            parent = rid if realm == "wiki" else f"{_realm_label(realm)} {_prefix(realm)}{rid}"
            desc = f'No image "{filename}" attached to {parent}'
        else:
            desc = described
            if fmt.ctx.allows("ATTACHMENT_VIEW", realm, rid):
                url = fmt.href.attachment(realm, rid, filename)
                raw_url = fmt.href("raw-attachment", realm, rid, filename)
    if desc:
        attr.setdefault("title", desc)
        attr.setdefault("alt", desc)
    for key in ("width", "height"):
        if key in attr:
            val = attr[key]
            if not _SIZE_RE.match(val):
                del attr[key]
            elif not val.endswith("%") and not val.isdigit():
                style[key] = val
                del attr[key]
    if style:
        attr["style"] = "; ".join(f"{k}:{escape(style[k])}" for k in sorted(style))
    origins = SAFE_ORIGINS(fmt.env.config)
    if raw_url and ":" in raw_url.split("/", 1)[0] and "*" not in origins and not any(
            raw_url.startswith(o) for o in origins):
        attr["crossorigin"] = "anonymous"
    attrs = "".join(f' {k}="{escape(v)}"' for k, v in sorted(attr.items()))
    result = Markup(f'<img src="{escape(raw_url or "")}"{attrs} />')
    if link is not None:
        result = Markup('<a href="%s" style="padding:0; border:none">%s</a>') % (
            link or url or "", result)
    return result


def _realm_label(realm):
    return {"ticket": "Ticket", "milestone": "Milestone"}.get(realm, realm.capitalize())


def _prefix(realm):
    return "#" if realm == "ticket" else ""


def _length(val, key):
    if val.isdigit():
        return val + "px"
    if _SIZE_RE.match(val):
        return val
    try:
        return f"{max(1, int(val))}px"
    except ValueError:
        raise MacroError(f'Invalid macro argument {key}="{val}"') from None


def _image_link(fmt, target: str):
    from codeyard.wiki.parser import parse_oneliner
    from codeyard.wiki.renderers import HtmlRenderer

    html = str(HtmlRenderer(fmt).render(parse_oneliner(target)))
    m = re.search(r'href="([^"]*)"', html)
    return Markup(m.group(1)).unescape() if m else None


def _attachment_description(fmt, realm, rid, filename):
    """The attachment's description ('' when it has none), or None when there is no such
    attachment."""
    try:
        with fmt.env.db_query as db:
            rows = db("SELECT description FROM attachment WHERE type=%s AND id=%s "
                      "AND filename=%s", (realm, str(rid), filename))
    except Exception:
        return None
    if not rows:
        return None
    return rows[0][0] or ""


# -- listings


def macro_list(fmt, name, content, args):
    from codeyard.wiki.formatter import Formatter

    wanted = (content or "").strip()
    names = sorted(set(fmt.macros) | {"BR"})
    if wanted and wanted != "*":
        if wanted.endswith("*"):
            names = [n for n in names if n.startswith(wanted[:-1])]
        else:
            names = [n for n in names if n == wanted]
    parts = []
    sub = Formatter(fmt.ctx, {})
    for macro_name in names:
        doc = "Insert a line break." if macro_name == "BR" else fmt.macros[macro_name].doc
        body = sub.to_html(doc) if doc else Markup("<em>No documentation found</em>")
        parts.append(f'<h3 id="{escape(macro_name)}-macro"><code>[[{escape(macro_name)}]]'
                     f"</code></h3>{body}")
    return Markup(f'<div class="trac-macrolist">{"".join(parts)}</div>')


def trac_ini(fmt, name, content, args):
    import fnmatch

    pos, kw = parse_args(content or "")
    filters = {}
    for key, index in (("section", 0), ("option", 1)):
        pattern = kw.get(key, "").strip()
        if pattern:
            filters[key] = re.compile(fnmatch.translate(pattern), re.I).match
            continue
        prefix = pos[index].strip() if index < len(pos) else ""
        if prefix:
            filters[key] = re.compile(re.escape(prefix), re.I).match
    section_ok = filters.get("section", lambda v: True)
    option_ok = filters.get("option", lambda v: True)
    registry = fmt.env.options
    sections: dict[str, list] = {}
    for option in registry:
        if section_ok(option.section) and option_ok(option.name):
            sections.setdefault(option.section, []).append(option)
    if "option" not in filters:
        for section in registry.section_docs:
            if section_ok(section):
                sections.setdefault(section, [])
    out = []
    for section in sorted(sections):
        out.append(f'<h3 id="{escape(section)}-section"><code>[{escape(section)}]</code></h3>')
        doc = registry.section_docs.get(section, "")
        if doc:
            out.append(str(fmt.to_html(doc)))
        options = sorted(sections[section], key=lambda o: o.name)
        if not options:
            continue
        rows = []
        for idx, option in enumerate(options):
            anchor = escape(f"{section}-{option.name}-option")
            default = option.default_text() if hasattr(option, "default_text") else option.default
            if default not in ("", None):
                default_cell = f'<td class="default"><code>{escape(default)}</code></td>'
            else:
                default_cell = '<td class="nodefault">(no default)</td>'
            rows.append(f'<tr class="{"odd" if idx % 2 else "even"}" id="{anchor}">'
                        f'<td><a class="tracini-option" href="#{anchor}"><code>'
                        f"{escape(option.name)}</code></a></td>"
                        f"<td>{fmt.to_html(option.doc or '')}</td>{default_cell}</tr>")
        out.append(f'<table class="wiki"><tbody>{"".join(rows)}</tbody></table>')
    return Markup(f'<div class="tracini">{"".join(out)}</div>')


def known_mimetypes(fmt, name, content, args):
    from codeyard.wiki.mime_map import known_mimetypes as kinds

    pos, _kw = parse_args(content or "")
    wanted = pos[0].strip().rstrip("*") if pos else ""
    rows = []
    for mime, keywords in kinds(fmt.env.config, wanted):
        names = " ".join(keywords)
        rows.append(f'<tr><th style="text-align: left"><code>{escape(mime)}</code></th>'
                    f"<td><code>{escape(names)}</code></td></tr>")
    head = _a(fmt.href.wiki("WikiProcessors"), "WikiProcessors")
    return Markup('<div class="mimetypes"><table class="wiki"><thead><tr><th>MIME Types</th>'
                  f'<th>{head}</th></tr></thead><tbody>{"".join(rows)}</tbody></table></div>')


GUIDE_TOC = [
    ("TracGuide", "Index"), ("TracInstall", "Installation"), ("TracInterfaceCustomization",
    "Customization"), ("TracPlugins", "Plugins"), ("TracUpgrade", "Upgrading"),
    ("TracIni", "Configuration"), ("TracAdmin", "Administration"), ("TracBackup", "Backup"),
    ("TracLogging", "Logging"), ("TracPermissions", "Permissions"), ("TracWiki", "The Wiki"),
    ("WikiFormatting", "Wiki Formatting"), ("TracTimeline", "Timeline"),
    ("TracBrowser", "Repository Browser"), ("TracRevisionLog", "Revision Log"),
    ("TracChangeset", "Changesets"), ("TracTickets", "Tickets"), ("TracWorkflow", "Workflow"),
    ("TracRoadmap", "Roadmap"), ("TracQuery", "Ticket Queries"),
    ("TracBatchModify", "Batch Modify"), ("TracReports", "Reports"), ("TracRss", "RSS Support"),
    ("TracNotification", "Notification"),
]


def guide_toc(fmt, name, content, args):
    current = str(fmt.ctx.resource.id or "") if fmt.ctx.resource is not None else ""
    # A guide kept under a prefix (``Translated/TracGuide``) links within that prefix.
    prefix = current[:current.find("/") + 1] if current.find("/") > 0 else ""
    pages = page_names(fmt.env)
    items = []
    for page, title in GUIDE_TOC:
        ref = prefix + page
        cls = ' class="active"' if ref == current else ""
        missing = {"class_": "missing"} if ref not in pages else {}
        items.append(f"<li{cls}>{_a(fmt.href.wiki(ref), title, **missing)}</li>")
    return Markup(f'<div class="wiki-toc"><h4>Table of Contents</h4><ul>{"".join(items)}</ul></div>')


def intertrac_table(fmt, name, content, args):
    config = fmt.env.config
    entries: dict[str, dict] = {}
    for key, value in config.options("intertrac"):
        if "." in key:
            prefix, attribute = key.split(".", 1)
            entries.setdefault(prefix, {})[attribute] = value
        else:
            entries.setdefault(key, {})["alias"] = value
    entries.setdefault("trac", {}).setdefault("url", "https://trac.edgewall.org")
    entries["trac"].setdefault("title", "The Trac Project")
    rows = ["<tr><th><em>Prefix</em></th><th><em>Trac Site</em></th></tr>"]
    for prefix in sorted(entries):
        data = entries[prefix]
        if "alias" in data:
            rows.append(f"<tr><td><strong>{escape(prefix)}</strong></td><td>Alias for "
                        f"<strong>{escape(data['alias'])}</strong></td></tr>")
        elif data.get("url"):
            url = data["url"]
            title = data.get("title", url)
            rows.append(f'<tr><td>{_a(url + "/timeline", "")[:-4]}<strong>{escape(prefix)}'
                        f"</strong></a></td><td>{_a(url, title)}</td></tr>")
    return Markup(f'<table class="wiki intertrac">{"".join(rows)}</table>')


def interwiki_table(fmt, name, content, args):
    rows = ["<tr><th><em>Prefix</em></th><th><em>Site</em></th></tr>"]
    mapping = interwiki_map(fmt.env)
    for key in sorted(mapping):
        prefix, url, title = mapping[key]
        rc_url = url.replace("$1", "RecentChanges") if "$1" in url else url + "RecentChanges"
        description = url if title == prefix else title
        rows.append(f"<tr><td>{_a(rc_url, prefix)}</td><td>{_a(url, description)}</td></tr>")
    return Markup(f'<table class="wiki interwiki">{"".join(rows)}</table>')


def admin_help(fmt, name, content, args):
    commands = []
    for found in fmt.env.hook.admin_commands():
        commands.extend(found or ())
    wanted = (content or "").strip()
    lines = []
    for command in sorted(commands, key=lambda c: c.name):
        if wanted and not command.name.startswith(wanted):
            continue
        lines.append(f"{command.name} {getattr(command, 'args', '')}".rstrip())
        doc = (command.doc or "").strip()
        if doc:
            lines.extend("    " + ln for ln in doc.splitlines())
        lines.append("")
    if wanted and not lines:
        raise MacroError(f'Unknown codeyard admin command "{wanted}"')
    return Markup('<pre class="wiki">%s</pre>') % "\n".join(lines).rstrip("\n")


MACROS = [
    WikiMacro("TitleIndex", title_index, "Insert an alphabetic list of all wiki pages.\n\n"
              "Arguments: a page name prefix; `hideprefix`; `format=group`, `hierarchy` or "
              "`compact`; `depth=N`; `include=`/`exclude=` colon-separated glob patterns; "
              "`min=N` (smallest group with `format=group`)."),
    WikiMacro("RecentChanges", recent_changes, "List the most recently changed wiki pages.\n\n"
              "Arguments: a name prefix, the number of pages, `group=date` or `group=none`."),
    WikiMacro("PageOutline", page_outline, "Display a structural outline of the current page."
              "\n\nArguments: levels (`2-3`), a title, `inline`, `numbered`/`unnumbered`.",
              lambda c: "inline" in [a.strip() for a in (c or "").split(",")]),
    WikiMacro("Image", image, "Embed an image: an attachment, a URL or a repository file.\n\n"
              "Arguments: the file, a size, `left`/`right`/`center`/`top`/`bottom`/`middle`, "
              "`align=`, `border=`, `margin=`, `alt=`, `title=`, `link=` or `nolink`."),
    WikiMacro("MacroList", macro_list, "Display a list of all installed wiki macros."),
    WikiMacro("TracIni", trac_ini, "Produce documentation for the configuration options.\n\n"
              "Arguments: a section filter and an option filter (`*` wildcards)."),
    WikiMacro("KnownMimeTypes", known_mimetypes, "List the MIME types code blocks highlight."),
    WikiMacro("TracGuideToc", guide_toc, "Display a table of contents for the guide pages."),
    WikiMacro("InterTrac", intertrac_table, "List the known !InterTrac prefixes."),
    WikiMacro("InterWiki", interwiki_table, "List the known !InterWiki prefixes."),
    WikiMacro("TracAdminHelp", admin_help, "Display help for the `codeyard admin` commands.\n\n"
              "Argument: a command name prefix."),
]


@hookimpl
def wiki_render_dependencies():
    # Every built-in macro answers from pages, attachments, configuration and permissions;
    # RecentChanges lists edits too, which Trac's page-list generation does not follow.
    return RenderDependencies(macros={**dict.fromkeys(m.name for m in MACROS),
                                      "RecentChanges": "wiki"},
                              probes={"wiki": "SELECT COUNT(*), MAX(time) FROM wiki"})


@hookimpl(trylast=True)
def wiki_macros():
    return {m.name: m for m in MACROS}
