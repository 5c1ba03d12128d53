"""The data quality dashboard: DataQualityDashboard results and the Achilles-style characterization on one page.

Both documents arrive already through the disclosure rule (quality/report.py). The charts are drawn from them
here; the check table is filled and filtered in the page (category, table, status; worst first) by a small script
kept as a package file, reports/assets/quality.js.
"""

from __future__ import annotations

from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Any

from carelake.features.settings import DEMOGRAPHIC_NAMES
from carelake.quality.report import QualityReport
from carelake.reports.charts import Chart, bar_chart, column_chart, line_chart
from carelake.reports.page import Page, escape

__all__ = ["quality_page", "write_dashboard"]

_RED, _ORANGE = "#b00020", "#d9822b"
_FILTERS = """<p><label>Category <select id="f-category"><option value="">all</option></select></label>
<label>Table <select id="f-table"><option value="">all</option></select></label>
<label>Status <select id="f-status"><option value="">all</option></select></label> <span id="shown"></span></p>"""
_COLUMNS = (
    "status",
    "category",
    "table",
    "field",
    "check",
    "violated",
    "%",
    "denominator",
    "threshold %",
    "description",
)


def _script() -> str:
    return resources.files("carelake.reports").joinpath("assets", "quality.js").read_text(encoding="utf-8")


def _analysis(achilles: dict[str, Any], analysis_id: int) -> list[dict[str, Any]]:
    return [r for r in achilles.get("results", []) if r["analysis_id"] == analysis_id]


def _by_number(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: float(r["stratum_1"]))


def _counts(rows: list[dict[str, Any]]) -> tuple[list[str], list[float]]:
    """Labels (the concept's name; OMOP's gender and race names without a vocabulary; else the stratum) and counts."""

    def name(r: dict[str, Any]) -> str:
        known = DEMOGRAPHIC_NAMES.get(int(r["stratum_1"])) if str(r["stratum_1"]).isdigit() else None
        return str(r.get("concept_name") or known or r["stratum_1"])

    return [name(r) for r in rows], [float(r["count_value"]) for r in rows]


def _check_charts(results: dict[str, Any]) -> list[Chart]:
    checks = results["CheckResults"]
    categories = sorted({r["category"] for r in checks})
    failed = Counter(r["category"] for r in checks if r["status"] == "failed")
    tables = Counter(r["cdmTableName"] for r in checks if r["status"] == "failed").most_common(15)
    return [
        bar_chart(categories, [float(failed[c]) for c in categories], "Failed checks by category", "checks", _RED),
        bar_chart([t for t, _ in tables], [float(n) for _, n in tables], "Failed checks by table", "checks", _ORANGE),
    ]


def _characterization(achilles: dict[str, Any]) -> list[Chart]:
    years = _by_number(_analysis(achilles, 3))
    lengths = _by_number(_analysis(achilles, 108))
    trend = _by_number(_analysis(achilles, 420))
    return [
        bar_chart(*_counts(_analysis(achilles, 2)), "Persons by gender", "persons"),
        bar_chart(*_counts(_analysis(achilles, 4)), "Persons by race", "persons"),
        column_chart([str(r["stratum_1"]) for r in years], {"persons": [float(r["count_value"]) for r in years]},
                     "Persons by year of birth", "persons"),
        column_chart([f"{int(r['stratum_1']) * 30} d" for r in lengths],
                     {"persons": [float(r["count_value"]) for r in lengths]},
                     "Persons by observation length (30-day bins)", "persons"),
        line_chart([str(r["stratum_1"]) for r in trend], [float(r["count_value"]) for r in trend],
                   "Condition records by month", "month (YYYYMM)", "records"),
        bar_chart(*_counts(_analysis(achilles, 401)[:10]), "Top conditions (records)", "records"),
    ]  # fmt: skip


def quality_page(results: dict[str, Any], achilles: dict[str, Any]) -> Page:
    """The dashboard for a DQD results document (results_json) and a characterization export (achilles.export)."""
    o = results["Overview"]
    meta = results.get("Metadata", [{}])[0]
    # The cutoff the results were suppressed at (results_json records it); the characterization passed the same rule.
    cutoff = int(meta["CARELAKE_MIN_CELL_COUNT"])
    source = str(meta.get("CDM_SOURCE_NAME", "OMOP CDM"))
    page = Page(
        f"Data quality: {source}",
        f"DataQualityDashboard {meta.get('DQD_VERSION', '')} checks, run by carelake on "
        f"{meta.get('CARELAKE_DIALECT', '')} in {results['executionTimeSeconds']} s; counts below {cutoff} are "
        "withheld.",
    )
    page.raw('<nav><a href="#checks">Checks</a><a href="#characterization">Characterization</a></nav>')
    page.cards(
        [
            ("checks", o["countTotal"], ""),
            ("passed", o["countPassed"], "passed"),
            ("failed", o["countThresholdFailed"], "failed"),
            ("errors", o["countErrorFailed"], "error"),
            ("not applicable", o["countNotApplicable"], "na"),
        ]
    )
    for data, layout in _check_charts(results):
        page.chart(data, layout, label=str(layout["title"]["text"]))
    page.heading("Checks", anchor="checks")
    head = "".join(f"<th>{escape(c)}</th>" for c in _COLUMNS)
    page.raw(
        f'{_FILTERS}<div class="scroll"><table class="wide"><thead><tr>{head}</tr></thead>'
        '<tbody id="results-body"></tbody></table></div>'
    )
    page.heading("Characterization", anchor="characterization")
    for data, layout in _characterization(achilles):
        page.chart(data, layout, label=str(layout["title"]["text"]))
    names = achilles.get("analyses", {})
    page.table(
        ["distribution", "persons", "min", "median", "p90", "max"],
        [
            [
                names.get(str(d["analysis_id"]), d["analysis_id"]),
                d["count_value"],
                d["min_value"],
                d["median_value"],
                d["p90_value"],
                d["max_value"],
            ]
            for d in achilles.get("distributions", [])
        ],
    )
    page.data("dqd-data", {**results, "minCellCount": cutoff})
    page.data("achilles-data", achilles)  # the figures the characterization charts drew, for a reader to check
    page.script(_script())
    return page


def write_dashboard(report: QualityReport, path: Path | None = None) -> Path:
    """dashboard.html beside the results (or at `path`)."""
    target = path or report.results_path.parent / "dashboard.html"
    return quality_page(report.results, report.characterization).write(target)
