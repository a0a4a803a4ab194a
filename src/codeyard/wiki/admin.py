"""``codeyard admin ENV wiki …``: list, export, import, dump, load, replace, remove, rename
and upgrade pages, with trac-admin's arguments and output.

Every command checks its input (files readable as UTF-8, targets free) before writing, and
writes the database in one transaction, so a refused command changes nothing.
"""

from __future__ import annotations

import os
import sys
import urllib.parse

from codeyard.admin.api import (
    AdminCommand,
    AdminCommandError,
    AdminContext,
    format_datetime,
    path_candidates,
    write_new_file,
)
from codeyard.core import hookimpl
from codeyard.wiki.model import WikiError, WikiPage, page_names

IMPORT_AUTHOR = "trac"  # the author trac-admin records for imported pages
UPGRADE_SKIPPED = ("WikiStart", "SandBox")  # a project's own pages: never upgraded
UPGRADE_CREATE_ONLY = ("InterMapTxt",)


def _quote(name: str) -> str:
    return urllib.parse.quote(name, safe="")


def _unquote(name: str) -> str:
    return urllib.parse.unquote(name)


def _read_text(path: str) -> str:
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise AdminCommandError(f"cannot read '{path}': {exc.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise AdminCommandError(f"'{path}' is not UTF-8 text") from None


def _write_new_file(path: str, data: str | bytes) -> None:
    """Write ``data`` to ``path``, which must not exist; on failure remove what was written."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    write_new_file(path, lambda fh: fh.write(raw))


def _page_or_error(env, name: str) -> WikiPage:
    page = WikiPage(env, name)
    if not page.exists:
        raise AdminCommandError(f"Page '{name}' not found")
    return page


# -- list, export, dump


def _list(ctx: AdminContext) -> None:
    with ctx.ready_env().db_query as db:
        rows = db("SELECT name, MAX(version), MAX(time) FROM wiki GROUP BY name ORDER BY name")
    ctx.print_table([(name, int(edits), format_datetime(modified)) for name, edits, modified in rows],
                    ["Title", "Edits", "Modified"])


def _export(ctx: AdminContext, name: str, filename: str | None = None) -> None:
    page = _page_or_error(ctx.ready_env(), name)
    if filename is None:
        ctx.print(page.text)
        return
    if os.path.exists(filename):
        raise AdminCommandError(f"File '{filename}' exists")
    _write_new_file(filename, page.text)
    ctx.print(f" '{name}' => '{filename}'")


def _matches(name: str, patterns: tuple[str, ...]) -> bool:
    return any(name == p or (p.endswith("*") and name.startswith(p[:-1])) for p in patterns)


def _dump(ctx: AdminContext, directory: str, *names: str) -> None:
    env = ctx.ready_env()
    patterns = names or ("*",)
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise AdminCommandError(f"'{directory}' is not a directory")
    pages = [name for name in page_names(env) if _matches(name, patterns)]
    targets = [(name, os.path.join(directory, _quote(name))) for name in pages]
    for _name, target in targets:
        if os.path.exists(target):
            raise AdminCommandError(f"File '{target}' exists")
    if not os.path.isdir(directory):
        try:
            os.mkdir(directory)
        except OSError as exc:
            raise AdminCommandError(f"cannot create '{directory}': {exc.strerror}") from None
    for name, target in targets:
        _write_new_file(target, WikiPage(env, name).text)
        ctx.print(f" '{name}' => '{target}'")


# -- import, load, replace


def _import_pages(ctx: AdminContext, items: list[tuple[str, str, str]], replace: bool = False,
                  create_only: tuple[str, ...] = (), author: str = IMPORT_AUTHOR) -> list[str]:
    """Save (source, quoted title, text) items in one transaction; print what happened.

    Returns the names of the pages written."""
    env = ctx.ready_env()
    lines: list[str] = []
    written: list[str] = []
    try:
        with env.db_transaction:
            for source, title, text in items:
                name = _unquote(title)
                page = WikiPage(env, name)
                if page.exists and (name in create_only or page.text == text):
                    lines.append(f" '{title}' is already up to date")
                    continue
                page.text = text
                page.save(author, None, replace=replace)
                lines.append(f" '{source}' => '{title}'")
                written.append(name)
    except WikiError as exc:
        raise AdminCommandError(str(exc)) from None
    for line in lines:
        ctx.print(line)
    return written


def _import(ctx: AdminContext, name: str, filename: str | None = None) -> None:
    if filename is None:
        stdin = getattr(ctx, "stdin", None) or sys.stdin
        text, source = stdin.read(), "-"
    else:
        if not os.path.isfile(filename):
            raise AdminCommandError(f"'{filename}' is not a file")
        text, source = _read_text(filename), filename
    _import_pages(ctx, [(source, name, text)])


def _collect(paths: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """(file, quoted page name, text) for every file named or inside a named directory."""
    items = []
    for path in paths:
        if os.path.isdir(path):
            for entry in sorted(os.listdir(path)):
                filename = os.path.join(path, entry)
                if os.path.isfile(filename):
                    items.append((filename, entry, _read_text(filename)))
        elif os.path.isfile(path):
            items.append((path, os.path.basename(path), _read_text(path)))
        else:
            raise AdminCommandError(f"'{path}' is not a file")
    return items


def _load(ctx: AdminContext, *paths: str) -> None:
    _import_pages(ctx, _collect(paths))


def _replace(ctx: AdminContext, *paths: str) -> None:
    _import_pages(ctx, _collect(paths), replace=True)


def _upgrade(ctx: AdminContext) -> None:
    """Bring codeyard's default pages up to date where nobody has edited them."""
    from codeyard.wiki.setup import DEFAULT_AUTHOR, default_pages

    env = ctx.ready_env()
    count = 0
    with env.db_transaction:
        for name, text in sorted(default_pages().items()):
            if name in UPGRADE_SKIPPED:
                continue
            page = WikiPage(env, name)
            if page.exists and (name in UPGRADE_CREATE_ONLY or page.author != DEFAULT_AUTHOR
                                or page.text == text):
                continue
            page.text = text
            try:
                page.save(DEFAULT_AUTHOR, None)
            except WikiError as exc:
                raise AdminCommandError(str(exc)) from None
            count += 1
    ctx.print(f"Upgrade done: {count} pages upgraded.")


# -- remove, rename


def _remove(ctx: AdminContext, name: str) -> None:
    env = ctx.ready_env()
    try:
        with env.db_transaction:
            if name.endswith("*"):
                pages = page_names(env, name.rstrip("*") or None)
                for page_name in pages:
                    WikiPage(env, page_name).delete()
            else:
                WikiPage(env, name).delete()
    except WikiError as exc:
        raise AdminCommandError(str(exc)) from None
    if name.endswith("*"):
        ctx.print_table([(p,) for p in pages], ["Deleted pages"])
    else:
        ctx.print(f" '{name}' deleted")


def _rename(ctx: AdminContext, name: str, new_name: str) -> None:
    page = WikiPage(ctx.ready_env(), name)
    try:
        page.rename(new_name)
    except WikiError as exc:
        raise AdminCommandError(str(exc)) from None
    ctx.print(f" '{name}' renamed to '{new_name}'")


# -- completion


def _complete_page(ctx: AdminContext, args: list[str]) -> list[str]:
    return page_names(ctx.env) if len(args) <= 1 else []


def _complete_page_file(ctx: AdminContext, args: list[str]) -> list[str]:
    if len(args) <= 1:
        return page_names(ctx.env)
    return path_candidates(args[-1])


def _complete_dump(ctx: AdminContext, args: list[str]) -> list[str]:
    if len(args) <= 1:
        return path_candidates(args[-1] if args else "", dirs_only=True)
    return page_names(ctx.env)


def _complete_paths(ctx: AdminContext, args: list[str]) -> list[str]:
    return path_candidates(args[-1] if args else "")


@hookimpl
def admin_commands():
    return [
        AdminCommand("wiki list", "", "List wiki pages", _list),
        AdminCommand("wiki rename", "<page> <new_name>", "Rename wiki page", _rename,
                     complete=_complete_page),
        AdminCommand("wiki remove", "<page>",
                     "Remove wiki page\n\nA name ending with * removes every page whose name "
                     "starts with what precedes it.", _remove, complete=_complete_page),
        AdminCommand("wiki export", "<page> [file]", "Export wiki page to file or stdout",
                     _export, complete=_complete_page_file),
        AdminCommand("wiki import", "<page> [file]", "Import wiki page from file or stdin",
                     _import, complete=_complete_page_file),
        AdminCommand("wiki dump", "<directory> [page] [...]",
                     "Export wiki pages to files named by title\n\n"
                     "Page names may follow the directory; a name ending with * stands for every\n"
                     "page starting with what precedes it. Without names, every page is written.\n"
                     "File names are the URL-quoted page names (Foo/Bar is written Foo%2FBar).",
                     _dump, complete=_complete_dump),
        AdminCommand("wiki load", "<path> [...]",
                     "Import wiki pages from files\n\n"
                     "A file is imported as the page named by the file name (URL-unquoted); a\n"
                     "directory imports every file in it. Unchanged pages are left alone.",
                     _load, complete=_complete_paths),
        AdminCommand("wiki replace", "<path> [...]",
                     "Replace content of wiki pages from files (DANGEROUS!)\n\n"
                     "Overwrites the text of the latest version of each page in place: no new\n"
                     "version is added, the previous text is lost, and the time and author of the\n"
                     "version stay as they were. Paths are taken as by `wiki load`. Consider a\n"
                     "`wiki dump` first.",
                     _replace, complete=_complete_paths),
        AdminCommand("wiki upgrade", "",
                     "Upgrade default wiki pages to current version\n\n"
                     "Adds missing default pages and updates those nobody has edited since\n"
                     "codeyard wrote them; WikiStart and SandBox are never touched.",
                     _upgrade),
    ]
