"""Wiki pages: versions in Trac's ``wiki`` table (name, version, time, author, text, comment,
readonly), with the collision check, rename (with an optional redirect page), deletion of a
version or a whole page, and page templates (``PageTemplates/…``).

Every change bumps the generation of the page-name list the formatter uses (Trac's key
``trac.wiki.api.WikiSystem.pages``, so a Trac site on the same environment sees it too; Trac
itself bumps it when a page is created, renamed or deleted) inside the same transaction, and
tells the ``wiki_page_changed`` listeners. A change to ``InterMapTxt`` bumps Trac's
InterWiki map key as well.
"""

from __future__ import annotations

import re
import time as time_module
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from codeyard import cachekeys
from codeyard.config import IntOption

__all__ = [
    "WikiPage", "WikiError", "InvalidPageName", "PageNotFound", "PageExists",
    "PageNotModified", "PageTooBig", "VersionConflict", "validate_page_name",
    "check_new_page_name", "MAX_NAME_LENGTH",
    "page_names", "template_names", "PAGES_CACHE_KEY", "TEMPLATE_PREFIX", "DEFAULT_TEMPLATE",
    "MAX_SIZE",
]

PAGES_CACHE_KEY = cachekeys.WIKI_PAGES
INTERWIKI_PAGE = "InterMapTxt"
TEMPLATE_PREFIX = "PageTemplates/"
DEFAULT_TEMPLATE = "DefaultPage"
START_PAGE = "WikiStart"

MAX_SIZE = IntOption("wiki", "max_size", 262144, "Longest wiki page text allowed, in characters.")


class WikiError(Exception):
    """A page operation was refused; the message says why in one line."""


class InvalidPageName(WikiError):
    """A name that cannot name a page."""


class PageNotFound(WikiError):
    """The page (or the version) does not exist."""


class PageExists(WikiError):
    """The target name of a rename is taken."""


class PageNotModified(WikiError):
    """Saving would change nothing."""


class PageTooBig(WikiError):
    """The text is longer than ``[wiki] max_size``."""


class VersionConflict(WikiError):
    """Someone saved the page since the editor's version: ``current_version`` is the latest."""

    def __init__(self, name: str, base_version: int, current_version: int) -> None:
        super().__init__(f"Page '{name}' was changed (version {current_version}) since "
                         f"version {base_version} was loaded")
        self.name = name
        self.base_version = base_version
        self.current_version = current_version


def validate_page_name(name: str | None) -> bool:
    """As Trac: not empty, no leading or trailing slash, no empty, ``.`` or ``..`` segment."""
    if not name:
        return False
    return all(part not in ("", ".", "..") for part in name.split("/"))


def _changed_keys(*names: str) -> tuple[str, ...]:
    """The cache keys a change to the pages ``names`` invalidates."""
    if INTERWIKI_PAGE in names:
        return (PAGES_CACHE_KEY, cachekeys.INTERWIKI_MAP)
    return (PAGES_CACHE_KEY,)


# Longer names make URLs that servers and proxies refuse (a request line of a few KB) once
# an attachment name and a query are added; 255 is also what file systems allow a name.
MAX_NAME_LENGTH = 255
# C0 and C1 controls (NUL breaks every URL), the backslash (never a path separator in a
# URL, refused by the site), and the bidirectional embedding, override and isolate
# characters, which make a name read differently from what it is.
_UNREACHABLE_CHARS_RE = re.compile("[\x00-\x1f\x7f-\x9f\\\\\u202a-\u202e\u2066-\u2069]")


def _shown(name: str, limit: int = 60) -> str:
    """A name as a message shows it: invisible characters escaped, long ones cut."""
    text = "".join(f"\\u{ord(c):04x}" if _UNREACHABLE_CHARS_RE.match(c) and c != "\\" else c
                   for c in name[:limit])
    return text + ("\u2026" if len(name) > limit else "")


def check_new_page_name(name: str | None) -> str:
    """A name a page may be created under or renamed to: one every action can reach.

    Existing pages keep working whatever their name (they may come from Trac)."""
    name = _check_name(name)
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidPageName(f"Invalid Wiki page name '{_shown(name)}': a page name may have "
                              f"at most {MAX_NAME_LENGTH} characters (this one has {len(name)}).")
    bad = _UNREACHABLE_CHARS_RE.search(name)
    if bad:
        char = bad.group(0)
        if char == "\\":
            why = "a backslash (\\)"
        elif "\u202a" <= char <= "\u2069":
            why = f"the bidirectional control character U+{ord(char):04X}"
        else:
            why = f"the control character U+{ord(char):04X}"
        raise InvalidPageName(f"Invalid Wiki page name '{_shown(name)}': a page name may not "
                              f"contain {why}.")
    return name


def _check_name(name: str | None) -> str:
    if not validate_page_name(name):
        raise InvalidPageName(f"Invalid Wiki page name '{_shown(name or '')}'")
    assert name is not None
    return name


