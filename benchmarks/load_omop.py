"""Load a generated OMOP measurement CSV with carelake and with each engine's own bulk loader, in one run.

    uv run python benchmarks/load_omop.py [--rows 10000000] [--postgres URL]

Arms (each in its own process, so peak memory is its own): carelake -> DuckDB; DuckDB's read_csv + INSERT;
carelake -> PostgreSQL; psql \\copy. Every arm writes into the same CDM 5.4 measurement table (same keys and
indexes), created by carelake. Prints rows/s, peak RSS and carelake's ratio to each engine's own path.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

WORK = Path(__file__).parent / "_work"
PG = "postgresql://postgres@127.0.0.1:5432/test"


def generate(path: Path, rows: int, seed: int = 7) -> None:
    """Measurement rows shaped like Synthea27Nj's: lab and vital-sign concepts, units, values, visits."""
    rng = np.random.default_rng(seed)
    concepts = np.array([3025315, 3004249, 3012888, 3027018, 3020891, 3013682, 3004410, 3038553], dtype=np.int64)
    units = np.array(["kg", "mm[Hg]", "mm[Hg]", "/min", "Cel", "mg/dL", "%", "kg/m2"])
    chunk = 1_000_000
    with pacsv.CSVWriter(str(path), _schema()) as writer:
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            which = rng.integers(0, len(concepts), n)
            days = rng.integers(0, 365 * 20, n)
            date = (np.datetime64("2003-01-01") + days.astype("timedelta64[D]")).astype("datetime64[D]")
            person = rng.integers(1, 100_000, n)
            batch = pa.record_batch(
                [
                    pa.array(np.arange(start + 1, start + n + 1, dtype=np.int64)),
                    pa.array(person),
                    pa.array(concepts[which]),
                    pa.array(date),
                    pa.array(date.astype("datetime64[us]")),
                    pa.array(np.full(n, 32817, dtype=np.int64)),
                    pa.array(np.round(rng.normal(80, 20, n), 1)),
                    pa.array(np.full(n, 0, dtype=np.int64)),
                    pa.array(person * 10 + which),
                    pa.array(units[which]),
                ],
                schema=_schema(),
            )
            writer.write_batch(batch)


def _schema() -> pa.Schema:
    return pa.schema(
        [
            ("measurement_id", pa.int64()),
            ("person_id", pa.int64()),
            ("measurement_concept_id", pa.int64()),
            ("measurement_date", pa.date32()),
            ("measurement_datetime", pa.timestamp("us")),
            ("measurement_type_concept_id", pa.int64()),
            ("value_as_number", pa.float64()),
            ("unit_concept_id", pa.int64()),
            ("visit_occurrence_id", pa.int64()),
            ("unit_source_value", pa.string()),
        ]
    )


def arm(name: str, csv_path: Path, url: str) -> None:
    """One measured arm, run in a child process."""
    from carelake.omop.loader import load_files
    from carelake.omop.schema import create_cdm
    from carelake.warehouse import connect

    wh = connect(url)
    create_cdm(wh)
    t = time.perf_counter()
    if name.startswith("carelake"):
        report = load_files(wh, [csv_path])
        rows = report.loaded
    elif name == "duckdb read_csv + INSERT":
        cols = ", ".join(_schema().names)
        wh.execute(f"INSERT INTO cdm.measurement ({cols}) SELECT {cols} FROM read_csv('{csv_path}', header = true)")
        rows = int(wh.fetch_scalar("SELECT COUNT(*) FROM cdm.measurement"))
    else:
        wh.close()
        schema = url.split("schema=")[1].split("&")[0]
        cols = ", ".join(_schema().names)
        _psql(rf"\copy {schema}.measurement ({cols}) FROM '{csv_path}' WITH (FORMAT csv, HEADER true)")
        rows = -1
    elapsed = time.perf_counter() - t
    print(f"{elapsed:.3f} {rows}")


def run_arm(name: str, csv_path: Path, url: str) -> tuple[float, int, float]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--arm", name, "--csv", str(csv_path), "--url", url],
        stdout=subprocess.PIPE,
        text=True,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    out = proc.stdout.read() if proc.stdout else ""
    if status != 0:
        raise SystemExit(f"arm {name} failed")
    seconds, rows = out.split()[-2:]
    return float(seconds), int(rows), usage.ru_maxrss / 1024


def _psql(command: str) -> None:
    """Run one psql command against the local test database, warnings only."""
    subprocess.run(
        ["psql", "-q", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-c", command],
        check=True,
        env={**os.environ, "PGOPTIONS": "-c client_min_messages=warning"},
    )


def _drop_schema(schema: str) -> None:
    _psql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=10_000_000)
    p.add_argument("--postgres", default=PG)
    p.add_argument("--arm")
    p.add_argument("--csv")
    p.add_argument("--url")
    a = p.parse_args()
    if a.arm:
        arm(a.arm, Path(a.csv), a.url)
        return
    WORK.mkdir(exist_ok=True)
    csv_path = WORK / "measurement.csv"
    if not csv_path.exists() or a.rows != sum(1 for _ in csv_path.open()) - 1:
        t = time.perf_counter()
        generate(csv_path, a.rows)
        print(f"generated {a.rows:,} rows ({csv_path.stat().st_size / 1e9:.2f} GB) in {time.perf_counter() - t:.1f}s")
    results: dict[str, tuple[float, int, float]] = {}
    for name, url in [
        ("carelake -> duckdb", f"duckdb:///{WORK / 'a.duckdb'}"),
        ("duckdb read_csv + INSERT", f"duckdb:///{WORK / 'b.duckdb'}"),
        ("carelake -> postgres", f"{a.postgres}?schema=bench_a&results=bench_ra"),
        ("psql \\copy", f"{a.postgres}?schema=bench_b&results=bench_rb"),
    ]:
        for f in WORK.glob("*.duckdb*"):
            if f.name.startswith(url.rsplit("/", 1)[-1]):
                f.unlink()
        if url.startswith("postgresql"):
            schema = url.split("schema=")[1].split("&")[0]
            _drop_schema(schema)
        seconds, rows, rss = run_arm(name, csv_path, url)
        results[name] = (seconds, a.rows if rows < 0 else rows, rss)
        print(f"{name:<28} {seconds:8.1f} s  {a.rows / seconds:12,.0f} rows/s  peak RSS {rss:7.0f} MB", flush=True)
    for ours, theirs in [("carelake -> duckdb", "duckdb read_csv + INSERT"), ("carelake -> postgres", "psql \\copy")]:
        ratio = results[theirs][0] / results[ours][0]
        print(f"{ours} vs {theirs}: {ratio:.2f}x the engine's own speed (target >= 0.8)")
    for f in WORK.glob("*.duckdb*"):
        f.unlink()
    for schema in ("bench_a", "bench_ra", "bench_b", "bench_rb"):
        _drop_schema(schema)
    shutil.rmtree(WORK / "spark", ignore_errors=True)


if __name__ == "__main__":
    main()
