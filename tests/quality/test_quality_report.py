"""Report: DQD results JSON, characterization with small-cell suppression, the CLI verb, and the HTML in Chromium."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import typer
from quality_helpers import load_sample
from typer.testing import CliRunner

from carelake.quality.report import QualityReport, run_quality
from carelake.warehouse import Warehouse, connect
from engines import engines

ENGINES = engines()

CHROMIUM = Path("/usr/bin/chromium")
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


@pytest.mark.skipif(not CHROMIUM.exists(), reason="browser test needs Debian's chromium at /usr/bin/chromium")
def test_dashboard_filters_in_chromium(sample_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (dev dependency) is not installed")
    page_path = _report(sample_dir, tmp_path_factory).dashboard_path
    html = page_path.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)  # nothing loaded from a network
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(page_path.as_uri())
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
        assert page.locator("#plot-gender svg").count() == 1
        assert page.locator("#plot-status svg rect").count() >= 1
        assert not errors
        assert all(u.startswith("file:") for u in requests), requests
        browser.close()
