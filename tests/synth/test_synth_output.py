"""Determinism, and the two exports of the same people loading to the same persons, visits, conditions, drugs and
procedures; the bundled vocabulary is what `carelake.synth.vocab` builds."""

from __future__ import annotations

import hashlib
from pathlib import Path

from carelake.fhir import stage_fhir
from carelake.harmonize import harmonize
from carelake.omop.loader import load_files
from carelake.synth import synthesize
from carelake.synth.vocab import FILES, VOCABULARY, encode, vocabulary_rows
from carelake.warehouse import connect


def _digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*.*"))}


def test_same_seed_same_bytes_other_seed_other_people(tmp_path: Path) -> None:
    a, b, c = (
        synthesize(250, seed, tmp_path / name, "both", chunk=100) for seed, name in ((7, "a"), (7, "b"), (8, "c"))
    )
    assert a.rows == b.rows
    da, db, dc = _digests(tmp_path / "a"), _digests(tmp_path / "b"), _digests(tmp_path / "c")
    assert da == db and len(da) == 26  # 10 clinical + 3 derived + 7 vocabulary CSV, 6 NDJSON, 2 truth
    assert da["omop/PERSON.csv.gz"] != dc["omop/PERSON.csv.gz"]
    assert da["truth.csv.gz"] != dc["truth.csv.gz"]
    assert c.rows["omop/PERSON"] == 250


def test_fhir_and_omop_give_the_same_people_visits_conditions_and_procedures(tmp_path: Path) -> None:
    report = synthesize(300, 11, tmp_path / "s", "both", chunk=128)
    counts = {}
    for kind in ("omop", "fhir"):
        wh = connect(f"duckdb:///{tmp_path}/warehouse_{kind}.duckdb")
        try:
            if kind == "omop":
                loaded = load_files(wh, [tmp_path / "s" / "omop"])
                assert loaded.rejected == 0 and loaded.loaded == loaded.read
            else:
                staged = stage_fhir(wh, [tmp_path / "s" / "fhir"])
                h = harmonize(wh)
                for rtype, n in staged.read.items():
                    assert h.read[rtype] == n == report.rows.get(f"fhir/{rtype}", 0)
                    assert h.balanced(rtype), rtype
                    assert not h.rejected.get(rtype) and not h.skipped.get(rtype), rtype
            counts[kind] = {
                t: wh.fetch_arrow(f"SELECT count(*) AS n FROM {wh.cdm_schema}.{t}").to_pylist()[0]["n"]
                for t in (
                    "person",
                    "visit_occurrence",
                    "condition_occurrence",
                    "drug_exposure",
                    "procedure_occurrence",
                    "death",
                )
            }
        finally:
            wh.close()
    assert counts["omop"] == counts["fhir"]
    assert counts["omop"]["person"] == 300
    assert counts["omop"]["visit_occurrence"] == report.rows["omop/VISIT_OCCURRENCE"]
    assert counts["omop"]["procedure_occurrence"] == report.rows["fhir/Procedure"] > 0


def test_bundled_vocabulary_is_up_to_date() -> None:
    """`python -m carelake.synth.vocab` rebuilds exactly the bundled files (run it after changing codes.py)."""
    rows = vocabulary_rows()
    assert set(rows) == set(FILES)
    for name, (header, body) in rows.items():
        assert (VOCABULARY / f"{name}.csv.gz").read_bytes() == encode(header, body), name
