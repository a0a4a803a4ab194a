"""Git smart HTTP for the Git repositories of a project, at ``<project>/git/[repo]``.

``git clone <project-url>/git/REPO`` (``<project-url>/git`` for the default repository)
reaches ``info/refs?service=git-upload-pack|git-receive-pack``, ``git-upload-pack`` and
``git-receive-pack`` below that address. They are answered by the real
``git http-backend`` (protocol v2 through the ``Git-Protocol`` header, gzip-encoded
and chunked request bodies, both bodies streamed), behind codeyard's own accounts and
permissions (``codeyard.hosting.gate``): receive-pack is switched on for a request only
when codeyard allows the push. Every push runs under the repository's write lock and,
once git has finished and before the response ends, brings the changeset cache up to
date and lets the ticket updater act as the pusher.
"""

from __future__ import annotations

import contextlib
import sys

from werkzeug.routing import Rule
from werkzeug.wrappers import Response

from codeyard.config import IntOption, Option, as_bool, options_in
from codeyard.core import hookimpl
from codeyard.hosting import gate, git_maintenance
from codeyard.hosting.git_backend import (
    BackendError,
    BackendRun,
    backend_command,
    cgi_environ,
    protocol_header,
)
from codeyard.vcs.api import RepositoryError
from codeyard.vcs.manager import RepositoryManager, display_name, is_default
from codeyard.web.api import (
    HTTPBadRequest,
    HTTPError,
    HTTPForbidden,
    HTTPInternalError,
    HTTPMethodNotAllowed,
    HTTPNotFound,
    HTTPRequestEntityTooLarge,
    body_check,
    csrf_exempt,
)

GIT_BIN = Option(
    "git", "git_bin", "git",
    "The `git` program that serves hosted Git repositories (`git http-backend`) and "
    "maintains them (`repack`, `commit-graph`): a name looked up on PATH or a full path.")
MAX_REQUEST_SIZE = IntOption(
    "git", "max_request_size", 1024 ** 3,
    "Largest body of a Git smart HTTP request (what one `git push` or fetch negotiation "
    "sends), in bytes, chunked or not; a larger push fails with 413 and changes nothing. "
    "0 means no limit.")
MAINTAIN_AFTER_PUSHES = IntOption(
    "git", "maintain_after_pushes", 50,
    "Repack a hosted Git repository (one pack with a bitmap, and a commit graph) in the "
    "background after this many pushes since the last time; 0 turns this trigger off.")
MAINTAIN_LOOSE_OBJECTS = IntOption(
    "git", "maintain_loose_objects", 2000,
    "Repack a hosted Git repository in the background after a push that leaves about this "
    "many loose objects (estimated as `git gc --auto` does); 0 turns this trigger off.")
MAINTAIN_PACKS = IntOption(
    "git", "maintain_packs", 20,
    "Repack a hosted Git repository in the background after a push that leaves this many "
    "packs; 0 turns this trigger off.")

SERVICES = ("git-upload-pack", "git-receive-pack")
_SERVICE_PATHS = ("info/refs", *SERVICES)


# ---------------------------------------------------------------------------
# Addresses


def git_url(req, repos_name: str) -> str:
    """The absolute address to ``git clone`` repository ``repos_name`` from ("" or
    "(default)" for the default repository)."""
    name = "" if is_default(repos_name) else repos_name.strip("/")
    return req.absolute(req.url_for("git", path=name or None))


def split_service(path: str) -> tuple[str, str | None]:
    """(repository part, service path) of what follows ``/git/``; the service path is None
    when the URL names none of the smart HTTP endpoints."""
    clean = path.strip("/")
    for service_path in _SERVICE_PATHS:
        if clean == service_path:
            return "", service_path
        if clean.endswith("/" + service_path):
            return clean[: -len(service_path) - 1].strip("/"), service_path
    return clean, None


def find_repository(req, rest: str):
    """(name used for permissions, the opened Git repository) for the repository part of
    the URL: a repository's name, that name with ``.git``, or nothing for the default
    one. Raises a 404 for anything else."""
    manager = RepositoryManager(req.env)
    candidates = [rest] + ([rest[:-4]] if rest.endswith(".git") else [])
    for candidate in candidates:
        info = manager.resolve("" if is_default(candidate) else candidate)
        if info is None or not info.dir:
            continue
        try:
            repos = manager.get_repository(info.name)
        except RepositoryError as exc:
            req.env.log.warning("git hosting: %s", exc)
            raise HTTPNotFound(f"Repository \"{info.display_name}\" cannot be opened.") from None
        if repos is None:
            continue
        if repos.type != "git" or not getattr(repos, "git_dir", ""):
            raise HTTPNotFound(f"Repository \"{info.display_name}\" is not a Git repository "
                               f"(it is of type {repos.type or 'unknown'}).")
        return repos.name, repos
    label = f'"{rest}"' if rest else "(default)"
    raise HTTPNotFound(f"No Git repository {label} in this project.")


def is_readonly(repos) -> bool:
    return as_bool(repos.params.get("readonly"), False)


# ---------------------------------------------------------------------------
# The handler


def _limit_body(req) -> None:
    limit = MAX_REQUEST_SIZE(req.env.config)
    req.max_content_length = limit if limit > 0 else None
    if limit > 0 and (req.content_length or 0) > limit:
        raise HTTPRequestEntityTooLarge(f"The push is larger than {limit} bytes, the limit of "
                                        "this site ([git] max_request_size).")


