from __future__ import annotations

import hashlib
import io
import os
import time

import pytest

from codeyard.attachment import model as attachments
from codeyard.core import hookimpl
from codeyard.wiki.model import (
    PAGES_CACHE_KEY,
    InvalidPageName,
    PageExists,
    PageNotFound,
    PageNotModified,
    PageTooBig,
    VersionConflict,
    WikiError,
    WikiPage,
    page_names,
    template_names,
    template_text,
    validate_page_name,
)

pytestmark = pytest.mark.db


def save(env, name, text, author="alice", comment=""):
    page = WikiPage(env, name)
    page.text = text
    page.save(author, comment)
    return page


def versions(env, name):
    with env.db_query as db:
        return db("SELECT version, text, author FROM wiki WHERE name=%s ORDER BY version", (name,))


def generation(env):
    with env.db_query as db:
        return env.database.generation(db, PAGES_CACHE_KEY)


class Recorder:
    def __init__(self):
        self.events = []

    @hookimpl
    def wiki_page_changed(self, env, event, page, old_name, version):
        self.events.append((event, page.name, old_name, version))


@pytest.fixture
def recorder(env):
    rec = Recorder()
    env.plugins.register(rec)
    return rec


def test_new_page_does_not_exist(env):
    page = WikiPage(env, "NoSuchPage")
    assert not page.exists
    assert page.version == 0 and page.text == "" and page.time is None


def test_versions_are_added_and_loaded(env, recorder):
    before = time.time_ns() // 1000
    page = save(env, "Notes", "first", comment="start")
    assert page.version == 1 and page.exists
    assert before <= page.time <= time.time_ns() // 1000
    page.text = "second"
    page.save("bob", "more")
    assert page.version == 2
    assert WikiPage(env, "Notes").text == "second"
    old = WikiPage(env, "Notes", 1)
    assert (old.version, old.text, old.author, old.comment) == (1, "first", "alice", "start")
    assert WikiPage(env, "Notes", "2").text == "second"
    assert not WikiPage(env, "Notes", 7).exists
    assert [(h.version, h.author, h.comment) for h in page.get_history()] == [
        (2, "bob", "more"), (1, "alice", "start")]
    assert [h.version for h in old.get_history()] == [1]
    assert [e[0] for e in recorder.events] == ["created", "changed"]


def test_save_refuses_when_someone_saved_in_between(env):
    save(env, "Shared", "v1")
    mine = WikiPage(env, "Shared")
    theirs = WikiPage(env, "Shared")
    theirs.text = "their edit"
    theirs.save("bob", "")
    mine.text = "my edit"
    with pytest.raises(VersionConflict) as info:
        mine.save("alice", "")
    assert info.value.current_version == 2
    assert info.value.base_version == 1
    assert [row[1] for row in versions(env, "Shared")] == ["v1", "their edit"]
    # The editor keeps the text and may save on top of the current version deliberately.
    assert mine.text == "my edit"
    mine.save("alice", "", base_version=info.value.current_version)
    assert [row[1] for row in versions(env, "Shared")] == ["v1", "their edit", "my edit"]


def test_save_based_on_an_old_version_conflicts(env):
    save(env, "Old", "a")
    save(env, "Old", "b")
    page = WikiPage(env, "Old", 1)
    page.text = "edited from v1"
    with pytest.raises(VersionConflict, match="version 2"):
        page.save("x", "")
    assert len(versions(env, "Old")) == 2


def test_unchanged_text_is_refused_but_readonly_change_is_saved(env, recorder):
    page = save(env, "Locked", "text")
    save(env, "Locked", "text 2")
    page = WikiPage(env, "Locked")
    with pytest.raises(PageNotModified):
        page.save("alice", "")
    page.readonly = 1
    page.save("admin", "")
    assert page.version == 2
    with env.db_query as db:
        assert db("SELECT version, readonly FROM wiki WHERE name='Locked' ORDER BY version") == [
            (1, 1), (2, 1)]
    assert recorder.events[-1][0] == "readonly_changed"
    page.text = "text 3"
    page.save("admin", "")
    assert WikiPage(env, "Locked").readonly == 1


