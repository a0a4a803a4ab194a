"""The Subversion hook scripts ``repository hooks`` writes, run by real ``svn`` commits: the
revision enters the cache and the ticket updater acts on it; an edited log message is read
again; a hook script of the site's own keeps its lines."""

from __future__ import annotations

import pytest

from codeyard.vcs import cache
from codeyard.vcs.manager import RepositoryManager
from tests.support.admin_cli import admin_ok, run_admin
from tests.unit.vcs.svn_fixtures import Svn
from tests.unit.vcs.test_ticket_updater import comments, new_ticket

pytestmark = pytest.mark.db


def test_hooks_keep_the_project_current(make_env, tmp_path):
    env = make_env(options=[("logging", "log_type", "none")])
    svn = Svn(tmp_path / "svn")
    own = svn.path / "hooks" / "post-commit"
    own.write_text("#!/bin/sh\necho site-hook >> \"$1/site-hook.log\"\n")
    own.chmod(0o755)
    admin_ok(env.path, "repository", "add", "main", str(svn.path), "svn")
    tkt = new_ticket(env)
    out = admin_ok(env.path, "repository", "hooks", "main")
    assert "post-commit" in out and "post-revprop-change" in out
    again = admin_ok(env.path, "repository", "hooks", "main")  # rewrites, never doubles
    assert again == out
    script = own.read_text()
    assert script.count("changeset added") == 1 and "site-hook" in script

    svn.write("a.txt", b"one\n")
    rev = svn.commit(f"Fix the thing, fixes #{tkt}")
    assert (svn.path / "site-hook.log").read_text() == "site-hook\n"
    repos = RepositoryManager(env).get_repository("main")
    assert cache.get_cached_changeset(env, repos, rev).message.startswith("Fix the thing")
    assert [(author, text.split("\n", 1)[0]) for author, _old, text in comments(env, tkt)] \
        == [("alice", f'In [changeset:"{rev}/main" {rev}/main]:')]

    svn.run("propset", "-q", "--revprop", "-r", rev, "svn:log", "Edited message", svn.url)
    assert cache.get_cached_changeset(env, repos, rev).message == "Edited message"


def test_hooks_only_for_subversion(make_env, tmp_path):
    env = make_env(options=[("logging", "log_type", "none")])
    result = run_admin(env.path, "repository", "hooks", "nosuch")
    assert result.rc != 0 and "not found" in result.err + result.out