@csrf_exempt
@body_check(_limit_body)
def git_smart_http(req, path: str = ""):
    """/git/[repo]/(info/refs?service=…|git-upload-pack|git-receive-pack) — Git smart HTTP."""
    rest, service_path = split_service(path)
    if service_path is None:
        name, _repos = find_repository(req, rest)
        raise HTTPNotFound("This is the address of a Git repository, for the git client: "
                           f"git clone {git_url(req, name)}")
    if service_path == "info/refs":
        if req.method not in ("GET", "HEAD"):
            raise HTTPMethodNotAllowed(f"{req.method} is not allowed here.",
                                       headers=[("Allow", "GET, HEAD")])
        service = req.args.get("service", "")
        if service not in SERVICES:
            raise HTTPForbidden("Only Git's smart HTTP protocol is served here "
                                "(info/refs?service=git-upload-pack or git-receive-pack).")
    else:
        if req.method != "POST":
            raise HTTPMethodNotAllowed(f"{req.method} is not allowed here.",
                                       headers=[("Allow", "POST")])
        service = service_path
    name, repos = find_repository(req, rest)
    write = service == "git-receive-pack"
    gate.check_access(req, name, write=False)
    if write and is_readonly(repos):
        raise HTTPForbidden(f"Repository \"{display_name(name)}\" is read-only: pushes are "
                            "refused.")
    if write:
        gate.check_access(req, name, write=True)
    if req.method == "HEAD":
        return Response(b"", content_type=f"application/x-{service}-advertisement",
                        headers=[("Cache-Control", "no-cache")])
    return _serve(req, repos, service, service_path, write)


def _serve(req, repos, service: str, service_path: str, write: bool) -> Response:
    env = req.env
    git_bin = GIT_BIN(env.config) or "git"
    git_dir = repos.git_dir
    is_post = req.method == "POST"
    if is_post:
        _limit_body(req)
    chunked = "chunked" in req.headers.get("Transfer-Encoding", "").lower()
    length = None if chunked or not is_post else (req.content_length or 0)
    cgi = cgi_environ(
        git_dir=git_dir, service_path=service_path, method=req.method,
        query=f"service={service}" if service_path == "info/refs" else "",
        content_type=req.headers.get("Content-Type", "") if is_post else "",
        content_length=length,
        content_encoding=req.headers.get("Content-Encoding", "") if is_post else "",
        protocol=protocol_header(req.headers.get("Git-Protocol")),
        remote_user=req.authname if req.is_authenticated else None,
        remote_addr=req.remote_addr or "", server_protocol=req.environ.get("SERVER_PROTOCOL", ""))
    pushing = is_post and write
    stack = contextlib.ExitStack()
    on_finish = None
    if pushing:
        stack.enter_context(gate.write_lock(git_dir))
        pusher = req.authname if req.is_authenticated else None

        def on_finish(code: int, interrupted: bool) -> None:
            # Whatever git did (even a push cut short may have moved some refs), the
            # cache and the ticket updater catch up; gate.after_push never raises.
            gate.after_push(env, repos, pusher)
            if code == 0 and not interrupted:
                _maybe_maintain(env, git_bin, git_dir)
    run = BackendRun(backend_command(git_bin, receive_pack=write), cgi,
                     req.stream if is_post else None, cwd=git_dir, on_finish=on_finish,
                     log=lambda text: env.log.warning("%s: %s", git_dir, text))
    try:
        status, headers = run.start()
    except BaseException as exc:
        stack.close()
        if isinstance(exc, HTTPError):
            raise
        if isinstance(exc, BackendError):
            env.log.error("git hosting: %s", exc)
            raise HTTPInternalError("The Git server program failed; the problem has been "
                                    "logged.") from None
        if isinstance(exc, Exception) and getattr(exc, "code", None) == 413:
            raise HTTPRequestEntityTooLarge("The push is larger than this site accepts "
                                            "([git] max_request_size).") from None
        if isinstance(exc, Exception):
            raise HTTPBadRequest(f"The request body could not be read: {exc}") from None
        raise

    return Response(_Streamed(run, stack), status=status, headers=headers,
                    direct_passthrough=True)


class _Streamed:
    """The response body: git's output as it comes; ``close()`` (the WSGI server calls it
    whether or not the body was sent whole) ends the run and lets the write lock go."""

    def __init__(self, run: BackendRun, stack: contextlib.ExitStack) -> None:
        self.run, self.stack = run, stack
        self.blocks = run.body()

    def __iter__(self):
        return self.blocks

    def close(self) -> None:
        try:
            self.blocks.close()
            self.run.close()
        finally:
            self.stack.close()


def _maybe_maintain(env, git_bin: str, git_dir: str) -> None:
    thresholds = git_maintenance.Thresholds(
        pushes=MAINTAIN_AFTER_PUSHES(env.config),
        loose_objects=MAINTAIN_LOOSE_OBJECTS(env.config),
        packs=MAINTAIN_PACKS(env.config))
    try:
        if git_maintenance.note_push(git_dir, thresholds):
            git_maintenance.start_in_background(git_bin, git_dir, env.log)
    except Exception:  # noqa: BLE001 - maintenance is never worth failing a push for
        env.log.exception("git hosting: starting the maintenance of %s failed", git_dir)


# ---------------------------------------------------------------------------
# Hooks


@hookimpl
def config_options():
    return options_in(sys.modules[__name__])


@hookimpl
def web_routes():
    methods = ["GET", "HEAD", "POST"]
    return [
        (Rule("/git", endpoint="git", defaults={"path": ""}, methods=methods), git_smart_http),
        (Rule("/git/<path:path>", endpoint="git", methods=methods), git_smart_http),
    ]


@hookimpl
def repository_access_commands(req, repos, path):
    if getattr(repos, "type", "") != "git":
        return []
    return gate.access_commands(req, repos, "git clone", "git push", git_url(req, repos.name),
                                is_readonly(repos))
