"""Simulated persons for the study tests, shared by conftest and the tests (a module of its own, as sample_counts)."""

from __future__ import annotations

from pathlib import Path

import carelake
from carelake.omop.schema import create_cdm
from carelake.warehouse import Warehouse

STUDIES = Path(__file__).parents[1] / "data" / "studies"
EXAMPLE = Path(carelake.__file__).parent / "data" / "example_study" / "study.yaml"


def load_simulated(wh: Warehouse, folder: Path) -> Warehouse:
    """Load the simulator's OMOP output in `folder`/omop into a fresh CDM."""
    create_cdm(wh)
    carelake.load_omop(wh, sorted((folder / "omop").glob("*.csv.gz")))
    return wh
