"""Errors of the quality stage the user can fix (exit code 2 in the CLI)."""

from carelake.errors import UserError

__all__ = ["QualityUsageError"]


class QualityUsageError(UserError):
    """A bad option or a warehouse without a CDM to check."""
