"""SQL-on-FHIR v2 views over Bulk NDJSON: carelake, hand-written DuckDB SQL and two Python peers, in one run.

    uv run python benchmarks/fhir_views.py [--observations 1000000] [--patients 200000] [--peer-limit N]
                                           [--arms carelake,duckdb,sqlonfhir,fhir4ds] [--work DIR]

Data: `fhir_data.py` replicates the real Synthea R4 Observations and Patients of the SMART sample bundles with fresh
ids into `Observation.NNN.ndjson` (200,000 lines each) and `Patient.NNN.ndjson` (cached in WORK/ndjson). 1M
Observations name only ~9,000 Patients, too few to time a view, so the Patients are replicated on to 200,000.
Views (the same JSON for every arm): `peers/observation_view.json` (id, patient, effective, value, unit, and
`forEach: code.coding` -> system, code, display) and `peers/patient_view.json` (id, gender, birth_date, family,
given, deceased). Arms, each view of each arm in a process of its own (so its peak RSS is its own):

- carelake: `stage_fhir(wh, [dir])` into a DuckDB warehouse ("load"), then `run_view(wh, view)` -> Arrow ("view");
- duckdb: hand-written DuckDB SQL: read_ndjson_objects into a raw JSON table ("load"), then one query for the same
  rows fetched to Arrow ("view");
- sqlonfhir (SAS, Apache-2.0) and fhir4ds (fhir4ds-v2, AGPL-3.0): `peers/run_<peer>.py`, run by the Python of
  `peers/.venv`, a virtualenv of their own that this script makes with uv from `peers/requirements.txt` on first
  use (git-ignored; carelake's own environment gets nothing).

The headline is each arm's view throughput (output rows/s, loading excluded); load resources/s, end-to-end rows/s
and peak RSS are printed too, with carelake's ratio to each arm (targets: >= 10x the peers, >= 0.5x the hand SQL).
The views of carelake and the hand SQL take seconds, where a shared 2-core machine's noise is large, so each runs
`--repeat` times (default 3) on the loaded data and the best counts; a peer's view takes 7 to 140 s and runs once.
All arms read the same files by default: the slowest peer (sqlonfhir, ~7,500 rows/s) takes about 2.5 minutes on
1M Observations and the whole run about six (plus a minute to install the peers once), well under 15.
`--peer-limit N` runs the peers on the first N Observations only (a prefix of the same files; Patients in full);
rows/s are still compared, and the output says so.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fhir_data  # benchmarks/ is on sys.path: it is the running script's folder
import peer_venv

HERE = Path(__file__).resolve().parent
PEERS = HERE / "peers"
VENV = PEERS / ".venv"  # ".venv/" is git-ignored at any depth
VIEWS = {"Observation": PEERS / "observation_view.json", "Patient": PEERS / "patient_view.json"}
ARMS = ("carelake", "duckdb", "sqlonfhir", "fhir4ds")
PEER_ARMS = ("sqlonfhir", "fhir4ds")
TARGETS = {"duckdb": 0.5, "sqlonfhir": 10.0, "fhir4ds": 10.0}

# The hand-written arm: the same rows as the views, one JSON parse per field list (DuckDB's list form of
# json_extract), getReferenceKey(Patient) as "the id after Patient/", forEach as an inner UNNEST.
HAND_SQL = {
    "Observation": """
        WITH f AS (
            SELECT json_extract_string(resource, ['$.id', '$.subject.reference', '$.effectiveDateTime',
                                                  '$.valueQuantity.unit']) AS s,
                   json_extract(resource, ['$.valueQuantity.value', '$.code.coding']) AS j
            FROM observation
        )
        SELECT s[1] AS id,
               CASE WHEN starts_with(s[2], 'Patient/') THEN substr(s[2], 9) END AS patient,
               s[3] AS effective,
               CAST(j[1] AS DOUBLE) AS value,
               s[4] AS unit,
               json_extract_string(coding, '$.system') AS system,
               json_extract_string(coding, '$.code') AS code,
               json_extract_string(coding, '$.display') AS display
        FROM f, unnest(CAST(j[2] AS JSON[])) AS u(coding)
    """,
    "Patient": """
        SELECT s[1] AS id, s[2] AS gender, s[3] AS birth_date, s[4] AS family, s[5] AS given, s[6] AS deceased
        FROM (
            SELECT json_extract_string(resource, ['$.id', '$.gender', '$.birthDate', '$.name[0].family',
                                                  '$.name[0].given[0]', '$.deceasedDateTime']) AS s
            FROM patient
        )
    """,
}


@dataclass
class Result:
    """One view of one arm."""

    arm: str
    view: str
    resources: int
    rows: int = 0
    load_s: float = 0.0
    view_s: float = 0.0
    rss_mb: float = 0.0
    non_null: dict[str, int] = field(default_factory=dict)
    runs: list[float] = field(default_factory=list)
    skipped: str = ""


# --- the arms that run in this project's environment (child processes) ---------------------------------------------


def _sql_list(paths: list[Path]) -> str:
    return "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths) + "]"


def _carelake_api(name: str) -> Any:
    """`carelake.fhir.<name>`, or None while it does not exist yet."""
    try:
        import carelake.fhir

        return getattr(carelake.fhir, name)
    except (ImportError, AttributeError):
        return None


def arm(name: str, view_name: str, input_dir: Path, db: Path, repeat: int) -> dict[str, Any]:
    """Run one in-project arm on one view and return its figures (in a child process); the best of `repeat` views."""
    import pyarrow as pa  # imported before any clock starts, as every arm's output is an Arrow table

    view = json.loads(VIEWS[view_name].read_text())
    if name == "carelake":
        import carelake

        stage_fhir, run_view = _carelake_api("stage_fhir"), _carelake_api("run_view")
        if stage_fhir is None:
            return {"skip": "carelake.fhir has no stage_fhir yet"}
        wh = carelake.connect(f"duckdb:///{db}")
        t = time.perf_counter()
        stage_fhir(wh, [input_dir])
        load_s = time.perf_counter() - t
        if run_view is None:
            wh.close()
            return {"skip": "carelake.fhir has no run_view yet (staging measured)", "load_s": load_s}

        def once() -> pa.Table:
            return run_view(wh, view)

        close = wh.close
    else:
        import duckdb

        con = duckdb.connect(str(db))
        files = sorted(input_dir.glob("*.ndjson"))
        t = time.perf_counter()
        con.execute(
            f"CREATE TABLE {view_name.lower()} AS SELECT json AS resource FROM read_ndjson_objects({_sql_list(files)})"
        )
        load_s = time.perf_counter() - t

        def once() -> pa.Table:
            return con.sql(HAND_SQL[view_name]).to_arrow_table()

        close = con.close
    times = []
    table: pa.Table | None = None
    for _ in range(max(1, repeat)):
        table = None  # let the previous run's rows go before the next one
        t = time.perf_counter()
        table = once()
        times.append(time.perf_counter() - t)
    assert table is not None
    close()
    non_null = {c: table.num_rows - table.column(c).null_count for c in table.column_names}
    return {"rows": table.num_rows, "load_s": load_s, "view_s": min(times), "view_runs": times, "non_null": non_null}


# --- orchestration ---------------------------------------------------------------------------------------------------


def peer_python() -> Path:
    """The peers' interpreter: `peers/.venv`, (re)made with uv when missing or when requirements.txt changed."""
    return peer_venv.peer_python(VENV, PEERS / "requirements.txt", "the peers")


