"""Runs ``trac-admin`` commands for the tests, each in a fresh process forked from this one.

Started with the Python of a Trac virtualenv. Importing Trac and its plugins takes most of a
``trac-admin`` run (about a second of the 1.4 here); this process imports them once and forks a
child per command, so each command still starts from a process that has done nothing else,
as ``trac-admin`` does. One JSON request per line on stdin ({"argv", "stdin", "env", "cwd"}),
one JSON reply per line on stdout ({"rc", "out", "err"}). It exits when stdin closes.
"""

import json
import os
import sys
import tempfile
import traceback

# This file's directory holds the tests' own trac.py: it must not hide Trac's package.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]


def _preload():
    import pkg_resources  # noqa: F401  (what trac-admin imports first, and slowly)
    import trac.admin.console  # noqa: F401
    import trac.env  # noqa: F401

    for entry in pkg_resources.iter_entry_points("trac.plugins"):
        try:
            entry.load(require=False)
        except Exception:  # noqa: BLE001 - the command itself will report it
            pass


def _child(request, out_path, err_path, in_path):
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    fd_in = os.open(in_path, os.O_RDONLY)
    fd_out = os.open(out_path, os.O_WRONLY)
    fd_err = os.open(err_path, os.O_WRONLY)
    os.dup2(fd_in, 0)
    os.dup2(fd_out, 1)
    os.dup2(fd_err, 2)
    sys.stdin = open(0, encoding="utf-8", closefd=False)
    sys.stdout = open(1, "w", encoding="utf-8", closefd=False)
    sys.stderr = open(2, "w", encoding="utf-8", closefd=False)
    sys.argv = [request["argv0"], *request["argv"]]
    code = 1
    try:
        from trac.admin.console import run

        sys.exit(run(request["argv"]))
    except SystemExit as exc:
        if exc.code is None:
            code = 0
        elif isinstance(exc.code, int):
            code = exc.code
        else:
            print(exc.code, file=sys.stderr)
            code = 1
    except BaseException:  # noqa: BLE001 - as the interpreter would: traceback, status 1
        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def main():
    # Replies go to a copy of stdout; anything else printed goes to stderr, not into them.
    reply_to = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    _preload()
    for line in sys.stdin:
        request = json.loads(line)
        with tempfile.TemporaryDirectory(prefix="trac-admin-") as tmp:
            paths = [os.path.join(tmp, name) for name in ("out", "err", "in")]
            for path in paths:
                open(path, "w").close()
            with open(paths[2], "w", encoding="utf-8") as fh:
                fh.write(request.get("stdin") or "")
            pid = os.fork()
            if pid == 0:
                _child(request, *paths)
            _, status = os.waitpid(pid, 0)
            rc = os.waitstatus_to_exitcode(status)
            with open(paths[0], encoding="utf-8", errors="replace") as fh:
                out = fh.read()
            with open(paths[1], encoding="utf-8", errors="replace") as fh:
                err = fh.read()
        reply_to.write(json.dumps({"rc": rc, "out": out, "err": err}) + "\n")
        reply_to.flush()


if __name__ == "__main__":
    main()
