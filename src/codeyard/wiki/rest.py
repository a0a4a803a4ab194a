"""Wiki pages in the REST API: list (by prefix), read (latest or ``?version=``), history,
write by PUT with the version the text was based on, delete, and attachments.

A page's ETag is its version. A PUT over an existing page names the version it edited
(``If-Match`` or a ``version`` field): when the page has a newer one, nothing is written
and the answer is 409, as the editor's collision page.
"""

from __future__ import annotations

from codeyard.core import hookimpl
from codeyard.perm import Resource
from codeyard.rest import attachments
from codeyard.rest.api import (
    BOOL,
    INT,
    STR,
    TIME,
    ApiError,
    Call,
    Endpoint,
    Paged,
    Param,
    Reply,
    bad_request,
    conflict,
    iso,
    not_found,
    obj,
)
from codeyard.wiki import model

TAG = "wiki"
NAME = Param("name", "path", STR, "The page's name (it may hold slashes).", True)
VERSION = Param("version", "query", {"type": "integer", "minimum": 1}, "A version of the page.")
INFO = {"name": STR, "version": INT, "time": TIME, "author": STR, "comment": STR}
PAGE_SCHEMA = obj({**INFO, "readonly": BOOL, "text": STR})
PUT_SCHEMA = obj({"text": STR, "comment": STR, "version": {"type": "integer", "minimum": 0},
                  "readonly": BOOL}, ("text",))


@hookimpl
def rest_endpoints():
    return [
        Endpoint("GET", "/wiki", "The pages, by name, at their latest version", list_pages,
                 TAG, "WIKI_VIEW", [Param("prefix", "query", STR, "Only pages whose name "
                                          "starts with this.")],
                 response_schema=obj(INFO), paged=True),
        Endpoint("GET", "/wiki/{name:path}", "A page's text and its version (latest, or "
                 "?version=)", get_page, TAG, "WIKI_VIEW", [NAME, VERSION],
                 response_schema=PAGE_SCHEMA),
        Endpoint("PUT", "/wiki/{name:path}", "Create a page or save a new version; the "
                 "version edited as If-Match or version (0 for a new page)", put_page, TAG,
                 "WIKI_CREATE or WIKI_MODIFY (WIKI_ADMIN for readonly)", [NAME],
                 request_schema=PUT_SCHEMA, response_schema=PAGE_SCHEMA),
        Endpoint("DELETE", "/wiki/{name:path}", "Delete a page (or one ?version=)",
                 delete_page, TAG, "WIKI_DELETE", [NAME, VERSION], status=204),
        Endpoint("GET", "/wiki/{name:path}/history", "The versions of a page, newest first",
                 page_history, TAG, "WIKI_VIEW", [NAME], response_schema=obj(INFO),
                 paged=True),
        *attachments.endpoints("wiki", "/wiki/{name:path}", "page", TAG, NAME, _existing),
    ]


def _resource(name: str, version: int | None = None) -> Resource:
    return Resource("wiki", name, version)


def _info(name: str, version: int, time: int | None, author: str, comment: str) -> dict:
    return {"name": name, "version": int(version), "time": iso(time), "author": author or "",
            "comment": comment or ""}


def _page_json(page: model.WikiPage) -> dict:
    return {**_info(page.name, page.version, page.time, page.author, page.comment),
            "readonly": bool(page.readonly), "text": page.text}


def _reply(page: model.WikiPage, status: int = 200) -> Reply:
    return Reply(_page_json(page), status, [("ETag", f'"{page.version}"')])


def _fetch(call: Call, version: int | None = None) -> model.WikiPage:
    name = call.args["name"]
    call.req.perm.require("WIKI_VIEW", _resource(name, version))
    page = model.WikiPage(call.env, name, version)
    if not page.exists or (version is not None and page.version != version):
        where = f" at version {version}" if version is not None else ""
        raise not_found(f"The wiki page {name} does not exist{where}.")
    return page


def list_pages(call: Call) -> Paged:
    req = call.req
    req.perm.require("WIKI_VIEW")
    names = [n for n in model.page_names(call.env, call.args.get("prefix") or None)
             if req.perm.has("WIKI_VIEW", _resource(n))]
    page = call.page_of(names)
    if not page.items:
        return page
    marks = ", ".join(["%s"] * len(page.items))
    with call.env.db_query as db:
        rows = db("SELECT w.name, w.version, w.time, w.author, w.comment FROM wiki w "
                  f"WHERE w.name IN ({marks}) AND w.version = (SELECT MAX(version) FROM wiki "
                  "WHERE name = w.name)", tuple(page.items))
    latest = {r[0]: _info(*r) for r in rows}
    return Paged([latest[n] for n in page.items if n in latest], page.total)


def get_page(call: Call) -> Reply:
    return _reply(_fetch(call, call.args.get("version")))


def _base_version(call: Call, latest: model.WikiPage) -> int:
    given = call.body.get("version")
    if call.if_match not in (None, "", "*"):
        try:
            header = int(str(call.if_match))
        except ValueError:
            raise bad_request(f"If-Match {call.if_match!r} is not a page version.") from None
        if given is not None and given != header:
            raise bad_request("If-Match and version name different versions.")
        given = header
    if given is None:
        if latest.exists:
            raise ApiError(428, f"The page {latest.name} exists: name the version you edited "
                                f"(If-Match or version; it is at version {latest.version}).")
        given = 0
    return int(given)


def put_page(call: Call) -> Reply:
    req = call.req
    name = call.args["name"]
    body = call.body
    latest = model.WikiPage(call.env, name)
    resource = _resource(name)
    req.perm.require("WIKI_MODIFY" if latest.exists else "WIKI_CREATE", resource)
    base = _base_version(call, latest)
    page = model.WikiPage(call.env, name)
    page.text = body["text"].replace("\r\n", "\n")
    if "readonly" in body:
        req.perm.require("WIKI_ADMIN", resource)
        page.readonly = 1 if body["readonly"] else 0
    try:
        page.save(req.authname, body.get("comment") or "", base_version=base)
    except model.VersionConflict as exc:
        raise conflict(f"The page {name} has been changed since version {exc.base_version} "
                       f"(it is at version {exc.current_version}): get it again and merge."
                       ) from None
    except model.PageNotModified:
        return _reply(model.WikiPage(call.env, name))
    except model.PageTooBig as exc:
        raise ApiError(413, str(exc)) from None
    except model.WikiError as exc:
        raise bad_request(str(exc)) from None
    return _reply(model.WikiPage(call.env, name), 201 if page.version == 1 else 200)


def delete_page(call: Call) -> None:
    name = call.args["name"]
    version = call.args.get("version")
    call.req.perm.require("WIKI_DELETE", _resource(name, version))
    page = model.WikiPage(call.env, name)
    if not page.exists:
        raise not_found(f"The wiki page {name} does not exist.")
    try:
        page.delete(version)
    except model.PageNotFound as exc:
        raise not_found(str(exc)) from None


def page_history(call: Call) -> Paged:
    page = _fetch(call)
    return call.page_of([_info(page.name, h.version, h.time, h.author, h.comment)
                         for h in page.get_history()
                         if call.req.perm.has("WIKI_VIEW", _resource(page.name, h.version))])


def _existing(call: Call) -> str:
    name = call.args["name"]
    if not model.WikiPage(call.env, name).exists:
        raise not_found(f"The wiki page {name} does not exist.")
    return name





def delete_attachment(call: Call) -> None:
    attachments.delete(call, "wiki", _existing(call), call.args["filename"])
