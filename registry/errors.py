"""Errors of the registry's own configuration, shared by the modules that read it."""

from __future__ import annotations


class SettingsError(ValueError):
    """A setting has a value the registry cannot use; the message says how to fix it."""
