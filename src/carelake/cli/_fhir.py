"""Verbs for FHIR: `load fhir`, `fhir view`, `fhir conformance`."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from carelake.cli._state import JSON_OPTION as _JSON
from carelake.cli._state import open_warehouse, state, warehouse_url
from carelake.cli._state import out as _out

if TYPE_CHECKING:
    from carelake.fhir.store import StageReport
    from carelake.harmonize import HarmonizeReport

__all__ = ["register"]


class Format(StrEnum):
    csv = "csv"
    parquet = "parquet"
    ndjson = "ndjson"


def _view_warehouse(has_input: bool) -> str:
    """With --input and no warehouse chosen, a view runs in a throw-away in-memory DuckDB."""
    from carelake.config import load_settings

    if has_input and load_settings(state.warehouse_flag).warehouse_from == "default":
        return "duckdb:///:memory:"
    return warehouse_url()


def _print_stage(report: StageReport, as_json: bool, limit: int = 20) -> None:
    if as_json:
        from carelake.cli._state import print_json

        print_json(report.to_dict())
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"load fhir --stage-only ({report.files} files)", title_justify="left")
    for col in ("resource type", "read", "loaded", "rejected", "replaced by a later copy"):
        table.add_column(col, justify="left" if col == "resource type" else "right")
    counters = (report.read, report.loaded, report.rejected, report.duplicates)
    for t in sorted(set(report.read) | set(report.rejected)):
        table.add_row(t, *(f"{c[t]:,}" for c in counters))
    table.add_row("total", *(f"{sum(c.values()):,}" for c in counters))
    Console(soft_wrap=True).print(table)
    unresolved = sum(report.references_unresolved.values())
    _out(
        f"references rewritten to Type/id: {report.references_rewritten:,}; unresolved (kept as written): "
        f"{unresolved:,}" + (f" {report.references_unresolved}" if unresolved else "")
    )
    for s in report.skipped_files:
        _out(f"skipped {s.file}: {s.reason}")
    for r in report.rejections[:limit]:
        _out(f"rejected {r.where}: {r.reason}")
    if len(report.rejections) > limit:
        _out(f"... and {len(report.rejections) - limit:,} more rejections (--json lists them all)")


def _print_harmonized(stage: StageReport, omop: HarmonizeReport, as_json: bool) -> None:
    if as_json:
        from carelake.cli._state import print_json

        print_json({"staging": stage.to_dict(), "omop": omop.to_dict()})
        return
    _print_stage(stage, False)
    _print_omop(omop, "harmonized to OMOP (the whole raw store)")


def _print_omop(omop: HarmonizeReport, title: str = "loaded into OMOP") -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for col in ("resource type", "read", "written", "skipped", "rejected"):
        table.add_column(col, justify="left" if col in ("resource type", "written", "skipped", "rejected") else "right")

    def show(counts: dict[str, int]) -> str:
        return "; ".join(f"{k} {v:,}" for k, v in counts.items())

    for t, row in omop.to_dict()["resources"].items():
        table.add_row(t, f"{row['read']:,}", show(row["written"]), show(row["skipped"]), show(row["rejected"]))
    Console(soft_wrap=True).print(table)
    _out("OMOP rows: " + ", ".join(f"{t} {n:,}" for t, n in omop.rows.items()))


def register(app: typer.Typer, load_app: typer.Typer) -> None:
    fhir_app = typer.Typer(help="FHIR: SQL-on-FHIR views and their conformance suite.", no_args_is_help=True)
    app.add_typer(fhir_app, name="fhir")

    @load_app.command("fhir")
    def load_fhir(
        paths: list[Path] = typer.Argument(
            ..., help="Files or folders: Bulk NDJSON (.ndjson, .gz), bundles, single resources, a Bulk manifest."
        ),
        stage_only: bool = typer.Option(
            False, "--stage-only", help="Load the raw FHIR store only (tables fhir.<type>), do not write OMOP."
        ),
        as_json: bool = _JSON,
    ) -> None:
        """Load FHIR R4 and harmonize it to OMOP CDM 5.4; every resource is accounted for.

        Bad records are set aside with file:line and reason, everything else loads.
        """
        from carelake.harmonize import load_fhir

        with open_warehouse() as wh:
            done = load_fhir(wh, paths, stage_only=stage_only)
        if done.omop is None:
            _print_stage(done.staging, as_json)
            return
        _print_harmonized(done.staging, done.omop, as_json)

    @load_app.command("synthea-csv")
    def load_synthea(
        directory: Path = typer.Argument(..., help="Synthea's csv output folder (patients.csv, encounters.csv, ...)."),
        as_json: bool = _JSON,
    ) -> None:
        """Load Synthea CSV into OMOP CDM 5.4 through the same mappings as FHIR; every row is accounted for."""
        from carelake.sources.synthea import load_synthea_csv

        with open_warehouse() as wh:
            omop = load_synthea_csv(wh, directory)
        if as_json:
            from carelake.cli._state import print_json

            print_json(omop.to_dict())
            return
        _print_omop(omop)

    @fhir_app.command("view")
    def view(
        view_file: Path = typer.Argument(..., help="A SQL-on-FHIR v2 ViewDefinition (JSON)."),
        inputs: list[Path] = typer.Option(
            [], "--input", "-i", help="FHIR files or folders to stage first (default: the warehouse's raw store)."
        ),
        fmt: Format = typer.Option(Format.csv, "--format", "-f", help="Output format."),
        out: Path | None = typer.Option(None, "--out", "-o", help="Output file (default: stdout)."),
        to_table: str | None = typer.Option(None, "--to-table", help="Save the rows as this warehouse table."),
        to_view: str | None = typer.Option(None, "--to-view", help="Save the view as a live SQL view (DuckDB)."),
        show_sql: bool = typer.Option(False, "--sql", help="Print the compiled SQL instead of running it."),
    ) -> None:
        """Run a ViewDefinition in the warehouse (compiled to SQL) and write its rows."""
        from carelake.fhir.store import stage_fhir
        from carelake.fhir.view.output import write_rows
        from carelake.fhir.view.runner import compile_view, load_view, materialize_view, run_view
        from carelake.warehouse import connect

        definition = load_view(view_file)
        if show_sql:
            _out(compile_view(definition, warehouse_url()))
            return
        wh = connect(_view_warehouse(bool(inputs)))
        try:
            if inputs:
                report = stage_fhir(wh, inputs)
                for r in report.rejections[:20]:
                    sys.stderr.write(f"rejected {r.where}: {r.reason}\n")
            if to_table or to_view:
                target = str(to_table or to_view)
                materialize_view(wh, definition, target, kind="table" if to_table else "view")
                sys.stderr.write(f"saved as {'table' if to_table else 'view'} {target}\n")
                return
            table = run_view(wh, definition)
        finally:
            wh.close()
        write_rows(table, fmt.value, out)
        if out is not None:
            sys.stderr.write(f"{table.num_rows:,} rows written to {out}\n")

    @fhir_app.command("conformance")
    def conformance(
        directory: Path = typer.Argument(..., help="A folder of SQL-on-FHIR v2 test files (official format)."),
        report: Path | None = typer.Option(None, "--report", help="Write the official test_report.json here."),
        as_json: bool = _JSON,
    ) -> None:
        """Run SQL-on-FHIR v2 test files and report passes and failures (default: in-memory DuckDB)."""
        from carelake.fhir.view.conformance import run_conformance

        result = run_conformance(directory, _view_warehouse(True), report=report)
        passed, total = result.counts()
        by_tag = {tag: result.counts(tag) for tag in ("shareable", "experimental")}
        if as_json:
            _out(json.dumps({"passed": passed, "total": total, "by_tag": by_tag, "failures": [
                {"file": f, "test": n, "error": e} for f, n, e in result.failures()]}, indent=2))  # fmt: skip
            return
        _out(f"passed {passed} of {total} tests")
        for tag, (p, t) in by_tag.items():
            if t:
                _out(f"  {tag}: {p} of {t}")
        for f, n, e in result.failures():
            _out(f"FAILED {f} / {n}: {e}")
        if report is not None:
            _out(f"report written to {report}")
