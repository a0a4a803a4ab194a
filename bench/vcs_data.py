"""Seeded, reproducible repositories for the version control benchmark, made from real
source text (the Python standard library this interpreter ships), cached between runs.

- ``git_repository(n)``: a bare Git repository of ``n`` commits (default 5,000) written with
  ``git fast-import``: about 300 files in nested directories; each commit edits one to three
  of them with a block of lines taken from another file, now and then adds, renames or
  deletes one; in the middle one commit adds a file of 4,000 lines and the next edits every
  other line of it (the "large diff" changeset).
- ``bzr_branch(n)``: a Bazaar standalone branch (in a directory ``trunk`` inside a shared
  repository) of ``n`` revisions (default 1,000) made the same way through breezy.
- ``svn_repository(n)``: a Subversion repository of ``n`` revisions (default 2,000) with
  trunk/, branches/ and tags/, made the same way plus tags and branches (copies), moves
  (copy + delete) and property changes, written as a dump stream for ``svnadmin load``.

All live under ``var/bench-data/`` keyed by their parameters and are rebuilt only when
missing. Progress goes to stderr.
"""

from __future__ import annotations

import io
import os
import random
import shutil
import subprocess
import sys
import sysconfig
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DATA = os.path.join(REPO, "var", "bench-data")
SEED = 11
EPOCH = 1_600_000_000
AUTHORS = [f"Developer {n} <dev{n}@example.org>" for n in range(12)]
LARGE_FILE = "src/generated/tables.py"


