"""TracLinks: from a parsed link to an ``<a>`` element.

Namespaces are resolved by the resolvers plugins register (``wiki_link_resolvers``); what no
resolver claims may still be an external URL with a safe scheme, a ``mailto:``, an InterTrac
prefix (``[intertrac]`` in trac.ini) or an InterWiki prefix (the ``InterMapTxt`` page).
"""

from __future__ import annotations

import re
from urllib.parse import quote

from markupsafe import Markup, escape

from codeyard import cachekeys
from codeyard.config import BoolOption, ListOption
from codeyard.wiki import syntax as S

IGNORE_MISSING = BoolOption("wiki", "ignore_missing_pages", False,
                            "Show CamelCase words that name no existing page as plain text.")
SPLIT_NAMES = BoolOption("wiki", "split_page_names", False,
                         "Show page names with spaces between the words (`Wiki Start`).")
RENDER_UNSAFE = BoolOption("wiki", "render_unsafe_content", False,
                           "Render `#!html` blocks and link targets without sanitizing. Only for "
                           "sites where every writer is trusted.")
SAFE_SCHEMES = ListOption("wiki", "safe_schemes",
                          ("cvs", "file", "ftp", "git", "irc", "http", "https", "news", "sftp",
                           "smb", "ssh", "svn", "svn+ssh"),
                          "URI schemes rendered as external links even when unsafe content is "
                          "not rendered.")
SAFE_ORIGINS = ListOption("wiki", "safe_origins", ("data:",),
                          "Origins whose images and styles are used as they are (`*` for all).")
NEVER_OBFUSCATE_MAILTO = BoolOption("trac", "never_obfuscate_mailto", False,
                                    "Never hide `mailto:` links written in wiki text, even from "
                                    "users without EMAIL_VIEW.")
SHOW_EMAILS = BoolOption("trac", "show_email_addresses", False,
                         "Show e-mail addresses to everyone (otherwise only to users with "
                         "EMAIL_VIEW).")
START_PAGE = "WikiStart"
_EMAIL_RE = re.compile(S.EMAIL)
_INTERWIKI_LINE = re.compile(rf"({S.LINK_SCHEME})[ \t]+([^ \t]+)(?:[ \t]+#(.*))?")
_ARG_RE = re.compile(r"\$\d")
# A label without these is the same unescaped, unquoted and escaped again.
_HTML_SPECIAL_RE = re.compile("[&<>\"']")


def page_names(env) -> frozenset[str]:
    """Names of all existing wiki pages (kept under Trac's key for the same list)."""

    def compute():
        with env.db_query as db:
            return frozenset(r[0] for r in db("SELECT DISTINCT name FROM wiki"))

    return env.cached(cachekeys.WIKI_PAGES, compute)


def page_exists(env, name: str) -> bool:
    return name.rstrip("/") in page_names(env)


def format_page_name(env, name: str, split: bool = False) -> str:
    if split or SPLIT_NAMES(env.config):
        return S.PAGE_SPLIT_RE.sub(r"\1 \2", name)
    return name


def make_label_from_target(env, target: str) -> str:
    label = target.split("#", 1)[0].split("?", 1)[0]
    if not label:
        return target
    parts = label.split("/")
    for i, part in enumerate(parts):
        if part not in ("", ".", ".."):
            label = "/".join(parts[i:])
            break
    return format_page_name(env, label)


def resolve_relative_name(pagename: str, referrer: str) -> str:
    base = referrer.split("/") if referrer else []
    parts = pagename.split("/")
    for i, part in enumerate(parts):
        if part == "..":
            if base:
                base.pop()
        elif part != ".":
            base.extend(parts[i:])
            break
    return "/".join(base)


