"""A new project's trac.ini comes from its enabled plugins' option declarations, never from
whatever modules the process happened to import before."""

from __future__ import annotations

import importlib
import os
import pkgutil
import subprocess
import sys

import codeyard
from codeyard.env import Environment
from codeyard.wiki.api import FormatContext
from codeyard.wiki.formatter import format_to_html


def _read(env: Environment, name: str) -> str:
    with open(os.path.join(env.path, "conf", name), encoding="utf-8") as fh:
        return fh.read()


def _create_in_fresh_process(path: str, *extra: str) -> None:
    code = ("import sys\nfrom codeyard.env import Environment\n"
            "opts = [('project', 'name', 'Same'), *[tuple(a.split('/', 2)) for a in sys.argv[2:]]]\n"
            "Environment.create(sys.argv[1], opts).shutdown()\n")
    subprocess.run([sys.executable, "-c", code, path, *extra], check=True, timeout=120)


def test_new_trac_ini_is_the_same_in_a_fresh_process_and_after_everything(tmp_path):
    _create_in_fresh_process(str(tmp_path / "fresh"))
    fresh = Environment(str(tmp_path / "fresh"))
    # Now import every module of codeyard and make a project with fewer plugins first.
    for info in pkgutil.walk_packages(codeyard.__path__, "codeyard."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)
    Environment.create(str(tmp_path / "other"), [("components", "codeyard.wiki.*", "disabled")]).shutdown()
    later = Environment.create(str(tmp_path / "later"), [("project", "name", "Same")])
    try:
        assert _read(later, "trac.ini") == _read(fresh, "trac.ini")
        assert _read(later, "trac.ini.sample") == _read(fresh, "trac.ini.sample")
        # The file documents the options of every enabled plugin (dozens), not a subset.
        assert len(later.options) >= 60
        assert "[account-manager]" in _read(later, "trac.ini")
    finally:
        later.shutdown()
        fresh.shutdown()


def test_a_disabled_plugin_brings_no_options(tmp_path):
    env = Environment.create(str(tmp_path / "p"), [("components", "codeyard.web.auth", "disabled")])
    try:
        text = _read(env, "trac.ini")
        assert "[account-manager]" not in text
        assert "password_file" not in _read(env, "trac.ini.sample")
        assert env.options.get("account-manager", "password_file") is None
        assert env.options.get("trac", "database") is not None
        html = str(format_to_html(FormatContext(env), "[[TracIni(account-manager)]]"))
        assert "password_file" not in html
        html = str(format_to_html(FormatContext(env), "[[TracIni(trac)]]"))
        assert "trac-database-option" in html
    finally:
        env.shutdown()


def test_enabling_a_plugin_later_lists_its_options(tmp_path):
    env = Environment.create(str(tmp_path / "p"), [("components", "codeyard.web.auth", "disabled")])
    try:
        assert env.options.get("account-manager", "password_file") is None
        env.config.set("components", "codeyard.web.auth", "enabled")
        env.config.save()
        assert env.options.get("account-manager", "password_file") is not None
    finally:
        env.shutdown()
