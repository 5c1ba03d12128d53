"""One call for the CLI and notebooks: run checks and characterization, write JSON and HTML to a folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from carelake.privacy.disclosure import DisclosureRule, disclosure_rule
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
    wh: Warehouse,
    out: Path,
    *,
    min_cell_count: int | DisclosureRule | None = None,
    progress: Progress | None = None,
) -> QualityReport:
    """Checks, characterization (stored in the results schema), then dqd-results.json and dashboard.html.

    Both files pass the disclosure rule at `min_cell_count` (default: the rule's default).
    """
    from carelake.quality.achilles import export, run_achilles
    from carelake.quality.dashboard import write_dashboard
    from carelake.quality.errors import QualityUsageError
    from carelake.quality.results import results_json, write_results

    if "person" not in {t.lower() for t in wh.list_tables(wh.cdm_schema)}:
        raise QualityUsageError(
            f"no CDM in schema {wh.cdm_schema}: PERSON is missing", hint="run carelake init and load data first"
        )
    out.mkdir(parents=True, exist_ok=True)
    run = run_checks(wh, progress=progress)
    run_achilles(wh)
    rule = disclosure_rule(min_cell_count)
    characterization = export(wh, rule)
    results_path = write_results(run, out / "dqd-results.json", rule)
    dashboard_path = write_dashboard(results_json(run, rule), out / "dashboard.html", characterization)
    return QualityReport(run, results_path, dashboard_path)
