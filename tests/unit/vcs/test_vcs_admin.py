"""The repository and changeset admin commands (through the real console) and the
Version Control → Repositories admin panel."""

from __future__ import annotations

import html
import io
import sys

import pytest

from codeyard.admin.console import main
from codeyard.perm import PermissionSystem
from codeyard.vcs.manager import RepositoryManager
from tests.unit.admin.conftest import Result
from tests.unit.vcs import vcs_fixtures
from tests.unit.web.conftest import text

pytestmark = pytest.mark.db
plugins, git_repo = vcs_fixtures.plugins, vcs_fixtures.git_repo


@pytest.fixture
def admin(plugins, env, capsys, monkeypatch):
    def run(*args: str) -> Result:
        capsys.readouterr()
        monkeypatch.setattr(sys, "stdin", io.StringIO(""))
        rc = main([env.path, *args])
        captured = capsys.readouterr()
        return Result(rc, captured.out, captured.err)

    return run


def _lines(out: str) -> list[str]:
    return [line.rstrip() for line in out.strip("\n").splitlines()]


def test_add_alias_list_set_remove(admin, env, git_repo):
    assert admin("repository", "add", "main", str(git_repo.path), "git").rc == 0
    assert admin("repository", "add", "(default)", str(git_repo.path)).rc == 0
    assert admin("repository", "alias", "nick", "main").rc == 0
    assert _lines(admin("repository", "list").out) == [
        "Name       Type  Alias  Directory",
        "-" * (9 + 2 + 4 + 2 + 5 + 2 + len(str(git_repo.path))),
        f"(default)               {git_repo.path}",
        f"main       git          {git_repo.path}",
        "nick             main"]
    done = admin("repository", "set", "(default)", "type", "git")
    assert done.rc == 0 and done.out.strip() == 'You may have to run "repository resync (default)".'
    done = admin("repository", "set", "main", "dir", str(git_repo.path))
    assert done.out.strip() == 'You should now run "repository resync main".'
    assert admin("repository", "set", "main", "readonly", "1").rc == 0  # hosting reads it
    from codeyard.vcs.manager import RepositoryManager

    assert RepositoryManager(env).get_info("main").params()["readonly"] == "1"
    bad = admin("repository", "set", "main", "colour", "red")
    assert bad.rc == 2 and bad.err.strip() == 'Error: Invalid key "colour"'
    assert admin("repository", "remove", "main").err.strip().startswith(
        'Error: Cannot remove the repository "main" used in aliases')
    assert admin("repository", "remove", "nick").rc == 0
    assert admin("repository", "remove", "main").rc == 0
    missing = admin("repository", "remove", "main")
    assert missing.rc == 2 and missing.err.strip() == 'Error: Repository "main" doesn\'t exist'
    wrong = admin("repository", "add", "x", str(git_repo.path), "cvs")
    assert wrong.rc == 2 and "The repository type 'cvs' is not supported" in wrong.err
    assert list(RepositoryManager(env).get_all_repositories()) == [""]


def test_sync_resync_and_single_revisions(admin, env, git_repo):
    admin("repository", "add", "main", str(git_repo.path), "git")
    done = admin("repository", "sync", "main")
    assert done.rc == 0, done.err
    assert _lines(done.out)[0] == "Resyncing repository history for main..."
    assert _lines(done.out)[-2:] == ["3 revisions cached.", "Done."]
    assert " 3/3 revisions" in done.out  # plain progress lines off a terminal
    again = admin("repository", "resync", "*")
    assert _lines(again.out)[-2:] == ["3 revisions cached.", "Done."]
    one = admin("repository", "resync", "main", git_repo.revs[0][:8])
    assert _lines(one.out) == [f"{git_repo.revs[0][:8]} resynced on main.", "Done."]
    many = admin("repository", "sync", "*", "HEAD")
    assert many.rc == 2 and "Cannot synchronize a single revision on multiple" in many.err
    unknown = admin("repository", "sync", "nosuch")
    assert unknown.rc == 2 and unknown.err.strip() == 'Error: Repository "nosuch" doesn\'t exist'
    bad_rev = admin("repository", "resync", "main", "cafebabe")
    assert bad_rev.rc == 2 and "No changeset cafebabe" in bad_rev.err


