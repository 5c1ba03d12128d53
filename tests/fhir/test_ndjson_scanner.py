"""The NDJSON scanner (DuckDB parses, one check per JSON structure) gives exactly what reading in Python gives.

Both paths run over the vendored Synthea samples and over a file of hand-made bad lines; the raw store rows, the
accounting and every rejection (file, line, reason) must be the same.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from carelake.fhir import stage_fhir
from carelake.fhir.ndjson import NdjsonScanner
from carelake.fhir.ndjson.lines import blocks, lines_table
from carelake.fhir.ndjson.routes import routed
from carelake.fhir.ndjson.scanner import CLASSIFY
from carelake.fhir.validate import check_resource, shape_fits
from carelake.warehouse import Warehouse, connect

DATA = Path(__file__).resolve().parents[1] / "data" / "synthea-fhir"

_PATIENT = {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1970-01-01",
            "name": [{"family": "Doe", "given": ["Jane"]}],
            "identifier": [{"system": "urn:s", "value": "v1"}]}  # fmt: skip
_BAD_LINES = [
    json.dumps(_PATIENT),
    "",
    '{"resourceType": "Patient", "id": "p2", "gender": ',  # malformed
    json.dumps({**_PATIENT, "id": "p3", "birthDate": 1970}),  # number where a date belongs
    json.dumps({**_PATIENT, "id": "p4", "name": {"family": "Doe"}}),  # object where a list belongs
    json.dumps({**_PATIENT, "id": "p5", "name": [None, {"family": "Doe"}]}),  # null item in a list of objects
    json.dumps({**_PATIENT, "id": "p6", "name": [{"family": "Doe"}, {"family": 5}]}),  # items disagree
    json.dumps({**_PATIENT, "id": 7}),  # id not a string
    json.dumps({k: v for k, v in _PATIENT.items() if k != "id"}),  # no id: a content key
    json.dumps({**_PATIENT, "resourceType": "Patientt", "id": "p8"}),  # unknown type
    "[1, 2]",  # not an object
    json.dumps({**_PATIENT, "id": "p9", "maritalStatus": None}),  # null object
    json.dumps({**_PATIENT, "id": "p10", "active": "yes"}),  # string where a boolean belongs
    json.dumps({"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "x"},
                "subject": {"reference": "Patient?identifier=urn:s|v1"}}),  # conditional: rewritten
    json.dumps({"resourceType": "Observation", "id": "o2", "status": "final", "code": {"text": "x"},
                "subject": {"reference": "Patient?identifier=urn:s|ESCAPED"}}).replace("ESCAPED", "v\\u0031"),
    json.dumps({"resourceType": "Observation", "id": "o3", "status": "final", "code": {"text": "x"},
                "subject": {"reference": "Patient?identifier=urn:s|later"}}),  # target in a later file
    json.dumps({"resourceType": "Observation", "id": "o4", "status": "final", "code": {"text": "x"},
                "subject": {"reference": "urn:uuid:nowhere"}}),  # never resolved: kept, counted
    json.dumps({**_PATIENT, "id": "p1", "gender": "male"}),  # same id again: the last copy wins
    json.dumps({"resourceType": "Bundle", "id": "b1", "type": "collection",
                "entry": [{"resource": {"resourceType": "Patient", "id": "p11"}}]}),  # a Resource-typed element
    " \t" + json.dumps({**_PATIENT, "id": "p14"}) + " \r",  # spaces, a tab and a CR around it: stripped
    " \t \u3000",  # whitespace only: a blank line
    json.dumps({**_PATIENT, "id": "p15"}) + "\u2003\u00a0",  # Unicode spaces after it, stripped as str.strip does
]  # fmt: skip


def _store(wh: Warehouse) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    for table in sorted(wh.list_tables(wh.fhir_schema)):
        rows = wh.fetch_arrow(
            f"SELECT id, resource, source_file, source_line, source_entry FROM {wh.fhir_schema}.{table} ORDER BY id"
        ).to_pylist()
        out[table] = [(r["id"], json.loads(r["resource"]), r["source_file"], r["source_line"], r["source_entry"])
                      for r in rows]  # fmt: skip
    return out


def _both(tmp_path: Path, inputs: list[Path]) -> tuple[Any, ...]:
    results = []
    for scanner in (True, False):
        wh = connect(f"duckdb:///{tmp_path / f'wh_{scanner}.duckdb'}")
        report = stage_fhir(wh, inputs, scanner=scanner)
        results.append((report.to_dict(), _store(wh)))
        wh.close()
    return tuple(results)


def test_samples_stage_the_same_with_and_without_the_scanner(tmp_path: Path) -> None:
    (fast, fast_store), (slow, slow_store) = _both(tmp_path, [DATA])
    assert fast == slow
    assert fast_store == slow_store
    assert sum(r["loaded"] for r in fast["resources"].values()) > 1000


def test_bad_lines_get_the_same_outcome(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.ndjson").write_text("\r\n".join(_BAD_LINES) + "\r\n", encoding="utf-8")
    later = json.dumps({**_PATIENT, "id": "p12", "identifier": [{"system": "urn:s", "value": "later"}]})
    with gzip.open(src / "b.ndjson.gz", "wt", encoding="utf-8") as f:
        f.write(later + "\n")
    (fast, fast_store), (slow, slow_store) = _both(tmp_path, [src])
    assert fast_store == slow_store
    assert fast == slow
    reasons = {r["line"]: r["reason"] for r in fast["rejections"]}
    assert set(reasons) == {3, 4, 5, 6, 7, 8, 10, 11, 12, 13}
    assert "malformed JSON" in reasons[3] and "Patient.birthDate" in reasons[4]
    assert fast["references"] == {"rewritten": 3, "unresolved": {"urn": 1}}
    patients = {row[0]: row for row in fast_store["patient"]}
    assert patients["p1"][1]["gender"] == "male" and patients["p1"][3] == 18
    assert patients["p14"][3] == 20 and patients["p15"][3] == 22  # stripped lines load; line 21 is blank
    assert fast["resources"]["Patient"]["replaced_by_a_later_copy"] == 1
    observations = {row[0]: row[1]["subject"]["reference"] for row in fast_store["observation"]}
    # Line 9 (no id, so a content key) has p1's identifier and comes later: as in a line-by-line read, it wins.
    keyed = next(row[0] for row in fast_store["patient"] if row[0].startswith("carelake-"))
    assert observations == {"o1": f"Patient/{keyed}", "o2": f"Patient/{keyed}", "o3": "Patient/p12",
                            "o4": "urn:uuid:nowhere"}  # fmt: skip


def _chunks_both_ways(path: Path) -> tuple[list[Any], list[Any], int]:
    """Each chunk of `path` as Arrow routes it (None: not taken) and as DuckDB routes it line by line; and how many
    Arrow took."""
    scanner = NdjsonScanner()
    by_arrow, by_line, taken = [], [], 0
    for first, data in blocks(path):
        table, _ = lines_table(first, data)
        routes = scanner._arrow_routes(table, data, str(path))
        by_arrow.append(None if routes is None else vars(routed(str(path), table, routes)))
        taken += routes is not None
        with scanner.con.cursor() as cur:
            cur.register("chunk", table)
            cur.execute(CLASSIFY.format(lines="lines_t"))
        by_line.append(vars(scanner._route(str(path), table, "lines_t")))
    scanner.close()
    return by_arrow, by_line, taken


def _comparable(chunk: dict[str, Any]) -> dict[str, Any]:
    return {**chunk, "fast": {rt: (rows.to_pylist(), k) for rt, (rows, k) in chunk["fast"].items()}}


@pytest.mark.parametrize("name", ["Patient", "Encounter", "Practitioner", "Organization", "Location"])
def test_arrow_routes_every_clean_chunk_as_the_line_by_line_way_does(tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.ndjson"
    with gzip.open(DATA / "bulk" / f"{name}.000.ndjson.gz", "rb") as f:
        path.write_bytes(f.read())
    by_arrow, by_line, taken = _chunks_both_ways(path)
    assert taken == len(by_line) >= 1
    assert [_comparable(c) for c in by_arrow] == [_comparable(c) for c in by_line]
    assert sum(len(c["fast"]) + len(c["pending"]) for c in by_arrow) >= 1


def test_arrow_finds_references_to_rewrite_at_any_depth_as_the_pattern_does(tmp_path: Path) -> None:
    """Each line has one reference, in a different place and form; only urns, absolute URLs and searches pend,
    and the Arrow way marks the same lines as the line-by-line way."""

    def obs(i: int, **more: Any) -> str:
        return json.dumps({"resourceType": "Observation", "id": f"o{i}", "status": "final", "code": {"text": "x"},
                           **more})  # fmt: skip

    places = [
        {"subject": {"reference": "Patient/p1"}},
        {"subject": {"reference": "urn:uuid:1"}},
        {"encounter": {"reference": "Encounter?identifier=urn:s|e1"}},
        {"performer": [{"reference": "Practitioner/a"}, {"reference": "https://x.org/fhir/Practitioner/b"}]},
        {"performer": [{"display": "no reference"}]},
        {"extension": [{"url": "u", "extension": [{"url": "v", "valueReference": {"reference": "http://y/Group/g"}}]}]},
        {"extension": [{"url": "u", "extension": [{"url": "v", "valueReference": {"reference": "Group/g"}}]}]},
        {"basedOn": [], "partOf": [{"reference": "Procedure/x"}, {"reference": "Procedure?code=1"}]},
        {"hasMember": [{"identifier": {"value": "urn:not-a-reference"}}]},
        {},
    ]
    lines = [obs(i, **more) for i, more in enumerate(places)]
    path = tmp_path / "o.ndjson"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    by_arrow, by_line, taken = _chunks_both_ways(path)
    assert taken == 1
    assert [_comparable(c) for c in by_arrow] == [_comparable(c) for c in by_line]
    assert [n for _, _, n, _ in by_arrow[0]["pending"]] == [2, 3, 4, 6, 8]


def test_arrow_reads_later_chunks_to_the_structure_before_and_still_vouches_line_by_line(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """Chunks after the first are read to the structure of one before (a hint); new fields, dates Arrow would not
    guess as before, and a wrong type must come out as the line-by-line way has them."""
    monkeypatch.setattr("carelake.fhir.ndjson.lines.CHUNK_BYTES", 1000)
    variants: list[dict[str, Any]] = [
        {},
        {"birthDate": "1970"},  # the chunk before read birthDate as a timestamp
        {"deceasedDateTime": "2001-02-03T04:05:06Z", "multipleBirthInteger": 2},  # fields the hint lacks
        {"multipleBirthInteger": 2.5},  # a number of another kind: still a number
        {"name": [{"family": "Doe", "period": {"start": "2000"}}]},  # a new field deeper down
        {"active": "yes"},  # a string where a boolean belongs: rejected
        {"gender": 1},  # a number where the hint has a string: not read to the hint
    ]
    lines = [json.dumps({**_PATIENT, "id": f"p{i}", **variants[(i // 4) % len(variants)]}) for i in range(80)]
    path = tmp_path / "p.ndjson"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    by_arrow, by_line, taken = _chunks_both_ways(path)
    assert len(by_line) >= 10 and taken >= len(by_line) // 2
    for arrow, line in zip(by_arrow, by_line, strict=True):
        assert arrow is None or _comparable(arrow) == _comparable(line)
    assert sum(len(c["slow"]) for c in by_line) == 20  # the 12 "yes" and 8 numeric genders


@pytest.mark.parametrize(
    ("odd", "why"),
    [
        ({"active": "yes"}, "one line does not fit: the merged structure does not either"),
        ({"maritalStatus": None}, "a null merges away in Arrow's schema"),
        ({"name": [{"family": "Doe"}, {"family": 5}]}, "items disagree: Arrow will not read the chunk"),
        ({"gender": 1}, "a line disagrees with the others: Arrow will not read the chunk"),
        ({"contained": [{"resourceType": "Patient", "id": "x"}]}, "a Resource-typed element needs a closer look"),
    ],
)
def test_arrow_declines_a_chunk_it_cannot_vouch_for_whole(tmp_path: Path, odd: dict[str, Any], why: str) -> None:
    lines = [json.dumps({**_PATIENT, "id": f"p{i}", "name": [] if i % 3 else _PATIENT["name"]}) for i in range(50)]
    lines[17] = json.dumps({**_PATIENT, "id": "odd", **odd})
    path = tmp_path / "p.ndjson"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _, by_line, taken = _chunks_both_ways(path)
    assert taken == 0, why
    assert sum(len(c["slow"]) for c in by_line) >= 1
    clean = tmp_path / "clean.ndjson"
    clean.write_text("\n".join(lines[:17] + lines[18:]) + "\n", encoding="utf-8")
    assert _chunks_both_ways(clean)[2] == 1


def test_a_line_that_is_not_utf8_is_rejected_alone(tmp_path: Path) -> None:
    """Python's reader gives up on the whole file; the scanner names the line and loads the rest."""
    (tmp_path / "c.ndjson").write_bytes(b'{"resourceType": "Patient", "id": "p13"}\n\xff\xfe\n')
    wh = connect(f"duckdb:///{tmp_path / 'wh.duckdb'}")
    report = stage_fhir(wh, [tmp_path / "c.ndjson"])
    assert [(r.line, r.reason[:9]) for r in report.rejections] == [(2, "not UTF-8")]
    assert report.loaded == {"Patient": 1}
    wh.close()


@pytest.mark.parametrize(
    "resource",
    [
        _PATIENT,
        {**_PATIENT, "name": []},
        {**_PATIENT, "name": [{"family": "Doe"}, {"given": ["A", "B"]}]},
        {**_PATIENT, "deceasedBoolean": False, "multipleBirthInteger": 2},
        {**_PATIENT, "birthDate": None},
        {**_PATIENT, "extension": [{"url": "u", "valueDecimal": 1.5}, {"url": "v", "valueInteger": 3}]},
        {**_PATIENT, "active": "yes"},
        {**_PATIENT, "name": {"family": "Doe"}},
        {**_PATIENT, "maritalStatus": None},
        {**_PATIENT, "contained": [{"resourceType": "Patient", "id": "x"}]},
    ],
)
def test_a_shape_is_vouched_for_only_when_the_resource_passes(resource: dict[str, Any]) -> None:
    duck = pytest.importorskip("duckdb")
    shape = json.loads(duck.execute("SELECT json_structure(?)", [json.dumps(resource)]).fetchone()[0])
    if shape_fits(shape, "Patient"):
        assert check_resource(resource, "Patient") is None
