"""FHIR Bulk NDJSON -> OMOP CDM 5.4 end to end: carelake, DuckDB's raw scan (the ceiling) and pyomop (the peer).

    uv run python benchmarks/fhir_to_omop.py [--resources 5000000] [--peer-resources 10000]
                                             [--arms carelake,duckdb,pyomop] [--work DIR] [--vocab DIR]

Data: `fhir_omop_data.py` replicates the 19 Synthea patients of the SMART sample bundles, whole, with fresh ids and
every reference rewritten to the same replica (Type.NNN.ndjson, one resource a line; ~54% Observation, then
Procedure, Encounter, Immunization, DiagnosticReport, Condition, MedicationRequest, ...; no Claim or EOB, see
there), into WORK/ndjson-<N>, made once and reused. Arms, each in a process of its own whose peak memory is
measured (the larger of wait4's ru_maxrss and the peak of the summed RSS of the process tree, sampled every 0.1 s,
as pyomop works in a pool of processes):

- carelake: `carelake.connect("duckdb:///fresh.duckdb")`, then the public path of `carelake load fhir DIR`:
  `load_fhir(wh, [DIR])` (raw store and OMOP, one transaction), and `wh.close()`. With `--vocab DIR` an Athena
  vocabulary is loaded into the fresh file first, untimed (default: none, so concepts are 0 and source values kept).
- duckdb (raw scan, the ceiling): `CREATE TABLE raw AS SELECT json AS resource FROM read_ndjson_objects([files])`
  into a fresh DuckDB file, then close (checkpointed). That is the least any warehouse load of the same files must
  do: read every byte, split the lines, check each is a JSON object and store it, with no field extracted, no
  reference resolved, nothing mapped. Its resources/s is NDJSON lines / wall seconds, connect to close.
- pyomop (the peer): `peers/run_pyomop.py`, pyomop's own CLI (`pyomop --create`, untimed, then `pyomop --input
  DIR` into SQLite, its default engine), run by the Python of `_work/venv-pyomop`, a virtualenv that this script
  makes with uv from `peers/requirements-pyomop.txt` on first use (nothing of it reaches carelake's environment).
  pyomop flattens each resource with pandas.json_normalize, one line at a time, and its loader builds rows with
  DataFrame.iterrows and rewrites person ids with one UPDATE per person and table: 25-70 resources/s on this
  machine, so 5M resources would take more than a day. It runs on `--peer-resources` (default 10,000: 2.5
  minutes on an idle machine): the first whole patients of the same generator, a prefix of the full data.
  carelake also runs on that subset, so the two are compared on the same input as well as at full size.

carelake's timings run from the open warehouse to its close: the CDM tables' creation, staging, harmonizing and
the final checkpoint, which is what `carelake load fhir` costs a user. Resources/s = resources read / those
seconds; the notes split them into staging and harmonizing, with the process's peak when staging ended. Printed: a
table of every arm (resources, seconds, resources/s, peak MB), carelake's ratio to each (targets: >= 0.3x the raw scan,
well ahead of pyomop, peak < 4 GB at any input size), and the OMOP rows per table of carelake and pyomop.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fhir_omop_data  # benchmarks/ is on sys.path: it is the running script's folder
import peer_venv

HERE = Path(__file__).resolve().parent
PEERS = HERE / "peers"
REQUIREMENTS = PEERS / "requirements-pyomop.txt"
VENV = HERE / "_work" / "venv-pyomop"  # benchmarks/_work/ is git-ignored
ARMS = ("carelake", "duckdb", "pyomop")
RAW_TARGET = 0.3
MEMORY_TARGET_MB = 4096
_PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class Result:
    """One arm on one input."""

    arm: str
    label: str
    resources: int
    seconds: float
    rss_mb: float
    rows: dict[str, int] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)
    cpu_seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.resources / self.seconds if self.seconds > 0 else float("inf")


# --- the arms that run in this project's environment (child processes) ---------------------------------------------


def _sql_list(paths: list[Path]) -> str:
    return "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths) + "]"


# Both DuckDB arms get the same memory budget. Without one DuckDB caches up to 80% of RAM, so its peak grows with
# the input; with one it spills, and peak memory stays flat whatever the input size.
MEMORY_LIMIT = "2GB"


def arm_carelake(input_dir: Path, db: Path, vocab: Path | None) -> dict[str, Any]:
    """`carelake load fhir` through the public API: staging and harmonizing in one transaction (`load_fhir`)."""
    import carelake
    from carelake.harmonize import load_fhir

    wh = carelake.connect(f"duckdb:///{db}?memory_limit={MEMORY_LIMIT}")
    if vocab is not None:
        carelake.load_vocabulary(wh, [vocab])
    t = time.perf_counter()
    done = load_fhir(wh, [input_dir])
    wh.close()
    seconds = time.perf_counter() - t
    staged, omop = done.staging, done.omop
    assert omop is not None
    return {
        "resources": staged.total_read,
        "seconds": seconds,
        "rows": {k: v for k, v in omop.rows.items() if v},
        "detail": {
            "rejected": sum(staged.rejected.values()),
            "unresolved_references": sum(staged.references_unresolved.values()),
        },
    }


def arm_duckdb(input_dir: Path, db: Path) -> dict[str, Any]:
    """DuckDB's raw scan: every NDJSON line into one JSON column of a table in a fresh file."""
    import duckdb

    files = sorted(input_dir.glob("*.ndjson"))
    t = time.perf_counter()
    con = duckdb.connect(str(db), config={"memory_limit": MEMORY_LIMIT})
    con.execute(f"CREATE TABLE raw AS SELECT json AS resource FROM read_ndjson_objects({_sql_list(files)})")
    row = con.execute("SELECT COUNT(*) FROM raw").fetchone()
    con.close()
    seconds = time.perf_counter() - t
    return {"resources": int(row[0]) if row else 0, "seconds": seconds, "rows": {}, "detail": {}}