def prepare_input(data: Path, manifest: dict[str, Any], into: Path, resource: str, limit: int | None) -> int:
    """Fill `into` with the first `limit` (default: all) `resource` lines of the data; whole files are hard links."""
    shutil.rmtree(into, ignore_errors=True)
    into.mkdir(parents=True)
    total = int(manifest["observations" if resource == "Observation" else "patients"])
    wanted = total if limit is None else min(limit, total)
    per_file = int(manifest["lines_per_file"])
    left = wanted
    for i, name in enumerate(f for f in manifest["files"] if f.startswith(resource + ".")):
        if left == 0:
            break
        lines = min(per_file, total - i * per_file)
        src, dst = data / name, into / name
        if lines <= left:
            try:
                dst.hardlink_to(src)
            except OSError:
                shutil.copyfile(src, dst)
            left -= lines
        else:
            with src.open("rb") as f, dst.open("wb") as out:
                for _, line in zip(range(left), f, strict=False):
                    out.write(line)
            left = 0
    return wanted


def run_arm(name: str, view: str, input_dir: Path, resources: int, work: Path, repeat: int) -> Result:
    """Run one arm on one view in a child process; its peak RSS comes from wait4."""
    db = work / f"{name}-{view.lower()}.duckdb"
    for f in work.glob(db.name + "*"):
        f.unlink()
    if name in PEER_ARMS:
        cmd = [str(peer_python()), str(PEERS / f"run_{name}.py"), str(VIEWS[view]), str(input_dir)]
        if name == "fhir4ds":
            cmd += ["--db", str(db)]
    else:
        cmd = [sys.executable, __file__, "--arm", name, "--view", view, "--input", str(input_dir), "--db", str(db)]
        cmd += ["--repeat", str(repeat)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    for f in work.glob(db.name + "*"):
        f.unlink()
    if proc.returncode != 0:
        raise SystemExit(f"arm {name} ({view}) failed with exit code {proc.returncode}")
    figures = json.loads(out.strip().splitlines()[-1])
    result = Result(name, view, resources, rss_mb=usage.ru_maxrss / 1024)
    if "skip" in figures:
        result.skipped, result.load_s = figures["skip"], figures.get("load_s", 0.0)
        return result
    result.rows, result.load_s, result.view_s = figures["rows"], figures["load_s"], figures["view_s"]
    result.non_null = figures["non_null"]
    result.runs = figures.get("view_runs", [result.view_s])
    return result


def _rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


def report(results: list[Result], peer_limit: int | None) -> None:
    """The table, carelake's ratios against the targets, and a check that the arms agree on the rows."""
    ours = {r.view: r for r in results if r.arm == "carelake" and not r.skipped}
    head = (
        f"{'arm':<10} {'view':<12} {'input':>10} {'rows':>10} {'load s':>8} {'load res/s':>11} {'view s':>8} "
        f"{'view rows/s':>12} {'e2e rows/s':>11} {'peak MB':>8} {'carelake x':>11}"
    )
    print()
    print(head)
    print("-" * len(head))
    for r in results:
        if r.skipped:
            staged = f" (load {r.load_s:.2f}s, {_rate(r.resources, r.load_s):,.0f} res/s)" if r.load_s else ""
            print(f"{r.arm:<10} {r.view:<12} {r.resources:>10,} skipped: {r.skipped}{staged}")
            continue
        mine = ours.get(r.view)
        ratio = f"{_rate(mine.rows, mine.view_s) / _rate(r.rows, r.view_s):10.2f}x" if mine else f"{'n/a':>11}"
        print(
            f"{r.arm:<10} {r.view:<12} {r.resources:>10,} {r.rows:>10,} {r.load_s:8.2f} "
            f"{_rate(r.resources, r.load_s):11,.0f} {r.view_s:8.2f} {_rate(r.rows, r.view_s):12,.0f} "
            f"{_rate(r.rows, r.load_s + r.view_s):11,.0f} {r.rss_mb:8.0f} {ratio}"
        )
    print()
    if peer_limit is not None:
        print(f"note: the peers ran on the first {peer_limit:,} Observations only; rows/s are compared as measured.")
    if not ours:
        print("carelake's ratios: n/a, its view did not run (targets: >= 10x the peers, >= 0.5x the hand SQL)")
    for r in results:
        mine = ours.get(r.view)
        if r.arm not in TARGETS or r.skipped or mine is None:
            continue
        times = _rate(mine.rows, mine.view_s) / _rate(r.rows, r.view_s)
        verdict = "ok" if times >= TARGETS[r.arm] else "BELOW TARGET"
        print(f"carelake vs {r.arm} ({r.view}): {times:.2f}x its view rows/s (target >= {TARGETS[r.arm]}x) {verdict}")
    _check(results)


def _check(results: list[Result]) -> None:
    """Arms on the same input must give the same number of rows and of non-null values in every column."""
    by_input: dict[tuple[str, int], list[Result]] = {}
    for r in results:
        if not r.skipped:
            by_input.setdefault((r.view, r.resources), []).append(r)
    for (view, _), group in by_input.items():
        if len(group) < 2:
            continue
        first = group[0]
        for other in group[1:]:
            if (other.rows, other.non_null) != (first.rows, first.non_null):
                print(f"MISMATCH {view}: {first.arm} {first.rows} rows {first.non_null}")
                print(f"         {view}: {other.arm} {other.rows} rows {other.non_null}")
                break
        else:
            arms = ", ".join(r.arm for r in group)
            print(f"check {view}: {arms} agree on {first.rows:,} rows and every column's non-null count")


def _versions() -> str:
    """duckdb here, and the pinned peers."""
    from importlib.metadata import version

    pins = dict(
        line.split("==", 1)
        for line in (PEERS / "requirements.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    peers = f"sqlonfhir {pins['sqlonfhir']}, fhir4ds-v2 {pins['fhir4ds-v2']} (duckdb {pins['duckdb']})"
    return f"duckdb {version('duckdb')} for carelake and the hand SQL; {peers}."


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--observations", type=int, default=1_000_000)
    p.add_argument("--patients", type=int, default=200_000, help="at least this many Patients")
    p.add_argument("--arms", default=",".join(ARMS), help="comma-separated subset of " + ",".join(ARMS))
    p.add_argument("--peer-limit", type=int, help="run the peers on the first N Observations only")
    p.add_argument("--repeat", type=int, default=3, help="views of carelake and the hand SQL: best of N runs")
    p.add_argument("--work", type=Path, default=HERE / "_work" / "fhir", help="data, inputs and databases")
    p.add_argument("--arm", help=argparse.SUPPRESS)
    p.add_argument("--view", help=argparse.SUPPRESS)
    p.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.arm:
        json.dump(arm(a.arm, a.view, a.input, a.db, a.repeat), sys.stdout)
        print()
        return
    arms = [x.strip() for x in a.arms.split(",") if x.strip()]
    if unknown := set(arms) - set(ARMS):
        raise SystemExit(f"unknown arms {sorted(unknown)}; choose from {', '.join(ARMS)}")
    work = a.work.resolve()
    data = work / "ndjson"
    t = time.perf_counter()
    manifest = fhir_data.generate(data, a.observations, a.patients)
    how = "already there" if manifest["cached"] else f"written in {time.perf_counter() - t:.1f}s"
    print(f"data: {data}: {manifest['observations']:,} Observations, {manifest['patients']:,} Patients, {how}")
    if any(x in PEER_ARMS for x in arms):
        peer_python()
    limit = a.peer_limit if a.peer_limit and a.peer_limit < manifest["observations"] else None
    print(f"{os.cpu_count()} cores; the DuckDB-based arms use all of them, sqlonfhir one.")
    print(_versions(), flush=True)
    results: list[Result] = []
    shutil.rmtree(work / "inputs", ignore_errors=True)
    for view in VIEWS:
        full = work / "inputs" / view
        n_full = prepare_input(data, manifest, full, view, None)
        n_part, part = n_full, full
        if limit is not None and view == "Observation" and any(x in PEER_ARMS for x in arms):
            part = work / "inputs" / f"{view}-first-{limit}"
            n_part = prepare_input(data, manifest, part, view, limit)
        for name in arms:
            n, input_dir = (n_part, part) if name in PEER_ARMS else (n_full, full)
            r = run_arm(name, view, input_dir, n, work, a.repeat)
            results.append(r)
            runs = ", ".join(f"{x:.2f}" for x in r.runs)
            state = f"skipped ({r.skipped})" if r.skipped else f"{r.rows:,} rows, load {r.load_s:.1f}s, view {runs}s"
            print(f"  {view:<12} {name:<10} {state}", flush=True)
    report(results, limit)


if __name__ == "__main__":
    main()
