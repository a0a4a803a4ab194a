"""Attachments over RPC, shared by the namespaces whose resources carry them
(``wiki.*``, ``ticket.*``): list, fetch, store and delete with the attachment
permissions of the parent."""

from __future__ import annotations

import io

from codeyard.attachment import model
from codeyard.perm import PermissionError_, Resource
from codeyard.rpc.api import NotFound, RpcError, want


def _resource(realm: str, parent_id: str, filename: str | None = None) -> Resource:
    return Resource("attachment", filename, None, Resource(realm, parent_id))


def require(req, action: str, realm: str, parent_id: str, filename: str | None = None) -> None:
    resource = _resource(realm, parent_id, filename)
    if not req.perm.has(action, resource):
        raise PermissionError_(action, resource)


def listing(req, realm: str, parent_id: str) -> list[model.Attachment]:
    return [a for a in model.select(req.env, realm, parent_id)
            if req.perm.has("ATTACHMENT_VIEW", _resource(realm, parent_id, a.filename))]


def load(req, realm: str, parent_id: str, filename: str, action: str) -> model.Attachment:
    require(req, action, realm, parent_id, filename)
    try:
        return model.Attachment.load(req.env, realm, parent_id, filename)
    except model.AttachmentNotFound as exc:
        raise NotFound(str(exc)) from None


def content(req, realm: str, parent_id: str, filename: str) -> bytes:
    attachment = load(req, realm, parent_id, filename, "ATTACHMENT_VIEW")
    try:
        with attachment.open() as fh:
            return fh.read()
    except model.AttachmentNotFound as exc:
        raise NotFound(str(exc)) from None


def store(req, realm: str, parent_id: str, filename: str, description: str | None,
          data: bytes, replace: bool = True) -> str:
    """Store ``data`` as ``filename`` (replacing a file of that name when ``replace``);
    returns the name it was stored under."""
    want(filename, str, "filename")
    want(data, bytes, "data")
    if description is not None:
        want(description, str, "description")
    require(req, "ATTACHMENT_CREATE", realm, parent_id)
    old = None
    if replace:
        try:
            old = model.Attachment.load(req.env, realm, parent_id,
                                        model.normalize_filename(filename))
        except (model.AttachmentNotFound, model.AttachmentError):
            old = None
        if old is not None:
            require(req, "ATTACHMENT_DELETE", realm, parent_id, old.filename)
    try:
        # The new file is stored first (under a free name), so that a refused one leaves
        # the old file in place; then it takes the old file's name.
        stored = model.insert(req.env, realm, parent_id, filename, io.BytesIO(data),
                              author=req.authname, description=description or "")
        if old is not None:
            old.delete()
            stored.move(new_filename=old.filename)
    except model.ParentNotFound as exc:
        raise NotFound(str(exc)) from None
    except model.AttachmentError as exc:
        raise RpcError(str(exc)) from None
    return stored.filename


def delete(req, realm: str, parent_id: str, filename: str) -> bool:
    attachment = load(req, realm, parent_id, filename, "ATTACHMENT_DELETE")
    try:
        attachment.delete()
    except model.AttachmentNotFound as exc:
        raise NotFound(str(exc)) from None
    return True
