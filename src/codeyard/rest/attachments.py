"""Attachments in the REST API, for the realms that carry them (tickets, wiki pages):
list, download, upload and delete with the attachment permissions of the parent, through
the same helpers as the RPC interface."""

from __future__ import annotations

from werkzeug.wrappers import Response

from codeyard.rest.api import ApiError, Call, Paged, iso
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
