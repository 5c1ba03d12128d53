"""Default covariates (carelake.features) for a 100,000-person cohort on DuckDB, with rows/s and peak memory.

    uv run python benchmarks/features.py [--persons 100000]

The CDM is Synthea27Nj replicated with fresh ids (person k copy c gets person_id c * 1000 + k, every event id is
shifted likewise), so the clinical shape is the sample's. The cohort is one row per person, indexed halfway
through their observation period. Building the database is not timed; extraction runs in its own process.
Target: under 60 s.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

WORK = Path(__file__).parent / "_work"
EVENTS = {
    "visit_occurrence": ("visit_occurrence_id",),
    "condition_occurrence": ("condition_occurrence_id", "visit_occurrence_id"),
    "drug_exposure": ("drug_exposure_id", "visit_occurrence_id"),
    "procedure_occurrence": ("procedure_occurrence_id", "visit_occurrence_id"),
    "measurement": ("measurement_id", "visit_occurrence_id"),
    "observation": ("observation_id", "visit_occurrence_id"),
    "observation_period": ("observation_period_id",),
    "person": (),
}


def build(path: Path, persons: int) -> None:
    """Load the sample with carelake, then replicate every person's rows in place until `persons` exist."""
    import carelake
    from carelake.cohorts import ensure_results_tables
    from carelake.omop.schema import create_cdm
    from carelake.warehouse import connect

    wh = connect(f"duckdb:///{path}")
    create_cdm(wh)
    with resources.as_file(resources.files("carelake").joinpath("data/synthea27nj")) as sample:
        carelake.load_omop(wh, sorted(Path(sample).glob("*.csv.gz")))
    copies = math.ceil(persons / int(wh.fetch_scalar("SELECT COUNT(*) FROM cdm.person")))
    for table, ids in EVENTS.items():
        shifted = ", ".join(["t.person_id + r.c * 1000 AS person_id"] + [f"t.{i} + r.c * 10000000 AS {i}" for i in ids])
        wh.execute(f"CREATE TABLE cdm.rep AS SELECT t.* REPLACE ({shifted}) FROM cdm.{table} t, range({copies}) r(c)")
        wh.execute(f"DELETE FROM cdm.{table}")
        wh.execute(f"INSERT INTO cdm.{table} SELECT * FROM cdm.rep")
        wh.execute("DROP TABLE cdm.rep")
    ensure_results_tables(wh)
    wh.execute(
        "INSERT INTO results.cohort SELECT 1, person_id, CAST(observation_period_start_date + "
        "CAST((observation_period_end_date - observation_period_start_date) / 2 AS INTEGER) AS DATE), "
        f"observation_period_end_date FROM cdm.observation_period ORDER BY person_id LIMIT {persons}"
    )
    wh.execute("CHECKPOINT")
    wh.close()


def arm(path: Path) -> None:
    """The measured part, in a child process: extract default covariates for cohort 1."""
    from carelake.features import extract
    from carelake.warehouse import connect

    wh = connect(f"duckdb:///{path}")
    t = time.perf_counter()
    fm = extract(wh, 1)
    elapsed = time.perf_counter() - t
    print(f"{elapsed:.3f} {fm.matrix.shape[0]} {fm.matrix.shape[1]} {fm.matrix.nnz}")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--persons", type=int, default=100_000)
    p.add_argument("--arm")
    a = p.parse_args()
    if a.arm:
        arm(Path(a.arm))
        return
    WORK.mkdir(exist_ok=True)
    db = WORK / f"features_{a.persons}.duckdb"
    if not db.exists():
        t = time.perf_counter()
        build(db, a.persons)
        print(f"built a {a.persons:,}-person CDM from Synthea27Nj in {time.perf_counter() - t:.1f}s", flush=True)
    proc = subprocess.Popen([sys.executable, __file__, "--arm", str(db)], stdout=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    out = proc.stdout.read() if proc.stdout else ""
    if status != 0:
        raise SystemExit("feature extraction failed")
    seconds, rows, cols, nnz = out.split()[-4:]
    s = float(seconds)
    print(
        f"carelake.features default covariates: {int(rows):,} cohort rows x {int(cols):,} covariates, "
        f"{int(nnz):,} nonzeros in {s:.1f} s ({int(rows) / s:,.0f} rows/s), peak RSS {usage.ru_maxrss / 1024:,.0f} MB "
        f"(target < 60 s)"
    )


if __name__ == "__main__":
    main()
