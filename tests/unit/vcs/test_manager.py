"""The repository manager: declarations from the table and trac.ini, ids, aliases, opening
repositories (cached per process, reopened when settings change), path resolution."""

from __future__ import annotations

import shutil

import pytest

from codeyard.env import Environment
from codeyard.vcs.api import InvalidPath, RepositoryError
from codeyard.vcs.manager import RepositoryManager
from tests.unit.vcs import vcs_fixtures

pytestmark = pytest.mark.db
plugins, git_repo = vcs_fixtures.plugins, vcs_fixtures.git_repo


def _rows(env, *names):
    with env.db_query as db:
        return sorted(db("SELECT id, name, value FROM repository"))


def test_table_and_ini_repositories(plugins, env, git_repo, tmp_path):
    rm = RepositoryManager(env)
    assert rm.get_all_repositories() == {}
    rm.add_repository("main", str(git_repo.path), "git")
    env.config.set("repositories", ".dir", str(git_repo.path))
    env.config.set("repositories", ".type", "git")
    env.config.set("repositories", ".description", "The default one")
    env.config.set("repositories", "other.dir", "relative/dir")
    env.config.set("repositories", "other.hidden", "true")
    env.config.set("repositories", "other.sync_per_request", "yes")
    env.config.set("repositories", "other.url", "https://example.org/other")
    env.config.set("repositories", "nick", "other")  # the <alias> = <target> form
    env.config.set("repositories", "main.dir", "/elsewhere")  # the table wins
    env.config.set("repositories", "dangling.alias", "nosuch")  # ignored: no such target
    env.config.save()
    infos = rm.get_all_repositories()
    assert list(infos) == ["", "main", "nick", "other"]
    main, default, other, nick = infos["main"], infos[""], infos["other"], infos["nick"]
    assert (main.source, main.dir, main.type) == ("db", str(git_repo.path), "git")
    assert (default.source, default.description, default.display_name) == \
        ("ini", "The default one", "(default)")
    assert other.dir == f"{env.path}/relative/dir" and other.hidden and other.sync_per_request
    assert other.url == "https://example.org/other" and other.type == ""
    assert rm.type_of(other) == "svn"  # Trac's default_repository_type
    assert nick.is_alias and nick.alias == "other" and nick.dir is None
    # every repository has a Trac id: a `name` row, created for trac.ini ones on first use
    names = {value: rid for rid, key, value in _rows(env) if key == "name"}
    assert set(names) == {"", "main", "nick", "other"}
    assert {info.id for info in infos.values()} == set(names.values())
    assert main.id == names["main"] == rm.get_repository_id("main")
    assert rm.resolve("nick") == other
    assert rm.get_repository("nosuch") is None


def test_get_repository_is_cached_and_reopened(plugins, make_env, git_repo, tmp_path):
    env = make_env()
    rm = RepositoryManager(env)
    rm.add_repository("", str(git_repo.path), "git")
    rm.add_alias("al", "(default)")
    repos = rm.get_repository("")
    assert repos.id == rm.get_info("").id and repos.name == ""
    assert rm.get_repository(None) is repos and rm.get_repository("al") is repos
    # another process moves it: this one sees the new settings at once (the generation)
    copy = tmp_path / "copy"
    shutil.copytree(git_repo.path, copy)
    other = Environment(env.path)
    RepositoryManager(other).modify_repository("(default)", {"dir": str(copy),
                                                             "description": "moved"})
    moved = rm.get_repository("")
    assert moved is not repos and moved.directory == str(copy)
    assert rm.get_info("").description == "moved"
    other.shutdown()


def test_unsupported_type_and_vanished_directory(plugins, env, git_repo, tmp_path):
    rm = RepositoryManager(env)
    env.config.set("repositories", "old.dir", str(git_repo.path))  # no type: svn by default
    env.config.save()
    with pytest.raises(RepositoryError) as err:
        rm.get_repository("old")
    message = str(err.value)
    assert "does not appear to be a Subversion repository" in message
    assert "default_repository_type" in message and "type git" in message
    env.config.set("versioncontrol", "default_repository_type", "git")
    env.config.save()
    assert rm.get_repository("old").youngest_rev == git_repo.revs[-1]
    shutil.rmtree(git_repo.path)
    with pytest.raises(RepositoryError) as err:
        rm.get_repository("old")
    assert str(git_repo.path) in str(err.value) and "does not exist" in str(err.value)


