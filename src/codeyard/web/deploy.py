"""``codeyard deploy``: configurations for a front server, a WSGI script and static files.

Targets:

* ``apache-wsgi`` — an Apache snippet running the site in a mod_wsgi daemon process;
* ``apache-modpython`` — an Apache snippet for ``PythonHandler codeyard.web.modpython_frontend``;
* ``nginx`` — an nginx server block proxying to ``codeyard serve``.

Each also writes ``OUTDIR/cgi-bin/codeyard.wsgi`` and exports the static files to
``OUTDIR/htdocs/common`` (built-in) and, for a single environment, ``OUTDIR/htdocs/site``
(the project's ``htdocs/``), so the front server can serve them itself.
"""

from __future__ import annotations

import os
import shutil
import site
import sys
import tempfile
from collections.abc import Callable, Iterable
from typing import Any

import click

import codeyard

BUILTIN_HTDOCS = os.path.join(os.path.dirname(os.path.abspath(codeyard.__file__)), "htdocs")
SCRIPT_NAME = "codeyard.wsgi"


class DeployError(click.ClickException):
    """Bad input for ``codeyard deploy``: one ``Error: …`` line, exit status 2."""

    exit_code = 2


# ---------------------------------------------------------------------------
# Pieces shared with the admin command ``deploy <directory>``


def wsgi_script(site_environ: dict[str, str], python_path: Iterable[str] = ()) -> str:
    """The text of a WSGI script serving the site described by ``site_environ``."""
    paths = [p for p in python_path if p]
    lines = [
        f"#!{sys.executable}",
        '"""WSGI entry point written by `codeyard deploy`: codeyard.web.wsgi:application',
        "with this site's settings (a front server's SetEnv of the same keys wins)."
        '"""',
        "",
    ]
    if paths:
        lines += ["import sys", "", f"for _path in {paths!r}:",
                  "    if _path not in sys.path:", "        sys.path.append(_path)", ""]
    lines += [
        "from codeyard.web.wsgi import application as _site_application",
        "",
        f"SITE = {dict(site_environ)!r}",
        "_SITE_KEYS = ('codeyard.env_path', 'trac.env_path', 'codeyard.env_parent_dir',",
        "              'trac.env_parent_dir', 'codeyard.env_paths')",
        "",
        "",
        "def application(environ, start_response):",
        "    if not any(key in environ for key in _SITE_KEYS):",
        "        environ.update(SITE)",
        "    return _site_application(environ, start_response)",
        "",
    ]
    return "\n".join(lines)


def plugin_static_dirs(env) -> list[tuple[str, str]]:
    """(prefix, directory) of the static files plugins serve under /chrome/<prefix>/."""
    hook = getattr(env.hook, "static_dirs", None)
    if hook is None:
        return []
    found = []
    for result in hook():
        items = result.items() if isinstance(result, dict) else (result or ())
        for prefix, directory in items:
            if prefix not in ("site", "shared") and os.path.isdir(directory):
                found.append((prefix, directory))
    return found


def export_static(target_htdocs: str, env_path: str | None = None,
                  extra: Iterable[tuple[str, str]] = (),
                  report: Callable[[str], None] | None = None) -> None:
    """Copy the built-in static files (and a project's ``htdocs/``) under ``target_htdocs``."""
    # Plugins' files first, so that the built-in ones win under "common" as when served.
    sources = [*extra, ("common", BUILTIN_HTDOCS)]
    if env_path:
        sources.append(("site", os.path.join(env_path, "htdocs")))
    for prefix, source in sources:
        dest = os.path.join(target_htdocs, prefix)
        if report:
            report(f"  {source} -> {dest}")
        if os.path.isdir(source):
            shutil.copytree(source, dest, dirs_exist_ok=True)
        else:
            os.makedirs(dest, exist_ok=True)


def write_script(cgi_bin: str, site_environ: dict[str, Any], python_path: Iterable[str] = ()) -> str:
    os.makedirs(cgi_bin, exist_ok=True)
    path = os.path.join(cgi_bin, SCRIPT_NAME)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(wsgi_script(site_environ, python_path))
    os.chmod(path, 0o755)
    return path


def write_bzr_script(cgi_bin: str, python_path: Iterable[str] = ()) -> str:
    os.makedirs(cgi_bin, exist_ok=True)
    path = os.path.join(cgi_bin, BZR_SCRIPT_NAME)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(bzr_wsgi_script(python_path))
    os.chmod(path, 0o755)
    return path


