"""The wiki's default pages: the welcome page and the user guide a new project starts with.

Pages live in ``default-pages/`` next to this module, one file per page. The file name is
the page name; a ``/`` in a page name is written ``%2F`` in the file name or becomes a
subdirectory.
"""

from __future__ import annotations

import os
import time
import urllib.parse

from codeyard import cachekeys
from codeyard.config import options_in
from codeyard.core import hookimpl
from codeyard.wiki import formatter, links, mime_map, model, render_cache
from codeyard.wiki.api import RenderDependencies

DEFAULT_PAGES_DIR = os.path.join(os.path.dirname(__file__), "default-pages")
DEFAULT_AUTHOR = "codeyard"


def page_name_for(relative_path: str) -> str:
    """The page name a file under the pages directory stands for."""
    parts = relative_path.split(os.sep)
    return "/".join(urllib.parse.unquote(part) for part in parts)


def default_pages(directory: str = DEFAULT_PAGES_DIR) -> dict[str, str]:
    """Every default page: name -> wiki text."""
    pages: dict[str, str] = {}
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for filename in sorted(files):
            if filename.startswith(".") or filename.endswith("~"):
                continue
            path = os.path.join(root, filename)
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
            pages[page_name_for(os.path.relpath(path, directory))] = text
    return pages


@hookimpl
def config_options():
    return options_in(formatter, links, mime_map, model, render_cache)


@hookimpl
def environment_created(env, db):
    now = int(time.time() * 1_000_000)
    rows = [(name, 1, now, DEFAULT_AUTHOR, text, "", 0) for name, text in default_pages().items()]
    db.executemany(
        "INSERT INTO wiki (name, version, time, author, text, comment, readonly) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s)", rows)


@hookimpl
def wiki_render_dependencies():
    # A page's links show whether their pages exist, what the reader may see, and the
    # InterWiki prefixes of the InterMapTxt page.
    return RenderDependencies(cache_keys=(model.PAGES_CACHE_KEY, cachekeys.PERMISSIONS,
                                          cachekeys.INTERWIKI_MAP))


@hookimpl
def start_page_text(env, perm):
    """Without the wiki's pages, the root still shows the WikiStart text to its readers."""
    if perm is not None and not perm.has("WIKI_VIEW"):
        return None
    page = model.WikiPage(env, "WikiStart")
    return page.text if page.exists else None
