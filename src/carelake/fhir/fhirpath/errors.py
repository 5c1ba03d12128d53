"""Exception hierarchy: callers distinguish bad syntax, bad meaning and bad data."""

from __future__ import annotations

from carelake.errors import UserError


class FhirPathError(UserError):
    """Base class for every error the FHIRPath engine raises (an expression or its input is wrong: a user error)."""


class FhirPathSyntaxError(FhirPathError, ValueError):
    """The expression text does not match the grammar; ``position`` is the 0-based offset."""

    def __init__(self, message: str, position: int, text: str = "") -> None:
        self.position = position
        self.text = text
        super().__init__(f"{message} at position {position}")


class FhirPathSemanticError(FhirPathError):
    """The expression parses but cannot be valid (unknown function, wrong argument count, bad name)."""


class FhirPathExecutionError(FhirPathError):
    """Evaluation failed on this input (singleton expected, incompatible operand types, ...)."""
