"""A demo site: ``python -m codeyard.demo var/demo`` (``make run`` serves it).

Creates, only when absent, a parent directory holding one sample project (``demo``) with a
few components, milestones and tickets, and an ``htpasswd`` file with the account
``admin``/``admin`` (bcrypt), who is the project's administrator (TRAC_ADMIN).
"""

from __future__ import annotations

import os
import sys
import time

DEMO_PROJECT = "demo"
DEMO_NAME = "Demo project"
DEMO_DESCRIPTION = "A sample project to try codeyard with"
ADMIN_USER = "admin"
ADMIN_PASSWORD = "admin"

COMPONENTS = [("Web interface", "admin"), ("Command line", "admin"), ("Documentation", "")]
MILESTONES = [("1.0", 30), ("1.1", 90)]
TICKETS = [
    ("defect", "Web interface", "1.0", "major", "The project index shows no description",
     "Open the site root: the description of each project should be shown under its name."),
    ("enhancement", "Command line", "1.0", "minor", "Add a --quiet option to serve",
     "Printing the URL on start is useful, the access log less so."),
    ("task", "Documentation", "1.1", "trivial", "Write the getting-started page",
     "Explain `make run`, logging in as admin/admin and creating a ticket."),
]


def _now_us() -> int:
    return int(time.time() * 1_000_000)


def write_htpasswd(path: str, user: str, password: str) -> None:
    """An htpasswd file with one bcrypt entry, as ``htpasswd -B`` writes it."""
    import bcrypt

    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=10)).decode("ascii")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(f"{user}:$2y${hashed[4:]}\n")


def _fill_tickets(env, out) -> None:
    """Components and milestones through the ticket model; tickets as rows until the
    ticket system offers a model to create them."""
    from codeyard.ticket import values

    now = _now_us()
    day = 86_400_000_000
    with env.db_transaction as db:
        for name, owner in COMPONENTS:
            values.add_component(env, name, owner or None)
        for name, days in MILESTONES:
            values.add_milestone(env, name, due=now + days * day)
        for ttype, component, milestone, severity, summary, description in TICKETS:
            db("INSERT INTO ticket (type, time, changetime, component, severity, priority, "
               "owner, reporter, cc, version, milestone, status, resolution, summary, "
               "description, keywords) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, '', '', %s, "
               "'new', '', %s, %s, '')",
               (ttype, now, now, component, severity, "major", "", ADMIN_USER, milestone,
                summary, description))
    values.invalidate_ticket_fields(env)
    out(f"  {len(COMPONENTS)} components, {len(MILESTONES)} milestones, {len(TICKETS)} tickets")


def create_demo(parent: str, out=print) -> bool:
    """Create the demo site in ``parent``; False (and nothing touched) when it exists."""
    from codeyard.env import Environment
    from codeyard.perm import PermissionSystem

    parent = os.path.abspath(parent)
    project = os.path.join(parent, DEMO_PROJECT)
    htpasswd = os.path.join(parent, "htpasswd")
    if os.path.exists(project):
        out(f"The demo site already exists in {parent}.")
        return False
    os.makedirs(parent, exist_ok=True)
    made_htpasswd = False
    try:
        if not os.path.exists(htpasswd):
            write_htpasswd(htpasswd, ADMIN_USER, ADMIN_PASSWORD)
            made_htpasswd = True
        env = Environment.create(project, [
            ("project", "name", DEMO_NAME),
            ("project", "descr", DEMO_DESCRIPTION),
            ("account-manager", "password_file", htpasswd),
            ("logging", "log_type", "file"),
        ])
        try:
            PermissionSystem(env).grant(ADMIN_USER, "TRAC_ADMIN")
            out(f"Created the demo site in {parent}:")
            out(f"  project {DEMO_NAME!r} in {project}")
            _fill_tickets(env, out)
            if made_htpasswd:
                out(f"  {htpasswd} with the account {ADMIN_USER}/{ADMIN_PASSWORD} (TRAC_ADMIN)")
            else:
                out(f"  {ADMIN_USER} is TRAC_ADMIN (accounts in the existing {htpasswd})")
        finally:
            env.shutdown()
    except BaseException:
        import shutil

        shutil.rmtree(project, ignore_errors=True)
        if made_htpasswd:
            os.unlink(htpasswd)
        raise
    return True


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0].startswith("-"):
        print("usage: python -m codeyard.demo DIRECTORY", file=sys.stderr)
        return 2
    create_demo(args[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
