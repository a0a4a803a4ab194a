"""Attachments in the REST API, for the realms that carry them (tickets, wiki pages):
list, download, upload and delete with the attachment permissions of the parent, through
the same helpers as the RPC interface."""

from __future__ import annotations

from collections.abc import Callable

from werkzeug.wrappers import Response

from codeyard.rest.api import BOOL, INT, STR, TIME, ApiError, Call, Endpoint, Paged, Param, iso, obj
from codeyard.rpc import attachments as shared
from codeyard.rpc.api import RpcError


def _translated(func, *args):
    try:
        return func(*args)
    except RpcError as exc:
        raise ApiError(404 if exc.code == 404 else 400, str(exc)) from None


def as_json(a) -> dict:
    return {"filename": a.filename, "description": a.description or "", "size": a.size,
            "time": iso(a.time), "author": a.author or ""}


def listing(call: Call, realm: str, parent_id: str) -> Paged:
    return call.page_of([as_json(a) for a in shared.listing(call.req, realm, parent_id)])


def download(call: Call, realm: str, parent_id: str, filename: str) -> Response:
    data = _translated(shared.content, call.req, realm, parent_id, filename)
    return Response(data, content_type="application/octet-stream", headers={
        "Content-Disposition": "attachment", "Cache-Control": "no-cache"})


def upload(call: Call, realm: str, parent_id: str, filename: str) -> dict:
    description = call.args.get("description") or ""
    replace = bool(call.args.get("replace"))
    if not replace:
        try:
            shared.load(call.req, realm, parent_id, filename, "ATTACHMENT_VIEW")
        except RpcError:
            pass
        else:
            raise ApiError(409, f"{filename} is attached already: send ?replace=true to "
                                "replace it.")
    stored = _translated(shared.store, call.req, realm, parent_id, filename, description,
                         bytes(call.body or b""), replace)
    return as_json(_translated(shared.load, call.req, realm, parent_id, stored,
                               "ATTACHMENT_VIEW"))


def delete(call: Call, realm: str, parent_id: str, filename: str) -> None:
    _translated(shared.delete, call.req, realm, parent_id, filename)


FILENAME = Param("filename", "path", STR, "The attachment's file name.", True)
SCHEMA = obj({"filename": STR, "description": STR, "size": INT, "time": TIME, "author": STR})


def endpoints(realm: str, base: str, noun: str, tag: str, parent: Param,
              existing: Callable[[Call], str]) -> list[Endpoint]:
    """The attachment endpoints under ``base`` (``/tickets/{id}``) of a realm whose parent
    ``existing(call)`` names, or refuses with a 404."""
    return [
        Endpoint("GET", f"{base}/attachments", f"The files attached to a {noun}",
                 lambda call: listing(call, realm, existing(call)), tag, "ATTACHMENT_VIEW",
                 [parent], response_schema=SCHEMA, paged=True),
        Endpoint("GET", f"{base}/attachments/{{filename}}", "An attached file's content",
                 lambda call: download(call, realm, existing(call), call.args["filename"]),
                 tag, "ATTACHMENT_VIEW", [parent, FILENAME],
                 raw_response="application/octet-stream"),
        Endpoint("PUT", f"{base}/attachments/{{filename}}",
                 "Attach a file (the body is its content)",
                 lambda call: upload(call, realm, existing(call), call.args["filename"]), tag,
                 "ATTACHMENT_CREATE (and ATTACHMENT_DELETE to replace)",
                 [parent, FILENAME, Param("description", "query", STR, "What the file is."),
                  Param("replace", "query", BOOL, "Replace a file of that name.")],
                 response_schema=SCHEMA, status=201, raw_body=True),
        Endpoint("DELETE", f"{base}/attachments/{{filename}}", "Delete an attached file",
                 lambda call: delete(call, realm, existing(call), call.args["filename"]), tag,
                 "ATTACHMENT_DELETE", [parent, FILENAME], status=204),
    ]
