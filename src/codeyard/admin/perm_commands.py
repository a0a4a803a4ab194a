"""Placeholder plugin (filled in by its feature)."""