# --- orchestration ---------------------------------------------------------------------------------------------------


def peer_python() -> Path:
    """pyomop's interpreter: `_work/venv-pyomop`, (re)made with uv when missing or when its requirements changed."""
    return peer_venv.peer_python(VENV, REQUIREMENTS, "pyomop")


def _tree_rss(root: int) -> int:
    """Bytes resident in `root` and all its descendants now (from /proc)."""
    parent: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path("/proc", entry.name, "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()  # fields from the 3rd (state) on
        pid = int(entry.name)
        parent[pid], rss[pid] = int(fields[1]), int(fields[21]) * _PAGE
    total = 0
    for pid, size in rss.items():
        p = pid
        while p > 1 and p != root:
            p = parent.get(p, 0)
        if p == root:
            total += size
    return total


def measure(cmd: list[str], log: Path) -> tuple[dict[str, Any], float]:
    """Run `cmd` (its last stdout line is JSON), stderr to `log`; return that JSON and the peak RSS in MB. The JSON
    gains `cpu_seconds`: the child's user + system time from wait4 (its whole life, imports included), a figure
    less shaken than wall time when the machine is shared."""
    peak = 0
    with log.open("w") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True)
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.wait(0.1):
                peak = max(peak, _tree_rss(proc.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        out = proc.stdout.read() if proc.stdout else ""
        _, status, usage = os.wait4(proc.pid, 0)
        done.set()
        sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        tail = "".join(log.read_text(errors="replace").splitlines(keepends=True)[-20:])
        raise SystemExit(f"{' '.join(cmd[:3])} ... failed with exit code {proc.returncode}; end of {log}:\n{tail}")
    figures: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    figures["cpu_seconds"] = usage.ru_utime + usage.ru_stime
    return figures, max(usage.ru_maxrss * 1024, peak) / 2**20


def run_arm(name: str, label: str, input_dir: Path, work: Path, vocab: Path | None) -> Result:
    """One arm on one input in a child process, into a fresh database that is removed afterwards."""
    db = work / "db" / f"{name}.{'sqlite' if name == 'pyomop' else 'duckdb'}"
    db.parent.mkdir(parents=True, exist_ok=True)
    for f in db.parent.glob(db.name + "*"):
        f.unlink()
    if name == "pyomop":
        cmd = [str(peer_python()), str(PEERS / "run_pyomop.py"), str(input_dir), "--db", str(db)]
    else:
        cmd = [sys.executable, __file__, "--arm", name, "--input", str(input_dir), "--db", str(db)]
        if vocab is not None and name == "carelake":
            cmd += ["--vocab", str(vocab)]
    figures, rss_mb = measure(cmd, work / f"{name}-{label}.log")
    for f in db.parent.glob(db.name + "*"):
        f.unlink()
    result = Result(name, label, int(figures["resources"]), float(figures["seconds"]), rss_mb)
    result.rows, result.detail = figures.get("rows", {}), figures.get("detail", {})
    result.cpu_seconds = float(figures["cpu_seconds"])
    return result


def report(results: list[Result]) -> None:
    """The table, carelake's ratios against the targets, and the OMOP rows of carelake and pyomop."""
    by = {(r.arm, r.label): r for r in results}
    head = f"{'arm':<10} {'input':<7} {'resources':>10} {'seconds':>9} {'resources/s':>12} {'peak MB':>8}  notes"
    print()
    print(head)
    print("-" * len(head))
    for r in results:
        notes = f"cpu {r.cpu_seconds:.1f}s"
        if r.arm == "carelake":
            d = r.detail
            if d.get("rejected") or d.get("unresolved_references"):
                notes += f", {d['rejected']} rejected, {d['unresolved_references']} unresolved refs"
        print(f"{r.arm:<10} {r.label:<7} {r.resources:>10,} {r.seconds:9.1f} {r.rate:12,.0f} {r.rss_mb:8.0f}  {notes}")
    print()
    ours = by.get(("carelake", "full"))
    raw = by.get(("duckdb", "full"))
    if ours and raw:
        ratio = ours.rate / raw.rate
        verdict = "ok" if ratio >= RAW_TARGET else "BELOW TARGET"
        print(f"carelake / DuckDB raw scan: {ratio:.2f}x its resources/s (target >= {RAW_TARGET}x) {verdict}")
    peer = next((r for r in results if r.arm == "pyomop"), None)
    if peer:
        same = by.get(("carelake", peer.label))
        if same and same is not ours:
            print(f"carelake / pyomop, same {peer.resources:,} resources: {same.rate / peer.rate:,.0f}x resources/s")
        if ours:
            print(
                f"carelake at {ours.resources:,} / pyomop at {peer.resources:,} resources: "
                f"{ours.rate / peer.rate:,.0f}x resources/s"
            )
    if ours:
        verdict = "ok" if ours.rss_mb < MEMORY_TARGET_MB else "ABOVE TARGET"
        print(f"carelake peak memory: {ours.rss_mb:,.0f} MB (target < {MEMORY_TARGET_MB:,} MB) {verdict}")
    if peer:
        same = by.get(("carelake", peer.label))
        tables = sorted(set(peer.rows) | set(same.rows if same else {}))
        tables = [t for t in tables if t not in {"concept", "vocabulary", "cohort_definition"}]
        print(f"\nOMOP rows on the same {peer.resources:,} resources (carelake maps more; pyomop writes each")
        print("Observation to both measurement and observation):")
        print(f"  {'table':<24} {'carelake':>10} {'pyomop':>10}")
        for t in tables:
            mine = f"{same.rows.get(t, 0):,}" if same else "n/a"
            print(f"  {t:<24} {mine:>10} {peer.rows.get(t, 0):>10,}")
    if ours:
        rows = ", ".join(f"{t} {n:,}" for t, n in sorted(ours.rows.items()))
        print(f"\ncarelake OMOP rows on {ours.resources:,} resources: {rows}")


def _versions() -> str:
    from importlib.metadata import version

    pins = dict(
        line.split("==", 1) for line in REQUIREMENTS.read_text().splitlines() if "==" in line and line[0] != "#"
    )
    return (
        f"duckdb {version('duckdb')} for carelake and the raw scan; pyomop {pins['pyomop']} "
        f"(fhiry {pins['fhiry']}, pandas {pins['pandas']}, SQLAlchemy {pins['sqlalchemy']}) on SQLite."
    )


def _data(work: Path, resources: int) -> tuple[Path, dict[str, Any]]:
    """The generated NDJSON of at least `resources` resources (made once)."""
    out = work / f"ndjson-{resources}"
    t = time.perf_counter()
    manifest = fhir_omop_data.generate(out, resources)
    how = "already there" if manifest["cached"] else f"written in {time.perf_counter() - t:.1f}s"
    print(
        f"data: {out}: {manifest['resources']:,} resources, {manifest['patients']:,} patients, "
        f"{manifest['bytes'] / 1e9:.2f} GB, {how}",
        flush=True,
    )
    return out, manifest


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--resources", type=int, default=5_000_000)
    p.add_argument("--peer-resources", type=int, default=10_000, help="pyomop's input (whole patients)")
    p.add_argument("--arms", default=",".join(ARMS), help="comma-separated subset of " + ",".join(ARMS))
    p.add_argument("--work", type=Path, default=fhir_omop_data.OUT, help="data, databases and logs")
    p.add_argument("--vocab", type=Path, help="Athena vocabulary folder loaded (untimed) before carelake runs")
    p.add_argument("--arm", help=argparse.SUPPRESS)
    p.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.arm:
        figures = arm_carelake(a.input, a.db, a.vocab) if a.arm == "carelake" else arm_duckdb(a.input, a.db)
        print(json.dumps(figures))
        return
    arms = [x.strip() for x in a.arms.split(",") if x.strip()]
    if unknown := set(arms) - set(ARMS):
        raise SystemExit(f"unknown arms {sorted(unknown)}; choose from {', '.join(ARMS)}")
    work = a.work.resolve()
    full, _ = _data(work, a.resources)
    subset = full
    if "pyomop" in arms:
        peer_python()
        if a.peer_resources < a.resources:
            subset, _ = _data(work, a.peer_resources)
    print(f"{os.cpu_count()} cores; DuckDB uses all of them, pyomop's fhiry a process per core.", _load())
    print(_versions(), flush=True)
    results: list[Result] = []
    plan = [(name, "full", full) for name in arms if name != "pyomop"]
    if "pyomop" in arms:
        label = "full" if subset == full else "subset"
        plan.append(("pyomop", label, subset))
        if "carelake" in arms and subset != full:
            plan.append(("carelake", "subset", subset))
    for name, label, input_dir in plan:
        r = run_arm(name, label, input_dir, work, a.vocab)
        results.append(r)
        print(
            f"  {name:<9} {label:<7} {r.resources:>10,} resources in {r.seconds:8.1f}s "
            f"({r.rate:,.0f}/s), peak {r.rss_mb:,.0f} MB",
            flush=True,
        )
    report(results)
    print(f"\n{_load()} The arms share the machine with whatever else runs; compare runs made at low load.")


def _load() -> str:
    """The 1/5/15-minute load averages, as a noise warning on a shared machine."""
    return "Load average now: " + ", ".join(f"{x:.1f}" for x in os.getloadavg()) + "."


if __name__ == "__main__":
    main()
