"""Pages at the root of a site serving many projects (parent-dir mode) that combine what
the projects hold: ``/?view=timeline``, ``/?view=search``…

A feature offers one through the ``site_views`` hook. The site asks the plugins that are
on by default (its own plugin manager, read once per process); a view then visits each
project the site lists, as the visiting user — the account the server authenticated
(``REMOTE_USER``) or HTTP Basic credentials the project accepts, else ``anonymous`` — and
skips the projects that turned the view's plugin off, that do not open, or where that
user may see nothing. Each project still stands alone: the view only reads through the
project's own permissions.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from codeyard.web.request import Request


@dataclass
class SiteView:
    """A page at the site's root. ``render(site_req)`` returns a Response or
    (template, data); the template is looked up in ``template_dir`` (the plugin's own) and then among the site's
    templates. ``plugin`` is the dotted name of the plugin offering it: projects that
    disable that plugin are left out."""

    name: str
    label: str
    render: Callable[[SiteRequest], Any]
    plugin: str
    template_dir: str | None = None


@dataclass
class ProjectVisit:
    """One project as a site view sees it: its listing entry, and a request to it made
    for the visiting user (``req.env``, ``req.perm``, ``req.url_for``…)."""

    info: dict[str, Any]
    req: Request


class SiteRequest(Request):
    """A request to the site's root: the projects listed there, visited one by one."""

    def __init__(self, environ: dict, site: Any, projects: list[dict[str, Any]]):
        super().__init__(environ)
        self.site = site
        self.projects = projects

    def visit(self, plugin: str) -> Iterator[ProjectVisit]:
        """Each listed project that has ``plugin`` on and opens, with a request to it as
        this request's user."""
        from codeyard.env import open_environment
        from codeyard.web.main import authenticate
        from codeyard.web.wsgi import find_project

        for info in self.projects:
            path = find_project(self.site, info["dirname"]) if info.get("href") else None
            if not path:
                continue
            try:
                env = open_environment(path)
            except Exception:
                continue
            if not env.is_enabled(plugin):
                continue
            environ = dict(self.environ)
            environ["SCRIPT_NAME"] = (self.environ.get("SCRIPT_NAME", "").rstrip("/") + "/"
                                      + info["dirname"])
            environ["PATH_INFO"] = "/"
            req = Request(environ, env)
            try:
                authenticate(req)
            except Exception:  # refused credentials: this project is visited anonymously
                from codeyard.perm import PermissionCache

                req.authname, req.perm = "anonymous", PermissionCache(env, "anonymous")
            yield ProjectVisit(info, req)


_views: dict[str, SiteView] | None = None
_views_lock = threading.Lock()


def pick_projects(values: list[str]) -> tuple[set[str], set[str]]:
    """``project=a|b`` and ``project=!c`` values: (wanted, refused) directory names."""
    wanted: set[str] = set()
    refused: set[str] = set()
    for value in values:
        negate = value.startswith("!")
        names = {n.strip() for n in value.lstrip("!").split("|") if n.strip()}
        (refused if negate else wanted).update(names)
    return wanted, refused


def site_views() -> dict[str, SiteView]:
    """name -> SiteView, from the plugins on by default."""
    global _views
    if _views is None:
        with _views_lock:
            if _views is None:
                from codeyard.core import ComponentRules, make_plugin_manager

                pm = make_plugin_manager(ComponentRules([]))
                found: dict[str, SiteView] = {}
                for offered in pm.hook.site_views():
                    for view in offered or ():
                        found.setdefault(view.name, view)
                _views = found
    return _views


def render_view(view: SiteView, template: str, data: dict[str, Any]) -> str:
    from codeyard.web.chrome import site_template_env

    return site_template_env(view.template_dir).get_template(template).render(data)


def template_dir_of(module_file: str) -> str:
    """A plugin package's ``templates`` directory, from one of its modules' ``__file__``."""
    return os.path.join(os.path.dirname(os.path.abspath(module_file)), "templates")
