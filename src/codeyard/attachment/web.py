"""Attachments on the web, for every realm: the list and upload form of a resource, the
preview of one file, its raw download, and deletion.

``/attachment/<realm>/<id>/`` lists (POST ``action=new`` uploads ``attachment`` with
``description`` and ``replace``); ``/attachment/<realm>/<id>/<file>`` previews
(``?format=raw`` downloads, ``?action=delete`` asks, then POST deletes);
``/raw-attachment/<realm>/<id>/<file>`` downloads. Who may do what follows the parent
resource: a realm maps the attachment actions to its own (``attachment_permission_map``).
"""

from __future__ import annotations

import mimetypes
import os
import re
import sys
import urllib.parse

from markupsafe import Markup
from werkzeug.routing import Rule
from werkzeug.wrappers import Response

from codeyard.attachment import model
from codeyard.config import BoolOption, IntOption, options_in
from codeyard.core import hookimpl
from codeyard.perm import PermissionError_, Resource
from codeyard.util.highlight import highlight_lines
from codeyard.web.api import HTTPBadRequest, HTTPNotFound

RENDER_UNSAFE = BoolOption(
    "attachment", "render_unsafe_content", False,
    "Serve attachments with their own content type, so that browsers render HTML, SVG and "
    "the like on this site. Leave off unless every user who can attach files is trusted.")
MAX_PREVIEW_SIZE = IntOption("mimeviewer", "max_preview_size", 262144,
                             "Largest file, in bytes, shown with highlighting in a preview.")

# As Trac's LegacyAttachmentPolicy: (view, create, delete) actions of the parent realm.
DEFAULT_PERMISSION_MAP = {
    "wiki": ("WIKI_VIEW", "WIKI_MODIFY", "WIKI_DELETE"),
    "ticket": ("TICKET_VIEW", "TICKET_APPEND", "TICKET_ADMIN"),
    "milestone": ("MILESTONE_VIEW", "MILESTONE_MODIFY", "MILESTONE_DELETE"),
}
_ACTION_INDEX = {"ATTACHMENT_VIEW": 0, "ATTACHMENT_CREATE": 1, "ATTACHMENT_DELETE": 2}

# Types a browser may show in place without running anything from the file.
INLINE_SAFE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp",
                               "image/x-icon", "image/vnd.microsoft.icon", "image/avif",
                               "text/plain", "audio/mpeg", "audio/ogg", "video/mp4", "video/webm"})
PREVIEW_IMAGE_TYPES = {t for t in INLINE_SAFE_TYPES if t.startswith("image/")} | {"image/svg+xml"}
SANDBOX_CSP = "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; sandbox"


def permission_map(env) -> dict[str, tuple[str, str, str]]:
    def compute():
        mapping = dict(DEFAULT_PERMISSION_MAP)
        for found in reversed(env.hook.attachment_permission_map()):
            mapping.update(found or {})
        return mapping

    return env.memo("attachment.permission_map", compute)


def legacy_attachment_policy(env, action, username, resource, perm):
    """ATTACHMENT_VIEW/CREATE/DELETE on an attachment (or its parent) -> the parent's action."""
    index = _ACTION_INDEX.get(action)
    if index is None or resource is None or perm is None:
        return None
    parent = resource
    if resource.realm == "attachment":
        if resource.parent is None:
            return None
        parent = resource.parent
        if (index == 2 and resource.id and username != "anonymous"
                and _author(env, parent, resource.id) == username):
            return True  # people may delete what they attached
    mapped = permission_map(env).get(parent.realm)
    if mapped is None:
        return None
    return perm.has(mapped[index], Resource(parent.realm, parent.id))


legacy_attachment_policy.actions = frozenset(_ACTION_INDEX)  # type: ignore[attr-defined]


def _author(env, parent: Resource, filename: str) -> str | None:
    with env.db_query as db:
        rows = db("SELECT author FROM attachment WHERE type=%s AND id=%s AND filename=%s",
                  (parent.realm, str(parent.id), filename))
    return rows[0][0] if rows else None


def _resource(realm: str, parent_id: str, filename: str | None = None) -> Resource:
    parent = Resource(realm, parent_id)
    return parent.child("attachment", filename) if filename else parent


def _require(req, action: str, realm: str, parent_id: str, filename: str | None = None) -> None:
    resource = Resource("attachment", filename, None, Resource(realm, parent_id))
    if not req.perm.has(action, resource):
        raise PermissionError_(action, resource)


