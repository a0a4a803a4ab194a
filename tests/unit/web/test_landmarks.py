"""Trac's page landmarks on every kind of page: the element ids and classes, the menu labels,
the form ids and field names that site CSS, scripts and browser tests written for Trac find."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from codeyard.perm import PermissionSystem
from codeyard.wiki.model import WikiPage
from tests.unit.vcs.vcs_fixtures import GitRepo
from tests.unit.web.conftest import text

pytestmark = pytest.mark.db

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


class Element:
    def __init__(self, tag: str, attrs: dict[str, str], parent: Element | None) -> None:
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Element] = []
        self.content: list[str | Element] = []

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def ancestors(self):
        node = self.parent
        while node is not None:
            yield node
            node = node.parent

    def walk(self):
        for child in self.children:
            yield child
            yield from child.walk()

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.content)


class Tree(HTMLParser):
    """A forgiving DOM: enough to ask for ids, classes, ancestors and form fields."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#root", {}, None)
        self.current = self.root
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        node = Element(tag, {k: v or "" for k, v in attrs}, self.current)
        self.current.children.append(node)
        self.current.content.append(node)
        if tag not in VOID:
            self.current = node

    def handle_endtag(self, tag):
        node = self.current
        while node is not self.root and node.tag != tag:
            node = node.parent
        if node is not self.root:
            self.current = node.parent

    def handle_data(self, data):
        self.current.content.append(data)

    def by_id(self, ident: str) -> Element | None:
        found = [e for e in self.root.walk() if e.attrs.get("id") == ident]
        assert len(found) <= 1, f"id {ident!r} is used {len(found)} times"
        return found[0] if found else None

    def field_names(self, form: Element) -> set[str]:
        return {e.attrs["name"] for e in form.walk()
                if e.tag in ("input", "select", "textarea", "button") and "name" in e.attrs}


@pytest.fixture
def site(served, tmp_path):
    repo = GitRepo(tmp_path / "repos" / "main")
    first = repo.commit("first, see #1", {"a.txt": "one\n", "dir/b.txt": "b\n"})
    repo.commit("second", {"a.txt": "one\ntwo\n"})
    env, client = served(options=[("repositories", ".dir", str(repo.path)),
                                  ("repositories", ".type", "git"),
                                  ("codeyard", "config_check_interval", "0")])
    PermissionSystem(env).grant("admin", "TRAC_ADMIN")
    client.get("/login", environ={"REMOTE_USER": "admin"})
    page = WikiPage(env, "SandBox")
    page.text = "= Sand box =\nSee #1."
    page.save("admin", "made")
    page = WikiPage(env, "SandBox")
    page.text = "= Sand box =\nSee #1 and wiki:WikiStart."
    page.save("admin", "changed")
    made = client.post("/newticket", {"field_summary": "It crashes", "field_description": "Boom.",
                                      "field_type": "defect", "action": "create",
                                      "submit": "Create ticket"})
    assert made.status_code == 303, text(made)[:1500]
    return env, client, first


# page URL -> Trac's class of #content
PAGES = {
    "/wiki/SandBox": "wiki",
    "/wiki/SandBox?action=edit": "wiki",
    "/wiki/SandBox?action=history": "wiki",
    "/wiki/SandBox?action=diff&version=2": "wiki",
    "/wiki/SandBox?action=rename": "wiki",
    "/wiki/SandBox?action=delete": "wiki",
    "/wiki/NoSuchPage": "wiki",
    "/newticket": "ticket",
    "/ticket/1": "ticket",
    "/query": "query",
    "/report": "report",
    "/report/1": "report",
    "/roadmap": "roadmap",
    "/milestone/milestone1": "milestone",
    "/milestone/milestone1?action=edit": "milestone",
    "/timeline": "timeline",
    "/browser": "browser",
    "/browser/a.txt": "browser",
    "/log/": "log",
    "/changeset/HEAD": "changeset",
    "/attachment/wiki/SandBox/": "attachment",
    "/admin/general/basics": "admin",
    "/admin/ticket/milestones": "admin",
    "/admin/general/perm": "admin",
    "/prefs": "prefs",
    "/prefs/notification": "prefs",
    "/about": "about",
    "/search?q=crashes": "search",
}


def _page(client, url: str) -> Tree:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code, text(response)[:1500])
    return Tree(text(response))


