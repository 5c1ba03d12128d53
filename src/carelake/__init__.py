"""carelake: health data from where it lives (FHIR, OMOP, Synthea) to decisions people can trust.

The public API is small on purpose: open a warehouse with `connect`, load OMOP data with `load_omop`,
an Athena vocabulary with `load_vocabulary`, and see what is there with `describe`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["__version__", "connect", "create_cdm", "describe", "load_omop", "load_vocabulary"]

if TYPE_CHECKING:
    from carelake.omop.info import describe
    from carelake.omop.loader import load_files as load_omop
    from carelake.omop.schema import create_cdm
    from carelake.omop.vocabulary import load_vocabulary
    from carelake.warehouse import connect

_LAZY = {
    "connect": ("carelake.warehouse", "connect"),
    "create_cdm": ("carelake.omop.schema", "create_cdm"),
    "describe": ("carelake.omop.info", "describe"),
    "load_omop": ("carelake.omop.loader", "load_files"),
    "load_vocabulary": ("carelake.omop.vocabulary", "load_vocabulary"),
}


def __getattr__(name: str) -> Any:
    """Import on first use, so `import carelake` (and `carelake --help`) stays fast."""
    if name in _LAZY:
        from importlib import import_module

        module, attr = _LAZY[name]
        return getattr(import_module(module), attr)
    raise AttributeError(f"module 'carelake' has no attribute {name!r}")
