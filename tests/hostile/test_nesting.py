"""Documents nested deeper than the one limit: refused at the door, by name and line, before any parser that can crash.

Before, an NDJSON line 50,000 levels deep killed `load fhir` with a segmentation fault (pyarrow's JSON reader
recursed without a limit), and in a Bundle it ended in "internal error: RecursionError".
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from carelake.cohorts import CohortDefinitionError, parse_expression
from carelake.config import load_settings
from carelake.errors import ConfigError
from carelake.fhir import stage_fhir
from carelake.fhir.view.definition import ViewError
from carelake.fhir.view.runner import load_view
from carelake.limits import MAX_DEPTH, json_depth
from carelake.studies.file import StudyError, load_study
from carelake.warehouse import Warehouse

DUCKDB = pytest.mark.parametrize("backend", ["duckdb"])  # all of it happens before the warehouse


def patient(pid: str, **extra: object) -> dict[str, object]:
    return {"resourceType": "Patient", "id": pid, "gender": "female", "birthDate": "1970-01-01", **extra}


def nested(depth: int) -> str:
    """A Patient that nests `depth` levels deep in all, through its extension (arrays and objects in turn)."""
    inner = "1"
    for level in range(depth - 1):
        inner = f"[{inner}]" if level % 2 else f'{{"a":{inner}}}'
    return json.dumps(patient("deep"))[:-1] + f', "extension": {inner}}}'


def extensions(depth: int) -> str:
    """A valid Patient `depth` levels deep (an even number): extensions within extensions, a CodeableConcept inside."""
    inner: object = {"url": "u", "valueCodeableConcept": {"text": "x"}}
    for _ in range((depth - 4) // 2):
        inner = {"url": "u", "extension": [inner]}
    return json.dumps(patient("deep", extension=[inner]))


def lines(*docs: str) -> str:
    return "\n".join(docs) + "\n"


@DUCKDB
@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 16_000, 50_000])
def test_a_deep_ndjson_line_is_set_aside_and_the_rest_loads(warehouse: Warehouse, tmp_path: Path, depth: int) -> None:
    # 16,000 levels fit in a line Arrow's way still reads (not longer than depth.ARROW_SAFE opening brackets):
    # its worker threads' larger stack is what keeps the process alive there.
    good = [json.dumps(patient(f"p{i}")) for i in range(300)]
    path = tmp_path / "Patient.ndjson"
    path.write_text(lines(*good[:150], nested(depth), *good[150:]))
    report = stage_fhir(warehouse, [path])
    assert report.loaded["Patient"] == 300
    [rejection] = report.rejections
    assert (rejection.file, rejection.line) == (str(path), 151)
    assert f"the limit is {MAX_DEPTH}" in rejection.reason
    assert json_depth(nested(depth)) == depth


@DUCKDB
def test_at_the_limit_a_line_loads(warehouse: Warehouse, tmp_path: Path) -> None:
    path = tmp_path / "Patient.ndjson"
    assert json_depth(extensions(MAX_DEPTH)) == MAX_DEPTH
    path.write_text(lines(extensions(MAX_DEPTH), json.dumps(patient("p1"))))
    report = stage_fhir(warehouse, [path])
    assert report.rejections == []
    assert report.loaded["Patient"] == 2


@DUCKDB
def test_brackets_inside_strings_do_not_count(warehouse: Warehouse, tmp_path: Path) -> None:
    text = "[" * 5000 + '\\"{{{' + "]" * 10
    path = tmp_path / "Patient.ndjson"
    path.write_text(lines(json.dumps(patient("p1", text={"status": "generated", "div": text})), nested(3)))
    report = stage_fhir(warehouse, [path])
    assert report.rejections == []
    assert report.loaded["Patient"] == 2


@DUCKDB
def test_a_deep_entry_of_a_bundle_is_set_aside_and_the_rest_loads(warehouse: Warehouse, tmp_path: Path) -> None:
    deep = json.loads(nested(50)) | {"extension": None}
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"resource": patient("p1")}, {"resource": deep}, {"resource": patient("p2")}]}  # fmt: skip
    text = json.dumps(bundle).replace('"extension": null', '"extension": ' + "[" * 50_000 + "]" * 50_000)
    path = tmp_path / "bundle.json"
    path.write_text(text)
    report = stage_fhir(warehouse, [path])
    assert report.loaded["Patient"] == 2
    [rejection] = report.rejections
    assert (rejection.file, rejection.entry) == (str(path), 2)
    assert "nested 50,00" in rejection.reason


@DUCKDB
def test_a_deep_single_resource_or_bundle_header_is_refused_by_name(warehouse: Warehouse, tmp_path: Path) -> None:
    single = tmp_path / "one.json"
    single.write_text(nested(20_000))
    header = tmp_path / "bundle.json"
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "meta": {"tag": None},
        "entry": [{"resource": patient("p1")}],
    }
    header.write_text(json.dumps(bundle).replace("null", "[" * 9000 + "]" * 9000))
    report = stage_fhir(warehouse, [single, header])
    assert sorted((r.file, r.line, r.entry) for r in report.rejections) == [
        (str(header), None, None),
        (str(single), None, None),
    ]
    assert all("levels deep" in r.reason for r in report.rejections)


def test_the_cli_survives_the_line_that_crashed_it(tmp_path: Path) -> None:
    folder = tmp_path / "fhir"
    folder.mkdir()
    (folder / "Patient.ndjson").write_text(
        lines(
            json.dumps(patient("p1")),
            '{"resourceType":"Patient","id":"x","extension":' + "[" * 50_000 + "]" * 50_000 + "}",
        )
    )
    url = f"duckdb:///{tmp_path / 'wh.duckdb'}"
    run = subprocess.run([sys.executable, "-m", "carelake", "-w", url, "load", "fhir", str(folder), "--json"],
                         capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["staging"]["resources"]["Patient"]["loaded"] == 1
    assert "internal error" not in run.stderr


def test_other_json_readers_refuse_deep_documents(tmp_path: Path) -> None:
    deep = '{"a":' + "[" * 5000 + "]" * 5000 + "}"
    with pytest.raises(CohortDefinitionError, match="levels deep"):
        parse_expression(deep)
    view = tmp_path / "view.json"
    view.write_text(deep)
    with pytest.raises(ViewError, match=f"{view}: nested"):
        load_view(view)


def test_study_files_refuse_deep_nesting_and_alias_bombs(tmp_path: Path) -> None:
    deep = tmp_path / "deep.yaml"
    deep.write_text("name: x\nmodels: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(StudyError, match="nested deeper than"):
        load_study(deep)
    bomb = tmp_path / "bomb.yaml"
    rows = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    rows += [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]" for i in range(8)]
    bomb.write_text("\n".join(rows) + "\n")
    with pytest.raises(StudyError, match="aliases"):
        load_study(bomb)


def test_carelake_toml_refuses_deep_nesting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "carelake.toml").write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ConfigError, match="nested deeper than"):
        load_settings()