def _bzr_settings(target: str, bzr_root: str | None, bzr_prefix: str) -> tuple[str | None, str]:
    if not bzr_root:
        return None, bzr_prefix
    if target != "apache-wsgi":
        raise DeployError("--bzr-root is for apache-wsgi (others: run the smart server "
                          "codeyard.hosting.bzr_wsgi under a WSGI server of their own)")
    from codeyard.hosting.bzr_smart import ConfigurationError, check_root

    try:
        real = check_root(os.path.abspath(bzr_root))
    except ConfigurationError as exc:
        raise DeployError(f"--bzr-root: {exc}") from None
    if any(c.isspace() or c in "\"'$^" for c in bzr_prefix):
        raise DeployError(f"--bzr-prefix {bzr_prefix!r}: spaces, quotes and $ or ^ are not allowed")
    inner = bzr_prefix.strip("/")
    return real, f"/{inner}/" if inner else "/"


def install_staged(stage: str, outdir: str) -> None:
    """Move everything built in ``stage`` into ``outdir``, replacing what it replaces."""
    os.makedirs(outdir, exist_ok=True)
    for root, _dirs, files in os.walk(stage):
        rel = os.path.relpath(root, stage)
        dest_dir = os.path.normpath(os.path.join(outdir, rel))
        os.makedirs(dest_dir, exist_ok=True)
        for name in files:
            os.replace(os.path.join(root, name), os.path.join(dest_dir, name))


def staged_output(outdir: str, build: Callable[[str], None]) -> None:
    """Run ``build(stage_dir)`` then install its result; nothing is left half-written."""
    outdir = os.path.abspath(outdir)
    parent = os.path.dirname(outdir)
    if os.path.exists(outdir) and not os.path.isdir(outdir):
        raise DeployError(f"{outdir}: exists and is not a directory")
    if not os.path.isdir(parent):
        raise DeployError(f"{parent}: no such directory")
    if not os.access(parent, os.W_OK) and not os.path.isdir(outdir):
        raise DeployError(f"{parent}: not writable")
    stage = tempfile.mkdtemp(prefix=".codeyard-deploy-", dir=parent)
    try:
        build(stage)
        install_staged(stage, outdir)
    except OSError as exc:
        raise DeployError(f"{exc.filename or outdir}: {exc.strerror}") from None
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def default_python_path() -> list[str]:
    """Where codeyard and its dependencies are, for a front server's own Python."""
    paths = []
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(codeyard.__file__)))
    for candidate in [*site.getsitepackages(), package_parent]:
        if os.path.isdir(candidate) and candidate not in paths:
            paths.append(candidate)
    return paths


# ---------------------------------------------------------------------------
# Front-server configurations


def _url_root(value: str) -> str:
    value = "/" + value.strip("/")
    return "" if value == "/" else value


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _regex_path(text: str) -> str:
    out = []
    for char in text:
        out.append("\\" + char if char in r".^$*+?()[]{}|\\" else char)
    return "".join(out)


def apache_auth_block(root: str, single: bool, htpasswd: str, realm: str) -> list[str]:
    """Basic auth on the login page(s): one realm for every project."""
    if single:
        opening, closing = f"<Location {_quote(root + '/login')}>", "</Location>"
    else:
        opening = f'<LocationMatch "^{_regex_path(root)}/[^/]+/login$">'
        closing = "</LocationMatch>"
    return [
        "# Log in with the front server's Basic auth: /login sets codeyard's auth cookie.",
        opening,
        "    AuthType Basic",
        f"    AuthName {_quote(realm)}",
        f"    AuthUserFile {_quote(htpasswd)}",
        "    Require valid-user",
        closing,
        "",
    ]


def apache_static_block(root: str, outdir: str, single: bool, parent_dir: str | None) -> list[str]:
    common = os.path.join(outdir, "htdocs", "common")
    lines = ["# Static files straight from Apache (mod_alias runs before the WSGI alias)."]
    if single:
        site_dir = os.path.join(outdir, "htdocs", "site")
        lines += [f"Alias {root}/chrome/common {_quote(common)}",
                  f"Alias {root}/chrome/site {_quote(site_dir)}"]
    else:
        lines.append(f'AliasMatch "^{_regex_path(root)}/[^/]+/chrome/common/(.*)$" '
                     f'{_quote(common + "/$1")}')
        if parent_dir:
            lines.append(f'AliasMatch "^{_regex_path(root)}/([^/]+)/chrome/site/(.*)$" '
                         f'{_quote(parent_dir + "/$1/htdocs/$2")}')
            lines += [f"<DirectoryMatch {_quote('^' + _regex_path(parent_dir) + '/[^/]+/htdocs')}>",
                      "    Require all granted", "</DirectoryMatch>"]
    lines += [f"<Directory {_quote(os.path.join(outdir, 'htdocs'))}>",
              "    Options -Indexes", "    Require all granted", "</Directory>", ""]
    return lines


