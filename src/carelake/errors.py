"""Every error carelake raises on purpose, so callers catch one root and the CLI maps them to exit codes.

Hierarchy::

    CarelakeError                  root; exit code 1 if nothing more specific applies
    ├── UserError                  the user can fix it (exit code 2): bad arguments, bad input, bad config
    │   ├── ConfigError            a setting or URL that cannot be understood
    │   └── InputError             a file that cannot be loaded as given; names file, line, column, value
    │       └── DuplicateKeyError  two rows share a primary key (in the input, or with rows already loaded)
    │   └── ModelFitError          a model has no finite fit on these data (separation, no events)
    └── WarehouseError             the warehouse failed in a way the user did not cause
"""

from __future__ import annotations

__all__ = [
    "CarelakeError",
    "ConfigError",
    "DuplicateKeyError",
    "InputError",
    "ModelFitError",
    "UserError",
    "WarehouseError",
]


class CarelakeError(Exception):
    """Root of carelake's errors; `hint` tells the user what to do next."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UserError(CarelakeError):
    """Something the user can fix: bad arguments, bad input, bad configuration."""

    exit_code = 2


class ConfigError(UserError):
    """A setting, URL or option that cannot be understood."""


class InputError(UserError):
    """An input file that cannot be loaded as given.

    The message always names where: file, line (1-based, header is line 1), column and the offending value,
    so a user can open the file at that spot.
    """

    def __init__(
        self,
        reason: str,
        *,
        file: str,
        line: int | None = None,
        column: str | None = None,
        value: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.reason = reason
        self.file = file
        self.line = line
        self.column = column
        self.value = value
        where = file + (f", line {line}" if line is not None else "")
        where += f", column {column}" if column is not None else ""
        what = f": value {_show(value)}" if value is not None else ""
        super().__init__(f"{where}: {reason}{what}", hint=hint)


class DuplicateKeyError(InputError):
    """Two rows share a primary key."""


class ModelFitError(UserError):
    """A model has no finite fit on these data; the message says why and what to change."""


class WarehouseError(CarelakeError):
    """The warehouse failed in a way the user did not cause (connection lost, engine bug)."""


def _show(value: str, limit: int = 60) -> str:
    text = value if len(value) <= limit else value[: limit - 3] + "..."
    return repr(text)