def test_max_size(make_env):
    env = make_env(options=[("wiki", "max_size", "10")])
    page = WikiPage(env, "Big")
    page.text = "x" * 11
    with pytest.raises(PageTooBig, match="10"):
        page.save("a", "")
    assert not WikiPage(env, "Big").exists
    page.text = "x" * 10
    page.save("a", "")
    assert WikiPage(env, "Big").exists


def test_replace_overwrites_the_latest_version(env):
    save(env, "R", "one")
    save(env, "R", "two", author="bob")
    page = WikiPage(env, "R")
    page.text = "fixed"
    page.save("trac", None, replace=True)
    assert versions(env, "R") == [(1, "one", "alice"), (2, "fixed", "bob")]


@pytest.mark.parametrize("name", ["", "/Lead", "Trail/", "A//B", "A/../B", "..", ".", "A/.",
                                  "../etc/passwd"])
def test_invalid_names_are_refused(env, name):
    assert not validate_page_name(name)
    page = WikiPage(env, name)
    page.text = "x"
    with pytest.raises(InvalidPageName):
        page.save("a", "")
    target = save(env, "Valid", "v")
    with pytest.raises(InvalidPageName):
        target.rename(name)
    assert WikiPage(env, "Valid").exists


@pytest.mark.parametrize("name", ["WikiStart", "Sub/Page", "Name with spaces", "Ünïcode/Ä.b"])
def test_valid_names(name):
    assert validate_page_name(name)


def test_every_change_invalidates_the_page_list(env):
    start = generation(env)
    page = save(env, "Gen", "a")
    g1 = generation(env)
    assert g1 > start
    page.text = "b"
    page.save("a", "")
    page.rename("Gen2")
    g2 = generation(env)
    assert g2 > g1
    WikiPage(env, "Gen2").delete()
    assert generation(env) > g2


def test_page_list_cache_sees_new_pages(env):
    names = env.cached(PAGES_CACHE_KEY, lambda: page_names(env))
    assert "Fresh" not in names
    save(env, "Fresh", "x")
    assert "Fresh" in env.cached(PAGES_CACHE_KEY, lambda: page_names(env))


def attach(env, page, name, data=b"data"):
    return attachments.insert(env, "wiki", page, name, io.BytesIO(data), author="alice")


def expected_path(env, parent, filename, ext):
    parent_hash = hashlib.sha1(parent.encode("utf-8")).hexdigest()
    name_hash = hashlib.sha1(filename.encode("utf-8")).hexdigest()
    return os.path.join(env.path, "files", "attachments", "wiki", parent_hash[:3], parent_hash,
                        name_hash + ext)


def test_rename_moves_history_and_attachments_and_leaves_a_redirect(env, recorder):
    save(env, "Before", "one")
    save(env, "Before", "two")
    attach(env, "Before", "notes.txt", b"hello")
    old_file = expected_path(env, "Before", "notes.txt", ".txt")
    assert os.path.isfile(old_file)
    page = WikiPage(env, "Before")
    page.rename("After/Sub", redirect=True, author="carol")
    assert page.name == "After/Sub"
    assert [row[1] for row in versions(env, "After/Sub")] == ["one", "two"]
    redirect = WikiPage(env, "Before")
    assert redirect.version == 1
    assert redirect.text == 'See [wiki:"After/Sub"].'
    assert redirect.author == "carol"
    assert redirect.comment == '[wiki:"After/Sub@2" Before] \u2192 [wiki:"After/Sub"].'
    assert [a.filename for a in attachments.select(env, "wiki", "After/Sub")] == ["notes.txt"]
    assert attachments.select(env, "wiki", "Before") == []
    new_file = expected_path(env, "After/Sub", "notes.txt", ".txt")
    with open(new_file, "rb") as fh:
        assert fh.read() == b"hello"
    assert not os.path.exists(old_file)
    assert not os.path.exists(os.path.dirname(old_file))
    assert ("renamed", "After/Sub", "Before", None) in recorder.events


