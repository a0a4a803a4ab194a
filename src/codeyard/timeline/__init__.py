"""The timeline: recent events of every feature, newest first, grouped by day."""
