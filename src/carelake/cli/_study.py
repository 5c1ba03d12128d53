"""Verb `carelake study`: prediction studies from one study file (`validate` checks it without running)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from carelake.cli._state import JSON_OPTION, MIN_CELL_OPTION, open_warehouse, print_json
from carelake.cli._state import min_cell_count as min_cell_count_setting

if TYPE_CHECKING:
    from carelake.privacy.disclosure import DisclosureRule
    from carelake.studies.analysis import StudyRun

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
        from carelake.studies import StudyError, check_references, load_study
        from carelake.studies.run import run_study

        sf = load_study(study)
        problems = check_references(sf)
        if problems:
            raise StudyError(sf.path, problems)
        rule = disclosure_rule(min_cell_count_setting(min_cell_count))
        with open_warehouse() as wh:
            result = run_study(wh, sf, progress=_stderr)
        _publish(result, out, rule, as_json)

    @study_app.command("validate-external")
    def validate_external(
        model: Path = typer.Option(..., "--model", help="A saved model folder (OUT/<analysis>/model of a study run)."),
        out: Path = typer.Option(..., "--out", help="Folder for the validation's tables, results.json and report."),
        min_cell_count: int | None = MIN_CELL_OPTION,
        as_json: bool = JSON_OPTION,
    ) -> None:
        """Evaluate a saved model on this warehouse (external validation): the same tables and report."""
        from carelake.models.artifact import load_model
        from carelake.privacy.disclosure import disclosure_rule
        from carelake.studies.external import validate_external as run_validation

        saved = load_model(model)
        rule = disclosure_rule(min_cell_count_setting(min_cell_count))
        with open_warehouse() as wh:
            result = run_validation(wh, saved, progress=_stderr)
        _publish(result, out, rule, as_json)

    @app.command("predict")
    def predict(
        model: Path = typer.Option(..., "--model", help="A saved model folder (OUT/<analysis>/model of a study run)."),
        cohort: int | None = typer.Option(None, "--cohort", help="Score this cohort's rows (default: the target)."),
        person_ids: list[int] | None = typer.Option(None, "--person-id", help="Score these persons only (repeat)."),
        output: Path | None = typer.Option(None, "--out", help="Also write the scores as CSV here."),
        top: int = typer.Option(3, "--top", help="Largest contributions listed per person."),
        as_json: bool = JSON_OPTION,
    ) -> None:
        """Score persons with a saved model: a risk and the covariates that moved it most, per cohort entry."""
        from carelake.models.artifact import load_model
        from carelake.studies.external import score

        saved = load_model(model)
        with open_warehouse() as wh:
            scores = score(wh, saved, cohort_id=cohort, person_ids=person_ids, top=top)
        rows = scores.table.to_pylist()
        if output is not None:
            _write_scores(output, rows)
        if as_json:
            print_json({"model": str(model), "scored": len(rows), "not_in_cohort": scores.not_in_cohort,
                        "missing_covariates": scores.missing_covariates, "scores": rows})  # fmt: skip
            return
        for r in rows[:50]:
            why = ", ".join(f"{c['covariate_name'] or c['covariate_id']} ({c['contribution']:+.2f})"
                            for c in r["top_contributions"])  # fmt: skip
            survival = "".join(f", {_LABEL[k.rsplit('_', 1)[0]]}({k.rsplit('_', 1)[1]}) {v:.4f}" for k, v in r.items()
                               if k.rsplit("_", 1)[0] in _LABEL)  # fmt: skip
            sys.stdout.write(f"person {r['person_id']} at {r['cohort_start_date']}: risk {r['risk']:.4f}{survival}  "
                             f"{why}\n")  # fmt: skip
        if len(rows) > 50:
            sys.stdout.write(f"... {len(rows) - 50} more (use --out FILE.csv or --json)\n")
        for p in scores.not_in_cohort:
            sys.stderr.write(f"person {p}: not in the cohort scored, no risk given\n")
        if scores.missing_covariates:
            sys.stderr.write(f"{scores.missing_covariates} of the model's covariates never occur here (counted 0)\n")


def _publish(result: StudyRun, out: Path, rule: DisclosureRule, as_json: bool) -> None:
    """Write a run's tables and report, then print its results (JSON) or its headline (people)."""
    from carelake.reports import publish

    results = publish(result, out, rule)
    if as_json:
        print_json(results)
        return
    write_summary(results)


# A time-to-event model's columns per horizon and how the terminal shows them: S(365d), F(365d), F2(365d).
_LABEL = {"survival": "S", "incidence": "F", "competing_incidence": "F2"}


def _write_scores(path: Path, rows: list[dict[str, Any]]) -> None:
    import csv
    import json

    survival = [k for k in (rows[0] if rows else {}) if k.rsplit("_", 1)[0] in _LABEL]  # a time-to-event model's
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["person_id", "cohort_start_date", "risk", *survival, "top_contributions"])
        for r in rows:
            w.writerow([r["person_id"], r["cohort_start_date"], repr(r["risk"]), *(repr(r[k]) for k in survival),
                        json.dumps(r["top_contributions"])])  # fmt: skip


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
            f"{a['analysis']}: {a['evaluation'].lower()} AUROC {a['test_auroc']:.3f}{ci}, "
            f"calibration slope {a['calibration_slope']:.2f}, "
            f"{a['population']} persons, {a['outcomes']} with the outcome\n"
        )
    sys.stdout.write(f"report: {results['report']}\n")
