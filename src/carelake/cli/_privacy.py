"""Verbs `carelake privacy ...`: pseudonymize the CDM into a schema of its own; verify the audit trail."""

from __future__ import annotations

from pathlib import Path

import typer

__all__ = ["register"]


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
