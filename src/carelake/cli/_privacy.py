"""Verbs `carelake privacy ...`: pseudonymize the CDM into a schema of its own; verify the audit trail."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from carelake.cli._state import MIN_CELL_OPTION

__all__ = ["register"]


class FileFormat(StrEnum):
    csv = "csv"
    parquet = "parquet"


def register(app: typer.Typer) -> None:
    privacy = typer.Typer(help="Privacy by design: pseudonyms, date shifts, the audit trail.", no_args_is_help=True)
    app.add_typer(privacy, name="privacy")
    audit = typer.Typer(
        help="The audit trail of every command that read patient data or exported.", no_args_is_help=True
    )
    privacy.add_typer(audit, name="audit")

    @audit.command()
    def verify(
        log: Path | None = typer.Option(
            None, "--log", help="The trail (default: CARELAKE_AUDIT_LOG, else ./carelake-audit.jsonl)."
        ),
        head: str | None = typer.Option(
            None, "--head", help="A head printed earlier: fails if entries up to it were removed."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document on stdout."),
    ) -> None:
        """Check that no entry of the audit trail was changed, removed or reordered."""
        from carelake.cli._state import out, print_json
        from carelake.privacy.audit import audit_log_path, verify_log

        path = log or audit_log_path()
        done = verify_log(path, head=head)
        if as_json:
            print_json({"log": str(path), "entries": done.entries, "head": done.head, "intact": True})
            return
        out(f"{path}: {done.entries:,} entries, chain intact; head {done.head}")

    @privacy.command()
    def export(
        out: Path = typer.Option(..., "--out", help="The folder the files and manifest.json go to."),
        policy: Path | None = typer.Option(
            None, "--policy", help="A de-identification policy (YAML); default: HIPAA Safe Harbor's identifiers."
        ),
        fmt: FileFormat = typer.Option(FileFormat.csv, "--format", help="csv or parquet."),
        secret_file: Path | None = typer.Option(
            None, "--secret-file", help="The site secret (else CARELAKE_SITE_SECRET_FILE, CARELAKE_SITE_SECRET)."
        ),
        replace: bool = typer.Option(False, "--replace", help="Overwrite a folder that holds files."),
        min_cell_count: int | None = MIN_CELL_OPTION,
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document on stdout."),
    ) -> None:
        """Write the CDM's clinical tables de-identified: pseudonyms, shifted dates, identifiers removed."""
        from carelake.cli._audit import note_rows
        from carelake.cli._state import min_cell_count as cutoff
        from carelake.cli._state import open_warehouse, print_json
        from carelake.cli._state import out as say
        from carelake.privacy.disclosure import DisclosureRule
        from carelake.privacy.export import export_deidentified
        from carelake.privacy.policy import load_policy
        from carelake.privacy.secret import read_secret

        rules = load_policy(policy)
        secret = read_secret(secret_file)
        rule = DisclosureRule(cutoff(min_cell_count))
        with open_warehouse(read_only=False) as wh:
            report = export_deidentified(wh, secret, out, policy=rules, fmt=fmt.value, replace=replace, rule=rule)
        note_rows(sum(f.rows for f in report.files))
        if as_json:
            print_json(report.to_dict())
            return
        for f in report.files:
            if f.rows:
                say(f"  {f.path:<32} {f.rows:>12,}")
        for name, n in report.left_out.items():
            say(f"  left out of {name}: {n:,} rows whose person_id is not in person")
        say(f"exported {report.persons:,} persons de-identified ({report.policy}) to {report.out}")

    @privacy.command()
    def pseudonymize(
        to_schema: str = typer.Option(..., "--to-schema", help="The schema the copy goes to, e.g. cdm_pseudo."),
        secret_file: Path | None = typer.Option(
            None,
            "--secret-file",
            help="The site secret (at least 32 bytes). Else the file CARELAKE_SITE_SECRET_FILE names, "
            "else CARELAKE_SITE_SECRET.",
        ),
        max_shift_days: int = typer.Option(
            365, "--max-shift-days", help="Each person's dates move by 1 to this many days, back or forward."
        ),
        replace: bool = typer.Option(False, "--replace", help="Rewrite a copy that is already there."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document on stdout."),
    ) -> None:
        """Copy the CDM with keyed pseudonyms for persons and each person's dates shifted (intervals kept)."""
        from carelake.cli._audit import note_rows
        from carelake.cli._state import open_warehouse, out, print_json
        from carelake.privacy.pseudonymize import pseudonymize as run
        from carelake.privacy.secret import read_secret

        secret = read_secret(secret_file)
        with open_warehouse() as wh:
            report = run(wh, secret, to_schema, max_shift_days=max_shift_days, replace=replace)
        note_rows(sum(report.rows.values()))
        if as_json:
            print_json(report.to_dict())
            return
        for name, n in report.rows.items():
            if n:
                out(f"  {name:<28} {n:>12,}")
        for name, n in report.left_out.items():
            out(f"  left out of {name}: {n:,} rows whose person_id is not in person")
        out(
            f"pseudonymized {report.persons:,} persons from {report.source_schema} into {report.target_schema} "
            f"(dates shifted by up to {report.max_shift_days} days; secret from {report.secret_from}) "
            f"in {report.seconds:.1f}s"
        )
