"""FHIR R4: readers, reference resolution, the raw store, FHIRPath and SQL-on-FHIR v2 views compiled to SQL.

`stage_fhir(wh, paths)` loads resources into `fhir.<type>` tables; `run_view(wh, view)` runs a ViewDefinition in the
warehouse and returns an Arrow table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["StageReport", "compile_view", "materialize_view", "run_view", "stage_fhir"]

if TYPE_CHECKING:
    from carelake.fhir.store import StageReport, stage_fhir
    from carelake.fhir.view.runner import compile_view, materialize_view, run_view

_LAZY = {
    "StageReport": ("carelake.fhir.store", "StageReport"),
    "stage_fhir": ("carelake.fhir.store", "stage_fhir"),
    "compile_view": ("carelake.fhir.view.runner", "compile_view"),
    "materialize_view": ("carelake.fhir.view.runner", "materialize_view"),
    "run_view": ("carelake.fhir.view.runner", "run_view"),
}


def __getattr__(name: str) -> Any:
    """Import on first use: the CLI's --help must not pay for the engines."""
    if name in _LAZY:
        from importlib import import_module

        module, attr = _LAZY[name]
        return getattr(import_module(module), attr)
    raise AttributeError(f"module 'carelake.fhir' has no attribute {name!r}")
