"""Attachments: files attached to wiki pages, tickets, milestones (any realm).

Stored as Trac 1.6 stores them, so either program reads the other's files: the
``attachment`` table and ``files/attachments/<realm>/<xxx>/<sha1 of parent id>/<sha1 of
file name><extension>``.
"""