def resolve_scoped_name(pages, pagename: str, referrer: str) -> str:
    """``Other`` seen from ``A/B/C``: the nearest existing ``A/B/Other``, ``A/Other``… or a
    sibling of the referrer (``pages`` is the set of existing names)."""
    ref = referrer.split("/")
    if len(ref) == 1:
        return pagename
    for i in range(len(ref) - 1, 0, -1):
        name = "/".join(ref[:i]) + "/" + pagename
        if name in pages:
            return name
    if pagename in pages:
        return pagename
    if "/" in pagename:
        first, rest = pagename.split("/", 1)
        for i, part in enumerate(ref):
            if first == part:
                anchor = "/".join(ref[:i + 1])
                if anchor in pages:
                    return anchor + "/" + rest
    return "/".join(ref[:-1]) + "/" + pagename


def wiki_link(fmt, pagename: str, label, ignore_missing: bool, original=None) -> Markup:
    """A link to a wiki page (label is HTML), classed ``wiki`` or ``missing wiki``."""
    env, ctx = fmt.env, fmt.ctx
    pages = fmt.memo("wiki.pages", lambda: page_names(env))
    pagename, query, fragment = S.split_url(pagename)
    version = None
    if "@" in pagename:
        pagename, version = pagename.split("@", 1)
    if version and query:
        query = "&" + query[1:]
    pagename = pagename.rstrip("/") or START_PAGE
    referrer = ""
    resource = ctx.resource
    if resource is not None and resource.realm == "wiki":
        referrer = resource.id or ""
    if pagename.startswith("/"):
        pagename = pagename.lstrip("/")
    elif pagename.startswith(("./", "../")) or pagename in (".", ".."):
        pagename = resolve_relative_name(pagename, referrer)
    else:
        pagename = resolve_scoped_name(pages, pagename, referrer)
    if _HTML_SPECIAL_RE.search(label):
        label = escape(S.unquote_label(Markup(label).unescape()))
    else:  # what the line above gives back for such a label
        label = Markup(label)
    if ctx.allows("WIKI_VIEW", "wiki", pagename, version):
        href = fmt.memo("wiki.href", lambda: fmt.href.wiki)(pagename, version=version)
        href += query + fragment
        if pagename in pages:
            return Markup('<a class="wiki" href="%s">%s</a>') % (href, label)
        if ignore_missing:
            return escape(original) if original is not None else label
        if ctx.allows("WIKI_CREATE", "wiki", pagename, version):
            return Markup('<a class="missing wiki" href="%s" rel="nofollow">%s</a>') % (href, label)
        return Markup('<a class="missing wiki">%s</a>') % label
    if ignore_missing and pagename not in pages:
        return escape(original) if original is not None else label
    return Markup('<a class="forbidden wiki" title="no permission to view this wiki page">'
                  '%s</a>') % label


def ext_link(fmt, url: str, label, title: str = "") -> Markup:
    local = fmt.env.config.get("project", "url", "") or fmt.ctx.abs_href.base
    if not local or not url.startswith(local):
        return (Markup('<a class="ext-link" href="%s"%s><span class="icon">\u200b</span>%s</a>')
                % (url, _title(title), label))
    return Markup('<a href="%s"%s>%s</a>') % (url, _title(title), label)


def mail_link(url: str, label) -> Markup:
    return (Markup('<a class="mail-link" href="%s"><span class="icon">\u200b</span>%s</a>')
            % (url, label))


def _title(title: str) -> Markup:
    return Markup(' title="%s"') % title if title else Markup("")


def obfuscate_emails(fmt, text: str) -> str:
    """Hide the domain of e-mail addresses from readers without EMAIL_VIEW."""
    if SHOW_EMAILS(fmt.env.config) or fmt.ctx.allows("EMAIL_VIEW"):
        return text
    return _EMAIL_RE.sub(lambda m: m.group(0)[:m.group(0).find("@")] + "@\u2026", text)


def email_link(fmt, address: str) -> Markup:
    shown = obfuscate_emails(fmt, address)
    if shown == address:
        return mail_link("mailto:" + address, escape(address))
    return escape(shown)


