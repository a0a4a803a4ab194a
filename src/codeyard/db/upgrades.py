"""Numbered upgrade steps of the Trac schema, from Trac 1.2 (version 41) to 45.

Each step brings the schema from version N-1 to N, as Trac 1.3-1.6 did; every step is
written here from the recorded schema difference, and ``upgrade`` records the new version
in ``system`` in the same transaction.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from codeyard.db.schema import DB_VERSION, TRAC_METADATA

Step = Callable[..., None]


def _rebuild_table(env, db, table: str, keep: list[str]) -> None:
    """Recreate ``table`` with the current definition, copying the columns in ``keep``."""
    target = TRAC_METADATA.tables[table]
    cols = ", ".join(db.quote(c) for c in keep)
    tmp = f"{table}_old_{DB_VERSION}"
    db(f"ALTER TABLE {db.quote(table)} RENAME TO {db.quote(tmp)}")
    if db.dialect == "postgresql":
        # Indexes and constraints keep their names across a rename: drop them first.
        for (name,) in db("SELECT indexname FROM pg_indexes WHERE tablename=%s AND schemaname=current_schema()", (tmp,)):
            db(f"ALTER TABLE {db.quote(tmp)} DROP CONSTRAINT IF EXISTS {db.quote(name)}")
            db(f"DROP INDEX IF EXISTS {db.quote(name)}")
    else:
        for (name,) in db("SELECT name FROM sqlite_master WHERE type='index' AND tbl_name=%s AND sql IS NOT NULL", (tmp,)):
            db(f"DROP INDEX IF EXISTS {db.quote(name)}")
    target.create(db.conn)
    db(f"INSERT INTO {db.quote(table)} ({cols}) SELECT {cols} FROM {db.quote(tmp)}")
    db(f"DROP TABLE {db.quote(tmp)}")


def step_42(env, db, out) -> None:
    """Remove the ipnr column from the attachment and wiki tables."""
    for table in ("attachment", "wiki"):
        if "ipnr" in db.column_names(table):
            keep = [c.name for c in TRAC_METADATA.tables[table].columns]
            _rebuild_table(env, db, table, keep)


_OLD_POLICIES = ["ReadonlyWikiPolicy", "DefaultPermissionPolicy", "LegacyAttachmentPolicy"]
_NEW_POLICIES = ["DefaultWikiPolicy", "DefaultTicketPolicy", "DefaultPermissionPolicy",
                 "LegacyAttachmentPolicy"]


def step_43(env, db, out) -> None:
    """Switch the default permission policies to the wiki and ticket policies."""
    policies = env.config.getlist("trac", "permission_policies")
    if policies == _OLD_POLICIES or not env.config.has_option("trac", "permission_policies"):
        env.config.set("trac", "permission_policies", ",".join(_NEW_POLICIES))  # as Trac writes it
        return
    missing = [p for p in ("DefaultWikiPolicy", "DefaultTicketPolicy") if p not in policies]
    if missing:
        out("Notice: the [trac] permission_policies option was customised; add "
            + " and ".join(missing) + " to it by hand to get the default wiki and ticket rules.")


_DESCRIPTION_ALIAS = re.compile(r"(?<![.\w])(description AS _description)((?=_)|\b)")


def step_44(env, db, out) -> None:
    """Add the description column to the enum table; qualify description in default reports."""
    if "description" not in db.column_names("enum"):
        db("ALTER TABLE enum ADD COLUMN description text")
    manual = []
    for report_id in (1, 2, 3, 4, 5, 7, 8):
        rows = db("SELECT query FROM report WHERE id=%s", (report_id,))
        if not rows or rows[0][0] is None:
            continue
        query = rows[0][0]
        if len(_DESCRIPTION_ALIAS.findall(query)) == 1:
            db("UPDATE report SET query=%s WHERE id=%s", (_DESCRIPTION_ALIAS.sub(r"t.\1", query), report_id))
        elif "description AS _description" in query and "t.description AS _description" not in query:
            manual.append(str(report_id))
    if manual:
        out(f"Report(s) {', '.join(manual)} may need 'description' qualified as 't.description' by hand.")


_TEMPLATE_VAR = re.compile(r"\$([\w.]+)")


def step_45(env, db, out) -> None:
    """Rewrite the notification subject templates to ${var} syntax."""
    for name in ("ticket_subject_template", "batch_subject_template"):
        value = env.config.get("notification", name, None)
        if value and _TEMPLATE_VAR.match(value):
            env.config.set("notification", name, _TEMPLATE_VAR.sub(r"${\1}", value))


STEPS: dict[int, Step] = {42: step_42, 43: step_43, 44: step_44, 45: step_45}


def pending_steps(version: int) -> list[tuple[str, Step]]:
    return [(f"{n}: {(STEPS[n].__doc__ or '').strip()}", STEPS[n])
            for n in sorted(STEPS) if version < n <= DB_VERSION]
