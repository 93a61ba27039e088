"""Reusable widgets of the UI."""
