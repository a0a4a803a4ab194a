"""What the browser, log and changeset pages share: finding a repository from a URL path,
the resources permissions are checked on, revision metadata read once per request, and
turning repository errors into readable 4xx pages."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from codeyard.perm import Resource
from codeyard.util.lru import BoundedCache
from codeyard.vcs import api
from codeyard.web.api import HTTPBadRequest, HTTPNotFound

# -- finding repositories


class Repositories:
    """The repository manager as the pages and links use it: for a request, a
    ``sync_per_request`` repository is brought up to date first (once per request)."""

    def __init__(self, env, req=None) -> None:
        from codeyard.vcs.manager import RepositoryManager

        self.env = env
        self.req = req
        self.manager = RepositoryManager(env)

    def get_all_repositories(self) -> dict[str, Any]:
        """{name: RepositoryInfo} of every repository and alias, hidden ones included."""
        return self.manager.get_all_repositories()

    def visible_names(self) -> list[str]:
        """The repositories an index lists: not hidden, sorted by name."""
        return sorted(name for name, info in self.get_all_repositories().items()
                      if not info.hidden)

    def get_repository(self, name: str) -> api.Repository | None:
        """The opened repository, or None when it is not declared. Raises RepositoryError
        when it is declared but cannot be opened."""
        if self.req is not None:
            return self.manager.repository_for_request(self.req, name)
        return self.manager.get_repository(name)

    def get_repository_by_path(self, path: str) -> tuple[str, api.Repository | None, str]:
        """(repository name, repository, path inside it): first segments naming a
        repository select it, otherwise the default one ("")."""
        name, _repos, rest = self.manager.get_repository_by_path(path)
        if name not in self.get_all_repositories() and name:
            return name, None, rest
        return name, self.get_repository(name), rest


def repositories(req) -> Repositories:
    """The request's repositories (opened at most once per request)."""
    found = getattr(req, "_vcs_repositories", None)
    if found is None:
        found = Repositories(req.env, req)
        req._vcs_repositories = found
    return found


# -- resources


def repository_resource(name: str) -> Resource:
    return Resource("repository", name)


def source_resource(name: str, path: str, rev: str | None = None) -> Resource:
    return Resource("source", path or "/", rev, repository_resource(name))


def changeset_resource(name: str, rev: str) -> Resource:
    return Resource("changeset", rev, None, repository_resource(name))


def require(req, action: str, resource: Resource) -> None:
    req.perm.require(action, resource)


# -- errors


UNAVAILABLE = "Repository not available"


@contextlib.contextmanager
def readable_errors(what: str = "") -> Iterator[None]:
    """Repository errors as readable 4xx pages (never a traceback)."""
    try:
        yield
    except api.InvalidPath as exc:
        raise HTTPBadRequest(str(exc), title="Invalid path") from None
    except api.NoSuchChangeset as exc:
        raise HTTPNotFound(str(exc), title="No such changeset") from None
    except api.NoSuchNode as exc:
        raise HTTPNotFound(str(exc), title="No such node") from None
    except api.RepositoryError as exc:
        raise HTTPNotFound(str(exc) or f"The repository {what} cannot be read.",
                           title=UNAVAILABLE) from None


def find(req, path: str) -> tuple[str, api.Repository, str]:
    """The repository a URL path names and the path inside it; 404 when there is none."""
    with readable_errors():
        if "\x00" in (path or ""):
            raise api.InvalidPath("Invalid path: NUL character")
        name, repos, rest = repositories(req).get_repository_by_path(path or "")
    if repos is None:
        raise HTTPNotFound("No repository is defined at this path."
                           if path else "No default repository defined.",
                           title="No such repository")
    return name, repos, rest


def normalize_rev(repos: api.Repository, rev: str | None) -> str | None:
    """The backend's revision for what a URL gives (None: the youngest); 404 if unknown."""
    if rev is None or str(rev).strip() == "":
        return repos.youngest_rev
    text = str(rev).strip()
    if "\x00" in text or len(text) > 255:
        raise HTTPBadRequest("Invalid revision.", title="Invalid revision")
    with readable_errors():
        return repos.normalize_rev(text)


