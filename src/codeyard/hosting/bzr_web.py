"""Hosting the project's Bazaar repositories: the smart protocol at
``<project>/bzr/[repo/]branch-path/.bzr/smart``, under the project's accounts and
permissions (``codeyard.hosting.gate``).

A first path segment naming a repository selects it, otherwise the default repository
(as the browser does). Pulling needs ``BROWSER_VIEW`` and ``FILE_VIEW``; a request that may
change anything (breezy's registry says which verbs only read) needs ``REPOSITORY_PUSH``,
and anonymous clients get a Basic challenge so ``brz`` asks for a password. A repository
with the setting ``readonly`` (``[repositories] NAME.readonly = true``) answers every
change with a ``PermissionDenied`` error (brz shows its message). After a request that may have moved a branch, the changeset cache and the ticket
updater run as the pusher before the reply goes out.
"""

from __future__ import annotations

from urllib.parse import quote

from werkzeug.routing import Rule
from werkzeug.wrappers import Response

from codeyard.config import IntOption, as_bool, options_in
from codeyard.core import hookimpl
from codeyard.hosting import bzr_smart, gate
from codeyard.hosting.bzr_smart import SMART_SUFFIX, ConfigurationError, RequestError
from codeyard.web.api import (
    HTTPBadRequest,
    HTTPError,
    HTTPInternalError,
    HTTPMethodNotAllowed,
    HTTPNotFound,
    HTTPRequestEntityTooLarge,
    csrf_exempt,
)

MAX_REQUEST_SIZE = IntOption(
    "hosting", "bzr_max_request_size", bzr_smart.DEFAULT_MAX_REQUEST_SIZE,
    "Largest body of a Bazaar smart request (one `brz push` sends its revisions in one "
    "request), in bytes; a larger one gets a 413 and changes nothing.")

_ERRORS: dict[int, type[HTTPError]] = {400: HTTPBadRequest, 411: HTTPBadRequest,
                                       413: HTTPRequestEntityTooLarge}


def bzr_url(req, repos_name: str, branch_path: str) -> str:
    """The absolute URL to give ``brz branch`` / ``brz push`` for a branch of a repository."""
    path = "/".join(part.strip("/") for part in (repos_name, branch_path) if part.strip("/"))
    return req.absolute(req.url_for("bzr", path=path))


def is_readonly(repos) -> bool:
    return as_bool(repos.params.get("readonly"))


def _request_limit(req) -> int:
    return MAX_REQUEST_SIZE(req.env.config)


@csrf_exempt
def smart_request(req, path: str = ""):
    """/bzr/[repo/]branch-path/.bzr/smart — one Bazaar smart request (POST) on a branch."""
    from codeyard.vcs.api import InvalidPath
    from codeyard.vcs.manager import RepositoryManager

    clean = path.strip("/")
    if clean != SMART_SUFFIX and not clean.endswith("/" + SMART_SUFFIX):
        where = f"/{clean}" if clean else ""
        raise HTTPNotFound(f"Bazaar branches are served over the smart protocol only: "
                           f"brz branch {req.absolute(req.url_for('bzr', path=clean))}"
                           if clean else f"No Bazaar smart server location at /bzr{where}.")
    branch_path = clean[:-len(SMART_SUFFIX)].strip("/")
    try:
        name, repos, rest = RepositoryManager(req.env).get_repository_by_path(branch_path)
    except InvalidPath as exc:
        raise HTTPNotFound(str(exc)) from None
    if repos is None or repos.type != "bzr":
        label = f"repository '{name}'" if name else "the default repository"
        raise HTTPNotFound(f"No Bazaar repository here ({label} is "
                           f"{'missing' if repos is None else 'not a Bazaar repository'}).")
    if req.method != "POST":
        raise HTTPMethodNotAllowed("The Bazaar smart server answers POST requests only.",
                                   headers=[("Allow", "POST")])
    try:
        request = bzr_smart.read_request(req.environ, _request_limit(req))
    except RequestError as exc:
        raise _ERRORS.get(exc.status, HTTPBadRequest)(exc.message) from None
    try:
        gate.check_access(req, name, write=request.writes)
        readonly = is_readonly(repos)
        # Who may not push gets a server that cannot write, whatever the request says.
        writable = not readonly and gate.can_push(req, name)
        server = bzr_smart.smart_server(repos.directory, readonly=not writable)
    except ConfigurationError as exc:
        request.close()
        raise HTTPInternalError(f"Repository '{name or '(default)'}' cannot be served: "
                                f"{exc}") from None
    except BaseException:
        request.close()
        raise

    from codeyard.hosting.bzr_wsgi import answer

    def after() -> None:
        gate.after_push(req.env, repos, req.authname)

    relpath = quote(rest.encode("utf-8"), safe="/~")
    label = f"Repository '{name}'" if name else "The default repository"
    body = answer(server, request, relpath, server.root, after,
                  readonly_message=f"{label} is read-only: it takes no pushes.")
    response = Response(body, content_type="application/octet-stream", direct_passthrough=True)
    response.content_length = len(body)
    response.headers["Cache-Control"] = "no-store"
    return response


smart_request.request_size_limit = _request_limit  # type: ignore[attr-defined]


@hookimpl
def config_options():
    import sys

    return options_in(sys.modules[__name__])


@hookimpl
def web_routes():
    methods = ["GET", "HEAD", "POST"]
    return [
        (Rule("/bzr", endpoint="bzr", defaults={"path": ""}, methods=methods), smart_request),
        (Rule("/bzr/<path:path>", endpoint="bzr", methods=methods), smart_request),
    ]


@hookimpl
def repository_access_commands(req, repos, path):
    split = getattr(repos, "split", None)
    if getattr(repos, "type", "") != "bzr" or split is None:
        return []
    try:
        state, _ = split(path or "")
    except Exception:  # noqa: BLE001 - a path the backend refuses: no command to show
        return []
    if state is None:  # above the branches: nothing to branch from here
        return []
    return gate.access_commands(req, repos, "brz branch", "brz push",
                                bzr_url(req, repos.name, state.path), is_readonly(repos))
