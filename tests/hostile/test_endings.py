"""An honest ending for every way a run can stop: each names what happened and what to do, none says "internal error".

Before: a truncated `.ndjson.gz` ended in "Aborted!" (exit 1); Ctrl-C during `load fhir` printed "internal error:
RuntimeError: Query interrupted"; two loads into one PostgreSQL schema made the second blame a file for a duplicate
key it did not hold; `spark://` without the Spark extra was "internal error: ModuleNotFoundError".
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from carelake.errors import InputError, UserError
from carelake.fhir import stage_fhir
from carelake.omop.loader import load_files
from carelake.warehouse import Warehouse, connect
from engines import make_url

CARELAKE = [sys.executable, "-m", "carelake"]


def _patients(n: int) -> str:
    rows = (json.dumps({"resourceType": "Patient", "id": f"p{i}", "gender": "male", "birthDate": "1970-01-01"})
            for i in range(n))  # fmt: skip
    return "\n".join(rows) + "\n"


@pytest.mark.parametrize("backend", ["duckdb"])
def test_a_truncated_ndjson_gz_is_named(warehouse: Warehouse, tmp_path: Path) -> None:
    packed = gzip.compress(_patients(20_000).encode())
    path = tmp_path / "Patient.ndjson.gz"
    path.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(InputError, match="truncated or damaged") as e:
        stage_fhir(warehouse, [path])
    assert e.value.file == str(path)
    assert not warehouse.table_exists(warehouse.fhir_schema, "patient")
    run = subprocess.run([*CARELAKE, "-w", f"duckdb:///{tmp_path / 'cli.duckdb'}", "load", "fhir", str(path)],
                         capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert run.returncode == 2
    assert f"error: {path}: a gzip file that is truncated or damaged" in run.stderr
    assert "Aborted" not in run.stderr


def test_ctrl_c_says_nothing_was_committed_and_exits_130(tmp_path: Path) -> None:
    folder = tmp_path / "fhir"
    folder.mkdir()
    (folder / "Patient.ndjson").write_text(_patients(600_000))  # a load of several seconds
    db = tmp_path / "wh.duckdb"
    url = f"duckdb:///{db}"
    subprocess.run([*CARELAKE, "-w", url, "init"], check=True, capture_output=True, timeout=120)
    before = subprocess.run([*CARELAKE, "-w", url, "info", "--json"], capture_output=True, text=True, check=True)
    load = subprocess.Popen([*CARELAKE, "-w", url, "load", "fhir", str(folder)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    time.sleep(3.0)
    assert load.poll() is None, "the load ended before it could be interrupted"
    load.send_signal(signal.SIGINT)
    _, err = load.communicate(timeout=120)
    assert load.returncode == 130, err
    assert "interrupted: nothing this command was writing was committed" in err
    assert "internal error" not in err
    after = subprocess.run([*CARELAKE, "-w", url, "info", "--json"], capture_output=True, text=True, check=True)
    assert json.loads(after.stdout)["tables"] == json.loads(before.stdout)["tables"]


@pytest.mark.postgres
def test_a_second_writer_to_one_postgres_schema_is_refused_by_name(tmp_path: Path) -> None:
    url = make_url("postgres", tmp_path)
    first, second = connect(url), connect(url)
    try:
        person = tmp_path / "person.csv"
        person.write_text(
            "person_id,gender_concept_id,year_of_birth,race_concept_id,ethnicity_concept_id\n1,0,1990,0,0\n"
        )
        load_files(second, [person])  # the schema exists, and a load when nobody else writes is fine
        with first.transaction():
            first.execute(f"DELETE FROM {first.cdm_schema}.person")
            with pytest.raises(UserError, match=f"another carelake command is writing to schema {second.cdm_schema}"):
                load_files(second, [person])
        assert second.row_count(second.cdm_schema, "person") == 0  # the first writer's change, and only it
    finally:
        for wh in (first, second):
            wh.close()
        wh = connect(url)
        for schema in (wh.cdm_schema, wh.results_schema, wh.fhir_schema):
            wh.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        wh.close()


def test_a_second_process_on_one_duckdb_file_is_refused_by_name(tmp_path: Path) -> None:
    db = tmp_path / "wh.duckdb"
    holder = connect(f"duckdb:///{db}")  # this process holds the file, as a running load would
    try:
        second = subprocess.run([*CARELAKE, "-w", f"duckdb:///{db}", "init"], capture_output=True, text=True,
                                timeout=120)  # fmt: skip
    finally:
        holder.close()
    assert second.returncode == 2, second.stderr
    assert f"cannot open DuckDB file {db}" in second.stderr
    assert "another process may hold it" in second.stderr
    assert "internal error" not in second.stderr


@pytest.mark.spark
def test_a_second_writer_to_one_spark_lake_is_refused_and_leftovers_go(tmp_path: Path) -> None:
    url = f"spark://local?path={tmp_path / 'lake'}"
    first, second = connect(url), connect(url)
    try:
        left = tmp_path / "lake" / ".staging" / "killed-run"
        left.mkdir(parents=True)
        person = tmp_path / "person.csv"
        person.write_text(
            "person_id,gender_concept_id,year_of_birth,race_concept_id,ethnicity_concept_id\n1,0,1990,0,0\n"
        )
        with first.transaction():
            assert not left.exists()  # what a killed writer staged is cleared by the next one
            with pytest.raises(UserError, match="another carelake command is writing to the Spark lake"):
                load_files(second, [person])
        load_files(second, [person])
        assert second.row_count(second.cdm_schema, "person") == 1
    finally:
        second.close()
        first.close()


def test_spark_without_its_extra_names_the_extra(tmp_path: Path) -> None:
    script = (
        "import sys; sys.modules['pyspark'] = None\n"  # as on a machine without the spark extra
        "from carelake.cli import main; sys.argv = ['carelake', *sys.argv[1:]]; main()\n"
    )
    run = subprocess.run([sys.executable, "-c", script, "-w", f"spark://local?path={tmp_path}", "info"],
                         capture_output=True, text=True, timeout=120, check=False, env={**os.environ})  # fmt: skip
    assert run.returncode == 2, run.stderr
    assert "the spark backend needs the pyspark package" in run.stderr
    assert "pip install 'carelake[spark]'" in run.stderr
