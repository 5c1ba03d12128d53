"""Fault injection: each writing command stopped by SIGINT, SIGTERM and SIGKILL part way leaves the warehouse as it
was before or as a finished run leaves it, never between; a rerun then succeeds with the same counts, and what a
stopped run left behind (Spark's `.staging/`, the `fhir_incoming` schema) is gone after it (docs/reliability.md).

Each command runs as a user runs it (`python -m carelake ...` in a process of its own) on simulated data, and is
stopped at three points of its running time: a quarter of the way by SIGINT, halfway by SIGTERM, and nine tenths
of the way by SIGKILL (its time measured by a first, complete run on a copy of the warehouse)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from carelake.warehouse import connect
from engines import ENGINE_MARKS, drop, make_url

CARELAKE = [sys.executable, "-m", "carelake"]
COHORT = Path(__file__).resolve().parents[2] / "src" / "carelake" / "data" / "example_study" / "cohorts" / "ckd4.json"
POINTS = ((0.25, signal.SIGINT), (0.5, signal.SIGTERM), (0.9, signal.SIGKILL))
Snapshot = dict[str, int]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """600 simulated persons as OMOP CSV and FHIR, the vocabulary files apart (for `vocab load`)."""
    root = tmp_path_factory.mktemp("faults")
    subprocess.run([*CARELAKE, "synth", "-n", "600", "--seed", "3", "--out", str(root / "s"), "--format", "both"],
                   check=True, capture_output=True, timeout=300)  # fmt: skip
    vocab = root / "vocab"
    vocab.mkdir()
    for name in ("CONCEPT", "CONCEPT_ANCESTOR", "CONCEPT_CLASS", "CONCEPT_RELATIONSHIP", "DOMAIN", "RELATIONSHIP",
                 "VOCABULARY"):  # fmt: skip
        shutil.move(root / "s" / "omop" / f"{name}.csv.gz", vocab / f"{name}.csv.gz")
    return root


def _commands(data: Path) -> dict[str, list[str]]:
    return {
        "vocab load": ["vocab", "load", str(data / "vocab")],
        "load omop": ["load", "omop", str(data / "s" / "omop")],
        "load fhir": ["load", "fhir", str(data / "s" / "fhir")],
        "cohort generate": ["cohort", "generate", str(COHORT)],
        "quality": ["quality", "--out", str(data / "quality")],
    }


def snapshot(url: str, *, empty: bool = True) -> Snapshot:
    """Rows per table in every schema carelake writes (tables that do not exist are not listed; with `empty=False`,
    nor are tables without rows)."""
    wh = connect(url)
    try:
        counts = {}
        for schema in (wh.cdm_schema, wh.results_schema, wh.fhir_schema, f"{wh.fhir_schema}_incoming"):
            for table in wh.list_tables(schema):
                counts[f"{schema}.{table}"] = wh.row_count(schema, table)
        return counts if empty else {k: n for k, n in counts.items() if n}
    finally:
        wh.close()


def run(url: str, args: list[str], stop: tuple[float, signal.Signals] | None = None) -> int:
    """Run carelake on `url`; with `stop`, send the signal after that many seconds. The exit code."""
    proc = subprocess.Popen([*CARELAKE, "-w", url, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)  # fmt: skip
    if stop is not None:
        try:
            proc.wait(timeout=stop[0])
        except subprocess.TimeoutExpired:
            proc.send_signal(stop[1])  # to carelake alone, as `kill` sends it (Spark's JVM must follow by itself)
    try:
        _, err = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # a child left running holds the pipe: that is the failure
        raise AssertionError(
            f"carelake {' '.join(args)} or a process it started was still running after 300 s"
        ) from None
    assert "internal error" not in err, err
    assert "Traceback" not in err, err
    if proc.returncode not in (0, 130, -signal.SIGTERM, -signal.SIGKILL):
        raise AssertionError(f"carelake {' '.join(args)} exited {proc.returncode}: {err}")
    return proc.returncode


def timed(url: str, args: list[str]) -> float:
    start = time.perf_counter()
    assert run(url, args) == 0
    return time.perf_counter() - start


@pytest.fixture
def prepared(backend: str, tmp_path: Path, data: Path) -> Iterator[tuple[str, dict[str, list[str]]]]:
    url = make_url(backend, tmp_path)
    yield url, _commands(data)
    drop(url)


def _before(url: str, commands: dict[str, list[str]], command: str) -> None:
    """What each command needs first: a CDM, and for cohorts and quality the data they read."""
    assert run(url, ["init"]) == 0
    if command in ("cohort generate", "quality"):
        for step in ("vocab load", "load omop"):
            assert run(url, commands[step]) == 0


def _check(url: str, commands: dict[str, list[str]], command: str, duration: float, *, ddl: bool) -> None:
    """`ddl`: whether creating a table is part of the transaction (not on Spark, where a stopped run may leave
    tables it created, empty; rows are compared then, not the list of empty tables)."""
    before = snapshot(url, empty=ddl)
    outcomes = []
    for fraction, sig in POINTS:
        code = run(url, commands[command], (duration * fraction, sig))
        outcomes.append((sig.name, code, snapshot(url, empty=ddl)))
    assert run(url, commands[command]) == 0  # a rerun after the stops succeeds
    after = snapshot(url, empty=ddl)
    assert run(url, commands[command]) == 0
    assert snapshot(url, empty=ddl) == after  # and once more: the same counts
    for name, code, seen in outcomes:
        assert seen in (before, after), f"{command} stopped by {name} (exit {code}) left the warehouse between"
    assert not any(key.split(".")[0].endswith("_incoming") for key in snapshot(url))


def _reference(backend: str, url: str, tmp_path: Path, commands: dict[str, list[str]], command: str) -> float:
    """How long a whole run of `command` takes, on a copy of the warehouse as it is now."""
    if backend == "duckdb":
        reference = tmp_path / "reference.duckdb"
        shutil.copy(Path(url.removeprefix("duckdb:///")), reference)
        return timed(f"duckdb:///{reference}", commands[command])
    if backend == "spark":
        reference = tmp_path / "reference-lake"
        shutil.copytree(Path(url.split("path=", 1)[1]), reference)
        return timed(f"spark://local?path={reference}", commands[command])
    copy = make_url(backend, tmp_path)
    try:
        _before(copy, commands, command)
        return timed(copy, commands[command])
    finally:
        drop(copy)


COMMANDS = ["vocab load", "load omop", "load fhir", "cohort generate", "quality"]
# The whole matrix takes about half an hour (Spark starts a JVM for every run: 30 min of it), more than CI can give.
# CI stops every command on DuckDB and the loads on PostgreSQL (about 4 minutes); CARELAKE_FAULTS=all runs the rest.
IN_CI = {"duckdb": set(COMMANDS), "postgres": {"vocab load", "load omop", "load fhir"}, "spark": set()}
_ALL = os.environ.get("CARELAKE_FAULTS") == "all"
CASES = [
    pytest.param(backend, command, marks=marks, id=f"{backend}-{command.replace(' ', '-')}")
    for backend, marks in ENGINE_MARKS.items()
    for command in COMMANDS
    if _ALL or command in IN_CI[backend]
]


@pytest.mark.parametrize(("backend", "command"), CASES)
def test_a_stopped_command_leaves_the_warehouse_before_or_after_never_between(
    prepared: tuple[str, dict[str, list[str]]], backend: str, command: str, tmp_path: Path
) -> None:
    url, commands = prepared
    _before(url, commands, command)
    duration = _reference(backend, url, tmp_path, commands, command)
    _check(url, commands, command, duration, ddl=backend != "spark")
    if backend == "spark":
        assert not list((Path(url.split("path=", 1)[1]) / ".staging").glob("*"))  # what the stopped runs staged


_KILLED_MID_SWAP = """
import os, pathlib, signal, sys
from carelake.omop.loader import load_files
from carelake.warehouse import connect

