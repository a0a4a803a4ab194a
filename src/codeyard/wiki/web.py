"""The wiki on the web: ``/wiki/<page>`` with Trac's actions and query parameters,
``POST /wiki_render`` for live previews, and the wiki's permission policy.

Actions (``?action=``): view (default, ``version=N``), ``history``, ``diff``
(``version``, ``old_version``, ``style=inline|sidebyside`` and the whitespace options),
``edit`` (POST with ``save`` or ``preview``), ``rename``, ``delete``; ``?format=txt`` gives
the source as text/plain.
"""

from __future__ import annotations

from markupsafe import Markup
from werkzeug.routing import Rule
from werkzeug.wrappers import Response

from codeyard.core import hookimpl
from codeyard.perm import PermissionError_, Resource
from codeyard.util.diff import DiffOptions, diff_hunks
from codeyard.web.api import (
    HTTPBadRequest,
    HTTPNotFound,
    HTTPRequestEntityTooLarge,
    NavItem,
    body_check,
)
from codeyard.wiki import model
from codeyard.wiki.api import format_context
from codeyard.wiki.formatter import format_to_html, format_to_oneliner
from codeyard.wiki.model import WikiPage, validate_page_name
from codeyard.wiki.render_cache import render_page_html

START_PAGE = "WikiStart"

# The view action of each realm, for /wiki_render and attachments of other realms.
VIEW_ACTIONS = {"wiki": "WIKI_VIEW", "ticket": "TICKET_VIEW", "milestone": "MILESTONE_VIEW",
                "changeset": "CHANGESET_VIEW", "source": "FILE_VIEW", "report": "REPORT_VIEW",
                "query": "TICKET_VIEW"}


def _int(value, default=None):
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


# The longest body a text of ``[wiki] max_size`` characters can take: each character
# percent-encoded from four UTF-8 bytes, plus the other fields of the form.
_BYTES_PER_CHAR = 12
_FORM_OVERHEAD = 64 * 1024


def check_text_body(req) -> None:
    """Refuse (413) a POST that cannot hold a text of at most ``[wiki] max_size`` characters,
    from its Content-Length, before it is read."""
    limit = model.MAX_SIZE(req.env.config)
    if limit < 0:
        return
    most = limit * _BYTES_PER_CHAR + _FORM_OVERHEAD
    if (req.content_length or 0) > most:
        raise HTTPRequestEntityTooLarge(
            f"The request is {req.content_length:,} bytes long; wiki text may have at most "
            f"{limit:,} characters ([wiki] max_size).", title="Text too long")
    if req.max_content_length is None or req.max_content_length > most:
        req.max_content_length = most


def _text_too_long(limit: int, length: int) -> str:
    return (f"The text has {length:,} characters; wiki text may have at most {limit:,} "
            "([wiki] max_size).")


def _check_text_length(req, text: str) -> None:
    limit = model.MAX_SIZE(req.env.config)
    if 0 <= limit < len(text):
        raise HTTPRequestEntityTooLarge(_text_too_long(limit, len(text)), title="Text too long")


# ---------------------------------------------------------------------------
# Handlers


