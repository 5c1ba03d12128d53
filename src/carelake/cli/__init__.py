"""The `carelake` command: a thin layer over the Python API; heavy modules load only when a verb runs."""

from carelake.cli._main import app, main

__all__ = ["app", "main"]
