"""``codeyard serve``: the embedded production server (tracd's options, on gunicorn).

The server process only knows the site settings given on the command line; it hands them
to the one WSGI application (``codeyard.web.wsgi:application``) through the environ of
every request, as a front server would. The application module is imported in the
worker processes, not in the arbiter, so ``-r`` reloads code changes.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import click

DEFAULT_PORT = 8000
DEFAULT_HOST = "127.0.0.1"
DEFAULT_THREADS = 4
DEFAULT_REQUEST_TIMEOUT = 30
# gunicorn's default line plus the worker's process id.
ACCESS_LOG_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" pid=%(p)s'
# Checked here without importing codeyard.env: the arbiter stays free of application
# modules, so that -r reloads all of them in new workers.
_VERSION_TEXT = "Trac Environment Version 1"


class ServeError(click.ClickException):
    """Bad input for ``codeyard serve``: printed as one ``Error: …`` line, exit status 2."""

    exit_code = 2


@dataclass
class PasswordFile:
    """A ``--basic-auth`` or ``-a`` value: which project, which file, which realm."""

    kind: str  # "basic" or "digest"
    project: str  # a project directory name, or "*" for every project
    path: str
    realm: str

    @property
    def environ_key(self) -> str:
        return "codeyard.basic_auth" if self.kind == "basic" else "codeyard.digest_auth"


@dataclass
class SiteSettings:
    """What the command line says about the site, turned into environ keys per request."""

    env_paths: list[str] = field(default_factory=list)
    env_parent_dir: str | None = None
    single_env: bool = False
    auths: dict[str, PasswordFile] = field(default_factory=dict)
    base_path: str = ""  # "" or "/something", never a trailing slash
    index_template: str | None = None
    template_vars: str | None = None

    def base_environ(self) -> dict[str, Any]:
        environ: dict[str, Any] = {}
        if self.env_parent_dir:
            environ["codeyard.env_parent_dir"] = self.env_parent_dir
        elif self.single_env:
            environ["codeyard.env_path"] = self.env_paths[0]
        else:
            environ["codeyard.env_paths"] = list(self.env_paths)
        if self.index_template:
            environ["trac.env_index_template"] = self.index_template
        if self.template_vars:
            environ["trac.template_vars"] = self.template_vars
        return environ

    def project_of(self, path_info: str) -> str | None:
        """The project directory name a request path is about (None for the index)."""
        if self.single_env:
            return os.path.basename(self.env_paths[0])
        first = path_info.lstrip("/").split("/", 1)[0]
        return first or None

    def auth_for(self, path_info: str) -> PasswordFile | None:
        if not self.auths:
            return None
        project = self.project_of(path_info)
        if project is None:
            return None
        return self.auths.get(project) or self.auths.get("*")


class SiteMiddleware:
    """Put the site settings into each request's environ, then call the application.

    ``--base-path`` moves its prefix from ``PATH_INFO`` to ``SCRIPT_NAME``; a request outside
    it gets a 404. The password files of ``--basic-auth``/``-a`` go to the project they name.
    """

    def __init__(self, app: Callable, settings: SiteSettings) -> None:
        self.app = app
        self.settings = settings
        self.environ = settings.base_environ()

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        for key, value in self.environ.items():
            environ.setdefault(key, list(value) if isinstance(value, list) else value)
        base = self.settings.base_path
        if base:
            path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
            if path != base and not path.startswith(base + "/"):
                body = f"Not found: this server serves {base}/".encode()
                start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8"),
                                                 ("Content-Length", str(len(body)))])
                return [body]
            environ["SCRIPT_NAME"] = base
            environ["PATH_INFO"] = path[len(base):]
        auth = self.settings.auth_for(environ.get("PATH_INFO", ""))
        if auth is not None:
            environ.setdefault(auth.environ_key, (auth.path, auth.realm))
        return self.app(environ, start_response)


# A new worker answers a page of each project (up to this many, within this time) before it
# takes connections, so no user waits for its imports, database connections and templates.
WARM_UP_PROJECTS = 8
WARM_UP_SECONDS = 10.0


def warm_up_paths(settings: SiteSettings, limit: int = WARM_UP_PROJECTS) -> list[str]:
    """The paths (below ``--base-path``) a new worker asks for before it serves anyone."""
    if settings.single_env:
        return ["/"]
    if settings.env_parent_dir:
        from codeyard.web.wsgi import project_names  # the index's own listing

        names = sorted(project_names(settings.env_parent_dir))
    else:
        names = [os.path.basename(p.rstrip("/")) for p in settings.env_paths]
    return ["/"] + [f"/{name}/" for name in names[:limit]]


def warm_up(app: Callable, settings: SiteSettings, log: Callable[[str], None]) -> None:
    """Answer the warm-up pages inside this process as anonymous GETs; the answers go
    nowhere. A page that fails is logged and skipped: it will fail for its user too."""
    import time

    from werkzeug.test import EnvironBuilder, run_wsgi_app

    began = time.monotonic()
    for path in warm_up_paths(settings):
        if time.monotonic() - began > WARM_UP_SECONDS:
            break
        environ = EnvironBuilder(path=settings.base_path + path,
                                 base_url="http://127.0.0.1/").get_environ()
        environ["REMOTE_ADDR"] = "127.0.0.1"
        try:
            run_wsgi_app(app, environ, buffered=True)
        except Exception as exc:  # noqa: BLE001 - a warm-up never stops a worker
            log(f"warm-up of {path} failed: {exc!r}")


def settle_heap() -> None:
    """Set what a warmed-up worker holds (modules, templates, the projects' settings, some
    80,000 objects) aside from the cycle collector: its full passes otherwise walk all of
    it, stopping the worker for 50–100 ms now and then under load (the pages' p99)."""
    import gc

    gc.collect()
    gc.freeze()


def load_site_application() -> Callable:
    from codeyard.web.wsgi import application

    return application


def log_to_stderr() -> None:
    """Site-level messages of the application (not a project's own log) go to the error log."""
    import logging

    logger = logging.getLogger("codeyard")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(
            "[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s",
            "%Y-%m-%d %H:%M:%S %z"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


# ---------------------------------------------------------------------------
# gunicorn


def _when_ready(message: str, umask: int | None) -> Callable:
    def when_ready(arbiter) -> None:
        if umask is not None:
            os.umask(umask)
        if message:
            print(message.replace("{pid}", str(arbiter.pid)), file=sys.stderr, flush=True)

    return when_ready


try:
    from gunicorn.app.base import BaseApplication as _GunicornBase
except ImportError:  # pragma: no cover - gunicorn is a dependency
    _GunicornBase = object  # type: ignore[misc,assignment]


class GunicornServer(_GunicornBase):  # type: ignore[misc,valid-type]
    """gunicorn configured from a dict of its settings, serving ``loader()`` in each worker."""

    def __init__(self, loader: Callable[[], Callable], options: dict[str, Any]) -> None:
        self.loader = loader
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Callable:
        return self.loader()

    def run(self) -> None:
        if self.cfg.daemon:
            # gunicorn's own Application daemonizes in run(); BaseApplication does not.
            from gunicorn import util

            util.daemonize(self.cfg.enable_stdio_inheritance)
        super().run()


def gunicorn_options(*, host: str, port: int, workers: int, threads: int = DEFAULT_THREADS,
                     http11: bool = True, protocol: str = "http", certfile: str | None = None,
                     keyfile: str | None = None, reload: bool = False, daemonize: bool = False,
                     pidfile: str | None = None, umask: int | None = None, user: str | None = None,
                     group: str | None = None, access_log: bool = True,
                     ready_message: str = "",
                     request_timeout: float = DEFAULT_REQUEST_TIMEOUT) -> dict[str, Any]:
    """The gunicorn settings ``codeyard serve`` uses (also used by the benchmark)."""
    from codeyard.web.server_worker import BufferingWorker

    options: dict[str, Any] = {
        "bind": [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"],
        "workers": workers,
        # Threads answer only requests that have fully arrived (see server_worker).
        "worker_class": BufferingWorker.configured(request_timeout=request_timeout),
        "threads": threads,
        # HTTP/1.0 behaviour: one response per connection.
        "keepalive": 5 if http11 else 0,
        "timeout": 120,
        "graceful_timeout": 10,
        # gunicorn would otherwise open a control socket under $HOME.
        "control_socket_disable": True,
        # The application decides whether to trust X-Forwarded-* ([trac] options per project).
        "secure_scheme_headers": {},
        "forwarded_allow_ips": "127.0.0.1,::1",
        "accesslog": "-" if access_log else None,
        "access_log_format": ACCESS_LOG_FORMAT,
        "errorlog": "-",
        "loglevel": "info",
        "proc_name": "codeyard",
        "reload": reload,
        "daemon": daemonize,
        "when_ready": _when_ready(ready_message, umask),
    }
    if protocol == "https":
        options["certfile"] = certfile
        options["keyfile"] = keyfile
    if pidfile:
        options["pidfile"] = os.path.abspath(pidfile)
    if umask is not None:
        options["umask"] = umask
    if user is not None:
        options["user"] = user
    if group is not None:
        options["group"] = group
    return options


def run_gunicorn(loader: Callable[[], Callable], options: dict[str, Any]) -> None:
    GunicornServer(loader, options).run()


# ---------------------------------------------------------------------------
# Validation of the command line


def is_environment_dir(path: str) -> bool:
    try:
        with open(os.path.join(path, "VERSION"), encoding="utf-8") as fh:
            return fh.read().startswith(_VERSION_TEXT)
    except OSError:
        return False


def parse_password_option(kind: str, value: str) -> PasswordFile:
    option = "--basic-auth" if kind == "basic" else "--auth"
    what = "HTPASSWD" if kind == "basic" else "HTDIGEST"
    parts = value.split(",", 2)
    if len(parts) != 3:
        missing = "the file and the realm are" if len(parts) == 1 else "the realm is"
        raise ServeError(f"{option} {value!r}: expected PROJECT,{what},REALM ({missing} missing)")
    project, path, realm = (p.strip() for p in parts)
    if not project:
        raise ServeError(f"{option} {value!r}: the project is empty (use * for every project)")
    if not path:
        raise ServeError(f"{option} {value!r}: the {what.lower()} file is empty")
    path = os.path.abspath(os.path.expanduser(path))
    if not os.path.isfile(path):
        raise ServeError(f"{option}: {path}: no such file")
    if not os.access(path, os.R_OK):
        raise ServeError(f"{option}: {path}: not readable")
    project = project.rstrip("/")
    if project != "*" and os.sep in project:
        project = os.path.basename(project)
    if not realm:  # accepted as tracd accepts it: the realm then defaults
        realm = _default_realm(kind, project, path)
    return PasswordFile(kind, project, path, realm)


def _default_realm(kind: str, project: str, path: str) -> str:
    """The realm of ``PROJECT,FILE,`` (empty): for digest, the realm the file's entries were
    made for (a digest only matches its own realm); for basic, the project's name."""
    if kind == "digest":
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    parts = line.strip().split(":")
                    if len(parts) == 3 and parts[1]:
                        return parts[1]
        except OSError:
            pass
    return "codeyard" if project == "*" else project


def check_port_free(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        infos = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ServeError(f"--hostname {host}: {exc.strerror}") from None
    address = infos[0][4]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except PermissionError:
            raise ServeError(f"port {port} on {host}: permission denied "
                             "(ports below 1024 need privileges)") from None
        except OSError as exc:
            raise ServeError(f"port {port} on {host}: {exc.strerror}") from None


def build_settings(envs: tuple[str, ...], env_parent_dir: str | None, single_env: bool,
                   basic_auth: tuple[str, ...], digest_auth: tuple[str, ...],
                   base_path: str) -> SiteSettings:
    if not envs and not env_parent_dir:
        raise ServeError("give at least one environment or --env-parent-dir (-e)")
    if envs and env_parent_dir:
        raise ServeError("give either environments or --env-parent-dir (-e), not both")
    if single_env and len(envs) != 1:
        raise ServeError("--single-env (-s) serves exactly one environment")
    settings = SiteSettings(single_env=single_env)
    if env_parent_dir:
        parent = os.path.abspath(env_parent_dir)
        if not os.path.isdir(parent):
            raise ServeError(f"--env-parent-dir: {parent}: no such directory")
        if not os.access(parent, os.R_OK | os.X_OK):
            raise ServeError(f"--env-parent-dir: {parent}: not readable")
        settings.env_parent_dir = parent
    parsed = [parse_password_option(kind, value)
              for kind, values in (("basic", basic_auth), ("digest", digest_auth))
              for value in values]
    names: dict[str, str] = {}
    for env in envs:
        path = os.path.abspath(env)
        if not os.path.isdir(path):
            raise ServeError(f"{path}: no such directory")
        if not is_environment_dir(path):
            raise ServeError(f"{path}: not a project environment (no VERSION file saying so)")
        name = os.path.basename(path.rstrip(os.sep))
        if name in names:
            raise ServeError(f"{path} and {names[name]} would both be served at /{name}/")
        names[name] = path
        settings.env_paths.append(path)
    for auth in parsed:
        if auth.project in settings.auths:
            raise ServeError(f"two password files given for project {auth.project!r}")
        if auth.project != "*":
            if settings.env_parent_dir:
                if not is_environment_dir(os.path.join(settings.env_parent_dir, auth.project)):
                    raise ServeError(f"password file for {auth.project!r}: no such project "
                                     f"in {settings.env_parent_dir}")
            elif auth.project not in names:
                raise ServeError(f"password file for {auth.project!r}: not one of the "
                                 f"projects served ({', '.join(sorted(names))})")
        settings.auths[auth.project] = auth
    base = base_path.strip("/")
    settings.base_path = "/" + base if base else ""
    template = os.environ.get("TRAC_ENV_INDEX_TEMPLATE")
    if template:
        template = os.path.abspath(template)
        if not os.path.isfile(template):
            raise ServeError(f"TRAC_ENV_INDEX_TEMPLATE: {template}: no such file")
    settings.index_template = template or None
    settings.template_vars = os.environ.get("TRAC_TEMPLATE_VARS") or None
    return settings


def _check_identity(user: str | None, group: str | None) -> None:
    import grp
    import pwd

    if user is not None:
        try:
            pwd.getpwuid(int(user)) if user.isdigit() else pwd.getpwnam(user)
        except KeyError:
            raise ServeError(f"--user {user}: no such user") from None
    if group is not None:
        try:
            grp.getgrgid(int(group)) if group.isdigit() else grp.getgrnam(group)
        except KeyError:
            raise ServeError(f"--group {group}: no such group") from None
    if (user is not None or group is not None) and os.geteuid() != 0:
        raise ServeError("--user and --group need the server to be started as root")


def _parse_umask(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        mask = int(value, 8)
    except ValueError:
        raise ServeError(f"--umask {value}: not an octal number") from None
    if not 0 <= mask <= 0o777:
        raise ServeError(f"--umask {value}: out of range (000-777)")
    return mask


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


@click.command("serve", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("envs", nargs=-1, metavar="[ENV ...]")
@click.option("-p", "--port", type=click.IntRange(1, 65535), default=None,
              help=f"Port to listen on (default {DEFAULT_PORT}, or 8443 with --protocol https).")
@click.option("-b", "--hostname", default=DEFAULT_HOST, show_default=True,
              help="Address to listen on. Unlike tracd, only this machine by default; "
                   "give 0.0.0.0 (or ::) to listen on every interface.")
@click.option("-e", "--env-parent-dir", metavar="DIR",
              help="Serve every environment in DIR at /<dirname>/, with the project index at /.")
@click.option("-s", "--single-env", is_flag=True,
              help="Serve the one ENV at the root, without a project index.")
@click.option("--basic-auth", "basic_auth", multiple=True, metavar="PROJECT,HTPASSWD,REALM",
              help="Ask for HTTP Basic credentials at /login, checked against an htpasswd file; "
                   "PROJECT is a directory name or * for every project. Repeatable.")
@click.option("-a", "--auth", "digest_auth", multiple=True, metavar="PROJECT,HTDIGEST,REALM",
              help="Ask for HTTP Digest credentials at /login, checked against an htdigest file. "
                   "Repeatable.")
@click.option("--base-path", default="", metavar="PATH",
              help="Serve the site under this URL path (e.g. /projects).")
@click.option("--protocol", type=click.Choice(["http", "https"]), default="http", show_default=True,
              help="Serve plain HTTP or HTTPS (needs --certfile).")
@click.option("--certfile", metavar="FILE", help="PEM certificate for --protocol https.")
@click.option("--keyfile", metavar="FILE", help="PEM private key for --protocol https.")
@click.option("--http10/--http11", "http10", default=False,
              help="HTTP/1.0 closes each connection after one response; HTTP/1.1 (the default) "
                   "keeps connections alive.")
@click.option("-r", "--auto-reload", is_flag=True,
              help="Restart the workers when a source file changes (for development).")
@click.option("-d", "--daemonize", is_flag=True, help="Run in the background.")
@click.option("--pidfile", metavar="FILE", help="Write the server's process id to FILE.")
@click.option("--umask", metavar="MASK",
              help="File mode creation mask, in octal (default when daemonized: 022).")
@click.option("--user", help="Run the workers as this user (name or id; needs root).")
@click.option("--group", help="Run the workers as this group (name or id; needs root).")
@click.option("--workers", type=click.IntRange(1, 512), default=None,
              help="Worker processes (default: the number of CPU cores).")
@click.option("--threads", type=click.IntRange(1, 256), default=DEFAULT_THREADS, show_default=True,
              help="Request threads per worker process.")
@click.option("--request-timeout", type=click.FloatRange(0.5, 3600), default=DEFAULT_REQUEST_TIMEOUT,
              show_default=True, metavar="SECONDS",
              help="Close a connection whose request headers have not all arrived this long "
                   "after they started, or whose request body has stalled this long.")
@click.option("--access-log/--no-access-log", default=True, show_default=True,
              help="Log every request to standard error.")
def serve_command(envs, port, hostname, env_parent_dir, single_env, basic_auth, digest_auth,
                  base_path, protocol, certfile, keyfile, http10, auto_reload, daemonize, pidfile,
                  umask, user, group, workers, threads, request_timeout, access_log) -> None:
    """Serve project environments over HTTP (tracd's options, on gunicorn).

    Serve each ENV at /<dirname>/ with a project index at /, every environment in a parent
    directory with -e, or one environment at the root with -s.
    """
    if auto_reload and daemonize:
        raise ServeError("--auto-reload and --daemonize cannot be combined")
    settings = build_settings(envs, env_parent_dir, single_env, basic_auth, digest_auth, base_path)
    if protocol == "https":
        if not certfile:
            raise ServeError("--protocol https needs --certfile")
        for label, path in (("--certfile", certfile), ("--keyfile", keyfile)):
            if path and not os.access(path, os.R_OK):
                raise ServeError(f"{label}: {os.path.abspath(path)}: no such file or not readable")
    elif certfile or keyfile:
        raise ServeError("--certfile and --keyfile need --protocol https")
    if pidfile and os.path.isdir(pidfile):
        raise ServeError(f"--pidfile: {pidfile}: is a directory")
    mask = _parse_umask(umask)
    if mask is None and daemonize:
        mask = 0o022
    _check_identity(user, group)
    if port is None:
        port = 8443 if protocol == "https" else DEFAULT_PORT
    check_port_free(hostname, port)

    shown_host = "127.0.0.1" if hostname in ("0.0.0.0", "") else hostname
    if ":" in shown_host:
        shown_host = f"[{shown_host}]"
    url = f"{protocol}://{shown_host}:{port}{settings.base_path}/"
    nworkers = workers or default_workers()
    message = (f"Server starting in PID {{pid}} with {nworkers} worker(s).\n"
               f"Serving on {url}")

    def loader() -> Callable:
        import logging

        log_to_stderr()
        app = SiteMiddleware(load_site_application(), settings)
        warm_up(app, settings, logging.getLogger("codeyard.web").warning)
        settle_heap()
        return app

    options = gunicorn_options(
        host=hostname, port=port, workers=nworkers, threads=threads, http11=not http10,
        protocol=protocol, certfile=certfile and os.path.abspath(certfile),
        keyfile=keyfile and os.path.abspath(keyfile), reload=auto_reload, daemonize=daemonize,
        pidfile=pidfile, umask=mask, user=user, group=group, access_log=access_log,
        ready_message=message, request_timeout=request_timeout)
    run_gunicorn(loader, options)
