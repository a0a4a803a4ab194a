"""The eight reports a new project starts with (the same titles and purpose as Trac's).

The SQL is built for the project's database (casts and concatenation differ between SQLite
and PostgreSQL). ``$USER`` is replaced by the report engine with the viewer's name.
Special columns: ``__color__`` (1-5, from the priority), ``__group__``, ``__style__``;
a leading ``_`` hides a column, ``_col_`` shows it on a row of its own.
"""

from __future__ import annotations

PRIORITY_JOIN = "LEFT JOIN enum AS pri ON pri.type = 'priority' AND pri.name = t.priority"
HIDDEN = "t.changetime AS _changetime, t.description AS _description, t.reporter AS _reporter"


def default_reports(db) -> list[tuple[str, str, str]]:
    """(title, description, SQL) of each default report, in report-number order."""
    by_priority = db.cast("pri.value", "int")
    milestone_label = db.concat("'Milestone '", "t.milestone")
    return [
        ("Active Tickets",
         " * Every ticket that is not closed, the most urgent first.\n"
         " * Rows are coloured by priority.\n",
         f"""SELECT pri.value AS __color__,
       t.id AS ticket, t.summary, t.component, t.version, t.milestone,
       t.type AS type, t.owner, t.status, t.time AS created,
       {HIDDEN}
FROM ticket AS t
{PRIORITY_JOIN}
WHERE t.status <> 'closed'
ORDER BY {by_priority}, t.milestone, t.type, t.time
"""),
        ("Active Tickets by Version",
         "Open tickets in one group per version, coloured by priority.\n\n"
         "The last change time, the description and the reporter are hidden columns, "
         "there for the RSS feed of this report.\n",
         f"""SELECT pri.value AS __color__, t.version AS __group__,
       t.id AS ticket, t.summary, t.component, t.version, t.type AS type,
       t.owner, t.status, t.time AS created,
       {HIDDEN}
FROM ticket AS t
{PRIORITY_JOIN}
WHERE t.status <> 'closed'
ORDER BY (t.version IS NULL), t.version, {by_priority}, t.type, t.time
"""),
        ("Active Tickets by Milestone",
         "Open tickets in one group per milestone, coloured by priority.\n\n"
         "The last change time, the description and the reporter are hidden columns, "
         "there for the RSS feed of this report.\n",
         f"""SELECT pri.value AS __color__, {milestone_label} AS __group__,
       t.id AS ticket, t.summary, t.component, t.version, t.type AS type,
       t.owner, t.status, t.time AS created,
       {HIDDEN}
FROM ticket AS t
{PRIORITY_JOIN}
WHERE t.status <> 'closed'
ORDER BY (t.milestone IS NULL), t.milestone, {by_priority}, t.type, t.time
"""),
        ("Accepted, Active Tickets by Owner",
         "Accepted tickets in one group per owner, the most urgent first.\n",
         f"""SELECT pri.value AS __color__, t.owner AS __group__,
       t.id AS ticket, t.summary, t.component, t.milestone, t.type AS type,
       t.time AS created,
       {HIDDEN}
FROM ticket AS t
{PRIORITY_JOIN}
WHERE t.status = 'accepted'
ORDER BY t.owner, {by_priority}, t.type, t.time
"""),
        ("Accepted, Active Tickets by Owner (Full Description)",
         "Accepted tickets in one group per owner, each shown with its whole description\n"
         "on a full-width row below it.\n",
         f"""SELECT pri.value AS __color__, t.owner AS __group__,
       t.id AS ticket, t.summary, t.component, t.milestone, t.type AS type,
       t.time AS created, t.description AS _description_,
       t.changetime AS _changetime, t.reporter AS _reporter
FROM ticket AS t
{PRIORITY_JOIN}
WHERE t.status = 'accepted'
ORDER BY t.owner, {by_priority}, t.type, t.time
"""),
        ("All Tickets By Milestone  (Including closed)",
         "Every ticket, open or closed, grouped by milestone: an example of a richer report.\n"
         "Closed tickets are greyed out and come last in their group; your own open tickets\n"
         "are shown in bold.\n",
         f"""SELECT pri.value AS __color__, t.milestone AS __group__,
       (CASE WHEN t.status = 'closed'
             THEN 'color: #6a6a6a; background: #f0f0f0; border-color: #d8d8d8;'
             WHEN t.owner = $USER THEN 'font-weight: bold'
        END) AS __style__,
       t.id AS ticket, t.summary, t.component, t.status, t.resolution, t.version,
       t.type AS type, t.priority, t.owner, t.changetime AS modified,
       t.time AS _time, t.reporter AS _reporter
FROM ticket AS t
{PRIORITY_JOIN}
ORDER BY (t.milestone IS NULL), t.milestone DESC, (t.status = 'closed'),
         (CASE WHEN t.status = 'closed' THEN t.changetime
               ELSE (-1) * {by_priority} END) DESC
"""),
        ("My Tickets",
         "The open tickets you own, reported or commented on. The report uses the\n"
         "USER variable, which is set to the name of whoever views it.\n",
         f"""SELECT pri.value AS __color__,
       (CASE WHEN t.owner = $USER AND t.status = 'accepted' THEN 'Accepted'
             WHEN t.owner = $USER THEN 'Owned'
             WHEN t.reporter = $USER THEN 'Reported'
             ELSE 'Commented'
        END) AS __group__,
       t.id AS ticket, t.summary, t.component, t.version, t.milestone,
       t.type AS type, t.priority, t.time AS created,
       {HIDDEN}
FROM ticket AS t
{PRIORITY_JOIN}
WHERE t.status <> 'closed'
  AND (t.owner = $USER OR t.reporter = $USER
       OR EXISTS (SELECT 1 FROM ticket_change AS tc
                  WHERE tc.ticket = t.id AND tc.author = $USER
                    AND tc.field = 'comment'))
ORDER BY (COALESCE(t.owner, '') = $USER AND t.status = 'accepted') DESC,
         (COALESCE(t.owner, '') = $USER) DESC,
         (COALESCE(t.reporter, '') = $USER) DESC,
         {by_priority}, t.milestone, t.type, t.time
"""),
        ("Active Tickets, Mine first",
         " * Every ticket that is not closed, the most urgent first.\n"
         " * The tickets you own come first, in a group of their own.\n",
         f"""SELECT pri.value AS __color__,
       (CASE WHEN t.owner = $USER THEN 'My Tickets' ELSE 'Active Tickets' END) AS __group__,
       t.id AS ticket, t.summary, t.component, t.version, t.milestone,
       t.type AS type, t.owner, t.status, t.time AS created,
       {HIDDEN}
FROM ticket AS t
{PRIORITY_JOIN}
WHERE t.status <> 'closed'
ORDER BY (COALESCE(t.owner, '') = $USER) DESC, {by_priority}, t.milestone, t.type, t.time
"""),
    ]