def test_repository_by_path(plugins, env, git_repo):
    rm = RepositoryManager(env)
    rm.add_repository("", str(git_repo.path), "git")
    rm.add_repository("proj", str(git_repo.path), "git")
    rm.add_repository("proj/sub", str(git_repo.path), "git")
    assert rm.get_repository_by_path("proj/sub/x/y")[0::2] == ("proj/sub", "x/y")
    assert rm.get_repository_by_path("/proj/")[0::2] == ("proj", "")
    assert rm.get_repository_by_path("project/x")[0::2] == ("", "project/x")
    name, repos, rest = rm.get_repository_by_path("")
    assert (name, rest) == ("", "") and repos is rm.get_repository("")
    with pytest.raises(InvalidPath):
        rm.get_repository_by_path("proj/../../etc")


def test_changes_and_their_errors(plugins, env, git_repo):
    rm = RepositoryManager(env)
    with pytest.raises(RepositoryError, match="must be absolute"):
        rm.add_repository("x", "relative", "git")
    with pytest.raises(RepositoryError, match="The repository type 'hg' is not supported"):
        rm.add_repository("x", str(git_repo.path), "hg")
    rm.add_repository("x", str(git_repo.path), "git")
    with pytest.raises(RepositoryError, match='The repository "x" already exists'):
        rm.add_repository("x", str(git_repo.path))
    with pytest.raises(RepositoryError, match='Repository "nosuch" doesn\'t exist'):
        rm.add_alias("y", "nosuch")
    rm.add_alias("y", "x")
    with pytest.raises(RepositoryError, match='Cannot create an alias to the alias "y"'):
        rm.add_alias("z", "y")
    with pytest.raises(RepositoryError, match="used in aliases"):
        rm.remove_repository("x")
    with pytest.raises(RepositoryError, match='Invalid key "color"'):
        rm.modify_repository("x", {"color": "red"})
    rm.modify_repository("x", {"hidden": "true", "description": "d", "sync_per_request": "1"})
    info = rm.get_info("x")
    assert info.hidden and info.sync_per_request and info.description == "d"
    with env.db_query as db:
        assert db("SELECT value FROM repository WHERE id=%s AND name='hidden'", (info.id,)) == [("1",)]
    rm.modify_repository("x", {"hidden": "false"})
    assert not rm.get_info("x").hidden
    rm.remove_repository("y")
    rm.modify_repository("x", {"name": "renamed"})
    assert list(rm.get_all_repositories()) == ["renamed"]
    rm.remove_repository("renamed")
    assert rm.get_all_repositories() == {}
    with env.db_query as db:
        assert db("SELECT * FROM repository WHERE id=%s", (info.id,)) == []
    env.config.set("repositories", "ini.dir", str(git_repo.path))
    env.config.save()
    with pytest.raises(RepositoryError, match="declared in trac.ini"):
        rm.remove_repository("ini")


def test_repository_changed_hook(plugins, env, git_repo):
    rm = RepositoryManager(env)
    rm.add_repository("x", str(git_repo.path), "git")
    rm.modify_repository("x", {"description": "d"})
    rm.remove_repository("x")
    assert [e for e in plugins.events if e[0] == "repository"] == [
        ("repository", "added", "x"), ("repository", "changed", "x"),
        ("repository", "removed", "x")]


def test_ids_of_trac_ini_repositories_wait_for_a_write_scope(plugins, env, git_repo):
    from codeyard.vcs import cache

    env.config.set("repositories", "ini.dir", str(git_repo.path))
    env.config.set("repositories", "ini.type", "git")
    env.config.save()
    rm = RepositoryManager(env)
    with env.db_query:  # a page's read scope: nothing may be written, so no id yet
        early = rm.get_repository("ini")
        assert rm.get_info("ini").id == 0 and early.id == 0
    with pytest.raises(RepositoryError, match="has no id yet"):
        cache.sync(env, early)
    info = rm.get_info("ini")
    assert info.id > 0
    repos = rm.get_repository("ini")
    assert repos.id == info.id and repos is not early
    assert len(cache.sync(env, repos)) == 3
