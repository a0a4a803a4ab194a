"""The ``wiki.*`` RPC namespace (WikiRPC version 2, as Trac's XmlRpcPlugin offers it)."""

from __future__ import annotations

import posixpath
from datetime import datetime

from codeyard.core import hookimpl
from codeyard.perm import Resource
from codeyard.rpc import attachments
from codeyard.rpc.api import NotFound, RpcError, RpcMethod, to_datetime, to_us, want
from codeyard.wiki import model
from codeyard.wiki.api import format_context
from codeyard.wiki.formatter import format_to_html


@hookimpl
def rpc_methods():
    S, N, B, L, D = str, int, bool, list, dict
    return [
        RpcMethod("wiki.getRecentChanges", get_recent_changes, [[L, datetime]]),
        RpcMethod("wiki.getRPCVersionSupported", get_rpc_version, [[N]], "WIKI_VIEW"),
        RpcMethod("wiki.getPage", get_page, [[S, S], [S, S, N]]),
        RpcMethod("wiki.getPageVersion", get_page_version, [[S, S, N]]),
        RpcMethod("wiki.getPageHTML", get_page_html, [[S, S], [S, S, N]]),
        RpcMethod("wiki.getPageHTMLVersion", get_page_html_version, [[S, S, N]]),
        RpcMethod("wiki.getAllPages", get_all_pages, [[L]]),
        RpcMethod("wiki.getPageInfo", get_page_info, [[D, S], [D, S, N]]),
        RpcMethod("wiki.getPageInfoVersion", get_page_info_version, [[D, S, N]]),
        RpcMethod("wiki.putPage", put_page, [[B, S, S, D]]),
        RpcMethod("wiki.deletePage", delete_page, [[B, S], [B, S, N]]),
        RpcMethod("wiki.listAttachments", list_attachments, [[L, S]]),
        RpcMethod("wiki.getAttachment", get_attachment, [[bytes, S]]),
        RpcMethod("wiki.putAttachment", put_attachment, [[B, S, bytes]]),
        RpcMethod("wiki.putAttachmentEx", put_attachment_ex,
                  [[S, S, S, S, bytes], [S, S, S, S, bytes, B]]),
        RpcMethod("wiki.deleteAttachment", delete_attachment, [[B, S]]),
        RpcMethod("wiki.listLinks", list_links, [[L, S]], "WIKI_VIEW"),
        RpcMethod("wiki.wikiToHtml", wiki_to_html, [[S, S]], "WIKI_VIEW"),
    ]


def _resource(name: str, version: int | None = None) -> Resource:
    return Resource("wiki", name, version)


def _fetch(req, name, version=None) -> model.WikiPage:
    want(name, str, "pagename")
    if version is not None:
        want(version, int, "version")
    req.perm.require("WIKI_VIEW", _resource(name, version))
    if version is not None and not 0 < version < 1 << 31:
        page = model.WikiPage(req.env, "", None)  # no such version, whatever the page
    else:
        page = model.WikiPage(req.env, name, version)
    if not page.exists or (version is not None and page.version != version):
        where = f" at version {version}" if version is not None else ""
        raise NotFound(f'Wiki page "{name}" does not exist{where}')
    return page


def _info(name: str, time: int | None, author: str, version: int, comment: str) -> dict:
    return {"name": name, "lastModified": to_datetime(time), "author": author,
            "version": int(version), "comment": comment}


def get_recent_changes(req, since):
    """Returns the pages changed since the given date, each a struct of name,
    lastModified, author, version and comment (their latest version)."""
    since_us = to_us(since)
    with req.env.db_query as db:
        rows = db("SELECT name, time, author, version, comment FROM wiki w1 "
                  "WHERE time >= %s AND version = (SELECT MAX(version) FROM wiki w2 "
                  "WHERE w2.name = w1.name) ORDER BY time DESC", (since_us,))
    return [_info(name, time, author or "", version, comment or "")
            for name, time, author, version, comment in rows
            if req.perm.has("WIKI_VIEW", _resource(name, version))]


def get_rpc_version(req):
    """Returns 2: the version of the WikiRPC API this server follows."""
    return 2


def get_page(req, pagename, version=None):
    """Returns the wiki text of a page, at its latest version or the one given."""
    return _fetch(req, pagename, version).text


def get_page_version(req, pagename, version):
    """Returns the wiki text of a page at the given version."""
    return get_page(req, pagename, version)


def get_page_html(req, pagename, version=None):
    """Returns a page rendered as an HTML document, links made absolute."""
    page = _fetch(req, pagename, version)
    ctx = format_context(req, _resource(page.name, version), absurls=True)
    return f"<html><body>{format_to_html(ctx, page.text)}</body></html>"


