"""Simulated persons for the study tests: OMOP CSV from the simulator (with its ground truth), made once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from carelake.synth import synthesize


@pytest.fixture(scope="session")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3,000 simulated persons (seed 3): omop/*.csv.gz and truth.csv.gz."""
    out = tmp_path_factory.mktemp("sim3000")
    synthesize(3000, 3, out, "omop")
    return out
