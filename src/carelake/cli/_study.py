"""Verb `carelake study`: prediction studies from one study file (`validate` checks it without running)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from carelake.cli._state import JSON_OPTION, MIN_CELL_OPTION, open_warehouse, print_json
from carelake.cli._state import min_cell_count as min_cell_count_setting

__all__ = ["register", "write_summary"]


def register(app: typer.Typer) -> None:
    study_app = typer.Typer(help="Prediction studies from one study file.", no_args_is_help=True)
    app.add_typer(study_app, name="study")

    @study_app.command("validate")
    def validate(
        study: Path = typer.Argument(..., help="The study YAML file."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document on stdout."),
    ) -> None:
        """Check a study file (schema, cohort files, covariate settings) without touching a warehouse."""
        from carelake.studies import StudyError, check_references, load_study

        sf = load_study(study)
        problems = check_references(sf)
        if problems:
            raise StudyError(sf.path, problems)
        s = sf.study
        if as_json:
            from carelake.cli._state import print_json

            print_json({"study": s.name, "valid": True, "outcomes": len(s.outcomes), "models": len(s.models)})
            return
        models = ", ".join(m.type for m in s.models)
        sys.stdout.write(f"{sf.path}: study {s.name!r} is valid: {len(s.outcomes)} outcome(s), models {models}\n")

    @study_app.command("run")
    def run(
        study: Path = typer.Argument(..., help="The study YAML file."),
        out: Path = typer.Option(..., "--out", help="Folder for the tables, models, results.json and report.html."),
        min_cell_count: int | None = MIN_CELL_OPTION,
        as_json: bool = JSON_OPTION,
    ) -> None:
        """Run a prediction study on the warehouse: cohorts, population, covariates, models, evaluation, report."""
        from carelake.privacy.disclosure import disclosure_rule
        from carelake.reports import publish
        from carelake.studies import StudyError, check_references, load_study
        from carelake.studies.run import run_study

        sf = load_study(study)
        problems = check_references(sf)
        if problems:
            raise StudyError(sf.path, problems)
        rule = disclosure_rule(min_cell_count_setting(min_cell_count))
        with open_warehouse() as wh:
            result = run_study(wh, sf, progress=_stderr)
        results = publish(result, out, rule)
        if as_json:
            print_json(results)
            return
        write_summary(results)


def _stderr(message: str) -> None:
    sys.stderr.write(f"study: {message}\n")


def write_summary(results: dict[str, Any]) -> None:
    """The run's headline, one line per analysis, for people."""
    for a in results["analyses"]:
        if a["test_auroc"] is None:
            sys.stdout.write(f"{a['analysis']}: {'; '.join(a['notes']) or 'not estimable'}\n")
            continue
        low, high = a["test_auroc_95ci"]
        ci = "" if low is None else f" (95% CI {low:.3f}-{high:.3f})"
        sys.stdout.write(
            f"{a['analysis']}: test AUROC {a['test_auroc']:.3f}{ci}, calibration slope {a['calibration_slope']:.2f}, "
            f"{a['population']} persons, {a['outcomes']} with the outcome\n"
        )
    sys.stdout.write(f"report: {results['report']}\n")
