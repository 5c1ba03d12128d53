"""`load_fhir`: FHIR files to OMOP in one call, the path `carelake load fhir` takes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from carelake.fhir.store import StageReport, stage_fhir
from carelake.harmonize.accounting import HarmonizeReport
from carelake.harmonize.pipeline import harmonize
from carelake.warehouse import Warehouse

__all__ = ["FhirLoad", "load_fhir"]


@dataclass(frozen=True)
class FhirLoad:
    """What a FHIR load did: the raw store's accounting, and OMOP's (None when only staged)."""

    staging: StageReport
    omop: HarmonizeReport | None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"staging": self.staging.to_dict()}
        if self.omop is not None:
            out["omop"] = self.omop.to_dict()
        return out


def load_fhir(wh: Warehouse, paths: Iterable[str | Path], *, stage_only: bool = False) -> FhirLoad:
    """Stage FHIR files (NDJSON, Bundles, resources, a Bulk manifest) in the raw store, then harmonize to OMOP.

    Bad records are set aside with file:line and reason; the rest loads. `stage_only` skips harmonization. One
    transaction: stopped at any point, the raw store and OMOP are both as they were, never one without the other.
    """
    with wh.transaction():
        staging = stage_fhir(wh, paths)
        omop = None if stage_only else harmonize(wh)
    return FhirLoad(staging, omop)
