"""``codeyard admin ENV attachment …``: add, export, list, move and remove attachments of any
realm (``wiki:WikiStart``, ``ticket:12``, ``milestone:m1``), as trac-admin does."""

from __future__ import annotations

import os
import shutil

from codeyard.admin.api import (
    AdminCommand,
    AdminCommandError,
    AdminContext,
    format_datetime,
    path_candidates,
    write_new_file,
)
from codeyard.attachment import model
from codeyard.core import hookimpl

DEFAULT_AUTHOR = "trac"  # trac-admin's author for attachments added from the console


def _split(resource: str) -> tuple[str, str]:
    realm, sep, id_ = resource.partition(":")
    if not sep:
        raise AdminCommandError(f"Invalid resource identifier '{resource}'")
    return realm, id_


def _load(env, resource: str, name: str) -> model.Attachment:
    realm, id_ = _split(resource)
    try:
        return model.Attachment.load(env, realm, id_, name)
    except model.AttachmentError as exc:
        raise AdminCommandError(str(exc)) from None


def _list(ctx: AdminContext, resource: str) -> None:
    realm, id_ = _split(resource)
    rows = [(a.filename, model.pretty_size(a.size), a.author, format_datetime(a.time), a.description)
            for a in model.select(ctx.ready_env(), realm, id_)]
    ctx.print_table(rows, ["Name", "Size", "Author", "Date", "Description"])


def _add(ctx: AdminContext, resource: str, path: str, author: str = DEFAULT_AUTHOR,
         description: str = "") -> None:
    realm, id_ = _split(resource)
    env = ctx.ready_env()
    if not os.path.isfile(path):
        raise AdminCommandError(f"'{path}' is not a file")
    try:
        with open(path, "rb") as fh:
            # As trac-admin: the console is trusted, [attachment] max_size does not apply.
            model.insert(env, realm, id_, os.path.basename(path), fh, author=author,
                         description=description, max_size=-1)
    except model.AttachmentError as exc:
        raise AdminCommandError(str(exc)) from None
    except OSError as exc:
        raise AdminCommandError(f"cannot read '{path}': {exc.strerror}") from None


def _remove(ctx: AdminContext, resource: str, name: str) -> None:
    attachment = _load(ctx.ready_env(), resource, name)
    try:
        attachment.delete()
    except model.AttachmentError as exc:
        raise AdminCommandError(str(exc)) from None


def _move(ctx: AdminContext, resource: str, name: str, new_resource: str, new_name: str) -> None:
    attachment = _load(ctx.ready_env(), resource, name)
    new_realm, new_id = _split(new_resource)
    try:
        attachment.move(new_realm, new_id, new_name)
    except model.AttachmentError as exc:
        raise AdminCommandError(str(exc)) from None


def _export(ctx: AdminContext, resource: str, name: str, destination: str | None = None) -> None:
    attachment = _load(ctx.ready_env(), resource, name)
    if destination is not None and os.path.isdir(destination):
        destination = os.path.join(destination, name)
    if destination is not None and os.path.exists(destination):
        raise AdminCommandError(f"File '{destination}' exists")
    try:
        source = attachment.open()
    except model.AttachmentError as exc:
        raise AdminCommandError(str(exc)) from None
    with source:
        if destination is None:
            _copy_to_stdout(ctx, source)
            return
        write_new_file(destination, lambda out: shutil.copyfileobj(source, out))


def _copy_to_stdout(ctx: AdminContext, source) -> None:
    buffer = getattr(ctx.out, "buffer", None)
    if buffer is not None:
        ctx.out.flush()
        shutil.copyfileobj(source, buffer)
        buffer.flush()
    else:  # a text-only stream (tests, embedding): decode as well as possible
        ctx.out.write(source.read().decode("utf-8", "replace"))


# -- completion


def _realms(ctx: AdminContext) -> list[str]:
    with ctx.env.db_query as db:
        realms = {row[0] for row in db("SELECT DISTINCT type FROM attachment")}
    return sorted(r + ":" for r in realms | {"wiki", "ticket", "milestone"})


def _names(ctx: AdminContext, resource: str) -> list[str]:
    try:
        realm, id_ = _split(resource)
    except AdminCommandError:
        return []
    return [a.filename for a in model.select(ctx.env, realm, id_)]


def _complete(ctx: AdminContext, args: list[str], kinds: str) -> list[str]:
    """``kinds``: for each argument position, r(esource), n(ame), p(ath) or -."""
    index = max(len(args) - 1, 0)
    kind = kinds[index] if index < len(kinds) else "-"
    if kind == "r":
        return _realms(ctx)
    if kind == "n":
        return _names(ctx, args[0])
    if kind == "p":
        return path_candidates(args[-1] if args else "")
    return []


@hookimpl
def admin_commands():
    return [
        AdminCommand("attachment list", "<realm:id>",
                     "List attachments of a resource\n\n"
                     "The resource is named by its realm and id, e.g. wiki:WikiStart or ticket:3.",
                     _list, complete=lambda ctx, args: _complete(ctx, args, "r")),
        AdminCommand("attachment add", "<realm:id> <path> [author] [description]",
                     "Attach a file to a resource\n\n"
                     "The attachment is named after the file's base name; when the resource\n"
                     "already has one of that name, a number is added (name.2.ext).",
                     _add, complete=lambda ctx, args: _complete(ctx, args, "rp")),
        AdminCommand("attachment remove", "<realm:id> <name>",
                     "Remove an attachment from a resource",
                     _remove, complete=lambda ctx, args: _complete(ctx, args, "rn")),
        AdminCommand("attachment move", "<realm:id> <name> <new_realm:new_id> <new_name>",
                     "Rename or move an attachment to another resource\n\n"
                     "The new resource must exist and have no attachment of the new name.",
                     _move, complete=lambda ctx, args: _complete(ctx, args, "rnrn")),
        AdminCommand("attachment export", "<realm:id> <name> [destination]",
                     "Export an attachment from a resource to file or stdout\n\n"
                     "A destination directory receives a file of the attachment's name; an\n"
                     "existing file is never overwritten.",
                     _export, complete=lambda ctx, args: _complete(ctx, args, "rnp")),
    ]