wh = connect(sys.argv[1])
real, swapped = pathlib.Path.replace, []

def replace(self, target):  # the process dies as the second table is about to be swapped in
    if self.name == "COMMIT.json.partial" or swapped:
        swapped.append(self)
    if len(swapped) == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    return real(self, target)

pathlib.Path.replace = replace
load_files(wh, [pathlib.Path(p) for p in sys.argv[2:]])
"""


@pytest.mark.spark
def test_a_spark_writer_killed_in_its_swap_is_finished_by_the_next_connection(tmp_path: Path) -> None:
    """The one window SIGKILL at a random moment rarely hits: between the renames of a commit, some tables swapped
    in and others not. The next connection finishes the swap from the plan written before it began."""
    url = f"spark://local?path={tmp_path / 'lake'}"
    person, death = tmp_path / "person.csv", tmp_path / "death.csv"
    person.write_text(
        "person_id,gender_concept_id,year_of_birth,race_concept_id,ethnicity_concept_id\n"
        + "".join(f"{i},8507,{1940 + i % 50},0,0\n" for i in range(1, 201))
    )
    death.write_text("person_id,death_date\n" + "".join(f"{i},2020-01-{1 + i % 28:02d}\n" for i in range(1, 41)))
    assert run(url, ["init"]) == 0
    killed = subprocess.run([sys.executable, "-c", _KILLED_MID_SWAP, url, str(person), str(death)],
                            capture_output=True, text=True, timeout=300)  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    [left] = (tmp_path / "lake" / ".staging").glob("*")
    assert (left / "COMMIT.json").exists()
    wh = connect(url)
    try:
        assert (wh.row_count(wh.cdm_schema, "person"), wh.row_count(wh.cdm_schema, "death")) == (200, 40)
        assert not list((tmp_path / "lake" / ".staging").glob("*"))
    finally:
        wh.close()
