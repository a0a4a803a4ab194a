INSERT INTO wiki (name, version, time, author, text, comment, readonly) VALUES ('WikiStart', 1, 1600000000000000, 'admin', 'Welcome', '', 0)
INSERT INTO wiki (name, version, time, author, text, comment, readonly) VALUES ('ExistingPage', 1, 1600000001000000, 'admin', '= Existing =', '', 0)
INSERT INTO wiki (name, version, time, author, text, comment, readonly) VALUES ('SandBox', 1, 1600000002000000, 'admin', 'Play here', '', 0)
INSERT INTO wiki (name, version, time, author, text, comment, readonly) VALUES ('Parent', 1, 1600000003000000, 'admin', 'Parent page', '', 0)
INSERT INTO wiki (name, version, time, author, text, comment, readonly) VALUES ('Parent/Child', 1, 1600000004000000, 'admin', 'Child page', '', 0)
INSERT INTO wiki (name, version, time, author, text, comment, readonly) VALUES ('Parent/Sibling', 1, 1600000005000000, 'admin', 'Sibling page', '', 0)
INSERT INTO wiki (name, version, time, author, text, comment, readonly) VALUES ('Guide/Intro', 1, 1600000006000000, 'admin', 'Intro', '', 0)
INSERT INTO wiki (name, version, time, author, text, comment, readonly) VALUES ('Guide/Usage', 1, 1600000007000000, 'admin', 'Usage', '', 0)
INSERT INTO wiki (name, version, time, author, text, comment, readonly) VALUES ('InterMapTxt', 1, 1600000008000000, 'admin', '== InterMapTxt ==
----
{{{
MeatBall   http://www.usemod.com/cgi-bin/mb.pl? # The MeatBall site
PEP        http://www.python.org/peps/pep-$1.html  # Python Enhancement Proposal $1
Trac-ML    http://thread.gmane.org/gmane.comp.version-control.subversion.trac.general/ # Message $1 in Trac Mailing List
}}}', '', 0)
INSERT INTO ticket (id, type, time, changetime, component, severity, priority, owner, reporter, cc, version, milestone, status, resolution, summary, description, keywords) VALUES (1, 'defect', 1600000000000000, 1600000000000000, '', NULL, 'major', '', 'joe', '', '', '', 'new', '', 'First ticket', 'text', '')
INSERT INTO ticket (id, type, time, changetime, component, severity, priority, owner, reporter, cc, version, milestone, status, resolution, summary, description, keywords) VALUES (2, 'enhancement', 1600000000000000, 1600000000000000, '', NULL, 'major', '', 'joe', '', '', '', 'closed', 'fixed', 'Closed <one>', 'text', '')
INSERT INTO ticket (id, type, time, changetime, component, severity, priority, owner, reporter, cc, version, milestone, status, resolution, summary, description, keywords) VALUES (3, 'task', 1600000000000000, 1600000000000000, '', NULL, 'major', '', 'joe', '', '', '', 'assigned', '', 'Third', 'text', '')
INSERT INTO milestone (name, due, completed, description) VALUES ('milestone1', 0, 0, '')
INSERT INTO milestone (name, due, completed, description) VALUES ('done', 0, 1600000000000000, '')
INSERT INTO report (id, author, title, query, description) VALUES (1, 'admin', 'Active Tickets', 'SELECT 1', '')
INSERT INTO attachment (type, id, filename, size, time, description, author) VALUES ('wiki', 'WikiStart', 'pic.png', 100, 1600000000000000, 'A picture', 'admin')
INSERT INTO attachment (type, id, filename, size, time, description, author) VALUES ('ticket', '1', 'log.txt', 10, 1600000000000000, '', 'joe')
INSERT INTO attachment (type, id, filename, size, time, description, author) VALUES ('wiki', 'Parent/Child', 'doc.pdf', 10, 1600000000000000, '', 'joe')