@body_check(check_text_body)
@body_check(check_text_body)
def wiki_page(req, page: str = START_PAGE):
    """/wiki/<page> — view, history, diff, edit, rename or delete a page; /wiki (and the
    project's ``/`` as WikiModule) is the start page."""
    req.endpoint = "wiki"
    name = page
    if name.endswith("/") or name.startswith("/"):
        return req.redirect(req.url_for("wiki", page=name.strip("/") or None))
    if not validate_page_name(name):
        raise HTTPBadRequest(f"Invalid Wiki page name '{name}'")
    args = req.form if req.method == "POST" else req.args
    action = args.get("action", "view")
    version = args.get("version") or None
    if version is not None and _int(version) is None:
        raise HTTPBadRequest(f"Invalid version '{version}'")
    latest = WikiPage(req.env, name)
    versioned = WikiPage(req.env, name, version) if version and action == "view" else latest
    resource = Resource("wiki", name)
    req.perm.require("WIKI_VIEW", resource)
    if version and action == "view" and versioned.version != int(version):
        raise HTTPNotFound(f'No version "{version}" for Wiki page "{name}"')

    if req.method == "POST":
        if action == "edit":
            return _save(req, latest)
        if action == "delete":
            return _delete(req, latest)
        if action == "rename":
            return _rename(req, latest)
        raise HTTPBadRequest(f"Unknown action '{action}'")

    if args.get("format") == "txt":
        if not versioned.exists:
            raise HTTPNotFound(f"Page {name} not found")
        return Response(versioned.text, content_type="text/plain; charset=utf-8",
                        headers={"X-Content-Type-Options": "nosniff"})
    if action == "history":
        return _history(req, latest)
    if action == "diff":
        return _diff(req, latest)
    if action == "edit":
        return _edit_form(req, latest)
    if action == "rename":
        _require_existing(latest)
        req.perm.require("WIKI_RENAME", resource)
        return "wiki/rename.html", _page_data(req, latest)
    if action == "delete":
        return _delete_form(req, latest)
    return _view(req, versioned, latest)


def _require_existing(page: WikiPage) -> None:
    if not page.exists:
        raise HTTPNotFound(f"Page {page.name} not found")


def _page_data(req, page: WikiPage, **more) -> dict:
    resource = Resource("wiki", page.name)
    perm = req.perm(resource)
    data = {
        "page": page, "title": page.name,
        "can": {action.split("_")[1].lower(): perm.has(action)
                for action in ("WIKI_CREATE", "WIKI_MODIFY", "WIKI_RENAME", "WIKI_DELETE",
                               "WIKI_ADMIN")},
        "parents": _breadcrumbs(page.name),
        "page_href": req.url_for("wiki", page=page.name),
    }
    data["can"]["attach"] = page.exists and perm.has("WIKI_MODIFY")
    data.update(more)
    return data


def _breadcrumbs(name: str) -> list[tuple[str, str]]:
    parts = name.split("/")
    return [("/".join(parts[:i + 1]), part) for i, part in enumerate(parts)]


def _view(req, page: WikiPage, latest: WikiPage):
    from codeyard.attachment.model import select as attachments_of

    resource = Resource("wiki", page.name, page.version if page.requested_version else None)
    if not page.exists:
        if not req.perm.has("WIKI_CREATE", resource):
            raise HTTPNotFound(f"Page {page.name} not found")
        data = _page_data(req, page, templates=_templates(req),
                          related=_related(req, page.name))
        return "wiki/missing.html", data
    ctx = format_context(req, resource)
    html, cached = render_page_html(ctx, page, lambda: format_to_html(ctx, page.text))
    history = [h.version for h in latest.get_history()]
    older = [v for v in history if v < page.version]
    newer = [v for v in history if v > page.version]
    data = _page_data(req, page, html=html, cached=cached, latest=latest,
                      is_old=page.version != latest.version,
                      prev_version=older[0] if older else None,
                      next_version=newer[-1] if newer else None,
                      comment_html=format_to_oneliner(ctx, page.comment),
                      attachments=attachments_of(req.env, "wiki", page.name))
    if page.name == START_PAGE:
        data["title"] = ""
    return "wiki/view.html", data


def _templates(req) -> list[str]:
    return [name for name in model.template_names(req.env)
            if req.perm.has("WIKI_VIEW", Resource("wiki", model.TEMPLATE_PREFIX + name))]


def _related(req, name: str) -> list[str]:
    from codeyard.wiki.links import page_names

    key = name.rsplit("/", 1)[-1].lower()
    return sorted(n for n in page_names(req.env)
                  if key in n.lower() and req.perm.has("WIKI_VIEW", Resource("wiki", n)))[:20]


def _history(req, page: WikiPage):
    _require_existing(page)
    entries = list(page.get_history())
    ctx = format_context(req, Resource("wiki", page.name))
    rows = [(h, format_to_oneliner(ctx, h.comment)) for h in entries]
    return "wiki/history.html", _page_data(req, page, history=rows)


