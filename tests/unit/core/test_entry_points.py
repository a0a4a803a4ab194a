"""Third-party plugins arrive through the `codeyard.plugins` entry point group and are off
until a project's [components] turns them on."""

from __future__ import annotations

import sys

import pytest

pytestmark = pytest.mark.db


@pytest.fixture
def installed_plugin(tmp_path, monkeypatch):
    """A real installed distribution (a .dist-info on sys.path) declaring one plugin."""
    (tmp_path / "yard_extra.py").write_text(
        "from codeyard.core import hookimpl\n"
        "from codeyard.admin.api import AdminCommand\n\n"
        "@hookimpl\n"
        "def admin_commands():\n"
        "    return [AdminCommand('extra hello', '', 'Say hello', "
        "lambda ctx: ctx.print('hello from a plugin'))]\n")
    info = tmp_path / "yard_extra-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: yard-extra\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[codeyard.plugins]\nextra = yard_extra\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "yard_extra"
    sys.modules.pop("yard_extra", None)


def test_entry_point_plugin_is_off_until_enabled(installed_plugin, make_env, capsys):
    from codeyard.admin.console import main
    from codeyard.core import known_plugins

    assert (installed_plugin, False) in known_plugins()
    env = make_env("p")
    assert not env.is_enabled(installed_plugin)
    assert main([env.path, "extra", "hello"]) == 2
    env.config.set("components", f"{installed_plugin}.*", "enabled")
    env.config.save()
    assert main([env.path, "extra", "hello"]) == 0
    assert "hello from a plugin" in capsys.readouterr().out
