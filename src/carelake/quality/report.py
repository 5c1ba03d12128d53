"""One call for the CLI and notebooks: run checks and characterization, write the DQD results JSON to a folder.

The report holds both documents as they may leave the machine (through the disclosure rule); reports/quality.py
draws the dashboard from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from carelake.privacy.disclosure import DisclosureRule, disclosure_rule
from carelake.quality.runner import Progress, QualityRun, run_checks
from carelake.warehouse import Warehouse

__all__ = ["QualityReport", "run_quality"]


@dataclass(frozen=True)
class QualityReport:
    run: QualityRun
    results_path: Path
    results: dict[str, Any]  # dqd-results.json, suppressed
    characterization: dict[str, Any]  # the Achilles-style export, suppressed

    def to_dict(self) -> dict[str, object]:
        return {"counts": self.run.counts(), "checks": len(self.run.results), "results": str(self.results_path)}


def run_quality(
    wh: Warehouse,
    out: Path,
    *,
    min_cell_count: int | DisclosureRule | None = None,
    progress: Progress | None = None,
) -> QualityReport:
    """Checks, characterization (stored in the results schema), then dqd-results.json.

    Both documents pass the disclosure rule at `min_cell_count` (default: the rule's default).
    """
    from carelake.quality.achilles import export, run_achilles
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
    results = results_json(run, rule)
    return QualityReport(run, write_results(results, out / "dqd-results.json"), results, characterization)
