"""Verb `carelake synth`: simulate a population to OMOP CSV and/or FHIR NDJSON, with its ground truth."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path

import typer

__all__ = ["register"]


class SynthFormat(StrEnum):
    omop = "omop"
    fhir = "fhir"
    both = "both"


def register(app: typer.Typer) -> None:
    @app.command()
    def synth(
        persons: int = typer.Option(1000, "--persons", "-n", help="How many persons to simulate."),
        seed: int = typer.Option(0, "--seed", help="The same seed (and chunk size) gives byte-identical files."),
        out: Path = typer.Option(Path("synth"), "--out", help="Folder for omop/, fhir/, truth.csv.gz, truth.json."),
        fmt: SynthFormat = typer.Option(SynthFormat.omop, "--format", help="omop, fhir or both."),
        chunk: int = typer.Option(20_000, "--chunk", help="Persons simulated and written at a time (bounds memory)."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document on stdout."),
    ) -> None:
        """Simulate persons with chronic disease, visits, labs, drugs and deaths, plus their true risks."""
        from carelake.errors import UserError
        from carelake.synth import synthesize

        if chunk < 1:
            raise UserError("--chunk must be at least 1")
        report = synthesize(persons, seed, out, fmt.value, chunk=chunk)
        if as_json:
            from carelake.cli._state import print_json

            print_json(report.to_dict())
            return
        for name, n in report.rows.items():
            sys.stdout.write(f"  {name:<28} {n:>12,}\n")
        sys.stdout.write(f"wrote {report.persons:,} persons (seed {report.seed}) to {report.out}\n")
