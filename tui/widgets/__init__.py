"""Widgets of the trailtop TUI."""