@pytest.mark.parametrize("url", PAGES)
def test_every_page_has_tracs_structure(site, url):
    env, client, _ = site
    tree = _page(client, url.replace("HEAD", site[2]))
    banner, header, main = tree.by_id("banner"), tree.by_id("header"), tree.by_id("main")
    assert banner and header and header.parent is banner
    assert header.children[0].tag in ("h1", "a")
    metanav = tree.by_id("metanav")
    assert metanav and "nav" in metanav.classes and metanav.parent is banner
    mainnav = tree.by_id("mainnav")
    assert mainnav and "nav" in mainnav.classes and banner not in list(mainnav.ancestors())
    assert main is not None
    ctxtnav, content = tree.by_id("ctxtnav"), tree.by_id("content")
    assert ctxtnav and "nav" in ctxtnav.classes and main in ctxtnav.ancestors()
    assert content and main in content.ancestors()
    assert PAGES[url] in content.classes, (url, content.attrs)
    footer = tree.by_id("footer")
    assert footer and main not in footer.ancestors()
    # The meta navigation, as Trac's.
    user = [e for e in metanav.walk() if "trac-author-user" in e.classes]
    assert user and user[0].text() == "admin" and "logged in as" in user[0].parent.text()
    labels = [li.text().strip() for li in metanav.walk() if li.tag == "li"]
    for label in ("Preferences", "Help/Guide", "Logout"):
        assert label in labels, labels
    logout = tree.by_id("logout")
    assert logout and logout.tag == "form" and logout.attrs.get("name") == "logout"
    assert logout.attrs["method"] == "post" and "__FORM_TOKEN" in tree.field_names(logout)
    main_labels = [li.text().strip() for li in mainnav.walk() if li.tag == "li"]
    assert main_labels == ["Wiki", "Timeline", "Roadmap", "Browse Source", "View Tickets",
                           "New Ticket", "Search", "Admin"], main_labels
    search = tree.by_id("search")
    assert search and search.tag == "form" and search.parent is banner
    box = tree.by_id("proj-search")
    assert box and box.attrs["name"] == "q" and search in box.ancestors()


def test_context_navigation_labels(site):
    env, client, _ = site
    wiki = _page(client, "/wiki/SandBox").by_id("ctxtnav")
    assert [li.text().strip() for li in wiki.walk() if li.tag == "li"] == [
        "Start Page", "Index", "History", "Last Change"]
    query = _page(client, "/query").by_id("ctxtnav")
    labels = [li.text().strip() for li in query.walk() if li.tag == "li"]
    assert "Available Reports" in labels and "New Custom Query" in labels
    report = _page(client, "/report/1").by_id("ctxtnav")
    labels = [li.text().strip() for li in report.walk() if li.tag == "li"]
    assert "Available Reports" in labels and "New Custom Query" in labels
    timeline = _page(client, "/timeline").by_id("ctxtnav")
    assert "Previous Period" in timeline.text()
    ticket = _page(client, "/ticket/1?from=query")
    assert ticket.by_id("ctxtnav") is not None


def test_altlinks_list_the_other_formats(site):
    env, client, _ = site
    for url, expected in (("/wiki/SandBox", "Plain Text"), ("/ticket/1", "Comma-delimited Text"),
                          ("/query", "Tab-delimited Text"), ("/timeline", "RSS Feed"),
                          ("/report/1", "Comma-delimited Text")):
        altlinks = _page(client, url).by_id("altlinks")
        assert altlinks is not None, url
        assert "Download in other formats:" in altlinks.text()
        assert expected in [a.text().strip() for a in altlinks.walk() if a.tag == "a"], url


