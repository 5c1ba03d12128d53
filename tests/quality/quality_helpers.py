"""Shared helpers for the quality tests (a plain module: conftest imports are ambiguous across folders)."""

from __future__ import annotations

from pathlib import Path

import carelake
from carelake.quality import QualityRun, run_checks
from carelake.warehouse import Warehouse, connect


def load_sample(wh: Warehouse, sample_dir: Path) -> Warehouse:
    carelake.load_omop(wh, [sample_dir])
    return wh


def clean_duckdb_run(sample_dir: Path) -> QualityRun:
    """The whole suite on the sample in an in-memory DuckDB: the reference every other run is compared with."""
    wh = load_sample(connect("duckdb:///:memory:"), sample_dir)
    try:
        return run_checks(wh)
    finally:
        wh.close()


def outcome(run: QualityRun) -> dict[str, tuple[str, int | None, int | None]]:
    return {r.check.check_id: (r.status, r.num_violated_rows, r.num_denominator_rows) for r in run.results}