def apache_git_block(root: str, single: bool, htpasswd: str | None, realm: str | None) -> list[str]:
    """Git smart HTTP at ``<project>/git/[repo]``: chunked request bodies let through, and
    with ``--htpasswd`` Apache asking for the password of a push (codeyard then decides,
    from ``REMOTE_USER``, whether that user may push)."""
    project = "" if single else "/[^/]+"
    base = f"^{_regex_path(root)}{project}/git"
    lines = [
        "# Git smart HTTP (<project>/git/[repo]): pushes larger than the client's",
        "# http.postBuffer arrive chunked, which mod_wsgi refuses unless told otherwise.",
        f'<LocationMatch "{base}(/|$)">',
        "    WSGIChunkedRequest On",
        "</LocationMatch>",
        "",
    ]
    if not htpasswd:
        return lines
    auth = ["AuthType Basic", f"AuthName {_quote(realm or 'codeyard')}",
            f"AuthUserFile {_quote(htpasswd)}", "Require valid-user"]
    lines += [
        "# Apache checks the password of a Git push; pulls stay anonymous unless the",
        "# project refuses them (then set [account-manager] password_file so that codeyard",
        "# checks the credentials git sends after its 401).",
        f'<LocationMatch "{base}(/.*)?/git-receive-pack$">',
        *("    " + line for line in auth),
        "</LocationMatch>",
        f'<LocationMatch "{base}(/.*)?/info/refs$">',
        '    <If "%{QUERY_STRING} =~ /(^|&)service=git-receive-pack(&|$)/">',
        *("        " + line for line in auth),
        "    </If>",
        "</LocationMatch>",
        "",
    ]
    return lines


BZR_SCRIPT_NAME = "bzr.wsgi"


def bzr_wsgi_script(python_path: Iterable[str] = ()) -> str:
    """The small WSGI script of the standalone Bazaar smart server (configured per request
    by the front server's ``SetEnv bzr_wsgi.*``; one script serves any number of roots)."""
    paths = [p for p in python_path if p]
    lines = [f"#!{sys.executable}",
             '"""The Bazaar smart server (codeyard.hosting.bzr_wsgi), written by `codeyard deploy`."""',
             ""]
    if paths:
        lines += ["import sys", "", f"for _path in {paths!r}:",
                  "    if _path not in sys.path:", "        sys.path.append(_path)", ""]
    lines += ["from codeyard.hosting.bzr_wsgi import application  # noqa: E402,F401", ""]
    return "\n".join(lines)


def apache_bzr_routes(*, root: str, outdir: str, single: bool, bzr_root: str | None,
                      bzr_prefix: str, htpasswd: str | None, realm: str | None) -> list[str]:
    """The Bazaar routes, before the site's own alias (mod_wsgi takes the first alias that
    matches): the projects' hosting at ``<project>/bzr/`` goes to the site, every other
    ``…/.bzr/smart`` to the standalone smart server serving ``bzr_root``."""
    site_script = os.path.join(outdir, "cgi-bin", SCRIPT_NAME)
    project = "" if single else "/[^/]+"
    # The match is the mount point only (the lookahead is not part of it), so that
    # SCRIPT_NAME is the site's root and PATH_INFO the path inside it.
    lines = ["# Bazaar hosting inside the projects: <project>/bzr/[repo/]branch/.bzr/smart.",
             f'WSGIScriptAliasMatch "^{_regex_path(root)}(?={project}/bzr(/|$))" '
             f"{_quote(site_script)}"]
    if not bzr_root:
        lines += ["# A tree of Bazaar branches with the standalone smart server:",
                  "# WSGIScriptAliasMatch ^.*/\\.bzr/smart$ /path/to/cgi-bin/bzr.wsgi "
                  "(see `codeyard deploy --bzr-root`)", ""]
        return lines
    bzr_script = os.path.join(outdir, "cgi-bin", BZR_SCRIPT_NAME)
    not_projects = f"(?!{_regex_path(root)}{project}/bzr(/|$))"
    lines += [
        f"# The branches under {bzr_root} with the standalone smart server.",
        f"WSGIScriptAliasMatch ^.*/\\.bzr/smart$ {_quote(bzr_script)}",
        f'<LocationMatch "^{not_projects}.*/\\.bzr/smart$">',
        f"    SetEnv bzr_wsgi.root {_quote(bzr_root)}",
        f"    SetEnv bzr_wsgi.prefix {_quote(bzr_prefix)}",
    ]
    if htpasswd:
        lines += ["    # Who logs in may push (bzr_wsgi.readonly unset: only authenticated",
                  "    # requests write); remove these lines for anonymous read-only pulls.",
                  "    AuthType Basic", f"    AuthName {_quote(realm or 'codeyard')}",
                  f"    AuthUserFile {_quote(htpasswd)}", "    Require valid-user"]
    lines += ["</LocationMatch>", ""]
    return lines