FORMS = [
    ("/wiki/SandBox?action=edit", "edit", {"text", "comment", "save", "preview", "readonly"}),
    ("/wiki/SandBox", "modifypage", {"action"}),
    ("/wiki/SandBox", "attachfile", {"action"}),
    ("/wiki/SandBox", "rename", {"action"}),
    ("/wiki/SandBox", "delete", {"action"}),
    ("/wiki/NoSuchPage", "modifypage", {"action"}),
    ("/wiki/SandBox?action=rename", "rename-form", {"new_name", "redirect"}),
    ("/newticket", "propertyform", {"field_summary", "field_description", "field_type",
                                    "preview", "submit"}),
    ("/ticket/1", "propertyform", {"field_summary", "comment", "action", "submit", "preview"}),
    ("/ticket/1", "clone", {"field_type", "field_summary", "field_description", "preview"}),
    ("/ticket/1", "addreply", {"replyto"}),
    ("/query", "query", {"add_filter_0", "col", "order"}),
    ("/search?q=crashes", "fullsearch", {"q", "wiki", "ticket", "milestone", "changeset"}),
    ("/timeline", "prefs", {"from", "daysback"}),
    ("/prefs", "userprefs", {"name", "email"}),
    ("/admin/ticket/milestones", "addmilestone", {"name", "duedate"}),
    ("/admin/ticket/milestones", "milestone_table", {"sel", "remove"}),
    ("/admin/ticket/components", "addcomponent", {"name", "owner"}),
    ("/admin/ticket/versions", "addversion", {"name"}),
    ("/admin/ticket/priority", "addenum", {"name"}),
    ("/admin/general/perm", "addperm", {"subject", "action"}),
    ("/admin/general/perm", "addsubj", {"subject", "group"}),
    ("/admin/general/basics", "modbasic", {"name", "url", "descr"}),
    ("/attachment/wiki/SandBox/", "attachment", {"attachment", "description", "replace"}),
]


@pytest.mark.parametrize("url,form_id,fields", FORMS)
def test_forms_have_tracs_ids_and_field_names(site, url, form_id, fields):
    env, client, _ = site
    tree = _page(client, url)
    form = tree.by_id(form_id)
    assert form is not None and form.tag == "form", (url, form_id)
    missing = fields - tree.field_names(form)
    assert not missing, (url, form_id, missing)
    if form.attrs.get("method", "get").lower() == "post":
        assert "__FORM_TOKEN" in tree.field_names(form)


def test_messages_in_tracs_words(site):
    env, client, _ = site
    missing = _page(client, "/wiki/NoSuchPage").by_id("content").text()
    assert "The page NoSuchPage does not exist." in " ".join(missing.split())
    created = client.post("/wiki/FreshPage", {"action": "edit", "text": "Hello", "version": "0",
                                              "save": "Save"})
    assert created.status_code == 303
    notice = _page(client, "/wiki/FreshPage").by_id("notice")
    assert notice and "notice" in notice.classes and "system-message" in notice.classes
    assert "The page FreshPage has been created." in notice.text()
    assert _page(client, "/wiki/FreshPage").by_id("notice") is None  # shown once
    client.post("/wiki/FreshPage", {"action": "edit", "text": "Hello again", "version": "1",
                                    "save": "Save"})
    notice = _page(client, "/wiki/FreshPage").by_id("notice")
    assert "Your changes have been saved in version 2" in notice.text()
    assert re.search(r"\(diff\)\.", notice.text())
    ticket = _page(client, "/ticket/1")
    title = [e for e in ticket.root.walk() if e.tag == "title"][0].text()
    assert title.startswith("#1 (It crashes)")
    nothing = _page(client, "/search?q=zzyzzx&noquickjump=1").by_id("content").text()
    assert "No matches found." in nothing
    empty = _page(client, "/query?summary=~nothing-like-this").by_id("content").text()
    assert "No tickets found" in empty  # Trac's words on /query ("No matches found." is a report's)
    client.get("/logout")


def test_permission_errors_name_the_action(served):
    env, client = served()
    PermissionSystem(env).revoke("anonymous", "WIKI_VIEW")
    refused = client.get("/wiki/WikiStart")
    assert refused.status_code == 403
    assert "WIKI_VIEW" in text(refused)
    tree = Tree(text(refused))
    assert tree.by_id("content") is not None and "error" in tree.by_id("content").classes


def test_warnings_carry_tracs_box(site):
    env, client, _ = site
    env.config.set("wiki", "max_size", "5")
    env.config.save()
    refused = client.post("/wiki/SandBox", {"action": "edit", "text": "far too long", "version": "2",
                                            "save": "Save"})
    assert refused.status_code == 413
    warning = Tree(text(refused)).by_id("warning")
    assert warning is not None and {"warning", "system-message"} <= warning.classes
    strong = [e for e in warning.children if e.tag == "strong"]
    assert strong and strong[0].text() == "Warning:"