def _diff(req, page: WikiPage):
    _require_existing(page)
    new_version = _int(req.args.get("version"), page.version)
    old_version = _int(req.args.get("old_version"))
    new = WikiPage(req.env, page.name, new_version)
    if not new.exists or new.version != new_version:
        raise HTTPNotFound(f'No version "{new_version}" for Wiki page "{page.name}"')
    if old_version is None:
        older = [h.version for h in new.get_history() if h.version < new.version]
        old_version = older[0] if older else 0
    if old_version > new_version:
        old_version, new_version = new_version, old_version
        new = WikiPage(req.env, page.name, new_version)
    old = WikiPage(req.env, page.name, old_version) if old_version else None
    if old_version and (old is None or old.version != old_version):
        raise HTTPNotFound(f'No version "{old_version}" for Wiki page "{page.name}"')
    options = DiffOptions.from_args(req.args)
    style = req.args.get("style", "inline")
    if style not in ("inline", "sidebyside"):
        style = "inline"
    old_text = old.text if old else ""
    hunks = diff_hunks(old_text.splitlines(), new.text.splitlines(), options)
    changes = [h for h in new.get_history() if old_version < h.version <= new_version]
    data = _page_data(req, page, hunks=hunks, style=style, options=options,
                      old=old, new=new, old_version=old_version, new_version=new_version,
                      changes=changes, title=f"{page.name} (diff)")
    return "wiki/diff.html", data


# -- editing


def _edit_form(req, page: WikiPage):
    resource = Resource("wiki", page.name)
    req.perm.require("WIKI_MODIFY" if page.exists else "WIKI_CREATE", resource)
    text = page.text
    comment = ""
    template = req.args.get("template", "")
    if not page.exists:
        try:
            model.check_new_page_name(page.name)
        except model.InvalidPageName as exc:
            raise HTTPBadRequest(str(exc), title="Invalid page name") from None
        text = model.template_text(req.env, template or None)
    elif req.args.get("version"):
        # "Revert to this version": the editor starts from an old text, saved over the latest.
        wanted = _int(req.args.get("version"))
        old = WikiPage(req.env, page.name, wanted) if wanted else None
        if old is None or not old.exists or old.version != wanted:
            raise HTTPNotFound(f'No version "{req.args.get("version")}" for Wiki page "{page.name}"')
        text = old.text
        if wanted != page.version:
            comment = f"Reverted to version {wanted}"
    return _editor(req, page, text=text, comment=comment, base_version=page.version,
                   readonly=page.readonly, template=template)


def _editor(req, page: WikiPage, text: str, comment: str, base_version: int, readonly: int,
            preview=None, conflict=None, status: int = 200, template: str = ""):
    req.chrome["scripts"].append(req.url_for("chrome", prefix="common", path="js/wiki-edit.js"))
    data = _page_data(req, page, text=text, comment=comment, base_version=base_version,
                      readonly=readonly, preview=preview, conflict=conflict,
                      templates=_templates(req) if not page.exists else [],
                      template=template, title=f"Editing {page.name}",
                      render_href=req.url_for("wiki_render"))
    return "wiki/edit.html", data, status


