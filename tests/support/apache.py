"""A real Apache httpd for tests: its own ServerRoot, port and logs in a temp directory.

Started as root, Apache runs its children (and mod_wsgi's daemons) as an unprivileged
user, so the files it serves are handed to that user (see ``share_with_apache``).
"""

from __future__ import annotations

import os
import pwd
import subprocess

from tests.support.servers import free_port, require_binary, stop_process, wait_for_port

MODULES_DIR = "/usr/lib/apache2/modules"
BASE_MODULES = ["mpm_event", "authz_core", "authz_host", "authn_core", "authn_file", "auth_basic",
                "authz_user", "alias", "env", "mime", "dir", "headers"]
RUN_USER = "www-data"


def require_module(name: str) -> str:
    path = os.path.join(MODULES_DIR, f"mod_{name}.so")
    if not os.path.isfile(path):
        raise RuntimeError(f"Apache module {path} is missing: run `make system-deps`")
    return path


def run_user() -> str | None:
    """The user Apache's children run as, when the tests run as root."""
    if os.geteuid() != 0:
        return None
    pwd.getpwnam(RUN_USER)
    return RUN_USER


def share_with_apache(*paths: str) -> None:
    """Let Apache's children read and write these trees (and reach them)."""
    user = run_user()
    for path in paths:
        if user is None:
            continue
        entry = pwd.getpwnam(user)
        for root, dirs, files in os.walk(path):
            os.chown(root, entry.pw_uid, entry.pw_gid)
            for name in dirs + files:
                full = os.path.join(root, name)
                if not os.path.islink(full):
                    os.chown(full, entry.pw_uid, entry.pw_gid)


class ApacheServer:
    def __init__(self, root: str, includes: list[str], modules: list[str]) -> None:
        self.binary = require_binary("apache2", "/usr/sbin/apache2", "httpd")
        self.root = root
        self.includes = includes
        self.modules = BASE_MODULES + modules
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.conf = os.path.join(root, "httpd.conf")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def write_conf(self) -> None:
        lines = [f'ServerRoot "{self.root}"', f"Listen 127.0.0.1:{self.port}",
                 "ServerName 127.0.0.1", f'PidFile "{self.root}/httpd.pid"',
                 f'DefaultRuntimeDir "{self.root}"', f'ErrorLog "{self.root}/error.log"',
                 "LogLevel info", "TypesConfig /etc/mime.types"]
        for name in self.modules:
            lines.append(f'LoadModule {name}_module "{require_module(name)}"')
        user = run_user()
        if user:
            lines += [f"User {user}", f"Group {user}"]
        if "wsgi" in self.modules:
            lines.append(f'WSGISocketPrefix "{self.root}/wsgi"')
        lines += ['<Directory "/">', "    AllowOverride None", "    Require all denied",
                  "</Directory>"]
        lines += [f'Include "{path}"' for path in self.includes]
        with open(self.conf, "w", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")

    def error_log(self) -> str:
        try:
            with open(os.path.join(self.root, "error.log"), encoding="utf-8", errors="replace") as fh:
                return fh.read()
        except OSError:
            return ""

    def start(self) -> ApacheServer:
        self.write_conf()
        check = subprocess.run([self.binary, "-f", self.conf, "-t"], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"apache2 -t refused the configuration:\n{check.stderr}")
        log = open(os.path.join(self.root, "stdout.log"), "wb")
        try:
            self.proc = subprocess.Popen([self.binary, "-f", self.conf, "-DFOREGROUND"],
                                         stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        finally:
            log.close()
        try:
            wait_for_port(self.port, 30, self.proc)
        except RuntimeError as exc:
            self.stop()
            raise RuntimeError(f"{exc}\n{self.error_log()}") from None
        return self

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None

    def __enter__(self) -> ApacheServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
