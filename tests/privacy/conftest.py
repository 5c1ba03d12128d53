"""A small simulated population, made once for the privacy tests (smaller than Synthea27Nj's vocabulary to copy)."""

from __future__ import annotations

from pathlib import Path

import pytest

from carelake.synth import synthesize


@pytest.fixture(scope="session")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """OMOP CSVs of 400 simulated persons (seed 3)."""
    out = tmp_path_factory.mktemp("sim")
    synthesize(400, 3, out, "omop")
    return out / "omop"
