"""The `quality` verb: DataQualityDashboard checks and characterization, written as JSON and HTML."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from carelake.cli._state import JSON_OPTION as _JSON
from carelake.cli._state import MIN_CELL_OPTION, open_warehouse
from carelake.cli._state import min_cell_count as min_cell_count_setting

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    @app.command()
    def quality(
        out: Path = typer.Option(
            Path("carelake-quality"), "--out", help="Folder for dqd-results.json and dashboard.html."
        ),
        min_cell_count: int | None = MIN_CELL_OPTION,
        as_json: bool = _JSON,
    ) -> None:
        """Run DataQualityDashboard's checks and an Achilles-style characterization; write JSON and HTML."""
        from carelake.cli._audit import note_output
        from carelake.quality.errors import QualityUsageError
        from carelake.quality.report import run_quality
        from carelake.reports.quality import write_dashboard

        if out.exists() and not out.is_dir():
            raise QualityUsageError(f"--out {out} is a file", hint="give a folder (it is created if missing)")
        cells = min_cell_count_setting(min_cell_count)
        with open_warehouse() as wh:
            report = run_quality(wh, out, min_cell_count=cells)
        dashboard = write_dashboard(report)
        note_output(out)
        if as_json:
            from carelake.cli._state import print_json

            print_json(report.to_dict() | {"dashboard": str(dashboard)})
            return
        counts = report.run.counts()
        sys.stdout.write(
            f"{len(report.run.results):,} checks: {counts['passed']:,} passed, {counts['failed']:,} failed, "
            f"{counts['not applicable']:,} not applicable, {counts['error']:,} errors\n"
            f"results: {report.results_path}\ndashboard: {dashboard}\n"
        )