def test_rename_without_redirect_and_refusals(env):
    save(env, "A1", "a")
    save(env, "B1", "b")
    page = WikiPage(env, "A1")
    with pytest.raises(PageExists):
        page.rename("B1")
    with pytest.raises(InvalidPageName):
        page.rename("A1")
    with pytest.raises(PageNotFound):
        WikiPage(env, "Missing").rename("Other")
    page.rename("C1")
    assert not WikiPage(env, "A1").exists
    assert WikiPage(env, "C1").text == "a"
    assert WikiPage(env, "B1").text == "b"


def test_delete_versions_then_the_page(env, recorder):
    for text in ("v1", "v2", "v3"):
        save(env, "D", text)
    page = WikiPage(env, "D")
    page.delete(3)
    assert page.version == 2 and page.text == "v2"
    assert ("version_deleted", "D", None, 3) in recorder.events
    page.delete(1)
    assert [row[0] for row in versions(env, "D")] == [2]
    with pytest.raises(PageNotFound):
        page.delete(9)
    attach(env, "D", "pic.png")
    path = expected_path(env, "D", "pic.png", ".png")
    assert os.path.isfile(path)
    page.delete(2)  # the last version: the page goes, with its attachments
    assert not page.exists
    assert not WikiPage(env, "D").exists
    assert attachments.select(env, "wiki", "D") == []
    assert not os.path.exists(path) and not os.path.exists(os.path.dirname(path))
    assert recorder.events[-1][0] == "deleted"
    with pytest.raises(PageNotFound):
        page.delete()


def test_delete_whole_page(env):
    save(env, "Whole", "1")
    save(env, "Whole", "2")
    attach(env, "Whole", "a.txt")
    WikiPage(env, "Whole").delete()
    assert versions(env, "Whole") == []
    with env.db_query as db:
        assert db("SELECT COUNT(*) FROM attachment WHERE id='Whole'") == [(0,)]


def test_templates(env):
    save(env, "PageTemplates/Meeting", "= Meeting =")
    save(env, "PageTemplates/DefaultPage", "= New page =")
    save(env, "PageTemplatesNot", "x")
    assert template_names(env) == ["DefaultPage", "Meeting"]
    assert template_text(env) == "= New page ="
    assert template_text(env, "Meeting") == "= Meeting ="
    assert template_text(env, "Nope") == ""


def test_edit_comment(env):
    page = save(env, "C", "x", comment="typo")
    page.edit_comment("fixed comment")
    assert WikiPage(env, "C").comment == "fixed comment"


def test_failed_attachment_move_undoes_the_rename(env):
    save(env, "P", "text")
    attach(env, "P", "a.txt", b"a")
    attach(env, "P", "b.txt", b"b")
    stray = expected_path(env, "Q", "b.txt", ".txt")
    os.makedirs(os.path.dirname(stray))
    with open(stray, "wb") as fh:
        fh.write(b"stray")
    page = WikiPage(env, "P")
    with pytest.raises(WikiError, match="already exists"):
        page.rename("Q", redirect=True)
    assert page.name == "P"
    assert [row[1] for row in versions(env, "P")] == ["text"]
    assert not WikiPage(env, "Q").exists
    assert [a.filename for a in attachments.select(env, "wiki", "P")] == ["a.txt", "b.txt"]
    for name in ("a.txt", "b.txt"):
        with open(expected_path(env, "P", name, ".txt"), "rb") as fh:
            assert fh.read() == name[0].encode()
    assert not os.path.exists(expected_path(env, "Q", "a.txt", ".txt"))