def get_page_html_version(req, pagename, version):
    """Returns a page at the given version rendered as an HTML document."""
    return get_page_html(req, pagename, version)


def get_all_pages(req):
    """Returns the names of every page the caller may see."""
    return [name for name in model.page_names(req.env)
            if req.perm.has("WIKI_VIEW", _resource(name))]


def get_page_info(req, pagename, version=None):
    """Returns a struct about a page (name, lastModified, author, version, comment), at
    its latest version or the one given; 0 when there is no such page or version (as in
    XmlRpcPlugin, so that scripts can test whether a page exists)."""
    try:
        page = _fetch(req, pagename, version)
    except NotFound:
        return 0
    return _info(page.name, page.time, page.author, page.version, page.comment)


def get_page_info_version(req, pagename, version):
    """Returns the struct about a page at the given version."""
    return get_page_info(req, pagename, version)


def put_page(req, pagename, content, attributes):
    """Writes a new version of a page. ``attributes`` may hold ``comment`` and (for
    WIKI_ADMIN) ``readonly``. Returns true."""
    want(pagename, str, "pagename")
    want(content, str, "content")
    want(attributes, dict, "attributes")
    comment = attributes.get("comment") or ""
    want(comment, str, "comment")
    page = model.WikiPage(req.env, pagename)
    resource = _resource(pagename)
    if page.readonly:
        req.perm.require("WIKI_ADMIN", resource)
    elif not page.exists:
        req.perm.require("WIKI_CREATE", resource)
    else:
        req.perm.require("WIKI_MODIFY", resource)
    page.text = content.replace("\r\n", "\n")
    if "readonly" in attributes and req.perm.has("WIKI_ADMIN", resource):
        page.readonly = 1 if attributes.get("readonly") else 0
    try:
        page.save(req.authname, comment)
    except model.PageNotModified:
        raise RpcError(f'Page "{pagename}" not modified') from None
    except model.WikiError as exc:
        raise RpcError(str(exc)) from None
    return True


def delete_page(req, name, version=None):
    """Deletes a page (every version, with its attachments) or only the given version.
    Returns true."""
    want(name, str, "name")
    if version is not None:
        want(version, int, "version")
        if not 0 < version < 1 << 31:
            raise NotFound(f"Version {version} of page '{name}' does not exist")
    req.perm.require("WIKI_DELETE", _resource(name, version))
    page = model.WikiPage(req.env, name)
    try:
        page.delete(version)
    except model.PageNotFound as exc:
        raise NotFound(str(exc)) from None
    return True


def _page_must_exist(req, name: str) -> None:
    want(name, str, "pagename")
    if not model.WikiPage(req.env, name).exists:
        raise NotFound(f'Wiki page "{name}" does not exist')


def _split(path) -> tuple[str, str]:
    want(path, str, "path")
    pagename, filename = posixpath.split(path)
    if not pagename or not filename:
        raise RpcError(f'"{path}" is not pagename/filename')
    return pagename, filename


def list_attachments(req, pagename):
    """Returns the attachments of a page, each as ``pagename/filename``."""
    _page_must_exist(req, pagename)
    return [f"{pagename}/{a.filename}" for a in attachments.listing(req, "wiki", pagename)]


def get_attachment(req, path):
    """Returns the content of the attachment ``pagename/filename``."""
    pagename, filename = _split(path)
    return attachments.content(req, "wiki", pagename, filename)


def put_attachment(req, path, data):
    """Stores (or replaces) the attachment ``pagename/filename``. Returns true."""
    pagename, filename = _split(path)
    _page_must_exist(req, pagename)
    attachments.store(req, "wiki", pagename, filename, None, data)
    return True


def put_attachment_ex(req, pagename, filename, description, data, replace=True):
    """Attaches a file to a page, replacing one of that name unless ``replace`` is false.
    Returns the name the file was stored under."""
    _page_must_exist(req, pagename)
    want(replace, bool, "replace")
    return attachments.store(req, "wiki", pagename, filename, description, data, replace)


def delete_attachment(req, path):
    """Deletes the attachment ``pagename/filename``. Returns true."""
    pagename, filename = _split(path)
    _page_must_exist(req, pagename)
    return attachments.delete(req, "wiki", pagename, filename)


def list_links(req, pagename):
    """Not implemented (as in XmlRpcPlugin): returns an empty array."""
    want(pagename, str, "pagename")
    return []


def wiki_to_html(req, text):
    """Returns wiki text rendered as HTML, links made absolute."""
    want(text, str, "text")
    ctx = format_context(req, _resource(""), absurls=True)
    return str(format_to_html(ctx, text))
