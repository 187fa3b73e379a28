"""Widgets of the dl-tui app, each with its own messages; no screen logic here."""