def _split(path: str) -> tuple[str, str | None]:
    """``id/`` -> (id, None); ``id/file`` -> (id, file)."""
    if "\\" in path or "\0" in path:
        raise HTTPBadRequest("Invalid attachment path.")
    if path.endswith("/"):
        parent_id, filename = path[:-1], None
    else:
        parent_id, _, filename = path.rpartition("/")
    if not parent_id or any(part in (".", "..") for part in parent_id.split("/")):
        raise HTTPNotFound("No such resource.")
    if filename is not None and filename in ("", ".", ".."):
        raise HTTPNotFound("No such attachment.")
    return parent_id, filename


def parent_href(req, realm: str, parent_id: str) -> str:
    # The parent's page is whatever route its realm has (wiki, ticket, milestone…); realms
    # are Trac's URL prefixes, so the Trac-compatible builder serves all of them.
    return req.href(realm, parent_id)


def parent_label(realm: str, parent_id: str) -> str:
    if realm == "ticket":
        return f"Ticket #{parent_id}"
    if realm == "wiki":
        return parent_id
    return f"{realm.capitalize()} {parent_id}"


# ---------------------------------------------------------------------------
# Handlers


def attachment_page(req, realm: str, path: str):
    """/attachment/<realm>/<id>/[<file>] — the list and upload form, or one file's preview."""
    try:
        return _attachment_page(req, realm, path)
    finally:
        if req.method == "POST":
            for upload in req.files.values():
                upload.close()


def _attachment_page(req, realm: str, path: str):
    req.endpoint = "wiki" if realm == "wiki" else realm
    parent_id, filename = _split(path)
    if filename is None:
        return _list(req, realm, parent_id)
    args = req.form if req.method == "POST" else req.args
    if args.get("action") == "delete":
        return _delete(req, realm, parent_id, filename)
    if req.method == "POST":
        raise HTTPBadRequest("Unknown action.")
    attachment = _load(req, realm, parent_id, filename)
    if args.get("format") in ("raw", "txt"):
        return send_attachment(req, attachment, as_text=args.get("format") == "txt")
    return _preview(req, attachment)


def raw_attachment(req, realm: str, path: str):
    """/raw-attachment/<realm>/<id>/<file> — the file itself, with a safe content type."""
    parent_id, filename = _split(path)
    if filename is None:
        raise HTTPNotFound("No attachment named.")
    return send_attachment(req, _load(req, realm, parent_id, filename))


def _load(req, realm: str, parent_id: str, filename: str) -> model.Attachment:
    _require(req, "ATTACHMENT_VIEW", realm, parent_id, filename)
    try:
        return model.Attachment.load(req.env, realm, parent_id, filename)
    except model.AttachmentError as exc:
        raise HTTPNotFound(str(exc)) from None


def _list(req, realm: str, parent_id: str):
    _require(req, "ATTACHMENT_VIEW", realm, parent_id)
    if not model.parent_exists(req.env, realm, parent_id):
        raise HTTPNotFound(f"{parent_label(realm, parent_id)} does not exist.")
    can_create = req.perm.has("ATTACHMENT_CREATE", _resource(realm, parent_id))
    status = 200
    if req.method != "POST" and req.args.get("action") == "new":
        _require(req, "ATTACHMENT_CREATE", realm, parent_id)  # the upload form, as in Trac
    if req.method == "POST":
        if req.form.get("action", "new") != "new":
            raise HTTPBadRequest("Unknown action.")
        if "cancel" in req.form:
            return req.redirect(parent_href(req, realm, parent_id))
        _require(req, "ATTACHMENT_CREATE", realm, parent_id)
        try:
            _upload(req, realm, parent_id)
        except model.AttachmentTooBig as exc:
            req.add_warning(str(exc))
            status = 413
        except model.AttachmentError as exc:
            req.add_warning(str(exc))
            status = 400
        else:
            return req.redirect(parent_href(req, realm, parent_id)
                                if req.form.get("return") != "list"
                                else req.url_for("attachment", realm=realm, path=parent_id + "/"))
    attachments = model.select(req.env, realm, parent_id)
    data = {"realm": realm, "parent_id": parent_id, "attachments": attachments,
            "parent_href": parent_href(req, realm, parent_id),
            "parent_label": parent_label(realm, parent_id), "can_create": can_create,
            "max_size": model.MAX_SIZE(req.env.config), "pretty_size": model.pretty_size,
            "title": f"Attachments of {parent_label(realm, parent_id)}",
            "list_href": req.url_for("attachment", realm=realm, path=parent_id + "/")}
    return "attachment/list.html", data, status


