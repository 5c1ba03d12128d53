"""Verbs for cohorts and what is computed on them: `cohort generate`, `cohort sql`, `characterize`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from carelake.cli._state import JSON_OPTION as _JSON
from carelake.cli._state import MIN_CELL_OPTION, open_warehouse, warehouse_url
from carelake.cli._state import min_cell_count as min_cell_count_setting
from carelake.cli._state import out as _out
from carelake.cli._state import print_json as _print_json
from carelake.errors import UserError

if TYPE_CHECKING:
    from carelake.cohorts import GenerationReport

__all__ = ["cohort_ids", "register"]


def cohort_ids(files: list[Path], ids: list[int] | None) -> dict[int, Path]:
    """One id per file: `--id` in order, else the file's numeric stem, else the next free number from 1."""
    if ids:
        if len(ids) != len(files):
            raise UserError(f"{len(ids)} --id values for {len(files)} files", hint="give one --id per file, or none")
        chosen = dict(zip(ids, files, strict=True))
        if len(chosen) != len(files):
            raise UserError("--id values repeat", hint="give each cohort its own id")
        return chosen
    out: dict[int, Path] = {}
    numeric = {f: int(f.stem) for f in files if f.stem.isdigit()}
    taken = set(numeric.values())
    if len(taken) != len(numeric):
        raise UserError("two files have the same numeric name", hint="use --id to number the cohorts")
    nxt = 1
    for f in files:
        if f in numeric:
            out[numeric[f]] = f
            continue
        while nxt in taken:
            nxt += 1
        out[nxt] = f
        taken.add(nxt)
    return out


def _report_dict(report: GenerationReport, files: dict[int, Path]) -> dict[str, Any]:
    return {
        "cohorts": [
            {
                "cohort_id": cid,
                "file": str(files[cid]),
                "records": r.records,
                "persons": r.persons,
                "base_count": r.base_count,
                "final_count": r.final_count,
                "seconds": round(r.seconds, 3),
                "error": r.error,
                "attrition": [
                    {"sequence": s.sequence, "name": s.name, "persons": s.person_count, "gain": s.gain_count}
                    for s in r.rules
                ],
            }
            for cid, r in report.cohorts.items()
        ]
    }


def _print_report(data: dict[str, Any]) -> None:
    for c in data["cohorts"]:
        name = Path(c["file"]).name
        if c["error"]:
            _out(f"cohort {c['cohort_id']} ({name}): FAILED {c['error']}")
            continue
        _out(
            f"cohort {c['cohort_id']} ({name}): {c['records']:,} records, {c['persons']:,} persons "
            f"({c['seconds']:.2f}s)"
        )
        if c["attrition"]:
            _out(f"  qualifying events: {c['base_count']:,}")
            for rule in c["attrition"]:
                _out(f"  rule {rule['sequence']} {rule['name']!r}: meets {rule['persons']:,}, removes {rule['gain']:,}")
            _out(f"  after all rules: {c['final_count']:,}")


def _check_files(files: list[Path]) -> None:
    for f in files:
        if not f.is_file():
            raise UserError(f"{f}: no such file", hint="pass Circe (ATLAS) cohort definition JSON files")


