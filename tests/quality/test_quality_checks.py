"""The generated DQD suite on the bundled Synthea27Nj sample: counts, backends agree, batching changes nothing."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from quality_helpers import clean_duckdb_run, load_sample, outcome

from carelake.quality import check_types, generate_checks, run_checks
from carelake.warehouse import Warehouse

# Synthea27Nj, whole suite (2,535 DQD checks + 142 carelake extensions, 113 of them withinSpecWidth).
SAMPLE_COUNTS = {"passed": 1416, "failed": 61, "not applicable": 1200, "error": 0}


def test_catalogue_generates_every_dqd_check_type() -> None:
    checks = generate_checks()
    dqd = [c for c in checks if c.type.origin == "DataQualityDashboard"]
    assert len(check_types()) == 27
    assert {c.name for c in dqd} == {t.name for t in check_types()}
    assert len(dqd) == 2535
    assert Counter(c.level for c in dqd) == {"TABLE": 57, "FIELD": 2006, "CONCEPT": 472}
    assert len({c.check_id for c in checks}) == len(checks)


def test_vendored_catalogue_matches_package_data() -> None:
    from importlib import resources

    here = Path(__file__).parents[1] / "data" / "ohdsi-dqd"
    spec = resources.files("carelake.quality").joinpath("spec")
    for name in ("OMOP_CDMv5.4_Check_Descriptions.csv", "OMOP_CDMv5.4_Field_Level.csv"):
        assert (here / name).read_bytes() == spec.joinpath(name).read_bytes()


def test_sample_counts_and_backends_agree(warehouse: Warehouse, sample_dir: Path) -> None:
    run = run_checks(load_sample(warehouse, sample_dir))
    assert run.counts() == SAMPLE_COUNTS
    failed = Counter(r.check.name for r in run.results if r.status == "failed")
    assert failed["isForeignKey"] == 42  # concept 0 and type concepts absent from the sample's trimmed vocabulary
    assert failed["withinObservationPeriod"] == 4
    if warehouse.dialect != "duckdb":
        assert outcome(run) == outcome(clean_duckdb_run(sample_dir))


def test_batched_and_one_by_one_agree(sample_dir: Path) -> None:
    from carelake.warehouse import connect

    wh = load_sample(connect("duckdb:///:memory:"), sample_dir)
    assert outcome(run_checks(wh, batch=False)) == outcome(run_checks(wh))
    wh.close()
