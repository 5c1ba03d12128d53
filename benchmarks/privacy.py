"""Pseudonymize and date-shift a simulated CDM: carelake's copy beside the same change written as SQL UPDATEs.

    uv run python benchmarks/privacy.py [--persons 1000000] [--work DIR] [--engine duckdb|postgres] [--postgres URL]

Data: `carelake synth` persons (seed 0) into WORK/synth-<N>/omop, loaded once into WORK/privacy-<N>.duckdb (or a
PostgreSQL schema), both made once and reused. Arms, on the same warehouse, one after the other:

- carelake: `pseudonymize(wh, secret, "bench_pseudo", replace=True)`: the person key computed in Python (HMAC-SHA256
  per person), then every CDM table copied into a schema of its own in one transaction, person-level tables joined to
  the key with person_id replaced and each DATE and DATETIME moved.
- update (the plain SQL way): the same key (computed the same way, timed) into a table, each person-level table
  copied as it is (CREATE TABLE AS), then one `UPDATE ... SET person_id = k.pseudo_id, <date> = <date> + shift ...
  FROM key` per table, in one transaction. The vocabulary and the other tables are not copied in this arm (they
  would cost the same in both), so its figure flatters it.
- export (DuckDB): `export_deidentified(wh, secret, WORK/export-<N>, fmt="parquet")` under the default Safe Harbor
  policy: pseudonyms, shifts, ages grouped, identifiers dropped, rows in pseudonym order, one Parquet file a table.
- update+copy (DuckDB): the update arm, then `COPY <table> TO 'file.parquet'` for each person-level table (no
  policy columns dropped, no ordering: again it flatters the plain way).

Rows/s counts the rows of the person-level tables (the rows changed). Printed: each arm's seconds and rows/s, and
carelake's ratio to the plain arm beside it.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

from carelake.omop.loader import load_files
from carelake.omop.schema import cdm_tables, create_cdm
from carelake.privacy.export import export_deidentified
from carelake.privacy.pseudonymize import PERSON_KEY, person_key, pseudonymize
from carelake.privacy.secret import SiteSecret
from carelake.synth import synthesize
from carelake.warehouse import Warehouse, connect, quote

WORK = Path(__file__).parent / "_work"
PG = "postgresql://postgres@127.0.0.1:5432/test"
SECRET = SiteSecret(b"benchmark site secret, 32 bytes or more", "benchmark")


def _person_level() -> list[str]:
    return [t.name for t in cdm_tables() if t.role == "cdm" and "person_id" in t.schema.column_names]


def prepare(args: argparse.Namespace) -> str:
    """The loaded warehouse's URL (made on first use)."""
    data = args.work / f"synth-{args.persons}"
    if not (data / "omop" / "person.csv.gz").exists():
        print(f"simulating {args.persons:,} persons into {data} ...", file=sys.stderr)
        synthesize(args.persons, 0, data, "omop")
    if args.engine == "duckdb":
        url = f"duckdb:///{args.work / f'privacy-{args.persons}.duckdb'}"
    else:
        url = f"{args.postgres}?schema=bench_privacy_{args.persons}&results=bench_privacy_results"
    wh = connect(url)
    try:
        if not wh.table_exists(wh.cdm_schema, "person") or wh.row_count(wh.cdm_schema, "person") == 0:
            print(f"loading {data / 'omop'} into {url} ...", file=sys.stderr)
            create_cdm(wh)
            load_files(wh, [data / "omop"])
    finally:
        wh.close()
    return url


def run_carelake(wh: Warehouse) -> tuple[float, int]:
    started = time.perf_counter()
    report = pseudonymize(wh, SECRET, "bench_pseudo", replace=True)
    seconds = time.perf_counter() - started
    return seconds, sum(report.rows.get(t, 0) for t in _person_level())


