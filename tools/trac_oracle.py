"""Render wiki text with the real Trac 1.6 formatter, to write and check golden cases.

Run with the Python of a virtualenv where ``trac==1.6`` is installed::

    var/trac-venv/bin/python tools/trac_oracle.py tests/unit/wiki/golden/*.txt   # fill/refresh
    var/trac-venv/bin/python tools/trac_oracle.py --check tests/unit/wiki/golden/*.txt
    var/trac-venv/bin/python tools/trac_oracle.py --text "'''bold'''"

The environment is made by Trac's own ``trac-admin initenv`` in a temporary directory, emptied
of Trac's default pages, tickets, milestones and reports, and filled from
``tests/unit/wiki/golden/fixture.sql`` (the same rows the golden test inserts into codeyard).
Cases whose header carries ``keep`` are left as written (deliberate differences). The test
suite never imports this file.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "..", "tests", "unit", "wiki", "golden")
sys.path.insert(0, os.path.join(HERE, ".."))  # the golden format is shared with the tests

from tests.support.golden_format import (  # noqa: E402
    CASE_MARK,
    ini_settings,
    parse_header,
    read_cases,
    write_cases,
)


def make_env(tmp):
    path = os.path.join(tmp, "p")
    admin = os.path.join(os.path.dirname(sys.executable), "trac-admin")
    subprocess.run([admin, path, "initenv", "p", "sqlite:db/trac.db"], check=True,
                   stdout=subprocess.DEVNULL)
    from trac.env import Environment

    env = Environment(path)
    env.config.set("trac", "base_url", "http://example.org/p")
    env.config.set("intertrac", "tr.url", "http://trac.example.org")
    env.config.set("intertrac", "tr.title", "Example Trac")
    env.config.set("intertrac", "t", "trac")
    env.config.save()
    env = Environment(path)
    with open(os.path.join(GOLDEN, "fixture.sql"), encoding="utf-8") as fh:
        statements = [s for s in fh.read().split("\nINSERT ") if s.strip()]
    with env.db_transaction as db:
        for table in ("wiki", "ticket", "milestone", "report", "component", "version", "attachment"):
            db("DELETE FROM %s" % table)
        for stmt in statements:
            stmt = stmt.strip()
            if not stmt.startswith("INSERT "):
                stmt = "INSERT " + stmt
            db(stmt)
    from trac.wiki.api import WikiSystem

    del WikiSystem(env).pages
    return env


def render(env, text, opts):
    settings = ini_settings(opts)
    if not settings:
        return _render(env, text, opts)
    # Trac's components keep some option values (the interwiki map, the MIME map, the safe
    # schemes) once read: a case with its own settings gets an environment of its own, a copy
    # of the first one (making each with trac-admin took most of the check's time).
    from trac.env import Environment

    key = tuple(settings)
    own = _own_envs.get(key)
    if own is None:  # beside the first one, in the directory main() removes
        path = os.path.join(os.path.dirname(env.path), f"ini-{len(_own_envs)}")
        shutil.copytree(env.path, path)
        copy = Environment(path)
        for section, option, value in settings:
            copy.config.set(section, option, value)
        copy.config.save()
        own = _own_envs[key] = Environment(copy.path)
    return _render(own, text, opts)


_own_envs: dict = {}


def _render(env, text, opts):
    from trac.resource import Resource
    from trac.test import MockRequest
    from trac.web.chrome import web_context
    from trac.wiki.formatter import format_to_html, format_to_oneliner

    kwargs = {"script_name": "/p"}
    if opts.get("perm") == "anonymous":
        kwargs["authname"] = "anonymous"
    req = MockRequest(env, **kwargs)
    realm, _, rid = str(opts.get("page", "wiki:WikiStart")).partition(":")
    context = web_context(req, Resource(realm, rid))
    flavor = opts.get("flavor", "html")
    if flavor == "oneliner":
        return str(format_to_oneliner(env, context, text, shorten=bool(opts.get("shorten"))))
    return str(format_to_html(env, context, text, escape_newlines=bool(opts.get("newlines"))))


def main(argv):
    tmp = tempfile.mkdtemp(prefix="trac-oracle-")
    try:
        env = make_env(tmp)
        if argv[:1] == ["--text"]:
            print(render(env, argv[1], dict(a.split("=", 1) for a in argv[2:])))
            return 0
        check = argv[:1] == ["--check"]
        files = argv[1:] if check else argv
        bad = 0
        for path in files:
            with open(path, encoding="utf-8") as fh:
                content = fh.read()
            preamble = content[:content.find(CASE_MARK)] if CASE_MARK in content else ""
            cases = read_cases(path)
            out = []
            for header, text, html in cases:
                _name, opts = parse_header(header)
                if opts.get("keep"):
                    out.append((header, text, html))
                    continue
                got = render(env, text, opts).rstrip("\n")
                if check and got != html:
                    bad += 1
                    print(f"{path}: {header}: differs\n--- trac\n{got}\n--- file\n{html}\n")
                out.append((header, text, got))
            if not check:
                write_cases(path, out, preamble)
        return 1 if bad else 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
