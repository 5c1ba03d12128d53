"""Benchmark: the whole data-quality suite on a 100,000-person CDM on DuckDB (target: under 2 minutes).

The CDM is Synthea27Nj replicated with fresh ids: every person-linked table is copied K times, adding k * OFFSET
to person ids, to each table's own key and to every column that refers to such a key, so all tables stay
consistent (visits, visit details, periods). Vocabulary tables are shared. Prints time per check category and
peak memory (max RSS of this process, which holds DuckDB).

    uv run python benchmarks/quality.py [--persons 100000] [--threads N]
"""

from __future__ import annotations

import argparse
import math
import resource
import shutil
import tempfile
import time
from collections import defaultdict
from importlib import resources
from pathlib import Path

import carelake
from carelake.omop.schema import cdm_tables
from carelake.quality import run_checks
from carelake.warehouse import Warehouse, connect

# Columns that point at a replicated key without carrying its name.
_ALIASES = {"preceding_visit_occurrence_id", "preceding_visit_detail_id", "parent_visit_detail_id"}


def replicate(wh: Warehouse, persons: int) -> int:
    """Copy person-linked tables until there are at least `persons` persons; return the number of copies."""
    schema = wh.cdm_schema
    base = int(wh.fetch_scalar(f"SELECT COUNT(*) FROM {schema}.person"))
    copies = math.ceil(persons / base)
    linked = [t for t in cdm_tables() if t.role == "cdm" and "person_id" in {c.name for c in t.schema.columns}]
    keys = {"person_id", *_ALIASES} | {t.schema.primary_key[0] for t in linked if t.schema.primary_key}
    offset = 10 ** (len(str(_max_id(wh, linked))) + 1)
    for t in linked:
        cols = [c.name for c in t.schema.columns]
        exprs = [f"{c} + r.k * {offset}" if c in keys else c for c in cols]
        wh.execute_native(
            f"INSERT INTO {schema}.{t.name} ({', '.join(cols)}) SELECT {', '.join(exprs)} "
            f"FROM {schema}.{t.name}, range(1, {copies}) r(k)"
        )
    return copies


def _max_id(wh: Warehouse, linked: list[object]) -> int:
    best = 0
    for t in linked:
        pk = t.schema.primary_key  # type: ignore[attr-defined]
        if pk:
            got = wh.fetch_scalar(f"SELECT MAX({pk[0]}) FROM {wh.cdm_schema}.{t.name}")  # type: ignore[attr-defined]
            best = max(best, int(got or 0))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=0, help="DuckDB threads (default: all cores)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="carelake-quality-bench-"))
    try:
        sample = work / "sample"
        sample.mkdir()
        with resources.as_file(resources.files("carelake").joinpath("data/synthea27nj")) as src:
            for f in Path(src).glob("*.csv.gz"):
                shutil.copy(f, sample / f.name)
        url = f"duckdb:///{work / 'bench.duckdb'}" + (f"?threads={args.threads}" if args.threads else "")
        wh = connect(url)
        carelake.load_omop(wh, [sample])
        started = time.perf_counter()
        copies = replicate(wh, args.persons)
        n_persons = wh.fetch_scalar(f"SELECT COUNT(*) FROM {wh.cdm_schema}.person")
        n_rows = sum(
            int(wh.fetch_scalar(f"SELECT COUNT(*) FROM {wh.cdm_schema}.{t}"))
            for t in (
                "visit_occurrence",
                "visit_detail",
                "condition_occurrence",
                "drug_exposure",
                "procedure_occurrence",
                "measurement",
                "observation",
            )
        )
        print(
            f"replicated x{copies}: {n_persons:,} persons, {n_rows:,} event rows "
            f"in {time.perf_counter() - started:.1f}s"
        )
        started = time.perf_counter()
        run = run_checks(wh)
        total = time.perf_counter() - started
        per_category: dict[str, float] = defaultdict(float)
        per_check: dict[str, float] = defaultdict(float)
        for r in run.results:
            per_category[r.check.type.category] += r.execution_time
            per_check[r.check.name] += r.execution_time
        print(f"{len(run.results):,} checks in {total:.1f}s: {run.counts()}")
        for cat, secs in sorted(per_category.items(), key=lambda kv: -kv[1]):
            print(f"  {cat:<14} {secs:7.1f}s")
        print(
            "slowest check types: "
            + ", ".join(f"{k} {v:.1f}s" for k, v in sorted(per_check.items(), key=lambda kv: -kv[1])[:6])
        )
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak memory (max RSS): {peak:,.0f} MB; target {'met' if total < 120 else 'MISSED'} (< 120 s)")
        wh.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
