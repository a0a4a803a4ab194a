"""The default pages every new project starts with."""

from __future__ import annotations

import re
import time

import pytest

from codeyard.wiki.setup import DEFAULT_PAGES_DIR, default_pages, page_name_for

pytestmark = pytest.mark.db

GUIDE = ["WikiStart", "WikiFormatting", "TracGuide", "TracLinks", "TracTickets", "TracAdmin",
         "TracIni", "WikiMacros", "TracQuery", "TracWorkflow", "TracInstall", "SandBox"]


def test_a_new_project_has_the_default_pages(env):
    before = int(time.time() * 1_000_000)
    with env.db_query as db:
        rows = db("SELECT name, version, author, readonly, time, text FROM wiki ORDER BY name")
    names = [r[0] for r in rows]
    assert set(GUIDE) <= set(names)
    assert names == sorted(default_pages())
    for name, version, author, readonly, stamp, text in rows:
        assert (version, author, readonly) == (1, "codeyard", 0), name
        assert before - 600_000_000 < stamp <= before + 600_000_000
        assert text == default_pages()[name]


def test_pages_are_substantial_and_link_to_each_other():
    pages = default_pages()
    for name in GUIDE:
        assert len(pages[name]) > 400, name
        assert pages[name].lstrip().startswith("="), name  # every page opens with a heading
    guide = pages["TracGuide"]
    for name in GUIDE[1:]:
        if name != "TracGuide":
            assert re.search(rf"\b{name}\b", guide), f"TracGuide does not mention {name}"
    assert "[[TracIni]]" in pages["TracIni"]
    assert "codeyard serve" in pages["TracInstall"] and "make run" in pages["TracInstall"]
    assert "mod_wsgi" in pages["TracInstall"] and "mod_python" in pages["TracInstall"]


def test_slashes_in_page_names(tmp_path):
    (tmp_path / "Plain").write_text("a", encoding="utf-8")
    (tmp_path / "Docs%2FInstall").write_text("b", encoding="utf-8")
    (tmp_path / "Guide").mkdir()
    (tmp_path / "Guide" / "Chapter").write_text("c", encoding="utf-8")
    (tmp_path / ".hidden").write_text("x", encoding="utf-8")
    assert default_pages(str(tmp_path)) == {"Plain": "a", "Docs/Install": "b", "Guide/Chapter": "c"}
    assert page_name_for("A%2FB") == "A/B"
    assert DEFAULT_PAGES_DIR.endswith("default-pages")


def test_every_default_page_renders_without_an_error_box(env):
    from codeyard.perm import Resource
    from codeyard.wiki.formatter import FormatContext, format_to_html

    for name, text in default_pages().items():
        html = str(format_to_html(FormatContext(env, resource=Resource("wiki", name)), text))
        assert "system-message" not in html, name
        assert len(html) > len(text) / 2, name