def run_export(wh: Warehouse, out: Path) -> tuple[float, int]:
    started = time.perf_counter()
    report = export_deidentified(wh, SECRET, out, fmt="parquet", replace=True)
    seconds = time.perf_counter() - started
    return seconds, sum(f.rows for f in report.files if f.table in _person_level())


def run_update(wh: Warehouse, export_to: Path | None = None) -> tuple[float, int]:
    """The UPDATE arm; with `export_to` (DuckDB), each updated table is then written there with COPY ... TO."""
    cdm = quote(wh.cdm_schema)
    started = time.perf_counter()
    persons = wh.fetch_arrow(f"SELECT person_id, person_source_value FROM {cdm}.person")
    key = person_key(SECRET, persons)
    rows = 0
    with wh.transaction():
        wh.execute("DROP SCHEMA IF EXISTS bench_update CASCADE")
        wh.create_schema("bench_update")
        table_k = dataclasses.replace(PERSON_KEY, name="k")
        wh.create_table("bench_update", table_k)
        wh.write_table("bench_update", table_k, key.to_batches())
        present = set(wh.list_tables(wh.cdm_schema))
        for table in cdm_tables():
            if table.name not in _person_level() or table.name not in present:
                continue
            name = f"bench_update.{quote(table.name)}"
            wh.execute(f"CREATE TABLE {name} AS SELECT * FROM {cdm}.{quote(table.name)}")
            sets = ["person_id = k.pseudo_id"]
            for c in table.schema.columns:
                if c.kind in ("date", "timestamp"):
                    cast = "DATE" if c.kind == "date" else "TIMESTAMP"
                    sets.append(f"{quote(c.name)} = CAST({quote(c.name)} + k.shift_days * INTERVAL '1' DAY AS {cast})")
            if table.name == "person":
                sets.append("person_source_value = k.pseudo_source_value")
            wh.execute(
                f"UPDATE {name} SET {', '.join(sets)} FROM bench_update.k AS k WHERE {name}.person_id = k.person_id"
            )
            rows += wh.row_count("bench_update", table.name)
            if export_to is not None:
                export_to.mkdir(parents=True, exist_ok=True)
                target = export_to / f"{table.name}.parquet"
                wh.execute_native(f"COPY {name} TO '{target}' (FORMAT PARQUET)")
    seconds = time.perf_counter() - started
    with wh.transaction():
        wh.execute("DROP SCHEMA IF EXISTS bench_update CASCADE")
    return seconds, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--work", type=Path, default=WORK)
    parser.add_argument("--engine", choices=("duckdb", "postgres"), default="duckdb")
    parser.add_argument("--postgres", default=PG)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    url = prepare(args)
    wh = connect(url)
    try:
        results = {"pseudonymize": run_carelake(wh), "update": run_update(wh)}
        wh.execute("DROP SCHEMA IF EXISTS bench_pseudo CASCADE")
        if args.engine == "duckdb":  # COPY ... TO a file is DuckDB's own; PostgreSQL's writes on the server
            results["export"] = run_export(wh, args.work / f"export-{args.persons}")
            results["update+copy"] = run_update(wh, args.work / f"export-update-{args.persons}")
    finally:
        wh.close()
    print(f"\n{args.persons:,} persons on {args.engine}")
    print(f"{'arm':<13} {'seconds':>9} {'rows':>13} {'rows/s':>12}")
    for arm, (seconds, rows) in results.items():
        print(f"{arm:<13} {seconds:>9.1f} {rows:>13,} {rows / seconds:>12,.0f}")
    for ours, theirs in (("pseudonymize", "update"), ("export", "update+copy")):
        if ours in results:
            (c_s, c_rows), (u_s, u_rows) = results[ours], results[theirs]
            ratio = (c_rows / c_s) / (u_rows / u_s)
            print(f"{ours} / {theirs}: {ratio:.2f}x the rows/s (same rows: {c_rows == u_rows})")


if __name__ == "__main__":
    main()
