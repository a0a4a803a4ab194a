"""The versioned properties Subversion gives a meaning to, as the browser shows them.

- ``svn:externals``: one link per external definition. Both syntaxes are read: the old
  ``DIR [-r N] URL`` and the one of Subversion 1.5 and later, ``[-r N] URL[@PEG] DIR``. An
  absolute URL is mapped through ``[svn:externals]`` (``N = URL-PREFIX TEMPLATE``, the
  template using ``$path`` and ``$rev``, as in Trac) or linked as it is when it is an http(s)
  URL; a repository-relative URL (``^/…``) is linked to this browser. Anything else is text.
- ``svn:needs-lock``: a lock mark.
- ``svn:mergeinfo``: a table of merged paths with their revisions, linked to the log.
"""

from __future__ import annotations

import posixpath
import shlex

from markupsafe import Markup, escape

from codeyard.config import ConfigSection
from codeyard.vcs import web_util as U

EXTERNALS_SECTION = ConfigSection(
    "svn:externals",
    "Where `svn:externals` URLs are browsed: `N = URL-PREFIX TEMPLATE`, the number only a "
    "key, the template a URL with `$path` (the rest of the external's URL) and `$rev` (its "
    "revision). Unmapped http(s) URLs are linked as they are.")


def _externals_map(config) -> list[tuple[str, str]]:
    mapping = []
    for _key, value in config.options("svn:externals"):
        parts = value.split()
        if len(parts) == 2:
            mapping.append((parts[0].rstrip("/"), parts[1]))
    return sorted(mapping, key=lambda item: -len(item[0]))


def _parse_external(line: str) -> tuple[str, str, str] | None:
    """(local directory, URL, revision) of one definition, None for a comment or junk."""
    try:
        words = shlex.split(line)
    except ValueError:
        words = line.split()
    if not words or words[0].startswith("#"):
        return None
    rev = ""
    rest = []
    i = 0
    while i < len(words):
        word = words[i]
        if word == "-r" and i + 1 < len(words):
            rev = words[i + 1]
            i += 2
            continue
        if word.startswith("-r") and len(word) > 2:
            rev = word[2:]
        else:
            rest.append(word)
        i += 1
    if len(rest) != 2:
        return None
    first, second = rest
    if "://" in first or first.startswith(("^/", "//", "/", "../")):
        url, local = first, second  # the 1.5 syntax
    else:
        local, url = first, second
    if "@" in url.rsplit("/", 1)[-1] and not rev:
        url, rev = url.rsplit("@", 1)
    return local, url, rev


def render_externals(req, repos, node, value: str) -> Markup:
    mapping = _externals_map(req.env.config)
    items = []
    for line in value.splitlines():
        parsed = _parse_external(line)
        if parsed is None:
            if line.strip():
                items.append(Markup("<li>{}</li>").format(line.strip()))
            continue
        local, url, rev = parsed
        at = f" at revision {rev}" if rev else ""
        href = None
        if url.startswith("^/"):
            inside = repos._local_path(url[2:])
            if inside is not None:
                href = U.url(req, "browser", repos.name, inside, rev or None)
        else:
            for prefix, template in mapping:
                if url == prefix or url.startswith(prefix + "/"):
                    rest = url[len(prefix):].strip("/")
                    href = template.replace("$path", rest).replace("$rev", rev)
                    break
            else:
                if url.startswith(("http://", "https://")):
                    href = url
        label = Markup("{}{} in {}").format(local, at, url)
        if href:
            items.append(Markup('<li><a class="ext-link" href="{}">{}</a></li>').format(
                href, label))
        else:
            items.append(Markup('<li title="No [svn:externals] mapping in trac.ini for this '
                                'URL">{}</li>').format(label))
    return Markup('<ul class="svn-externals">{}</ul>').format(Markup("").join(items))


def render_needs_lock(req, repos, node, value: str) -> Markup:
    return Markup('<span class="svn-needs-lock" title="This file must be locked (svn lock) '
                  'before it is changed">&#128274; needs lock</span>')


def render_mergeinfo(req, repos, node, value: str) -> Markup:
    rows = []
    for line in value.splitlines():
        path, _, revs = line.rpartition(":")
        if not path:
            rows.append(Markup('<tr><td colspan="2">{}</td></tr>').format(line))
            continue
        inside = repos._local_path(path.strip("/"))
        ranges = revs.replace("*", "")
        if inside is None:
            rows.append(Markup("<tr><td>{}</td><td>{}</td></tr>").format(path, revs))
            continue
        browse = U.url(req, "browser", repos.name, inside)
        log = U.url(req, "log", repos.name, inside, revs=ranges)
        rows.append(Markup('<tr><td><a href="{}">{}</a></td><td><a href="{}">{}</a></td>'
                           '</tr>').format(browse, posixpath.join("/", inside), log,
                                           escape(revs).replace(",", Markup(",&#8203;"))))
    return Markup('<table class="svn-mergeinfo"><thead><tr><th scope="col">Merged from'
                  '</th><th scope="col">Revisions</th></tr></thead><tbody>{}</tbody>'
                  '</table>').format(Markup("").join(rows))


RENDERERS = {"svn:externals": render_externals, "svn:needs-lock": render_needs_lock,
             "svn:mergeinfo": render_mergeinfo}
