"""Verb `carelake study`: prediction studies from one study file (`validate` checks it without running)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

__all__ = ["register"]


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
