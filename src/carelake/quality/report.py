"""One call for the CLI and notebooks: run checks and characterization, write JSON and HTML to a folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from carelake.quality.runner import Progress, QualityRun, run_checks
from carelake.warehouse import Warehouse

__all__ = ["QualityReport", "run_quality"]


@dataclass
class QualityReport:
    run: QualityRun
    results_path: Path
    dashboard_path: Path

    def to_dict(self) -> dict[str, object]:
        return {
            "counts": self.run.counts(),
            "checks": len(self.run.results),
            "results": str(self.results_path),
            "dashboard": str(self.dashboard_path),
        }


def run_quality(
    warehouse: Warehouse, out: Path, *, min_cell_count: int = 5, progress: Progress | None = None
) -> QualityReport:
    """Checks, characterization (stored in the results schema), then dqd-results.json and dashboard.html."""
    from carelake.quality.achilles import export, run_achilles
    from carelake.quality.dashboard import write_dashboard
    from carelake.quality.errors import QualityUsageError
    from carelake.quality.results import results_json, write_results

    if "person" not in {t.lower() for t in warehouse.list_tables(warehouse.cdm_schema)}:
        raise QualityUsageError(
            f"no CDM in schema {warehouse.cdm_schema}: PERSON is missing", hint="run carelake init and load data first"
        )
    out.mkdir(parents=True, exist_ok=True)
    run = run_checks(warehouse, progress=progress)
    run_achilles(warehouse)
    characterization = export(warehouse, min_cell_count)
    results_path = write_results(run, out / "dqd-results.json", min_cell_count)
    dashboard_path = write_dashboard(results_json(run, min_cell_count), out / "dashboard.html", characterization)
    return QualityReport(run, results_path, dashboard_path)