def apache_wsgi_conf(*, root: str, outdir: str, single: bool, parent_dir: str | None,
                     htpasswd: str | None, realm: str | None, https: bool,
                     python_path: list[str], processes: int, threads: int,
                     group: str = "codeyard", bzr_root: str | None = None,
                     bzr_prefix: str = "/") -> str:
    script = os.path.join(outdir, "cgi-bin", SCRIPT_NAME)
    lines = [
        "# Apache with mod_wsgi serving codeyard (written by `codeyard deploy apache-wsgi`).",
        "# Include this file in the server configuration or in a <VirtualHost>.",
        "",
        f"WSGIDaemonProcess {group} processes={processes} threads={threads} "
        f"display-name=%{{GROUP}} python-path={':'.join(python_path)}",
        "",
        *apache_static_block(root, outdir, single, parent_dir),
        *apache_bzr_routes(root=root, outdir=outdir, single=single, bzr_root=bzr_root,
                           bzr_prefix=bzr_prefix, htpasswd=htpasswd, realm=realm),
        f"WSGIScriptAlias {root or '/'} {_quote(script)}",
        "",
        f"<Directory {_quote(os.path.dirname(script))}>",
        f"    WSGIProcessGroup {group}",
        "    WSGIApplicationGroup %{GLOBAL}",
        "    # HTTP Basic on every URL for API and version-control clients.",
        "    WSGIPassAuthorization On",
        "    Require all granted",
        "</Directory>",
        "",
    ]
    if https:
        lines += ["# The front server terminates TLS: the application builds https URLs.",
                  f"<Location {_quote(root or '/')}>", "    SetEnv HTTPS 1", "</Location>", ""]
    if htpasswd:
        lines += apache_auth_block(root, single, htpasswd, realm or "codeyard")
    lines += apache_git_block(root, single, htpasswd, realm)
    return "\n".join(lines)


def apache_modpython_conf(*, root: str, outdir: str, single: bool, parent_dir: str | None,
                          env_path: str | None, htpasswd: str | None, realm: str | None,
                          https: bool, python_path: list[str]) -> str:
    lines = [
        "# Apache with mod_python serving codeyard (written by `codeyard deploy apache-modpython`).",
        "# Include this file in the server configuration or in a <VirtualHost>.",
        "",
        *apache_static_block(root, outdir, single, parent_dir),
        f"<Location {_quote(root or '/')}>",
        "    SetHandler mod_python",
        "    PythonInterpreter codeyard",
        f"    PythonPath \"sys.path + {python_path!r}\"",
        "    PythonHandler codeyard.web.modpython_frontend",
    ]
    if parent_dir:
        lines.append(f"    PythonOption TracEnvParentDir {_quote(parent_dir)}")
    else:
        lines.append(f"    PythonOption TracEnv {_quote(env_path or '')}")
    lines.append(f"    PythonOption TracUriRoot {_quote(root or '/')}")
    if https:
        lines.append("    SetEnv HTTPS 1")
    lines += ["</Location>", ""]
    project = "" if single else "/[^/]+"
    lines += ["# The static files above are Apache's, not the handler's.",
              f'<LocationMatch "^{_regex_path(root)}{project}/chrome/(common|site)/">',
              "    SetHandler None", "</LocationMatch>", ""]
    if htpasswd:
        lines += apache_auth_block(root, single, htpasswd, realm or "codeyard")
    return "\n".join(lines)


