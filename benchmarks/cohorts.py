"""Generate the PhenotypeLibrary cohorts on Synthea27Nj with carelake and with duckcdm (a Python circe-be port).

    uv run python benchmarks/cohorts.py [--limit N]

Each arm runs in its own process on its own copy of one DuckDB file (Synthea27Nj loaded by carelake). duckcdm is
installed only in benchmarks/peers-cohorts/.venv (created here with `uv venv`; pinned below), never in the project.
Both arms compile every definition and run it with attrition statistics. Target: carelake >= 2x faster.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

HERE = Path(__file__).parent
WORK = HERE / "_work"
PEERS = HERE / "peers-cohorts"
PEER_PYTHON = PEERS / ".venv" / "bin" / "python"
PINS = ("duckcdm==0.4.7", "duckdb==2.0.1")
# The shared data sits beside the repository (../shared); --library points elsewhere.
LIBRARY = HERE.resolve().parents[1] / "shared" / "data" / "circe-cohorts" / "phenotype-library" / "cohorts"

# Runs under the peer virtualenv: duckcdm's own WebAPI generation path (build, render, translate, execute).
PEER_ARM = """
import json, sys, time
from pathlib import Path
from duckcdm.webapi.sources import Source
from duckcdm.circe import build_cohort_query
from duckcdm.sqlrender import render
db, files = sys.argv[1], [Path(p) for p in sys.argv[2:]]
s = Source(1, "bench", "bench", db, cdm_schema="cdm", results_schema="duckcdm_results")
cur = s.cursor()
ok = failed = 0
t = time.perf_counter()
for f in files:
    cid = int(f.stem)
    try:
        sql = build_cohort_query(json.loads(f.read_text()), cdm_schema="cdm", vocabulary_schema="cdm",
                                 result_schema="duckcdm_results", target_table="duckcdm_results.cohort",
                                 cohort_id=cid, generate_stats=True)
        s.execute_script(render(sql), cur)
        ok += 1
    except Exception:
        failed += 1
print(f"{time.perf_counter() - t:.3f} {ok} {failed}")
"""


def build(path: Path) -> None:
    import carelake
    from carelake.omop.schema import create_cdm
    from carelake.warehouse import connect

    wh = connect(f"duckdb:///{path}")
    create_cdm(wh)
    with resources.as_file(resources.files("carelake").joinpath("data/synthea27nj")) as sample:
        carelake.load_omop(wh, sorted(Path(sample).glob("*.csv.gz")))
    wh.execute("CHECKPOINT")
    wh.close()


def carelake_arm(db: str, files: list[str]) -> None:
    from carelake.cohorts import generate
    from carelake.warehouse import connect

    wh = connect(f"duckdb:///{db}")
    t = time.perf_counter()
    report = generate(wh, {int(Path(f).stem): Path(f) for f in files}, stop_on_error=False)
    print(f"{time.perf_counter() - t:.3f} {len(report.cohorts) - len(report.failed)} {len(report.failed)}")


def peer_venv() -> None:
    if not PEER_PYTHON.exists():
        subprocess.run(["uv", "venv", "-q", str(PEERS / ".venv"), "--python", "3.11"], check=True)
    subprocess.run(["uv", "pip", "install", "-q", "--python", str(PEER_PYTHON), *PINS], check=True)


def run(cmd: list[str]) -> tuple[float, int, int, float]:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    out = proc.stdout.read() if proc.stdout else ""
    if status != 0:
        raise SystemExit(f"arm failed: {cmd[:3]}")
    seconds, ok, failed = out.split()[-3:]
    return float(seconds), int(ok), int(failed), usage.ru_maxrss / 1024


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--limit", type=int, default=0, help="Only the first N definitions (by id).")
    p.add_argument("--arm")
    p.add_argument("--library", type=Path, default=LIBRARY, help=f"Folder of Circe definitions (default {LIBRARY}).")
    p.add_argument("files", nargs="*")
    a = p.parse_args()
    if a.arm:
        carelake_arm(a.arm, a.files)
        return
    WORK.mkdir(exist_ok=True)
    files = sorted((str(f) for f in a.library.glob("*.json")), key=lambda f: int(Path(f).stem))
    files = files[: a.limit] if a.limit else files
    base = WORK / "cohorts_base.duckdb"
    if not base.exists():
        build(base)
    peer_venv()
    results = {}
    for name in ("carelake", "duckcdm 0.4.7"):
        db = WORK / f"cohorts_{name.split()[0]}.duckdb"
        shutil.copy(base, db)
        if name == "carelake":
            cmd = [sys.executable, __file__, "--arm", str(db), *files]
        else:
            cmd = [str(PEER_PYTHON), "-c", PEER_ARM, str(db), *files]
        seconds, ok, failed, rss = run(cmd)
        results[name] = seconds
        print(f"{name:<14} {seconds:8.1f} s  {ok:,} cohorts ok, {failed} failed  peak RSS {rss:,.0f} MB", flush=True)
        db.unlink()
    ratio = results["duckcdm 0.4.7"] / results["carelake"]
    print(f"carelake is {ratio:.2f}x duckcdm's speed on {len(files):,} cohorts (target >= 2x)")


if __name__ == "__main__":
    main()