def _upload(req, realm: str, parent_id: str) -> model.Attachment:
    upload = req.files.get("attachment")
    try:
        if upload is None or not upload.filename:
            raise model.InvalidAttachment("No file uploaded.")
        filename = model.normalize_filename(_sent_filename(upload))
        description = req.form.get("description", "")
        replace = bool(req.form.get("replace"))
        old = None
        if replace:
            try:
                old = model.Attachment.load(req.env, realm, parent_id, filename)
            except model.AttachmentNotFound:
                old = None
            if old is not None:
                _require(req, "ATTACHMENT_DELETE", realm, parent_id, filename)
        with req.env.db_transaction:
            stored = model.insert(req.env, realm, parent_id, filename, upload.stream,
                                  author=req.authname, description=description)
            if old is not None and stored.filename != filename:
                old.delete()
                stored.move(new_filename=filename, check_parent=False)
        return stored
    finally:
        if upload is not None:
            upload.close()


_RAW_FILENAME_RE = re.compile(r'(?:^|;)\s*filename="([^"]*)"', re.I)
_WINDOWS_PATH_RE = re.compile(r"\A(?:[A-Za-z]:)?\\")


def _sent_filename(upload) -> str:
    """The file name as the client sent it.

    Browsers write a name between quotes as it is (a quote would be ``%22``), so an old
    browser's ``C:\\Windows\\evil.ini`` arrives with its backslashes, which the form parser
    reads as escapes (``C:Windowsevil.ini``). Such a path is taken from the raw header,
    so that its last part is kept."""
    raw = upload.headers.get("Content-Disposition", "") if upload.headers else ""
    match = _RAW_FILENAME_RE.search(raw)
    if match and _WINDOWS_PATH_RE.match(match.group(1)):
        return match.group(1)
    return upload.filename


def _delete(req, realm: str, parent_id: str, filename: str):
    attachment = _load(req, realm, parent_id, filename)
    _require(req, "ATTACHMENT_DELETE", realm, parent_id, filename)
    if req.method == "POST":
        if "cancel" not in req.form:
            try:
                attachment.delete()
            except model.AttachmentError as exc:
                raise HTTPNotFound(str(exc)) from None
            return req.redirect(parent_href(req, realm, parent_id))
        return req.redirect(req.url_for("attachment", realm=realm, path=f"{parent_id}/{filename}"))
    return "attachment/delete.html", _file_data(req, attachment)


def _file_data(req, attachment: model.Attachment) -> dict:
    realm, parent_id = attachment.parent_realm, attachment.parent_id
    return {"attachment": attachment, "realm": realm, "parent_id": parent_id,
            "parent_href": parent_href(req, realm, parent_id),
            "parent_label": parent_label(realm, parent_id),
            "raw_href": req.url_for("raw_attachment", realm=realm,
                                    path=f"{parent_id}/{attachment.filename}"),
            "file_href": req.url_for("attachment", realm=realm,
                                     path=f"{parent_id}/{attachment.filename}"),
            "list_href": req.url_for("attachment", realm=realm, path=parent_id + "/"),
            "pretty_size": model.pretty_size,
            "can_delete": req.perm.has("ATTACHMENT_DELETE",
                                       _resource(realm, parent_id, attachment.filename)),
            "title": f"{attachment.filename} ({parent_label(realm, parent_id)})"}


def _preview(req, attachment: model.Attachment):
    from codeyard.wiki.api import format_context
    from codeyard.wiki.formatter import format_to_oneliner

    data = _file_data(req, attachment)
    mimetype = guess_type(attachment.filename)
    data["mimetype"] = mimetype
    data["kind"] = "download"
    data["description_html"] = format_to_oneliner(
        format_context(req, Resource(attachment.parent_realm, attachment.parent_id)),
        attachment.description)
    if mimetype in PREVIEW_IMAGE_TYPES:
        data["kind"] = "image"
    elif attachment.size <= MAX_PREVIEW_SIZE(req.env.config):
        with attachment.open() as fh:
            content = fh.read()
        text = as_text(content, mimetype)
        if text is not None:
            data["kind"] = "text"
            data["preview"] = highlight(attachment.filename, mimetype, text)
    req.chrome["stylesheets"].append(req.url_for("chrome", prefix="common", path="css/wiki.css"))
    return "attachment/preview.html", data


# ---------------------------------------------------------------------------
# Content types and highlighting


def guess_type(filename: str) -> str:
    mimetype, _ = mimetypes.guess_type(filename, strict=False)
    return mimetype or "application/octet-stream"