# -- changeset metadata, read once per request (from the cache when it has them)


class ChangesetInfo:
    """Message, author and date of revisions: from the ``revision`` table when the
    repository is cached, else from the backend; each revision read once."""

    def __init__(self, env, repos: api.Repository) -> None:
        self.env = env
        self.repos = repos
        self._known: dict[str, api.Changeset | None] = {}

    def prefetch(self, revs) -> None:
        wanted = [r for r in dict.fromkeys(revs) if r and r not in self._known]
        if not wanted or not self.repos.id:
            return
        try:
            with self.env.db_query as db:
                for i in range(0, len(wanted), 200):
                    chunk = [self.repos.db_rev(rev) for rev in wanted[i:i + 200]]
                    marks = ",".join(["%s"] * len(chunk))
                    for srev, time, author, message in db(
                            "SELECT rev, time, author, message FROM revision "
                            f"WHERE repos=%s AND rev IN ({marks})", (self.repos.id, *chunk)):
                        rev = self.repos.rev_db(srev)
                        self._known[rev] = api.Changeset(
                            rev, message or "", author or "",
                            datetime.fromtimestamp((time or 0) / 1_000_000, UTC))
        except Exception:  # a cache table not there: ask the backend
            pass

    def cached(self, rev: str) -> api.Changeset | None:
        """The revision from the changeset cache only (None when it is not there)."""
        self.prefetch([rev])
        return self._known.get(rev)

    def get(self, rev: str) -> api.Changeset | None:
        if rev not in self._known:
            self.prefetch([rev])
        if rev not in self._known:
            try:
                self._known[rev] = self.repos.get_changeset(rev)
            except api.RepositoryError:
                self._known[rev] = None
        return self._known[rev]


def changeset_info(req, repos: api.Repository) -> ChangesetInfo:
    infos = getattr(req, "_vcs_changeset_info", None)
    if infos is None:
        infos = req._vcs_changeset_info = {}
    key = repos.name
    if key not in infos:
        infos[key] = ChangesetInfo(req.env, repos)
    return infos[key]


# -- small formatting helpers


def pretty_age(moment: datetime | None, now: datetime | None = None) -> str:
    """How long ago, as Trac words it: ``3 days``, ``2 months``…"""
    if moment is None:
        return ""
    from codeyard.util.timefmt import pretty_timedelta

    return pretty_timedelta(moment, now or datetime.now(UTC))


def pretty_size(size: int | None) -> str:
    if size is None:
        return ""
    if size < 1024:
        return f"{size} bytes"
    for unit in ("KiB", "MiB", "GiB"):
        size_f = size / 1024
        if size_f < 1024 or unit == "GiB":
            return f"{size_f:.1f} {unit}"
        size = int(size_f)
    return f"{size} bytes"


def shorten_line(text: str, limit: int = 75) -> str:
    from codeyard.wiki.inline import shorten_line as wiki_shorten

    return wiki_shorten(text or "", limit)


def path_links(req, endpoint: str, reponame: str, path: str, rev: str | None = None
               ) -> list[dict[str, str]]:
    """The breadcrumbs of a path: the root (named after the repository) and each parent."""
    crumbs = [{"name": reponame or "source:", "href": url(req, endpoint, reponame, "", rev)}]
    parts = path.split("/") if path else []
    for i, part in enumerate(parts):
        crumbs.append({"name": part,
                       "href": url(req, endpoint, reponame, "/".join(parts[:i + 1]), rev)})
    return crumbs


def url(req, endpoint: str, reponame: str, path: str, rev: str | None = None, **query) -> str:
    full = "/".join(p for p in (reponame, path) if p)
    if full:
        return req.url_for(endpoint, path=full, rev=rev, **query)
    return req.url_for(endpoint, rev=rev, **query)


