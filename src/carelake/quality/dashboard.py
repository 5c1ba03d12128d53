"""A self-contained HTML dashboard: results and characterization inlined as JSON, JS/CSS/SVG written here.

No CDN, no fetch: the file opens from disk on an air-gapped machine. Filters (category, table, status) and the
worst-first ordering run in the page; plots are hand-made SVG bars.
"""

from __future__ import annotations

import html
import json
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["render_dashboard", "write_dashboard"]


def _asset(name: str) -> str:
    """Page CSS and JS, kept as package files so they can be read and linted as what they are."""
    return resources.files("carelake.quality").joinpath("assets").joinpath(name).read_text(encoding="utf-8")


def _script_json(data: Any) -> str:
    """JSON safe inside <script>: no closing tag can end the block early."""
    return json.dumps(data, default=str).replace("</", "<\\/")


def render_dashboard(results: dict[str, Any], achilles: dict[str, Any] | None = None) -> str:
    """The dashboard page for a DQD results document (and optional characterization export)."""
    o = results["Overview"]
    achilles = achilles or {"results": [], "distributions": [], "analyses": {}}
    cards = "".join(
        f'<div class="card {cls}"><b>{o[key]:,}</b>{label}</div>'
        for key, label, cls in (
            ("countTotal", "checks", ""),
            ("countPassed", "passed", "passed"),
            ("countThresholdFailed", "failed", "failed"),
            ("countErrorFailed", "errors", "error"),
            ("countNotApplicable", "not applicable", "na"),
        )
    )
    meta = results.get("Metadata", [{}])[0]
    # The cutoff the results were suppressed at (results_json records it); the characterization passed the same rule.
    cutoff = int(meta["CARELAKE_MIN_CELL_COUNT"])
    results = {**results, "minCellCount": cutoff}
    source = html.escape(str(meta.get("CDM_SOURCE_NAME", "OMOP CDM")))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>carelake data quality: {source}</title>
<style>{_asset("dashboard.css")}</style></head><body>
<h1>Data quality: {source}</h1>
<p class="muted">DataQualityDashboard {html.escape(str(meta.get("DQD_VERSION", "")))} checks, run by carelake on
{html.escape(str(meta.get("CARELAKE_DIALECT", "")))} in {results["executionTimeSeconds"]} s; counts below
{cutoff} are suppressed.</p>
<div class="cards">{cards}</div>
<div class="plots"><div class="plot" id="plot-status"></div><div class="plot" id="plot-tables"></div></div>
<h2>Checks</h2>
<label>Category <select id="f-category"><option value="">all</option></select></label>
<label>Table <select id="f-table"><option value="">all</option></select></label>
<label>Status <select id="f-status"><option value="">all</option></select></label>
<span id="shown"></span>
<table><thead><tr><th>status</th><th>category</th><th>table</th><th>field</th><th>check</th><th>violated</th>
<th>%</th><th>denominator</th><th>threshold %</th><th>description</th></tr></thead>
<tbody id="results-body"></tbody></table>
<h2>Characterization</h2>
<div class="plots"><div class="plot" id="plot-gender"></div><div class="plot" id="plot-race"></div>
<div class="plot" id="plot-yob"></div><div class="plot" id="plot-oplen"></div><div class="plot" id="plot-trend"></div>
<div class="plot" id="plot-top"></div></div>
<table><thead><tr><th>distribution</th><th>persons</th><th>min</th><th>median</th><th>p90</th><th>max</th></tr></thead>
<tbody id="dist-body"></tbody></table>
<script type="application/json" id="dqd-data">{_script_json(results)}</script>
<script type="application/json" id="achilles-data">{_script_json(achilles)}</script>
<script>{_asset("dashboard.js")}</script>
</body></html>
"""


def write_dashboard(results: dict[str, Any], path: Path, achilles: dict[str, Any] | None = None) -> Path:
    path.write_text(render_dashboard(results, achilles), encoding="utf-8")
    return path
