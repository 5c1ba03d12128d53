"""Function registration: a name maps to a FunctionSpec with its arity and argument kind."""

from __future__ import annotations

from collections.abc import Callable

from carelake.fhir.fhirpath.context import Collection, FunctionSpec

__all__ = ["FUNCTIONS", "function"]

FUNCTIONS: dict[str, FunctionSpec] = {}

Impl = Callable[..., Collection]


def function(name: str, min_args: int = 0, max_args: int | None = None, kind: str = "eager") -> Callable[[Impl], Impl]:
    """Register ``impl`` as FHIRPath function ``name`` taking min..max arguments."""

    def register(impl: Impl) -> Impl:
        FUNCTIONS[name] = FunctionSpec(impl, min_args, min_args if max_args is None else max_args, kind)
        return impl

    return register
