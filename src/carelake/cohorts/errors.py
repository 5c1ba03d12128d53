"""The error a cohort definition raises when it cannot be compiled as written."""

from __future__ import annotations

from carelake.errors import UserError

__all__ = ["CohortDefinitionError"]


class CohortDefinitionError(UserError):
    """A Circe cohort definition that is malformed or refers to something missing.

    `path` is where in the JSON the problem sits (e.g. ``InclusionRules[1].expression.CriteriaList[0]``), so the
    message can be acted on without reading the whole definition.
    """

    def __init__(self, path: str, reason: str, *, hint: str | None = None) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}" if path else reason, hint=hint)