def test_sync_all_goes_on_past_a_broken_repository(admin, env, git_repo, tmp_path):
    gone = tmp_path / "gone"
    gone.mkdir()
    admin("repository", "add", "a-gone", str(gone), "git")
    admin("repository", "add", "main", str(git_repo.path), "git")
    gone.rmdir()
    done = admin("repository", "sync", "*")
    assert done.rc == 2 and f"the directory {gone} does not exist" in done.err
    assert "1 repository could not be opened" in done.err
    assert _lines(done.out)[-2:] == ["3 revisions cached.", "Done."]


def test_changeset_added_and_modified(admin, env, git_repo, plugins):
    admin("repository", "add", "(default)", str(git_repo.path), "git")
    done = admin("changeset", "added", "(default)", git_repo.revs[-1])
    assert done.rc == 0, done.err
    assert [e for e in plugins.events if e[0] == "added"] == [("added", "", git_repo.revs[-1])]
    with env.db_query as db:
        assert db("SELECT COUNT(*) FROM revision")[0][0] == 3
    again = admin("changeset", "added", "", git_repo.revs[-1])  # no duplicate rows
    assert again.rc == 0
    with env.db_query as db:
        assert db("SELECT COUNT(*) FROM revision")[0][0] == 3
    modified = admin("changeset", "modified", "(default)", git_repo.revs[0], "nosuch")
    assert modified.rc == 2 and "No changeset nosuch" in modified.err
    assert [e[2] for e in plugins.events if e[0] == "modified"] == [git_repo.revs[0]]
    unknown = admin("changeset", "added", "other", "HEAD")
    assert unknown.rc == 2 and unknown.err.strip() == "Error: Repository 'other' not found"


# ---------------------------------------------------------------------------
# The admin panel


@pytest.fixture
def admin_site(plugins, served):
    env, site = served(options=[("codeyard", "config_check_interval", "0")])
    PermissionSystem(env).grant("root", "TRAC_ADMIN")
    site.get("/login", environ={"REMOTE_USER": "root"})
    return env, site


PANEL = "/admin/versioncontrol/repository"


def test_panel_is_for_version_control_admins(admin_site, served):
    env, site = admin_site
    page = text(site.get(PANEL))
    assert ">Repositories</a>" in page and "There are no repositories." in page
    _, anonymous = served("other")
    assert anonymous.get(PANEL).status_code == 403


def test_panel_add_edit_resync_remove(admin_site, git_repo):
    env, site = admin_site
    rm = RepositoryManager(env)
    added = site.post(PANEL, {"name": "main", "dir": str(git_repo.path), "type": "git",
                              "add_repos": "Add"})
    assert added.status_code == 303
    assert rm.get_info("main").dir == str(git_repo.path)
    relative = site.post(PANEL, {"name": "x", "dir": "rel/dir", "type": "git", "add_repos": "Add"})
    assert relative.status_code == 400 and "must be an absolute path" in text(relative)
    dup = site.post(PANEL, {"name": "main", "dir": str(git_repo.path), "add_repos": "Add"})
    assert dup.status_code == 400 and 'The repository "main" already exists.' in html.unescape(text(dup))
    assert site.post(PANEL, {"name": "nick", "alias": "main", "add_alias": "Add"}).status_code == 303
    assert rm.get_info("nick").alias == "main"
    # edit: description, URL, flags
    saved = site.post(PANEL + "/main", {"name": "main", "dir": str(git_repo.path), "type": "git",
                                        "description": "The code", "url": "https://x.example/",
                                        "hidden": "1", "save": "Save"})
    assert saved.status_code == 303
    info = rm.get_info("main")
    assert (info.description, info.url, info.hidden, info.sync_per_request) == \
        ("The code", "https://x.example/", True, False)
    assert site.get(PANEL + "/nosuch").status_code == 404
    # resync the selected repository, then the list shows what is cached
    assert site.post(PANEL, {"sel": "main", "resync": "1"}).status_code == 303
    listing = text(site.get(PANEL + "?done=resynced"))
    assert "The selected repositories have been synchronized." in listing
    assert git_repo.revs[-1][:7] in listing
    nothing = site.post(PANEL, {"remove": "1"})
    assert nothing.status_code == 400 and "No repositories were selected." in text(nothing)
    assert site.post(PANEL, {"sel": ["nick", "main"], "remove": "1"}).status_code == 303
    assert rm.get_all_repositories() == {}


def test_panel_needs_the_form_token(admin_site, git_repo):
    env, site = admin_site
    forged = site.post(PANEL, {"name": "main", "dir": str(git_repo.path), "add_repos": "Add"},
                       token=False)
    assert forged.status_code in (400, 403)
    assert RepositoryManager(env).get_all_repositories() == {}
