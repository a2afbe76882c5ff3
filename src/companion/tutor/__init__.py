"""Tutor domain."""