def _save(req, latest: WikiPage):
    form = req.form
    if "cancel" in form:
        return req.redirect(req.url_for("wiki", page=latest.name))
    resource = Resource("wiki", latest.name)
    req.perm.require("WIKI_MODIFY" if latest.exists else "WIKI_CREATE", resource)
    text = form.get("text", "").replace("\r\n", "\n")
    comment = form.get("comment", "")
    base_version = _int(form.get("version"), 0)
    merge = _int(form.get("merge"))
    if merge is not None:
        base_version = merge  # the writer has seen the other change and saves over it
    is_admin = req.perm.has("WIKI_ADMIN", resource)
    readonly = (1 if form.get("readonly") else 0) if is_admin else latest.readonly
    limit = model.MAX_SIZE(req.env.config)
    if 0 <= limit < len(text):  # neither rendered nor saved; the writer keeps the text
        req.add_warning(_text_too_long(limit, len(text)))
        return _editor(req, latest, text, comment, base_version, readonly, status=413)
    if "preview" in form or "save" not in form:
        ctx = format_context(req, resource)
        preview = format_to_html(ctx, text)
        return _editor(req, latest, text, comment, base_version, readonly, preview=preview)
    page = WikiPage(req.env, latest.name)
    page.text = text
    if is_admin:
        page.readonly = readonly
    try:
        page.save(req.authname, comment, base_version=base_version)
    except model.VersionConflict as exc:
        return _editor(req, latest, text, comment, base_version, readonly,
                       conflict=_conflict(req, latest, exc, text), status=409)
    except model.PageNotModified:
        req.add_notice("Page not modified: nothing to save.")
        return _editor(req, latest, text, comment, base_version, readonly)
    except model.WikiError as exc:
        req.add_warning(str(exc))
        status = 400 if isinstance(exc, model.InvalidPageName) else 200
        return _editor(req, latest, text, comment, base_version, readonly, status=status)
    if page.version == 1:
        req.add_notice(f"The page {page.name} has been created.")
    else:
        diff = req.url_for("wiki", page=page.name, action="diff", version=page.version)
        req.add_notice(Markup('Your changes have been saved in version {} (<a href="{}">diff</a>).')
                       .format(page.version, diff))
    return req.redirect(req.url_for("wiki", page=page.name))


def _conflict(req, latest: WikiPage, exc: model.VersionConflict, text: str) -> dict:
    """What the other writer changed since the editor's version, and the way to merge."""
    base = WikiPage(req.env, latest.name, exc.base_version) if exc.base_version else None
    current = WikiPage(req.env, latest.name)
    base_text = base.text if base is not None and base.exists else ""
    theirs = diff_hunks(base_text.splitlines(), current.text.splitlines(), DiffOptions())
    yours = diff_hunks(current.text.splitlines(), text.splitlines(), DiffOptions())
    return {"base_version": exc.base_version, "current": current, "theirs": theirs,
            "yours": yours, "message": str(exc)}


# -- rename and delete


def _rename(req, page: WikiPage):
    _require_existing(page)
    resource = Resource("wiki", page.name)
    req.perm.require("WIKI_RENAME", resource)
    if "cancel" in req.form:
        return req.redirect(req.url_for("wiki", page=page.name))
    new_name = req.form.get("new_name", "").strip().strip("/")
    redirect = bool(req.form.get("redirect"))
    old_name = page.name
    try:
        if new_name and not req.perm.has("WIKI_CREATE", Resource("wiki", new_name)):
            raise PermissionError_("WIKI_CREATE", Resource("wiki", new_name))
        page.rename(new_name, redirect=redirect, author=req.authname)
    except model.WikiError as exc:
        req.add_warning(str(exc))
        page.name = old_name
        status = 409 if isinstance(exc, model.PageExists) else 400
        return "wiki/rename.html", _page_data(req, page, new_name=new_name, redirect=redirect), status
    req.add_notice(f"The page {old_name} has been renamed to {page.name}.")
    if redirect:
        req.add_notice(f"The page {old_name} has been recreated with a redirect to {page.name}.")
    return req.redirect(req.url_for("wiki", page=page.name))


def _delete_form(req, page: WikiPage):
    _require_existing(page)
    req.perm.require("WIKI_DELETE", Resource("wiki", page.name))
    # The view's delete form carries the version; its "Delete page" button asks for all.
    version = None if "delete_page" in req.args else _int(req.args.get("version"))
    target = None
    if version is not None:
        target = WikiPage(req.env, page.name, version)
        if target.version != version:
            raise HTTPNotFound(f'No version "{version}" for Wiki page "{page.name}"')
    versions = len(list(page.get_history()))
    return "wiki/delete.html", _page_data(req, page, target=target, versions=versions,
                                          title=f"Delete {page.name}")


