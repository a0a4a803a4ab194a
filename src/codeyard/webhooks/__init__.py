"""Outgoing webhooks: signed JSON POSTs about tickets, wiki pages, milestones and pushes."""
