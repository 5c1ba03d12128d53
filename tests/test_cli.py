"""The command line: verbs, --json on stdout, exit codes 0/1/2 and one-line errors with a hint."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from browser import CHROMIUM, drawn_offline
from sample_counts import SAMPLE_COUNTS


def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    full_env.pop("CARELAKE_WAREHOUSE", None) if env is None else None
    return subprocess.run(
        [sys.executable, "-m", "carelake", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_load_then_info_json_reports_source_counts(tmp_path: Path, sample_dir: Path) -> None:
    url = f"duckdb:///{tmp_path / 'x.duckdb'}"
    loaded = run("--warehouse", url, "load", "omop", str(sample_dir), "--json", cwd=tmp_path)
    assert loaded.returncode == 0, loaded.stderr
    report = json.loads(loaded.stdout)
    assert report["read"] == report["loaded"] == 294203
    info = run("--warehouse", url, "info", "--json", cwd=tmp_path)
    assert info.returncode == 0, info.stderr
    data = json.loads(info.stdout)
    assert data["cdm_version"] == "5.4"
    for table, n in SAMPLE_COUNTS.items():
        assert data["tables"][f"cdm.{table}"] == n


def test_demo_runs_the_whole_path_on_embedded_duckdb(tmp_path: Path) -> None:
    done = run("demo", "--persons", "3000", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["persons"] == 3000 and (tmp_path / "carelake-demo.duckdb").exists()
    assert data["quality"]["passed"] > 1000 and data["quality"]["errors"] == 0
    assert data["cohorts"]["Observed on 2021-01-01"] > 2900 and data["cohorts"]["Death"] > 50
    assert 0.75 < data["test_auroc"]["Death"] <= 1.0 and data["calibration_slope"]["Death"] > 0
    index = tmp_path / data["report"]
    page = index.read_text()
    for name in ("quality", "characterization", "study"):
        target = Path(data["pages"][name])
        assert (tmp_path / target).is_file()
        assert (tmp_path / target).relative_to(index.parent).as_posix() in page  # linked from the index
    assert "demo: data quality checks" in done.stderr  # progress on stderr, the JSON alone on stdout
    if CHROMIUM.exists():  # the index and the dashboard with every chart drawn (3,000 persons fill all eight)
        drawn_offline(index, 0)
        drawn_offline(tmp_path / data["pages"]["quality"], 8)
    again = run("demo", "--persons", "10", cwd=tmp_path)
    assert again.returncode == 2 and "at least 500" in again.stderr


def test_bad_input_exits_2_with_one_line_and_hint(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "person.csv").write_text("person_id;gender_concept_id\n1;8507\n")
    done = run("load", "omop", str(tmp_path / "in"), cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert lines[0].startswith("error: ") and "person.csv, line 1" in lines[0]
    assert lines[1].startswith("hint: ")
    assert done.stdout == ""


def test_wide_text_loads_with_departures_and_strict_refuses(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    header = "person_id,gender_concept_id,year_of_birth,race_concept_id,ethnicity_concept_id,gender_source_value"
    wide = "F" * 70
    (tmp_path / "in" / "person.csv").write_text(f"{header}\n5000000000,8532,1990,0,0,{wide}\n2,8507,1980,0,0,M\n")
    url = f"duckdb:///{tmp_path / 'x.duckdb'}"
    done = run("--warehouse", url, "load", "omop", str(tmp_path / "in"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "person.gender_source_value (varchar(50)): 1 value wider, up to 70 characters" in done.stdout
    assert "person.person_id (integer (32-bit)): 1 value beyond 32 bits, up to 5,000,000,000" in done.stdout
    strict = run(
        "--warehouse",
        f"duckdb:///{tmp_path / 'y.duckdb'}",
        "load",
        "omop",
        "--strict",
        str(tmp_path / "in"),
        cwd=tmp_path,
    )
    assert strict.returncode == 2
    assert "line 2, column gender_source_value: longer than 50 characters" in strict.stderr


@pytest.mark.parametrize("args", [["--warehouse", "mysql://x/y", "info"], ["load", "omop"], ["frobnicate"]])
def test_user_errors_exit_2(tmp_path: Path, args: list[str]) -> None:
    assert run(*args, cwd=tmp_path).returncode == 2


def test_settings_precedence_flag_env_file(tmp_path: Path) -> None:
    (tmp_path / "carelake.toml").write_text(f'warehouse = "duckdb:///{tmp_path / "from_file.duckdb"}"\n')
    assert run("init", cwd=tmp_path).returncode == 0
    assert (tmp_path / "from_file.duckdb").exists()
    env = {"CARELAKE_WAREHOUSE": f"duckdb:///{tmp_path / 'from_env.duckdb'}"}
    assert run("init", cwd=tmp_path, env=env).returncode == 0
    assert (tmp_path / "from_env.duckdb").exists()
    again = run("--warehouse", f"duckdb:///{tmp_path / 'from_env.duckdb'}", "init", cwd=tmp_path, env=env)
    assert again.stdout.strip() == "CDM schema already complete"


def test_help_does_not_import_engines(tmp_path: Path) -> None:
    code = (
        "import sys; from carelake.cli import app; "
        "print(sorted(m for m in ('duckdb', 'pyarrow', 'pyspark', 'psycopg') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=True)
    assert done.stdout.strip() == "[]"
