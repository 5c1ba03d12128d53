"""`carelake synth` as a user runs it: writes OMOP (and FHIR) and reports the rows on stdout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CARELAKE_WAREHOUSE"}
    return subprocess.run(
        [sys.executable, "-m", "carelake", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_synth_verb_writes_and_reports(tmp_path: Path) -> None:
    done = run("synth", "--persons", "40", "--seed", "3", "--out", str(tmp_path / "out"), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["rows"]["omop/PERSON"] == 40 and report["rows"]["truth"] == 40
    assert (tmp_path / "out" / "omop" / "PERSON.csv.gz").exists() and not (tmp_path / "out" / "fhir").exists()


def test_synth_bad_arguments_exit_2(tmp_path: Path) -> None:
    done = run("synth", "--persons", "0", "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert done.returncode == 2, done.stderr
