"""Benchmark the simulator: `carelake synth` to OMOP, then `carelake load omop` into DuckDB, each stage in its own
process; prints wall time and the stage's peak RSS (from wait4). Targets: 100k < 60 s, 1M < 15 min, < 6 GB.

    uv run python benchmarks/synth.py --persons 100000 [--work DIR] [--format omop]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path


def stage(name: str, args: list[str]) -> tuple[float, float]:
    """Run one stage as a child process; return (seconds, peak RSS in MB)."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if status != 0:
        sys.exit(f"{name} failed with status {status}")
    rss = usage.ru_maxrss / 1024
    print(f"{name:<22} {seconds:8.1f} s   peak RSS {rss:8.0f} MB", flush=True)
    return seconds, rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--format", default="omop", choices=["omop", "fhir", "both"])
    parser.add_argument("--work", type=Path, default=Path("benchmarks/_work/synth"))
    a = parser.parse_args()
    shutil.rmtree(a.work, ignore_errors=True)
    a.work.mkdir(parents=True)
    carelake = [sys.executable, "-m", "carelake"]
    out = a.work / "out"
    # The API rather than the CLI verb, so the benchmark runs before `carelake synth` is wired in.
    code = (
        "from pathlib import Path; from carelake.synth import synthesize; "
        f"synthesize({a.persons}, {a.seed}, Path({str(out)!r}), {a.format!r})"
    )
    t1, r1 = stage("synth", [sys.executable, "-c", code])
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 1e6
    print(f"{'output':<22} {size:8.1f} MB", flush=True)
    total, peak = t1, r1
    if a.format != "fhir":
        url = f"duckdb:///{a.work / 'warehouse.duckdb'}"
        t2, r2 = stage("load omop (duckdb)", [*carelake, "--warehouse", url, "load", "omop", str(out / "omop")])
        total, peak = total + t2, max(r1, r2)
    print(f"{'total':<22} {total:8.1f} s   peak RSS {peak:8.0f} MB  ({a.persons:,} persons)")


if __name__ == "__main__":
    main()
