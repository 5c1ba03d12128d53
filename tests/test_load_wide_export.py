"""A real-world OMOP export loads without loss on every engine: 64-bit ids and text wider than the spec.

ETLs on BigQuery or Spark hash ids beyond 32 bits and write local vocabulary ids, concept codes and source values
wider than the CDM's VARCHAR(20)/(50). The export here is the bundled Synthea27Nj sample made so: every id column
shifted by 2**40 (joins still hold, the shift is the same everywhere) and every value of every 20- or 50-wide text
column padded to 255 characters; the tables the sample leaves empty get three rows with every column filled.
"""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import pytest

from carelake.errors import InputError
from carelake.omop.info import describe
from carelake.omop.loader import load_files
from carelake.omop.schema import cdm_tables, table_by_name
from carelake.quality import generate_checks, run_checks
from carelake.warehouse import Column, Warehouse

SHIFT = 2**40
WIDE = 255
ROWS_PER_FILE = 400  # enough rows to cross every table's columns, few enough for Spark to load quickly
SYNTHETIC = 3


def _synthetic(col: Column, i: int) -> str:
    """A plain value for row i of an empty table (ids are shifted and text padded afterwards)."""
    if col.kind == "bigint":
        return str(i)
    if col.kind == "varchar":
        return f"{i}xxx"[: min(col.length or 4, 4)]
    return {"integer": "1", "double": "1.5", "date": "2020-01-01"}.get(col.kind, "2020-01-01 00:00:00")


def _pad(value: str) -> str:
    return (value + "|").ljust(WIDE, "w")


def _widen(sample_dir: Path, out: Path) -> tuple[dict[str, int], set[tuple[str, str]], set[tuple[str, str]]]:
    """Write the wide export; return rows per table, and the (table, column)s widened and shifted."""
    out.mkdir()
    rows: dict[str, int] = {}
    padded: set[tuple[str, str]] = set()
    shifted: set[tuple[str, str]] = set()
    for path in sorted(sample_dir.glob("*.csv.gz")):
        name = path.name.removesuffix(".csv.gz").lower()
        table = table_by_name(name)
        assert table is not None
        with gzip.open(path, "rt", newline="") as f:
            reader = csv.reader(f)
            header = next(reader)
            body = [r for _, r in zip(range(ROWS_PER_FILE), reader, strict=False)]
        if not body:  # a table the sample leaves empty: rows of our own, every column filled
            header = table.schema.column_names
            body = [[_synthetic(c, i) for c in table.schema.columns] for i in range(1, SYNTHETIC + 1)]
        padded_body = []
        for r in body:
            new = []
            for col, v in zip([table.schema.column(c.lower()) for c in header], r, strict=True):
                if v and col.kind == "bigint":
                    v = str(int(v) + SHIFT)
                    shifted.add((name, col.name))
                elif col.kind == "varchar" and col.length in (20, 50):  # empty cells too: every column
                    v = _pad(v or col.name)
                    padded.add((name, col.name))
                new.append(v)
            padded_body.append(new)
        with (out / f"{name}.csv").open("w", newline="") as f:
            csv.writer(f).writerows([header, *padded_body])
        rows[name] = len(padded_body)
    return rows, padded, shifted


def _counts(wh: Warehouse) -> dict[str, int]:
    return {k.split(".", 1)[1]: v for k, v in describe(wh).tables.items()}


def test_wide_export_loads_without_loss_and_lists_departures(
    warehouse: Warehouse, sample_dir: Path, tmp_path: Path
) -> None:
    rows, padded, shifted = _widen(sample_dir, tmp_path / "wide")
    spec_limited = {
        (t.name, c.name) for t in cdm_tables() for c in t.schema.columns if c.kind == "varchar" and c.length in (20, 50)
    }
    ids = {(t.name, c.name) for t in cdm_tables() for c in t.schema.columns if c.kind == "bigint"}
    assert padded == spec_limited  # every text column the spec limits to 20 or 50
    assert len(shifted) > 0.9 * len(ids)  # nearly every id column (some are empty in every sample row)

    with pytest.raises(InputError, match=r"longer than (20|50) characters"):
        load_files(warehouse, [tmp_path / "wide"], strict=True)
    assert not any(_counts(warehouse).values())  # refused as a whole: nothing loaded

    report = load_files(warehouse, [tmp_path / "wide"])
    assert report.rejected == 0 and report.read == report.loaded == sum(rows.values())
    counts = _counts(warehouse)
    assert {t: counts[t] for t in rows} == rows
    found = {(d.table, d.column): d for d in report.departures}
    assert {k for k, d in found.items() if d.kind == "text wider than the spec"} == padded
    assert {k for k, d in found.items() if d.kind == "id beyond 32 bits"} == shifted
    gender = found[("person", "gender_source_value")]
    assert (gender.spec, gender.rows, gender.widest) == ("varchar(50)", rows["person"], WIDE)
    assert gender.examples and all(e.startswith("M|") or e.startswith("F|") for e in gender.examples)

    cdm = warehouse.cdm_schema
    facts = warehouse.fetch_arrow(f"SELECT fact_id_1, fact_id_2 FROM {cdm}.fact_relationship ORDER BY 1").to_pylist()
    assert facts == [{"fact_id_1": SHIFT + i, "fact_id_2": SHIFT + i} for i in range(1, SYNTHETIC + 1)]
    widest = warehouse.fetch_scalar(f"SELECT MAX(LENGTH(concept_code)) FROM {cdm}.concept")
    assert widest == WIDE
    joined = warehouse.fetch_scalar(
        f"SELECT COUNT(*) FROM {cdm}.person p JOIN {cdm}.observation_period o ON p.person_id = o.person_id"
    )
    assert joined == rows["observation_period"]  # shifted ids still join

    width_checks = [c for c in generate_checks() if c.name == "withinSpecWidth"]
    run = run_checks(warehouse, width_checks)
    failed = {(r.check.table, r.check.field) for r in run.results if r.status == "failed"}
    assert failed == padded  # the quality record shows exactly the departures the load reported

    again = load_files(warehouse, [tmp_path / "wide"])  # idempotent
    assert _counts(warehouse) == counts and len(again.departures) == len(report.departures)