def _now_us() -> int:
    return time_module.time_ns() // 1000


@dataclass
class HistoryEntry:
    version: int
    time: int  # microseconds since the epoch
    author: str
    comment: str


class WikiPage:
    """A page at its latest version, or at a given one. ``exists`` is false for a new page."""

    realm = "wiki"

    def __init__(self, env, name: str, version: int | str | None = None) -> None:
        self.env = env
        self.name = name
        if version is not None:
            try:
                version = int(version)
            except (TypeError, ValueError):
                version = None
        self._fetch(version)

    def _fetch(self, version: int | None) -> None:
        with self.env.db_query as db:
            if version is not None:
                rows = db("SELECT version, time, author, text, comment, readonly FROM wiki "
                          "WHERE name=%s AND version=%s", (self.name, version))
            else:
                rows = db("SELECT version, time, author, text, comment, readonly FROM wiki "
                          "WHERE name=%s ORDER BY version DESC LIMIT 1", (self.name,))
        if rows:
            ver, time, author, text, comment, readonly = rows[0]
            self.version = int(ver)
            self.time: int | None = int(time or 0)
            self.author = author or ""
            self.text = text or ""
            self.comment = comment or ""
            self.readonly = int(readonly or 0)
        else:
            self.version = 0
            self.time = None
            self.author = self.text = self.comment = ""
            self.readonly = 0
        self.requested_version = version
        self.old_text = self.text
        self.old_readonly = self.readonly

    def __repr__(self) -> str:
        return f"<WikiPage {self.name}@{self.version}>"

    @property
    def exists(self) -> bool:
        return self.version > 0

    @property
    def date(self) -> datetime | None:
        return datetime.fromtimestamp(self.time / 1_000_000, UTC) if self.time else None

    def latest_version(self) -> int:
        """The newest version in the database now (0 when the page does not exist)."""
        with self.env.db_query as db:
            rows = db("SELECT MAX(version) FROM wiki WHERE name=%s", (self.name,))
        return int(rows[0][0] or 0) if rows else 0

    # -- writing
    def save(self, author: str | None, comment: str | None = "", time: int | None = None,
             base_version: int | None = None, replace: bool = False) -> None:
        """Write the page's ``text`` (and ``readonly``) as a new version.

        ``base_version`` is the version the editor started from (by default the version
        this object was loaded at); when the page has a newer one, VersionConflict is raised
        and nothing is written. With ``replace``, the latest version's text is overwritten
        in place (``wiki replace``) instead of adding a version.
        """
        name = _check_name(self.name) if self.exists else check_new_page_name(self.name)
        new_text = self.text != self.old_text
        if not new_text and self.readonly == self.old_readonly:
            raise PageNotModified("Page not modified")
        limit = MAX_SIZE(self.env.config)
        if new_text and 0 <= limit < len(self.text):
            raise PageTooBig(f"The wiki page is too long (must be less than {limit} characters)")
        base = self.version if base_version is None else int(base_version)
        t = _now_us() if time is None else int(time)
        from sqlalchemy.exc import IntegrityError

        try:
            with self.env.db_transaction as db:
                db.lock("wiki:" + name)
                rows = db("SELECT MAX(version) FROM wiki WHERE name=%s", (name,))
                current = int(rows[0][0] or 0)
                if current != base:
                    raise VersionConflict(name, base, current)
                if new_text and replace and current:
                    db("UPDATE wiki SET text=%s WHERE name=%s AND version=%s",
                       (self.text, name, current))
                    event = "replaced"
                    version = current
                elif new_text:
                    version = current + 1
                    db("INSERT INTO wiki (name, version, time, author, text, comment, readonly) "
                       "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                       (name, version, t, author, self.text, comment, self.readonly))
                    event = "created" if version == 1 else "changed"
                else:
                    db("UPDATE wiki SET readonly=%s WHERE name=%s", (self.readonly, name))
                    event = "readonly_changed"
                    version = current
                self.env.invalidate(*_changed_keys(name))
        except IntegrityError:
            # Another writer inserted the same version first.
            try:
                current = self.latest_version()
            except Exception:  # the enclosing transaction is aborted (PostgreSQL)
                current = base + 1
            raise VersionConflict(name, base, current) from None
        if event in ("created", "changed"):
            self.author = author or ""
            self.comment = comment or ""
            self.time = t
        self.version = version
        self.requested_version = None
        self.old_text = self.text
        self.old_readonly = self.readonly
        self.env.log.info("Page %s saved (%s, version %d)", name, event, version)
        self._notify(event)

    def edit_comment(self, new_comment: str) -> None:
        """Change the comment of this version in place."""
        if not self.exists:
            raise PageNotFound("Cannot edit comment of non-existent page")
        with self.env.db_transaction as db:
            db("UPDATE wiki SET comment=%s WHERE name=%s AND version=%s",
               (new_comment, self.name, self.version))
        self.comment = new_comment
        self._notify("comment_changed")

    def rename(self, new_name: str, redirect: bool = False, author: str | None = None) -> None:
        """Move every version (and the attachments) to ``new_name``.

        With ``redirect``, a new page under the old name points to the new one (as Trac's
        "leave a redirect" does).
        """
        from codeyard.attachment import model as attachment_model

        if not self.exists:
            raise PageNotFound("Cannot rename non-existent page")
        if not new_name:
            raise InvalidPageName("A new name is mandatory for a rename.")
        if new_name == self.name:
            raise InvalidPageName("Page name is unchanged.")
        check_new_page_name(new_name)
        old_name, old_version = self.name, self.version
        with self.env.db_transaction as db:
            # Versions of two pages never clash as keys, so no constraint refuses a rename
            # onto a page created meanwhile: renames and creations of a name take turns.
            for locked in sorted({old_name, new_name}):
                db.lock("wiki:" + locked)
            if db("SELECT 1 FROM wiki WHERE name=%s LIMIT 1", (new_name,)):
                raise PageExists(f"The page '{new_name}' already exists.")
            db("UPDATE wiki SET name=%s WHERE name=%s", (new_name, old_name))
            self.env.invalidate(*_changed_keys(old_name, new_name))
            self.name = new_name
            try:
                if redirect:
                    page = WikiPage(self.env, old_name)
                    page.text = f'See [wiki:"{new_name}"].'
                    page.save(author, f'[wiki:"{new_name}@{old_version}" {old_name}] \u2192 '
                                      f'[wiki:"{new_name}"].')
                # Files move last, so that nothing after them can fail but the commit.
                attachment_model.reparent_all(self.env, self.realm, old_name, self.realm, new_name)
            except attachment_model.AttachmentError as exc:
                self.name = old_name
                raise WikiError(f"Cannot move the attachments of '{old_name}': {exc}") from None
            except BaseException:
                self.name = old_name
                raise
        self.env.log.info("Renamed page %s to %s", old_name, new_name)
        self._notify("renamed", old_name=old_name)

    def delete(self, version: int | None = None) -> None:
        """Delete one version, or (``version`` None) the page, its history and attachments.

        Deleting the only remaining version deletes the page."""
        from codeyard.attachment import model as attachment_model

        if not self.exists:
            raise PageNotFound("Cannot delete non-existent page")
        with self.env.db_transaction as db:
            if version is None:
                db("DELETE FROM wiki WHERE name=%s", (self.name,))
            else:
                version = int(version)
                count = db.execute_rowcount("DELETE FROM wiki WHERE name=%s AND version=%s",
                                            (self.name, version))
                if not count:
                    raise PageNotFound(f"Version {version} of page '{self.name}' does not exist")
            gone = not db("SELECT 1 FROM wiki WHERE name=%s LIMIT 1", (self.name,))
            if gone or version is None or version == self.version:
                self._fetch(None)
            if gone:
                attachment_model.delete_all(self.env, self.realm, self.name)
            self.env.invalidate(*_changed_keys(self.name))
        if gone:
            self.env.log.info("Deleted page %s", self.name)
            self._notify("deleted")
        else:
            self.env.log.info("Deleted version %s of page %s", version, self.name)
            self._notify("version_deleted", version=version)

    # -- reading
    def get_history(self) -> Iterator[HistoryEntry]:
        """Versions up to this one, newest first."""
        with self.env.db_query as db:
            rows = db("SELECT version, time, author, comment FROM wiki "
                      "WHERE name=%s AND version<=%s ORDER BY version DESC",
                      (self.name, self.version))
        for version, time, author, comment in rows:
            yield HistoryEntry(int(version), int(time or 0), author or "", comment or "")

    history = get_history

    def _notify(self, event: str, old_name: str | None = None, version: int | None = None) -> None:
        self.env.hook.wiki_page_changed(env=self.env, event=event, page=self,
                                        old_name=old_name, version=version)


def page_names(env, prefix: str | None = None) -> list[str]:
    """Names of the existing pages, sorted (straight from the database)."""
    with env.db_query as db:
        if prefix:
            rows = db(f"SELECT DISTINCT name FROM wiki WHERE name {db.prefix_match()}",
                      (db.prefix_match_value(prefix),))
        else:
            rows = db("SELECT DISTINCT name FROM wiki")
    # SQLite's LIKE ignores case: keep only true prefix matches.
    return sorted(row[0] for row in rows if not prefix or row[0].startswith(prefix))


def template_names(env) -> list[str]:
    """Names of the page templates (pages under ``PageTemplates/``), without the prefix."""
    return [name[len(TEMPLATE_PREFIX):] for name in page_names(env, TEMPLATE_PREFIX)
            if len(name) > len(TEMPLATE_PREFIX)]


def template_text(env, template: str | None = None) -> str:
    """Text of template ``template`` (default ``DefaultPage``); empty when missing."""
    page = WikiPage(env, TEMPLATE_PREFIX + (template or DEFAULT_TEMPLATE))
    return page.text if page.exists else ""