def register(app: typer.Typer) -> None:
    """Add `cohort generate`, `cohort sql` and `characterize` to the CLI."""
    cohort_app = typer.Typer(help="Cohorts from OHDSI Circe (ATLAS) JSON definitions.", no_args_is_help=True)
    app.add_typer(cohort_app, name="cohort")

    @cohort_app.command("generate")
    def generate_cmd(
        files: list[Path] = typer.Argument(..., help="Circe cohort definition JSON files, one cohort each."),
        ids: list[int] | None = typer.Option(
            None, "--id", help="Cohort ids, one per file in order; default: the file name when numeric."
        ),
        keep_going: bool = typer.Option(False, "--keep-going", help="Report a failing cohort and run the others."),
        as_json: bool = _JSON,
    ) -> None:
        """Generate cohorts into <results>.cohort and print records, persons and attrition."""
        from carelake.cohorts import generate

        _check_files(files)
        chosen = cohort_ids(files, ids)
        with open_warehouse() as wh:
            report = generate(wh, dict(chosen), stop_on_error=not keep_going)
        data = _report_dict(report, chosen)
        if as_json:
            _print_json(data)
        else:
            _print_report(data)
        if report.failed:
            raise typer.Exit(1)

    @cohort_app.command("sql")
    def sql_cmd(
        file: Path = typer.Argument(..., help="A Circe cohort definition JSON file."),
        cohort_id: int = typer.Option(0, "--id", help="Cohort id written into the SQL; default: the file name."),
        dialect: str | None = typer.Option(
            None, "--dialect", help="Engine to write SQL for (duckdb, postgres, spark); default: the warehouse's."
        ),
        cdm_schema: str | None = typer.Option(None, "--cdm-schema", help="Default: the warehouse's."),
        results_schema: str | None = typer.Option(None, "--results-schema", help="Default: the warehouse's."),
    ) -> None:
        """Print the SQL that generates a cohort on the warehouse (nothing connects), for review or to run elsewhere."""
        from carelake.cohorts import compile_cohort

        _check_files([file])
        cid = cohort_id or next(iter(cohort_ids([file], None)))
        target = dialect or warehouse_url()
        sys.stdout.write(compile_cohort(file, cid, target, cdm_schema=cdm_schema, results_schema=results_schema))

    @app.command("characterize")
    def characterize_cmd(
        cohorts: list[int] = typer.Option(..., "--cohort", help="Cohort id (repeat; two give SMDs)."),
        outcome: int | None = typer.Option(None, "--outcome", help="Outcome cohort id: incidence and Kaplan-Meier."),
        tar_start: int = typer.Option(0, "--tar-start", help="Risk starts this many days after cohort start."),
        tar_end: int = typer.Option(365, "--tar-end", help="Risk ends this many days after cohort start (or end)."),
        tar_end_anchor: str = typer.Option("start", "--tar-end-anchor", help="start or end of the cohort entry."),
        window: int = typer.Option(365, "--window", help="Days before index for prior conditions, drugs, labs."),
        min_cell_count: int | None = MIN_CELL_OPTION,
        out: Path | None = typer.Option(None, "--out", help="Folder for characterization.json, .csv and .html."),
        as_json: bool = _JSON,
    ) -> None:
        """Table 1 per cohort, SMDs, incidence per 1,000 person-years and Kaplan-Meier, small counts hidden."""
        from carelake.characterize import TimeAtRisk, characterize
        from carelake.reports.characterization import write_characterization

        if tar_end_anchor not in ("start", "end"):
            raise UserError(f"--tar-end-anchor {tar_end_anchor!r}", hint="use start or end")
        tar = TimeAtRisk(tar_start, tar_end, "start", "end" if tar_end_anchor == "end" else "start")
        cells = min_cell_count_setting(min_cell_count)
        with open_warehouse(read_only=True) as wh:
            result = characterize(wh, cohorts, outcome_id=outcome, tar=tar, window_days=window, min_cell_count=cells)
        written = write_characterization(result, out) if out is not None else {}
        data = result.to_dict()
        if as_json:
            _print_json(data | {"files": {k: str(v) for k, v in written.items()}})
            return
        for c in data["cohorts"]:
            age = "" if c["age_mean"] is None else f", age {c['age_mean']:.1f}"
            _out(f"cohort {c['cohort_id']}: {c['persons']} persons, {c['records']} records{age}")
        if "incidence" in data:
            i = data["incidence"]
            _out(
                f"incidence of {i['outcome_id']} in {i['target_id']}: {i['events']} events / "
                f"{i['person_years']} person-years = {i['rate_per_1000_py']} per 1,000 ({i['lower']}-{i['upper']})"
            )
        for path in written.values():
            _out(f"wrote {path}")
