"""Built-in pages as a plugin: static files under /chrome/, and /about."""

from __future__ import annotations

import platform
import re

from werkzeug.routing import Rule

from codeyard import __version__
from codeyard.config import options_in
from codeyard.core import hookimpl, known_plugins
from codeyard.web import chrome, main, request, session
from codeyard.web.api import NavItem
from codeyard.web.chrome import serve_static


def chrome_file(req, prefix: str, path: str):
    """/chrome/<prefix>/<path> — static files: common (built-in), site (project), shared, plugins."""
    return serve_static(req, prefix, path)


def about(req):
    """/about — the version of codeyard and, with CONFIG_VIEW, the configuration."""
    data = {"codeyard_version": __version__, "python_version": platform.python_version(),
            "config": None, "plugins": None}
    if req.perm.has("CONFIG_VIEW"):
        config = req.env.config
        data["config"] = [(section, [(name, _mask(value)) for name, value in config.options(section)])
                          for section in config.section_names()]
        data["plugins"] = [(name, builtin, req.env.is_enabled(name)) for name, builtin in known_plugins()]
    return "about.html", data


def _mask(value: str) -> str:
    """Hide the password of a database URL."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", value)


@hookimpl
def config_options():
    # The web layer's own settings: page chrome, dispatch, requests and sessions.
    return options_in(chrome, main, request, session)


@hookimpl
def start_pages():
    return {"AboutModule": "about"}


@hookimpl
def web_routes():
    return [
        (Rule("/chrome/<prefix>/<path:path>", endpoint="chrome", methods=["GET", "HEAD"]), chrome_file),
        (Rule("/about", endpoint="about"), about),
    ]


@hookimpl
def navigation_items(req):
    return [NavItem("metanav", "about", "About codeyard", req.url_for("about"), order=80)]
