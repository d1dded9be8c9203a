"""Screens of the trailtop TUI."""