def is_textual(mimetype: str) -> bool:
    return (mimetype.startswith("text/") or mimetype.endswith(("+xml", "/xml", "/json", "+json"))
            or mimetype in ("application/javascript", "application/x-sh", "application/x-python",
                            "application/sql", "application/x-tex", "application/x-httpd-php"))


def as_text(content: bytes, mimetype: str) -> str | None:
    """The content as text when it is text (by type, or by looking at it)."""
    if b"\0" in content[:8192]:
        return None
    for encoding in ("utf-8", "latin-1"):
        try:
            text = content.decode(encoding)
        except UnicodeDecodeError:
            continue
        if encoding == "latin-1" and not is_textual(mimetype):
            return None
        return text
    return None


def highlight(filename: str, mimetype: str, text: str) -> Markup:
    """Numbered lines, highlighted by Pygments when it knows the file's type."""
    lines = highlight_lines(filename, mimetype, text)
    rows = "".join(f'<tr><th id="L{n}"><a href="#L{n}">{n}</a></th><td>{line}</td></tr>'
                   for n, line in enumerate(lines, 1))
    return Markup('<table class="code"><tbody>' + rows + "</tbody></table>")


def _disposition(kind: str, filename: str) -> str:
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\;' else "_"
                       for c in filename)
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{urllib.parse.quote(filename)}"


def send_attachment(req, attachment: model.Attachment, as_text: bool = False) -> Response:
    """The file with headers that never let it run as part of this site."""
    mimetype = guess_type(attachment.filename)
    unsafe_ok = RENDER_UNSAFE(req.env.config)
    path = attachment.path
    try:
        fh = open(path, "rb")
    except OSError:
        raise HTTPNotFound(f"Attachment '{attachment.filename}' not found") from None
    with fh:
        size = os.fstat(fh.fileno()).st_size
        head = fh.read(8192)
        content_type, disposition = _content_headers(mimetype, head, unsafe_ok, as_text)
        data = head + fh.read() if req.method != "HEAD" else b""
    response = Response(data, content_type=content_type)
    response.headers["Content-Length"] = str(size)
    response.headers["Content-Disposition"] = _disposition(disposition, attachment.filename)
    response.headers["X-Content-Type-Options"] = "nosniff"
    if not unsafe_ok:
        response.headers["Content-Security-Policy"] = SANDBOX_CSP
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["Last-Modified"] = _http_date(attachment.time)
    return response


def _content_headers(mimetype: str, head: bytes, unsafe_ok: bool, as_text: bool) -> tuple[str, str]:
    """(Content-Type, disposition kind) for a file of this type and first bytes."""
    textual = is_textual(mimetype) or (mimetype == "application/octet-stream"
                                       and as_text_probe(head))
    if as_text:
        return "text/plain; charset=" + _charset(head), "inline"
    if mimetype == "image/svg+xml" and not unsafe_ok:
        # Pictures in <img> run no scripts; opened directly, the file is only downloaded.
        return mimetype, "attachment"
    if unsafe_ok:
        if textual and "charset=" not in mimetype:
            return f"{mimetype}; charset={_charset(head)}", "inline"
        return mimetype, "inline"
    if textual:
        # Shown as text, never interpreted: HTML, SVG, scripts… stay source code.
        kind = "inline" if mimetype == "text/plain" or mimetype.startswith("text/x-") \
            or mimetype in ("text/csv", "text/markdown", "application/json") \
            or mimetype == "application/octet-stream" else "attachment"
        return "text/plain; charset=" + _charset(head), kind
    if mimetype in INLINE_SAFE_TYPES:
        return mimetype, "inline"
    return mimetype, "attachment"


def as_text_probe(head: bytes) -> bool:
    if not head or b"\0" in head:
        return False
    try:
        head.decode("utf-8")
        return True
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 4  # a character cut at the end of the sample


def _charset(head: bytes) -> str:
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        return "utf-8" if exc.start >= len(head) - 4 else "iso-8859-1"


def _http_date(us: int) -> str:
    from email.utils import formatdate

    return formatdate((us or 0) / 1_000_000, usegmt=True)


# ---------------------------------------------------------------------------
# Hooks


@hookimpl
def config_options():
    return options_in(model, sys.modules[__name__])


@hookimpl
def web_routes():
    methods = ["GET", "HEAD", "POST"]
    return [
        (Rule("/attachment/<realm>/<path:path>", endpoint="attachment", methods=methods),
         attachment_page),
        (Rule("/raw-attachment/<realm>/<path:path>", endpoint="raw_attachment",
              methods=["GET", "HEAD"]), raw_attachment),
    ]


@hookimpl
def permission_policies():
    return {"LegacyAttachmentPolicy": legacy_attachment_policy}
