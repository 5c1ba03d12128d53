"""Report: DQD results JSON, characterization with small-cell suppression, the CLI verb, and the HTML in Chromium."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from quality_helpers import load_sample
from typer.testing import CliRunner

from browser import drawn_offline, needs_chromium
from carelake.quality.report import QualityReport, run_quality
from carelake.reports.quality import write_dashboard
from carelake.warehouse import Warehouse, connect
from engines import engines

ENGINES = engines()

_REPORTS: dict[str, QualityReport] = {}


def _report(sample_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> QualityReport:
    if "r" not in _REPORTS:
        wh = load_sample(connect("duckdb:///:memory:"), sample_dir)
        _REPORTS["r"] = run_quality(wh, tmp_path_factory.mktemp("quality"), min_cell_count=5)
        wh.close()
    return _REPORTS["r"]


def test_results_json_has_dqd_layout(sample_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    doc = json.loads(_report(sample_dir, tmp_path_factory).results_path.read_text())
    assert {"startTimestamp", "endTimestamp", "executionTime", "CheckResults", "Metadata", "Overview"} <= set(doc)
    first = doc["CheckResults"][0]
    for key in (
        "checkName",
        "checkLevel",
        "cdmTableName",
        "cdmFieldName",
        "conceptId",
        "numViolatedRows",
        "pctViolatedRows",
        "numDenominatorRows",
        "thresholdValue",
        "failed",
        "passed",
        "isError",
        "notApplicable",
        "notApplicableReason",
        "category",
        "subcategory",
        "context",
        "checkId",
        "checkDescription",
        "sqlFile",
        "executionTime",
        "queryText",
    ):
        assert key in first
    assert doc["Overview"]["countTotal"] == 2677
    assert doc["Overview"]["countThresholdFailed"] == 61
    small = [r for r in doc["CheckResults"] if r["suppressed"]]
    assert small and all(r["numViolatedRows"] is None or r["numDenominatorRows"] is None for r in small)
    assert not any(isinstance(r["numViolatedRows"], int) and 0 < r["numViolatedRows"] < 5 for r in doc["CheckResults"])


@pytest.mark.parametrize("backend", ENGINES)
def test_characterization_in_results_schema(warehouse: Warehouse, sample_dir: Path) -> None:
    from carelake.quality.achilles import export, run_achilles

    load_sample(warehouse, sample_dir)
    run_achilles(warehouse)
    rs = warehouse.results_schema
    persons = warehouse.fetch_scalar(f"SELECT count_value FROM {rs}.achilles_results WHERE analysis_id = 1")
    assert persons == 28
    by_gender = warehouse.fetch_arrow(f"SELECT SUM(count_value) AS n FROM {rs}.achilles_results WHERE analysis_id = 2")
    assert by_gender.column(0)[0].as_py() == 28
    records = warehouse.fetch_scalar(f"SELECT SUM(count_value) FROM {rs}.achilles_results WHERE analysis_id = 1801")
    assert records == 10040
    exported = export(warehouse, min_cell_count=5)
    assert exported["results"] and all(r["count_value"] >= 5 for r in exported["results"])
    assert all(d["count_value"] >= 5 for d in exported["distributions"])


def test_cli_quality_verb(sample_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from carelake.cli import _quality

    url = f"duckdb:///{tmp_path / 'wh.duckdb'}"
    wh = load_sample(connect(url), sample_dir)
    wh.close()
    monkeypatch.setenv("CARELAKE_WAREHOUSE", url)
    app = typer.Typer()
    _quality.register(app)

    @app.callback()
    def _root() -> None: ...

    out = tmp_path / "out"
    got = CliRunner().invoke(app, ["quality", "--out", str(out), "--json", "--min-cell-count", "5"])
    assert got.exit_code == 0, got.output
    assert json.loads(got.output)["counts"]["failed"] == 61
    assert (out / "dashboard.html").exists() and (out / "dqd-results.json").exists()
    (tmp_path / "file").write_text("x")
    bad = CliRunner().invoke(app, ["quality", "--out", str(tmp_path / "file")])
    assert bad.exit_code != 0 and "is a file" in str(bad.exception)


@needs_chromium
def test_dashboard_draws_and_filters_in_chromium(sample_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    report = _report(sample_dir, tmp_path_factory)
    page_path = write_dashboard(report)
    assert page_path == report.results_path.parent / "dashboard.html"

    def filters(page: Any) -> None:
        rows = page.locator("#results-body tr")
        assert rows.count() == 2677
        assert rows.first.get_attribute("data-status") == "failed"  # worst first
        page.select_option("#f-status", "failed")
        assert rows.count() == 61
        page.select_option("#f-table", "DRUG_EXPOSURE")
        assert rows.count() >= 1
        assert {rows.nth(i).get_attribute("data-table") for i in range(rows.count())} == {"DRUG_EXPOSURE"}
        page.select_option("#f-table", "")
        page.select_option("#f-status", "")
        page.select_option("#f-category", "Completeness")
        assert {rows.nth(i).get_attribute("data-category") for i in range(min(rows.count(), 50))} == {"Completeness"}
        # The charts hold the page's figures: 61 failed checks over the categories, two genders.
        bars = page.locator("[data-chart]").first.locator("g.point")
        assert bars.count() == len({r["category"] for r in report.results["CheckResults"]})
        assert page.get_by_text("Persons by gender").count() == 1
        # 27 persons: every year of birth and observation length holds fewer than 5, so those two say so.
        assert page.locator(".chart.empty").count() == 2

    drawn_offline(page_path, 6, filters)