def changeset_url(req, reponame: str, rev: str, path: str = "", repos=None, **query) -> str:
    """The changeset page of ``rev`` (written as the backend shows it when ``repos`` is
    given: a Bazaar ``branch:revno`` rather than a revision id)."""
    if repos is not None:
        rev = repos.display_rev(rev)
    rest = "/".join(p for p in (reponame, path) if p)
    if rest:
        return req.url_for("changeset", rev=rev, rest=rest, **query)
    return req.url_for("changeset", rev=rev, **query)


def add_stylesheets(req) -> None:
    """The diff and code styles (wiki.css) and the browser's own."""
    for sheet in ("css/wiki.css", "css/browser.css"):
        href = req.url_for("chrome", prefix="common", path=sheet)
        if href not in req.chrome["stylesheets"]:
            req.chrome["stylesheets"].append(href)


# -- parts of pages kept per process

KEPT_VIEWS = 512  # rendered parts of log and browser pages kept per process


@dataclass(frozen=True)
class Kept:
    """A rendered part of a page as ``kept_view`` keeps it: the value; the probes its wiki
    text's HTML depends on besides the cache keys and their stamp, taken before that text
    was rendered (``texts_stamp``; None: something untracked, so it is not kept); and when
    the first age it shows reads differently (None: it shows none)."""

    value: Any
    probes: frozenset[str] | None
    stamp: tuple | None
    expires: datetime | None


def texts_stamp(env, texts: list[str]) -> tuple[frozenset[str] | None, tuple | None]:
    """(the probes the HTML of ``texts`` depends on, their stamp now), or (None, None)."""
    from codeyard.wiki.render_cache import stamp, texts_probes

    probes = texts_probes(env, texts)
    return (None, None) if probes is None else (probes, stamp(env, probes))


def ages_expire(dates: Iterable[datetime | None], now: datetime) -> datetime | None:
    """The first moment any of the ages of ``dates`` (as ``pretty_age`` words them at
    ``now``) reads differently."""
    from codeyard.util.timefmt import age_changes_at

    return min((age_changes_at(date, now) for date in dates if date is not None), default=None)


def kept_view(req, repos: api.Repository, kind: str, parts: tuple, build: Callable[[], Kept],
              uniform: tuple[str, ...] = ()) -> Any:
    """``build().value``, kept per process under ``(kind, parts)`` and who reads where, while
    nothing it shows can have changed: the repository's ``view_state`` (tips, branches),
    its cached revisions (a resync or an edited message bumps their generation), what the
    wiki text in it depends on (``render_cache.stamp`` of its probes) and the ages in it.
    ``parts`` holds everything else the view follows: the normalized arguments, and the
    reader's answers for the ``uniform`` actions, which must be the same for every
    resource (a view filtered resource by resource is never kept)."""
    from codeyard.vcs import cache
    from codeyard.web.chrome import template_env
    from codeyard.wiki.render_cache import stamp

    if not repos.id or not all(req.perm.uniform(action) for action in uniform):
        return build().value
    state = repos.view_state()
    if state is None:
        return build().value
    env = req.env
    key = (kind, id(template_env(env)), req.href.base, repos.id, state, str(req.tz),
           getattr(req.perm, "username", None), parts)
    views = env.memo("vcs.kept_views", lambda: BoundedCache(KEPT_VIEWS))
    metadata = cache.get_metadata(env, repos.id)
    hit = views.get(key)
    if hit is not None:
        kept_metadata, kept = hit
        if (kept_metadata is metadata
                and (kept.expires is None or datetime.now(UTC) < kept.expires)
                and stamp(env, kept.probes) == kept.stamp):
            return kept.value
    built = build()
    # Kept only when nothing changed while it was built: the stamp was taken before its
    # wiki text was rendered, the revisions' generation before it was read.
    if (built.probes is not None and built.stamp is not None
            and cache.get_metadata(env, repos.id) is metadata
            and stamp(env, built.probes) == built.stamp):
        views.put(key, (metadata, built))
    return built.value