def nginx_conf(*, root: str, outdir: str, single: bool, server_name: str, listen: str,
               upstream_port: int, serve_command: str) -> str:
    common = os.path.join(outdir, "htdocs", "common")
    prefix = root or ""
    lines = [
        "# nginx in front of `codeyard serve` (written by `codeyard deploy nginx`).",
        "# Run the application server with:",
        f"#   {serve_command}",
        "# Set [trac] use_xforwarded_headers = true in the projects (or their inherited",
        "# trac.ini) so that the X-Forwarded-* headers below are trusted.",
        "",
        "upstream codeyard {",
        f"    server 127.0.0.1:{upstream_port};",
        "    keepalive 16;",
        "}",
        "",
        "server {",
        f"    listen {listen};",
        f"    server_name {server_name};",
        "    client_max_body_size 200m;",
        "",
    ]
    if single:
        lines += [f"    location {prefix}/chrome/common/ {{", f"        alias {common}/;",
                  "        expires 30d;", "    }"]
        lines += [f"    location {prefix}/chrome/site/ {{",
                  f"        alias {os.path.join(outdir, 'htdocs', 'site')}/;", "        expires 1d;", "    }"]
    else:
        lines += [f"    location ~ ^{_regex_path(prefix)}/[^/]+/chrome/common/(.*)$ {{",
                  f"        alias {common}/$1;", "        expires 30d;", "    }"]
    lines += [
        f"    location {prefix or '/'} {{",
        "        proxy_pass http://codeyard;",
        "        proxy_http_version 1.1;",
        '        proxy_set_header Connection "";',
        "        proxy_set_header Host $http_host;",
        "        proxy_set_header X-Forwarded-Host $http_host;",
        "        proxy_set_header X-Forwarded-Proto $scheme;",
        "        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "        proxy_request_buffering off;",
        "        proxy_buffering off;",
        "        proxy_read_timeout 300s;",
        "    }",
        "}",
        "",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# The command


def _is_env(path: str) -> bool:
    from codeyard.env import is_environment

    return is_environment(path)


@click.command("deploy", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("target", type=click.Choice(["apache-wsgi", "apache-modpython", "nginx"]))
@click.argument("outdir")
@click.option("-e", "--env-parent-dir", metavar="DIR", help="Serve every environment in DIR.")
@click.option("--env", "env_path", metavar="ENV", help="Serve this one environment.")
@click.option("--url-root", default="/", show_default=True,
              help="URL path where the site is mounted (e.g. /projects).")
@click.option("--htpasswd", metavar="FILE", help="Protect /login with Basic auth against FILE.")
@click.option("--realm", help="Realm of that Basic auth (required with --htpasswd).")
@click.option("--https", is_flag=True, help="The front server speaks HTTPS: generate https URLs.")
@click.option("--python-path", metavar="PATHS",
              help="Colon-separated directories holding codeyard and its dependencies for the "
                   "front server's Python (default: those of this installation).")
@click.option("--processes", type=click.IntRange(1, 256), default=2, show_default=True,
              help="mod_wsgi daemon processes.")
@click.option("--threads", type=click.IntRange(1, 256), default=15, show_default=True,
              help="Threads per mod_wsgi daemon process.")
@click.option("--process-group", default="codeyard", show_default=True,
              help="Name of the mod_wsgi daemon process group (unique per Apache server).")
@click.option("--bzr-root", metavar="DIR",
              help="apache-wsgi: also serve the Bazaar branches under DIR with the standalone "
                   "smart server (every …/.bzr/smart URL outside the projects' /bzr/).")
@click.option("--bzr-prefix", default="/", show_default=True,
              help="URL path that maps to --bzr-root.")
@click.option("--server-name", default="_", show_default=True, help="nginx server_name.")
@click.option("--listen", default="80", show_default=True, help="nginx listen directive value.")
@click.option("--upstream-port", type=click.IntRange(1, 65535), default=8000, show_default=True,
              help="Port of `codeyard serve` behind nginx.")
def deploy_command(target, outdir, env_parent_dir, env_path, url_root, htpasswd, realm, https,
                   python_path, processes, threads, process_group, bzr_root, bzr_prefix,
                   server_name, listen, upstream_port) -> None:
    """Write a front-server configuration, a WSGI script and the static files to OUTDIR.

    TARGET is apache-wsgi (mod_wsgi daemon), apache-modpython, or nginx (a reverse proxy in
    front of `codeyard serve`).
    """
    if bool(env_parent_dir) == bool(env_path):
        raise DeployError("give exactly one of --env-parent-dir and --env")
    parent = os.path.abspath(env_parent_dir) if env_parent_dir else None
    env = os.path.abspath(env_path) if env_path else None
    if parent and not os.path.isdir(parent):
        raise DeployError(f"--env-parent-dir: {parent}: no such directory")
    if env and not _is_env(env):
        raise DeployError(f"--env: {env}: not a project environment")
    if realm and not htpasswd:
        raise DeployError("--realm needs --htpasswd")
    if htpasswd:
        htpasswd = os.path.abspath(htpasswd)
        if not realm:
            raise DeployError("--htpasswd needs --realm (one realm for every project)")
        if not os.path.isfile(htpasswd) or not os.access(htpasswd, os.R_OK):
            raise DeployError(f"--htpasswd: {htpasswd}: no such file or not readable")
    if "\n" in (realm or "") or '"' in (realm or ""):
        raise DeployError("--realm: quotes and line breaks are not allowed")
    root = _url_root(url_root)
    bzr_root, bzr_prefix = _bzr_settings(target, bzr_root, bzr_prefix)
    if not process_group.replace("-", "").replace("_", "").isalnum():
        raise DeployError(f"--process-group {process_group!r}: letters, digits, - and _ only")
    if any(c.isspace() or c in "\"'$^" for c in root):
        raise DeployError(f"--url-root {url_root!r}: spaces, quotes and $ or ^ are not allowed")
    paths = [p for p in python_path.split(":") if p] if python_path else default_python_path()
    paths = [os.path.abspath(p) for p in paths]
    outdir = os.path.abspath(outdir)
    single = env is not None
    site_environ = ({"codeyard.env_parent_dir": parent} if parent else {"codeyard.env_path": env})
    conf_name = {"apache-wsgi": "apache-wsgi.conf", "apache-modpython": "apache-modpython.conf",
                 "nginx": "nginx.conf"}[target]

    extra: list[tuple[str, str]] = []
    if env:
        from codeyard.env import EnvironmentError_, open_environment

        try:
            opened = open_environment(env, use_cache=False)
        except EnvironmentError_ as exc:
            raise DeployError(str(exc)) from None
        try:
            extra = plugin_static_dirs(opened)
        finally:
            opened.shutdown()

    def build(stage: str) -> None:
        write_script(os.path.join(stage, "cgi-bin"), site_environ, paths)
        if bzr_root:
            write_bzr_script(os.path.join(stage, "cgi-bin"), paths)
        export_static(os.path.join(stage, "htdocs"), env, extra)
        if target == "apache-wsgi":
            text = apache_wsgi_conf(root=root, outdir=outdir, single=single, parent_dir=parent,
                                    htpasswd=htpasswd, realm=realm, https=https,
                                    python_path=paths, processes=processes, threads=threads,
                                    group=process_group, bzr_root=bzr_root, bzr_prefix=bzr_prefix)
        elif target == "apache-modpython":
            text = apache_modpython_conf(root=root, outdir=outdir, single=single,
                                         parent_dir=parent, env_path=env, htpasswd=htpasswd,
                                         realm=realm, https=https, python_path=paths)
        else:
            where = f"-e {parent}" if parent else f"-s {env}"
            base = f" --base-path {root}" if root else ""
            auth = (f" --basic-auth '*,{htpasswd},{realm}'" if htpasswd else "")
            command = (f"codeyard serve --hostname 127.0.0.1 --port {upstream_port}{base}"
                       f"{auth} {where}")
            text = nginx_conf(root=root, outdir=outdir, single=single, server_name=server_name,
                              listen=listen, upstream_port=upstream_port, serve_command=command)
        with open(os.path.join(stage, conf_name), "w", encoding="utf-8") as fh:
            fh.write(text)

    staged_output(outdir, build)
    click.echo(f"Wrote {os.path.join(outdir, conf_name)}")
    click.echo(f"Wrote {os.path.join(outdir, 'cgi-bin', SCRIPT_NAME)}")
    click.echo(f"Exported static files to {os.path.join(outdir, 'htdocs')}")
    if bzr_root:
        click.echo(f"Wrote {os.path.join(outdir, 'cgi-bin', BZR_SCRIPT_NAME)}")