def _delete(req, page: WikiPage):
    _require_existing(page)
    req.perm.require("WIKI_DELETE", Resource("wiki", page.name))
    if "cancel" in req.form:
        return req.redirect(req.url_for("wiki", page=page.name))
    version = _int(req.form.get("version"))
    only_version = version is not None and bool(req.form.get("delete_version"))
    try:
        page.delete(version if only_version else None)
    except model.WikiError as exc:
        raise HTTPNotFound(str(exc)) from None
    if page.exists:
        req.add_notice(f"The version {version} of the page {page.name} has been deleted.")
        return req.redirect(req.url_for("wiki", page=page.name))
    req.add_notice(f"The page {page.name} has been deleted.")
    return req.redirect(req.url_for("wiki"))


# ---------------------------------------------------------------------------
# POST /wiki_render


@body_check(check_text_body)
def wiki_render(req):
    """/wiki_render — POST realm, id, version, text, flavor, escape_newlines, shorten: the
    text rendered as an HTML fragment, for previews (at most ``[wiki] max_size`` characters)."""
    form = req.form
    realm = form.get("realm", "wiki") or "wiki"
    id_ = form.get("id") or None
    version = form.get("version") or None
    resource = Resource(realm, id_, version)
    action = VIEW_ACTIONS.get(realm, realm.upper() + "_VIEW")
    req.perm.require(action, resource)
    text = form.get("text", "").replace("\r\n", "\n")
    _check_text_length(req, text)
    flavor = form.get("flavor", "html")
    ctx = format_context(req, resource)
    if flavor == "oneliner":
        html = format_to_oneliner(ctx, text, shorten=_flag(form.get("shorten")))
    else:
        html = format_to_html(ctx, text, escape_newlines=_flag(form.get("escape_newlines")))
    response = Response(str(html), content_type="text/html; charset=utf-8")
    response.headers["Cache-Control"] = "no-cache, private"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _flag(value) -> bool:
    return str(value or "").lower() in ("1", "true", "on", "yes")


# ---------------------------------------------------------------------------
# Permission policy: read-only pages need WIKI_ADMIN to change


def default_wiki_policy(env, action, username, resource, perm):
    if resource is None or resource.realm != "wiki" or perm is None:
        return None
    if action == "WIKI_CHANGE_READONLY":
        return perm.has("WIKI_ADMIN", resource)
    if action in ("WIKI_DELETE", "WIKI_MODIFY", "WIKI_RENAME") and resource.id:
        with env.db_query as db:
            rows = db("SELECT readonly FROM wiki WHERE name=%s ORDER BY version DESC LIMIT 1",
                      (resource.id,))
        if rows and rows[0][0] and not perm.has("WIKI_ADMIN", resource):
            return False
    return None


default_wiki_policy.actions = frozenset(  # type: ignore[attr-defined]
    {"WIKI_CHANGE_READONLY", "WIKI_DELETE", "WIKI_MODIFY", "WIKI_RENAME"})


# ---------------------------------------------------------------------------
# Hooks


@hookimpl
def start_pages():
    return {"WikiModule": "wiki"}


@hookimpl
def web_routes():
    methods = ["GET", "HEAD", "POST"]
    return [
        (Rule("/wiki", endpoint="wiki", methods=methods), wiki_page),
        (Rule("/wiki/<path:page>", endpoint="wiki", methods=methods), wiki_page),
        (Rule("/wiki_render", endpoint="wiki_render", methods=["POST"]), wiki_render),
    ]


@hookimpl
def navigation_items(req):
    if req.perm.has("WIKI_VIEW"):
        return [NavItem("mainnav", "wiki", "Wiki", req.url_for("wiki"), order=10),
                NavItem("metanav", "help", "Help/Guide", req.url_for("wiki", page="TracGuide"),
                        order=60)]
    return []


@hookimpl
def permission_policies():
    return {"DefaultWikiPolicy": default_wiki_policy}


@hookimpl
def attachment_permission_map():
    return {"wiki": ("WIKI_VIEW", "WIKI_MODIFY", "WIKI_DELETE")}

