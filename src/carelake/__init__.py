"""carelake: health data from where it lives (FHIR, OMOP, Synthea) to decisions people can trust.

A notebook needs one import. Open a warehouse with `connect`; load data with `load_omop`, `load_fhir` (FHIR to OMOP),
`load_vocabulary`; see what is there with `describe`. Each stage is a subpackage reachable from here without a
further import: `carelake.cohorts.generate`, `carelake.characterize.characterize`, `carelake.features.extract`,
`carelake.quality.run_quality`, `carelake.synth.synthesize`, `carelake.fhir.run_view`, `carelake.privacy`. Every
function that works on a warehouse takes it first, as `wh`; every error carelake raises is a `CarelakeError`.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from carelake.errors import CarelakeError

__version__ = "0.1.0"

__all__ = [
    "CarelakeError",
    "__version__",
    "characterize",
    "cohorts",
    "connect",
    "create_cdm",
    "describe",
    "features",
    "fhir",
    "harmonize",
    "load_fhir",
    "load_omop",
    "load_vocabulary",
    "omop",
    "privacy",
    "quality",
    "sources",
    "synth",
    "warehouse",
]

if TYPE_CHECKING:
    from carelake import characterize, cohorts, features, fhir, harmonize, omop, privacy, quality, sources, synth
    from carelake import warehouse as warehouse
    from carelake.harmonize.load import load_fhir
    from carelake.omop.info import describe
    from carelake.omop.loader import load_files as load_omop
    from carelake.omop.schema import create_cdm
    from carelake.omop.vocabulary import load_vocabulary
    from carelake.warehouse import connect

_FUNCTIONS = {
    "connect": ("carelake.warehouse", "connect"),
    "create_cdm": ("carelake.omop.schema", "create_cdm"),
    "describe": ("carelake.omop.info", "describe"),
    "load_fhir": ("carelake.harmonize.load", "load_fhir"),
    "load_omop": ("carelake.omop.loader", "load_files"),
    "load_vocabulary": ("carelake.omop.vocabulary", "load_vocabulary"),
}
_SUBPACKAGES = frozenset(
    {"characterize", "cohorts", "features", "fhir", "harmonize", "omop", "privacy", "quality", "sources", "synth",
     "warehouse"}
)  # fmt: skip


def __getattr__(name: str) -> Any:
    """Import on first use, so `import carelake` (and `carelake --help`) stays fast."""
    if name in _FUNCTIONS:
        module, attr = _FUNCTIONS[name]
        return getattr(import_module(module), attr)
    if name in _SUBPACKAGES:
        return import_module(f"carelake.{name}")
    raise AttributeError(f"module 'carelake' has no attribute {name!r}")


def __dir__() -> list[str]:
    """What tab completion offers: the public API, imported or not yet."""
    return sorted(__all__)