def progress(label: str, done: int, total: int) -> None:
    if done == total or done % max(1, total // 50) == 0:
        sys.stderr.write(f"\r{label}: {done}/{total}")
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def source_lines(limit_files: int = 400) -> list[list[str]]:
    """Real Python source: the standard library's modules cut in pieces of at most 300
    lines, in a fixed order."""
    stdlib = sysconfig.get_paths()["stdlib"]
    names = sorted(n for n in os.listdir(stdlib) if n.endswith(".py"))
    pieces: list[list[str]] = []
    for name in names:
        try:
            with open(os.path.join(stdlib, name), encoding="utf-8") as fh:
                lines = fh.read().splitlines(keepends=True)
        except (OSError, UnicodeDecodeError):
            continue
        for start in range(0, len(lines), 300):
            chunk = lines[start:start + 300]
            if len(chunk) > 20:
                pieces.append(chunk)
        if len(pieces) >= limit_files:
            break
    return pieces[:limit_files]


class History:
    """The evolving tree: path -> list of lines; ``step`` makes the next commit's changes."""

    def __init__(self, files: int, seed: int = SEED) -> None:
        self.rnd = random.Random(seed)
        self.pieces = source_lines(files + 100)
        dirs = ["src/core", "src/web", "src/util", "src/db", "docs", "tests/unit",
                "tests/functional", "tools", "src/web/templates", "src/core/parsers"]
        self.files: dict[str, list[str]] = {}
        for index in range(files):
            path = f"{dirs[index % len(dirs)]}/module_{index:03d}.py"
            self.files[path] = list(self.pieces[index % len(self.pieces)])
        self.counter = files

    def edited(self, lines: list[str]) -> list[str]:
        """A copy of ``lines`` with a few of them replaced by a block taken from another file."""
        rnd = self.rnd
        lines = list(lines)
        donor = rnd.choice(self.pieces)
        start = rnd.randrange(max(1, len(donor) - 12))
        block = donor[start:start + rnd.randint(2, 12)]
        at = rnd.randrange(len(lines) + 1)
        cut = rnd.randint(0, 6)
        lines[at:at + cut] = block
        return lines

    def step(self, number: int, large_at: int) -> tuple[str, dict[str, list[str] | None],
                                                       dict[str, str]]:
        """(message, {path: new lines or None to delete}, {new path: old path} renames)."""
        rnd = self.rnd
        changes: dict[str, list[str] | None] = {}
        renames: dict[str, str] = {}
        paths = sorted(p for p in self.files if p != LARGE_FILE)
        if number == large_at + 1:
            table = list(self.files[LARGE_FILE])
            for n in range(0, len(table), 2):
                table[n] = table[n].replace("'name-", "'renamed-")
            changes[LARGE_FILE] = table
            message = "Rename every other entry of the lookup tables"
        elif number == large_at:
            table = [f"ENTRY_{n:05d} = ({n}, {n * n}, {n * 7 % 13}, 'name-{n}')\n"
                     for n in range(4000)]
            changes[LARGE_FILE] = table
            message = "Add the generated lookup tables"
        else:
            for _ in range(rnd.randint(1, 3)):
                path = rnd.choice(paths)
                changes[path] = self.edited(self.files[path])
            roll = rnd.random()
            if roll < 0.03:
                self.counter += 1
                path = f"src/extra/added_{self.counter:04d}.py"
                changes[path] = list(rnd.choice(self.pieces))
            elif roll < 0.05 and len(paths) > 50:
                old = rnd.choice([p for p in paths if p not in changes])
                new = old.replace(".py", f"_r{number}.py")
                renames[new] = old
            elif roll < 0.06 and len(paths) > 50:
                victim = rnd.choice([p for p in paths if p not in changes])
                changes[victim] = None
            ticket = rnd.randrange(1, 2000)
            verb = rnd.choice(["Fix", "Refactor", "Document", "Speed up", "Clean up"])
            message = (f"{verb} {os.path.basename(next(iter(changes)))}, refs #{ticket}\n\n"
                       f"Change {number} of the benchmark history.")
        for new, old in renames.items():
            self.files[new] = self.files.pop(old)
        for path, lines in changes.items():
            if lines is None:
                self.files.pop(path, None)
            else:
                self.files[path] = lines
        return message, changes, renames


def git_repository(commits: int = 5000, files: int = 300) -> str:
    """The path of a bare Git repository with ``commits`` commits (built once)."""
    path = os.path.join(DATA, f"git-{commits}-{files}-{SEED}.git")
    if os.path.isdir(path) and os.path.exists(os.path.join(path, "codeyard-complete")):
        return path
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(DATA, exist_ok=True)
    subprocess.run(["git", "init", "-q", "--bare", "-b", "master", path], check=True)
    proc = subprocess.Popen(["git", "fast-import", "--quiet", "--done"], cwd=path,
                            stdin=subprocess.PIPE)
    assert proc.stdin is not None
    out = proc.stdin
    history = History(files)
    began = time.perf_counter()

    def data(text: bytes) -> None:
        out.write(b"data %d\n" % len(text))
        out.write(text)
        out.write(b"\n")

    for number in range(1, commits + 1):
        author = AUTHORS[number % len(AUTHORS)]
        when = EPOCH + number * 3600
        if number == 1:
            message, changes, renames = "Initial import", dict(history.files), {}
        else:
            message, changes, renames = history.step(number, commits // 2)
        out.write(b"commit refs/heads/master\n")
        out.write(f"mark :{number}\n".encode())
        out.write(f"author {author} {when} +0000\n".encode())
        out.write(f"committer {author} {when} +0000\n".encode())
        data(message.encode())
        if number > 1:
            out.write(f"from :{number - 1}\n".encode())
        for new, old in renames.items():
            out.write(f'R "{old}" "{new}"\n'.encode())
        for file_path, lines in changes.items():
            if lines is None:
                out.write(f'D "{file_path}"\n'.encode())
            else:
                out.write(f'M 100644 inline "{file_path}"\n'.encode())
                data("".join(lines).encode())
        if number % 500 == 0:
            out.write(f"tag v{number // 500}.0\nfrom :{number}\n".encode())
            out.write(f"tagger {author} {when} +0000\n".encode())
            data(f"Release {number // 500}.0".encode())
        progress("git history", number, commits)
    out.write(b"done\n")
    out.close()
    if proc.wait() != 0:
        raise SystemExit("git fast-import failed")
    subprocess.run(["git", "gc", "-q", "--aggressive", "--prune=now"], cwd=path, check=True)
    open(os.path.join(path, "codeyard-complete"), "w").close()
    sys.stderr.write(f"git repository of {commits} commits in {time.perf_counter() - began:.1f} s\n")
    return path


def bzr_branch(revisions: int = 1000, files: int = 150) -> str:
    """The path of a directory holding a shared Bazaar repository with the branch ``trunk``
    of ``revisions`` revisions (built once)."""
    root = os.path.join(DATA, f"bzr-{revisions}-{files}-{SEED}")
    if os.path.exists(os.path.join(root, "codeyard-complete")):
        return root
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root)
    import breezy
    from breezy import controldir
    from breezy.bzr import bzrdir  # noqa: F401  (registers the bzr formats)

    began = time.perf_counter()
    import breezy.ui
    from breezy.commit import NullCommitReporter

    with breezy.initialize(setup_ui=False):
        breezy.ui.ui_factory = breezy.ui.SilentUIFactory()
        fmt = controldir.format_registry.make_controldir("2a")
        shared = controldir.ControlDir.create(root, format=fmt)
        shared.create_repository(shared=True)
        trunk_dir = os.path.join(root, "trunk")
        tree = controldir.ControlDir.create_branch_convenience(
            trunk_dir, format=fmt, force_new_tree=True).controldir.open_workingtree()
        history = History(files)
        with tree.lock_write():
            for number in range(1, revisions + 1):
                if number == 1:
                    message, changes, renames = "Initial import", dict(history.files), {}
                else:
                    message, changes, renames = history.step(number, revisions // 2)
                for new, old in renames.items():
                    tree.rename_one(old, new)
                added = []
                for file_path, lines in changes.items():
                    full = os.path.join(trunk_dir, file_path)
                    if lines is None:
                        tree.remove([file_path], keep_files=False, to_file=io.StringIO())
                        continue
                    os.makedirs(os.path.dirname(full), exist_ok=True)
                    existed = tree.is_versioned(file_path)
                    with open(full, "w", encoding="utf-8") as fh:
                        fh.writelines(lines)
                    if not existed:
                        added.append(file_path)
                if added:
                    tree.smart_add([os.path.join(trunk_dir, p) for p in added], action=None)
                author = AUTHORS[number % len(AUTHORS)]
                tree.commit(message, authors=[author], committer=author,
                            timestamp=EPOCH + number * 3600, timezone=0,
                            reporter=NullCommitReporter())
                if number % 100 == 0:
                    tree.branch.tags.set_tag(f"v{number // 100}.0", tree.last_revision())
                progress("bzr history", number, revisions)
    open(os.path.join(root, "codeyard-complete"), "w").close()
    sys.stderr.write(f"bzr branch of {revisions} revisions in {time.perf_counter() - began:.1f} s\n")
    return root


class SvnDump:
    """Writes a Subversion dump stream (format 2: every text in full) to a binary file."""

    def __init__(self, out, uuid: str) -> None:
        self.out = out
        out.write(f"SVN-fs-dump-format-version: 2\n\nUUID: {uuid}\n\n".encode())

    @staticmethod
    def props(values: dict[str, str]) -> bytes:
        parts = []
        for key, value in sorted(values.items()):
            k, v = key.encode(), value.encode()
            parts.append(b"K %d\n%s\nV %d\n%s\n" % (len(k), k, len(v), v))
        return b"".join(parts) + b"PROPS-END\n"

    def revision(self, number: int, author: str, when: int, message: str) -> None:
        date = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(when))
        props = self.props({"svn:author": author, "svn:date": date, "svn:log": message})
        self.out.write(b"Revision-number: %d\nProp-content-length: %d\nContent-length: %d\n\n"
                       % (number, len(props), len(props)) + props + b"\n")

    def node(self, path: str, action: str, kind: str | None = None,
             text: bytes | None = None, props: dict[str, str] | None = None,
             copy_from: tuple[str, int] | None = None) -> None:
        """One node record; ``props`` (when given) replaces all the node's properties."""
        head = [f"Node-path: {path}"]
        if kind:
            head.append(f"Node-kind: {kind}")
        head.append(f"Node-action: {action}")
        if copy_from:
            head += [f"Node-copyfrom-rev: {copy_from[1]}", f"Node-copyfrom-path: {copy_from[0]}"]
        body = b""
        if props is not None:
            prop_bytes = self.props(props)
            head.append(f"Prop-content-length: {len(prop_bytes)}")
            body += prop_bytes
        if text is not None:
            head.append(f"Text-content-length: {len(text)}")
            body += text
        if props is not None or text is not None:
            head.append(f"Content-length: {len(body)}")
        self.out.write("\n".join(head).encode() + b"\n\n" + body + b"\n\n")


class SvnHistory:
    """The trunk's evolution (``History``) plus what only Subversion has: tags and branches as
    copies, moves as copy + delete, versioned properties. Every ``period`` revisions: a tag of
    the trunk, two branches with a few commits each, a move, a delete and a property change;
    in the middle the large-diff pair of revisions on ``trunk/LARGE_FILE``."""

    def __init__(self, dump: SvnDump, revisions: int, files: int, seed: int) -> None:
        self.dump = dump
        self.history = History(files, seed)
        self.period = max(20, min(200, revisions // 10))
        self.props: dict[str, dict[str, str]] = {}  # trunk path -> its properties
        self.dirs: set[str] = set()  # directories under trunk
        self.branches: dict[str, dict[str, list[str]]] = {}  # name -> its files
        large = revisions // 2
        while self.kind(large) != "trunk" or self.kind(large + 1) != "trunk":
            large += 1
        self.large_at = large

    def kind(self, number: int) -> str:
        offset, half, quarter = number % self.period, self.period // 2, self.period // 4
        if number == 1:
            return "import"
        if offset == 0:
            return "tag"
        if offset in (half, half + quarter):
            return "branch"
        if half < offset <= half + 3 or half + quarter < offset <= half + quarter + 2:
            return "branch-edit"
        return {5: "props", 7: "move", 9: "delete"}.get(offset, "trunk")

    def write(self, number: int) -> None:
        """The dump records of revision ``number``."""
        kind = self.kind(number)
        author = AUTHORS[number % len(AUTHORS)].split("<")[1].split("@")[0]
        when = EPOCH + number * 3600
        if kind == "tag":
            tag = f"1.{number // self.period}"
            self.dump.revision(number, author, when, f"Tag release {tag}")
            self.dump.node("tags/" + tag, "add", "dir", copy_from=("trunk", number - 1))
            return
        if kind == "branch":
            cycle = number // self.period
            name = f"feature-{cycle}" if number % self.period == self.period // 2 else f"fix-{cycle}"
            self.branches[name] = dict(self.history.files)
            self.dump.revision(number, author, when, f"Branch {name} off the trunk")
            self.dump.node("branches/" + name, "add", "dir", copy_from=("trunk", number - 1))
            return
        if kind == "branch-edit":
            name, tree = list(self.branches.items())[-1]  # the latest branch
            path = self.history.rnd.choice(sorted(p for p in tree if p != LARGE_FILE))
            tree[path] = self.history.edited(tree[path])
            self.dump.revision(number, author, when,
                               f"Work on {os.path.basename(path)} for {name}")
            self.dump.node(f"branches/{name}/{path}", "change", "file",
                           text="".join(tree[path]).encode())
            return
        existed = set() if kind == "import" else set(self.history.files)
        message, changes, renames, props = self.trunk_change(number, kind)
        self.dump.revision(number, author, when, message)
        if kind == "import":
            for top in ("branches", "tags", "trunk"):
                self.dump.node(top, "add", "dir")
        for new, old in renames.items():
            self.dump.node("trunk/" + new, "add", "file", copy_from=("trunk/" + old, number - 1))
            self.dump.node("trunk/" + old, "delete")
            self.props[new] = self.props.pop(old, {})
        for path, lines in changes.items():
            if lines is None:
                self.dump.node("trunk/" + path, "delete")
                self.props.pop(path, None)
                continue
            text = "".join(lines).encode()
            if path in existed:
                self.dump.node("trunk/" + path, "change", "file", text=text, props=props.get(path))
            else:
                self.add_dirs(path)
                self.dump.node("trunk/" + path, "add", "file", text=text, props=props.get(path))
            if path in props:
                self.props[path] = props[path]

    def trunk_change(self, number: int, kind: str):
        """(message, changes, renames, {path: all its properties where they change}), with the
        history's tree brought up to date."""
        history = self.history
        paths = sorted(p for p in history.files if p != LARGE_FILE)
        if kind == "import":
            props = {p: {"svn:eol-style": "native"} for p in paths[::4]}
            return "Initial import", dict(history.files), {}, props
        if kind == "move":
            old = history.rnd.choice(paths)
            new = old.replace(".py", f"_m{number}.py")
            history.files[new] = history.files.pop(old)
            return f"Move {old} to {new}", {}, {new: old}, {}
        if kind == "delete":
            victim = history.rnd.choice(paths)
            del history.files[victim]
            return f"Remove {victim}", {victim: None}, {}, {}
        message, changes, renames = history.step(number, self.large_at)
        props = {}
        if kind == "props":
            path = next(p for p, lines in changes.items() if lines is not None)
            props[path] = {**self.props.get(path, {}), "svn:mime-type": "text/x-python",
                           "svn:eol-style": "native"}
        return message, changes, renames, props

    def add_dirs(self, path: str) -> None:
        parts = path.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            directory = "/".join(parts[:depth])
            if directory not in self.dirs:
                self.dirs.add(directory)
                self.dump.node("trunk/" + directory, "add", "dir")


def svn_repository(revisions: int = 2000, files: int = 300, data: str = DATA,
                   seed: int = SEED) -> str:
    """The path of a Subversion repository of ``revisions`` revisions (trunk, branches,
    tags), built once under ``data`` from a dump stream fed to ``svnadmin load``."""
    path = os.path.join(data, f"svn-{revisions}-{files}-{seed}")
    if os.path.exists(os.path.join(path, "codeyard-complete")):
        return path
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(data, exist_ok=True)
    began = time.perf_counter()
    subprocess.run(["svnadmin", "create", path], check=True)
    proc = subprocess.Popen(["svnadmin", "load", "-q", path], stdin=subprocess.PIPE)
    assert proc.stdin is not None
    uuid = "%08x-0000-4000-8000-%012x" % (seed, revisions * 1000 + files)
    history = SvnHistory(SvnDump(proc.stdin, uuid), revisions, files, seed)
    for number in range(1, revisions + 1):
        history.write(number)
        progress("svn history", number, revisions)
    proc.stdin.close()
    if proc.wait() != 0:
        raise SystemExit("svnadmin load failed")
    subprocess.run(["svnadmin", "verify", "-q", path], check=True)
    youngest = subprocess.run(["svnlook", "youngest", path], check=True, capture_output=True,
                              text=True).stdout.strip()
    if youngest != str(revisions):
        raise SystemExit(f"the Subversion repository ends at r{youngest}, not r{revisions}")
    open(os.path.join(path, "codeyard-complete"), "w").close()
    sys.stderr.write(f"svn repository of {revisions} revisions in "
                     f"{time.perf_counter() - began:.1f} s\n")
    return path


if __name__ == "__main__":
    print(git_repository())
    print(bzr_branch())
    print(svn_repository())
