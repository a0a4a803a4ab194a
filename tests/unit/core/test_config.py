from __future__ import annotations

import os

import pytest

from codeyard.config import (
    BoolOption,
    ConfigError,
    Configuration,
    IntOption,
    ListOption,
    format_ini,
    parse_ini,
)


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_unknown_options_survive_a_write(tmp_path):
    f = write(tmp_path / "trac.ini", "[someplugin]\nweird_option = keep me\n\n[project]\nname = P\n")
    config = Configuration(f)
    config.set("project", "name", "Q")
    config.save()
    again = Configuration(f)
    assert again.get("someplugin", "weird_option") == "keep me"
    assert again.get("project", "name") == "Q"


def test_multiline_values_round_trip(tmp_path):
    f = write(tmp_path / "trac.ini", "[a]\nx = one\n  two\n")
    config = Configuration(f)
    assert config.get("a", "x") == "one\ntwo"
    config.save()
    assert Configuration(f).get("a", "x") == "one\ntwo"


def test_inherit_falls_back_and_own_values_win(tmp_path):
    shared = write(tmp_path / "shared.ini", "[project]\nfooter = shared footer\nname = Shared\n")
    f = write(tmp_path / "trac.ini", f"[inherit]\nfile = {shared}\n\n[project]\nname = Own\n")
    config = Configuration(f)
    assert config.get("project", "name") == "Own"
    assert config.get("project", "footer") == "shared footer"
    config.save()
    # Inherited values are not copied into the project's own file.
    assert "shared footer" not in (tmp_path / "trac.ini").read_text()


def test_inherit_relative_path_and_missing_file(tmp_path):
    write(tmp_path / "base.ini", "[x]\ny = 1\n")
    config = Configuration(write(tmp_path / "trac.ini", "[inherit]\nfile = base.ini\n"))
    assert config.get("x", "y") == "1"
    with pytest.raises(ConfigError, match="does not exist"):
        Configuration(write(tmp_path / "bad.ini", "[inherit]\nfile = nowhere.ini\n"))


def test_malformed_file_names_file_and_line(tmp_path):
    f = write(tmp_path / "trac.ini", "[a]\nok = 1\nthis line is nonsense\n")
    with pytest.raises(ConfigError, match=r"trac.ini, line 3"):
        Configuration(f)
    f = write(tmp_path / "t2.ini", "orphan = 1\n")
    with pytest.raises(ConfigError, match="outside any"):
        Configuration(f)


def test_typed_options_convert_and_report_bad_values(tmp_path):
    flag = BoolOption("testsec", "flag", False, "A flag.")
    count = IntOption("testsec", "count", 3, "A count.")
    items = ListOption("testsec", "items", ("a", "b"), "Items.")
    config = Configuration(write(tmp_path / "trac.ini", "[testsec]\nflag = enabled\ncount = x\n"))
    assert flag(config) is True
    assert items(config) == ["a", "b"]
    with pytest.raises(ConfigError, match=r"\[testsec\] count"):
        count(config)


def test_reload_if_changed_sees_other_writers(tmp_path):
    f = write(tmp_path / "trac.ini", "[a]\nb = 1\n")
    config = Configuration(f)
    other = Configuration(f)
    other.set("a", "b", "2")
    other.save()
    os.utime(f, ns=(1, 10**18))
    assert config.reload_if_changed()
    assert config.get("a", "b") == "2"
    assert not config.reload_if_changed()


def test_format_is_sorted_and_parseable():
    text = format_ini({"b": {"z": "1", "a": ""}, "a": {"x": "y"}})
    assert text.index("[a]") < text.index("[b]")
    assert parse_ini(text) == {"a": {"x": "y"}, "b": {"a": "", "z": "1"}}
