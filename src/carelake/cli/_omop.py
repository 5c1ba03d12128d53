"""Verbs for the warehouse and OMOP data: init, info, load omop, vocab load, demo."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from carelake.cli._state import JSON_OPTION as _JSON
from carelake.cli._state import open_warehouse, progress_bar, warehouse_url
from carelake.cli._state import out as _out
from carelake.cli._state import print_json as _print_json
from carelake.errors import UserError

if TYPE_CHECKING:
    from carelake.omop.info import WarehouseInfo
    from carelake.omop.loader import LoadReport

__all__ = ["register"]


class Mode(StrEnum):
    append = "append"
    replace_ = "replace"  # the name `replace` is str.replace


class OnError(StrEnum):
    fail = "fail"
    skip = "skip"


_MODE = typer.Option(
    Mode.append,
    "--mode",
    help="append: add rows, replacing rows with the same key; replace: tables hold only these files.",
)
_ON_ERROR = typer.Option(
    OnError.fail,
    "--on-error",
    help="fail: stop at the first bad row, load nothing; skip: set bad rows aside.",
)
_REJECTS = typer.Option(Path("carelake-rejects.csv"), "--rejects", help="Where --on-error skip writes bad rows.")
_STRICT = typer.Option(
    False,
    "--strict",
    help="Refuse text wider than the CDM spec's width (by default it loads and is listed as a departure).",
)


def _print_load(report: LoadReport, as_json: bool) -> None:
    if as_json:
        _print_json(report.to_dict())
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"load ({report.mode})", title_justify="left")
    for col in ("file", "table", "read", "loaded", "rejected", "notes"):
        table.add_column(col, justify="right" if col in ("read", "loaded", "rejected") else "left")
    for f in report.files:
        if f.status != "loaded":
            table.add_row(Path(f.file).name, f.table, "", "", "", f"{f.status}: {'; '.join(f.notes)}")
            continue
        table.add_row(Path(f.file).name, f.table, f"{f.read:,}", f"{f.loaded:,}", f"{f.rejected:,}", "; ".join(f.notes))
    table.add_row("total", "", f"{report.read:,}", f"{report.loaded:,}", f"{report.rejected:,}", "")
    Console(soft_wrap=True).print(table)
    if report.departures:
        _out("departures from the CDM 5.4 spec, loaded as they are (--strict refuses wide text instead):")
        for d in report.departures:
            _out(f"  {d.describe()}")
    if report.rejects_file:
        _out(f"rejected rows written to {report.rejects_file}")


def _print_info(info: WarehouseInfo) -> None:
    _out(f"warehouse: {info.url} ({info.backend})")
    _out(
        f"CDM version: {info.cdm_version or 'none (run carelake init)'}"
        + (f"; cdm_source says {info.source_cdm_version}" if info.source_cdm_version else "")
    )
    width = max((len(k) for k in info.tables), default=0)
    for name, n in info.tables.items():
        _out(f"  {name:<{width}}  {n:>12,}")


def _load(
    loader: Callable[..., LoadReport],
    label: str,
    paths: list[Path],
    mode: Mode,
    on_error: OnError,
    rejects: Path,
    as_json: bool,
    strict: bool,
) -> None:
    """Run a loader with the CLI's warehouse and progress bar, then print its accounting."""
    with open_warehouse() as wh, progress_bar(label) as progress:
        report = loader(
            wh,
            paths,
            mode=mode.value,
            on_error="skip" if on_error is OnError.skip else "raise",
            rejects_path=rejects,
            progress=progress,
            strict=strict,
        )
    _print_load(report, as_json)


def register(app: typer.Typer, load_app: typer.Typer) -> None:
    vocab_app = typer.Typer(help="OMOP vocabularies.", no_args_is_help=True)
    app.add_typer(vocab_app, name="vocab")

    @app.command()
    def init(as_json: bool = _JSON) -> None:
        """Create the CDM 5.4 schema (tables, keys, indexes); safe to run again."""
        from carelake.omop.schema import create_cdm

        with open_warehouse() as wh:
            created = create_cdm(wh)
        if as_json:
            _print_json({"created": created})
        else:
            _out(f"created {len(created)} tables" if created else "CDM schema already complete")

    @app.command()
    def info(as_json: bool = _JSON) -> None:
        """Show CDM tables, row counts and CDM version."""
        from carelake.omop.info import describe

        with open_warehouse(read_only=True) as wh:
            result = describe(wh)
        if as_json:
            _print_json(result.to_dict())
        else:
            _print_info(result)

    @load_app.command("omop")
    def load_omop(
        paths: list[Path] = typer.Argument(
            ..., help="Folders or files: OMOP CSV/TSV (.gz) or Parquet, CDM 5.4 or 5.3."
        ),
        mode: Mode = _MODE,
        on_error: OnError = _ON_ERROR,
        rejects: Path = _REJECTS,
        strict: bool = _STRICT,
        as_json: bool = _JSON,
    ) -> None:
        """Load OMOP CDM files; all or nothing, and a re-load does not duplicate rows."""
        from carelake.omop.loader import load_files

        _load(load_files, "loading", paths, mode, on_error, rejects, as_json, strict)

    @vocab_app.command("load")
    def vocab_load(
        paths: list[Path] = typer.Argument(..., help="An Athena download folder (CONCEPT.csv, ... tab-separated)."),
        mode: Mode = typer.Option(Mode.replace_, "--mode", help="replace (default): a new release supersedes the old."),
        on_error: OnError = _ON_ERROR,
        rejects: Path = _REJECTS,
        strict: bool = _STRICT,
        as_json: bool = _JSON,
    ) -> None:
        """Load an Athena vocabulary download."""
        from carelake.omop.vocabulary import load_vocabulary

        _load(load_vocabulary, "loading vocabulary", paths, mode, on_error, rejects, as_json, strict)

    @app.command()
    def demo(
        persons: int = typer.Option(20_000, "--persons", help="Simulated persons (known truth)."),
        out: Path = typer.Option(Path("carelake-demo"), "--out", help="Folder for the data and the pages."),
        as_json: bool = _JSON,
    ) -> None:
        """The whole path on embedded DuckDB: simulate, FHIR, harmonize, quality, cohorts, a prediction study."""
        import sys

        from carelake.cli._audit import note_output
        from carelake.demo import run_demo

        def _say(message: str) -> None:
            sys.stderr.write(f"demo: {message}\n")

        default = "duckdb:///carelake-demo.duckdb"
        if persons < 500:
            raise UserError(f"--persons {persons}: the study needs at least 500", hint="the default is 20000")
        with open_warehouse(default) as wh:
            result = run_demo(wh, out, persons=persons, progress=_say)
        note_output(out)
        data = result.to_dict()
        if as_json:
            _print_json(data)
            return
        q = data["quality"]
        _out(f"{persons:,} simulated persons, harmonized from FHIR into {warehouse_url(default)}")
        _out(f"data quality: {q['passed']:,} checks passed, {q['failed']:,} failed, {q['errors']:,} errors")
        _out("cohorts: " + ", ".join(f"{k} {v:,}" if v is not None else f"{k} <5" for k, v in data["cohorts"].items()))
        for a in data["analyses"]:
            if a["test_auroc"] is not None:
                star = " (best)" if a["best"] else ""
                _out(f"  {a['outcome']}, {a['model']}{star}: test AUROC {a['test_auroc']:.3f}, "
                     f"calibration slope {a['calibration_slope']:.2f}")  # fmt: skip
        _out(f"report: {data['report']}")