def safe_schemes(fmt) -> frozenset[str]:
    """``[wiki] safe_schemes`` as written, read once per render."""
    return fmt.memo("wiki.safe_schemes", lambda: frozenset(SAFE_SCHEMES(fmt.env.config)))


def make_link(fmt, ns: str, target: str, match: str, label, link) -> Markup:
    """Resolve ``ns:target`` (label is plain text) as Trac's formatter does."""
    env = fmt.env
    ns = intertrac_options(fmt).get(ns.lower(), ns) or ns
    resolver = fmt.resolvers.get(ns)
    if resolver is not None:
        return Markup(resolver(fmt, ns, target, escape(label), link))
    if ns == "mailto":
        if NEVER_OBFUSCATE_MAILTO(env.config):
            otarget, olabel = target, label
        else:
            otarget, olabel = obfuscate_emails(fmt, target), obfuscate_emails(fmt, label)
        if (otarget, olabel) == (target, label):
            return mail_link("mailto:" + target, escape(label))
        return escape(olabel or otarget)
    if target.startswith("//"):
        if RENDER_UNSAFE(env.config) or ns in safe_schemes(fmt):
            return ext_link(fmt, ns + ":" + target, escape(label))
        return escape(match)
    return (intertrac_link(fmt, ns, target, escape(label))
            or interwiki_link(fmt, ns, target, escape(label))
            or escape(match))


def intertrac_options(fmt) -> dict[str, str]:
    """``[intertrac]`` with lower-cased keys (prefixes are case-insensitive)."""
    return fmt.memo("intertrac", lambda: {k.lower(): v for k, v in
                                          fmt.env.config.options("intertrac")})


def intertrac_url(fmt, ns: str, target: str):
    options = intertrac_options(fmt)
    url = options.get(ns.lower() + ".url", "")
    name = f"Trac project {ns}"
    if not url and ns.lower() == "trac":
        url, name = "https://trac.edgewall.org", "The Trac Project"
    if not url:
        return None
    name = options.get(ns.lower() + ".title", "") or name
    full = f"{url}/intertrac/{quote(target, safe='/')}"
    title = f"{target} in {name}" if target else name
    return full, title


def intertrac_link(fmt, ns: str, target: str, label):
    found = intertrac_url(fmt, ns, target)
    if found:
        return ext_link(fmt, found[0], label, found[1])
    return None


def shorthand_intertrac(fmt, ns: str, target: str, label, link):
    """``#T1``/``[T2]``-style shorthands naming another Trac (or None)."""
    prefix = getattr(link, "prefix", "") if link is not None else ""
    if not prefix or getattr(link, "form", "") != "shorthand":
        return None
    alias = prefix.strip()
    aliased = intertrac_options(fmt).get(alias.lower(), alias) or alias
    full_target = f"{ns}:{target[len(prefix):]}"
    return intertrac_link(fmt, aliased, full_target, label) or label


def interwiki_map(env) -> dict[str, tuple[str, str, str]]:
    """{PREFIX: (prefix, url, title)} from the InterMapTxt page and ``[interwiki]``.

    The page's part is kept across requests under Trac's key, which both programs bump
    when InterMapTxt changes; ``[interwiki]`` is read from the configuration each time."""

    def compute():
        with env.db_query as db:
            rows = db("SELECT text FROM wiki WHERE name=%s ORDER BY version DESC LIMIT 1",
                      ("InterMapTxt",))
        mapping = {}
        in_map = False
        for line in (rows[0][0] if rows else "").split("\n"):
            if in_map:
                if line.startswith("----"):
                    in_map = False
                else:
                    m = _INTERWIKI_LINE.match(line)
                    if m:
                        prefix, url, title = m.groups()
                        title = title.strip() if title else prefix
                        mapping[prefix.upper()] = (prefix, url.strip(), title)
            elif line.startswith("----"):
                in_map = True
        return mapping

    mapping = dict(env.cached(cachekeys.INTERWIKI_MAP, compute))
    for prefix, value in env.config.options("interwiki"):
        parts = value.split(None, 1)
        if parts:
            mapping[prefix.upper()] = (prefix, parts[0].strip(),
                                       parts[1].strip() if len(parts) > 1 else prefix)
    return mapping


def _expand(text: str, args: list[str]) -> str:
    def setarg(m):
        num = int(m.group()[1:])
        return args[num - 1] if 0 < num <= len(args) else ""

    return _ARG_RE.sub(setarg, text)


def interwiki_url(fmt, ns: str, target: str):
    mapping = fmt.memo("interwiki", lambda: interwiki_map(fmt.env))
    entry = mapping.get(ns.upper())
    if entry is None:
        return None
    _prefix, url, title = entry
    maxarg = max([0] + [int(a[1:]) for a in _ARG_RE.findall(url)])
    target, query, fragment = S.split_url(target)
    args = target.split(":", maxarg - 1) if maxarg > 0 else [target]
    expanded = _expand(url, args)
    if expanded == url and args:
        expanded = url + args[0]
    ntarget, nquery, nfragment = S.split_url(expanded)
    if query and nquery:
        nquery = f"{nquery}&{query[1:]}"
    else:
        nquery = nquery or query
    full = ntarget + nquery + (fragment or nfragment)
    config = fmt.env.config
    if not (RENDER_UNSAFE(config) or ":" not in full
            or full.split(":", 1)[0] in safe_schemes(fmt)):
        full = ""
    etitle = _expand(title, args)
    if etitle == title:
        etitle = f"{target} in {title}"
    return full, etitle


def interwiki_link(fmt, ns: str, target: str, label):
    found = interwiki_url(fmt, ns, target)
    if found and found[0]:
        return ext_link(fmt, found[0], label, found[1])
    return None


def render_link(fmt, link) -> Markup:
    """HTML for a parsed Link node."""
    env = fmt.env
    form = link.form
    if form == "camel":
        return wiki_link(fmt, link.target, escape(format_page_name(env, link.target)),
                         IGNORE_MISSING(env.config), link.text)
    if form == "wikilabel":
        return wiki_link(fmt, link.target, escape(link.label), IGNORE_MISSING(env.config),
                         link.text)
    if form == "freelink":
        label = link.label if link.explicit else make_label_from_target(env, link.target)
        return wiki_link(fmt, link.target, escape(label), False)
    if form == "email":
        return email_link(fmt, link.target)
    if form == "shrefbr":
        return Markup("&lt;%s&gt;") % make_link(fmt, link.ns, link.target, link.text,
                                                link.label, link)
    if form == "relative":
        return relative_link(fmt, link)
    return make_link(fmt, link.ns, link.target, link.text, link.label, link)


def relative_link(fmt, link) -> Markup:
    env = fmt.env
    rel = link.target
    label = link.label or make_label_from_target(env, rel)
    path, query, fragment = S.split_url(rel)
    if path.startswith("//"):
        path = "/" + path.lstrip("/")
    elif path.startswith("/"):
        path = fmt.href.base + path
    else:
        resource = fmt.ctx.resource
        realm = resource.realm if resource is not None else None
        rid = resource.id if resource is not None else None
        if realm == "wiki":
            name = resolve_relative_name(path, rid or "") if path else (rid or "")
            if name:
                target = S.concat_path_query_fragment(name, query, fragment)
                return make_link(fmt, "wiki", "/" + target, link.text, label, link)
            path = fmt.href.wiki()
        elif realm and rid and path in ("", "."):
            target = S.concat_path_query_fragment(str(rid), query, fragment)
            return make_link(fmt, realm, target, link.text, label, link)
        else:
            path = fmt.href(realm or "") if realm else fmt.href.base or "/"
    return Markup('<a href="%s">%s</a>') % (S.concat_path_query_fragment(path, query, fragment),
                                           label)
