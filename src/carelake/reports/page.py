"""One way to draw a page: a self-contained HTML file with its charts drawn by plotly.js, inlined.

The page carries everything it needs (plotly.js from the plotly package, the chart data as JSON, the CSS), so it
opens from disk on an air-gapped laptop and makes no request. Text is escaped where it enters; charts are plotly
figure specs (traces and layout as plain dicts), drawn when the page loads.
"""

from __future__ import annotations

import html
import json
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["Page", "escape", "plotly_js"]

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1180px;padding:16px 24px;
color:#1d232a}
h1{font-size:24px;margin:8px 0}h2{font-size:19px;margin:28px 0 8px;border-bottom:1px solid #d6dbe0;padding-bottom:4px}
h3{font-size:16px;margin:18px 0 6px}.muted{color:#5b6570}
table{border-collapse:collapse;margin:8px 0 14px;font-size:13px}th,td{border:1px solid #d6dbe0;padding:3px 7px;
text-align:left;vertical-align:top}th{background:#f1f4f6}td.n{text-align:right;font-variant-numeric:tabular-nums}
.charts{display:flex;flex-wrap:wrap;gap:10px}.chart{width:560px;height:400px;border:1px solid #e3e7ea}
.chart.wide{width:1130px}
.chart.empty{height:auto;padding:0 10px}
.note{background:#fff7e0;border-left:3px solid #e0a800;padding:4px 10px;margin:6px 0}
nav a{margin-right:12px}.tag{display:inline-block;padding:0 6px;border-radius:3px;background:#e7eef6;font-size:12px}
.tag.run{background:#dff3e4}.tag.author{background:#fde8e8}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:10px 0}.card{border:1px solid #d6dbe0;border-radius:6px;
padding:6px 14px;min-width:7em}.card b{display:block;font-size:22px}.failed{color:#b00020}.passed{color:#1b7f3b}
.error{color:#8a4b00}.na{color:#5b6570}select{margin-right:12px}table.wide{width:100%}.scroll{overflow-x:auto}
"""

_DRAW = """
document.querySelectorAll('[data-chart]').forEach(function (div) {
  var spec = JSON.parse(document.getElementById(div.dataset.chart).textContent);
  Plotly.newPlot(div, spec.data, spec.layout, {displaylogo: false, responsive: true})
    .then(function () { div.dataset.drawn = 'yes'; });
});
"""


@cache
def plotly_js() -> str:
    """plotly.js as shipped inside the plotly package (no network)."""
    from plotly.offline import get_plotlyjs

    return str(get_plotlyjs())


def escape(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _json(data: Any) -> str:
    """JSON safe inside <script>: no closing tag can end the block early."""
    return json.dumps(data, default=str, allow_nan=False).replace("</", "<\\/")


def _cell(value: object) -> str:
    if value is None:
        return "<td></td>"
    if isinstance(value, bool):
        return f"<td>{'yes' if value else 'no'}</td>"
    if isinstance(value, int):
        return f'<td class="n">{value:,}</td>'
    if isinstance(value, float):
        return f'<td class="n">{value:.4g}</td>'
    return f"<td>{escape(value)}</td>"


class Page:
    """An HTML page built section by section; `render` gives the whole document."""

    def __init__(self, title: str, subtitle: str = "") -> None:
        self.title = title
        self._body: list[str] = [f"<h1>{escape(title)}</h1>"]
        if subtitle:
            self._body.append(f'<p class="muted">{escape(subtitle)}</p>')
        self._charts: list[tuple[str, dict[str, Any]]] = []
        self._data: list[tuple[str, Any]] = []
        self._scripts: list[str] = []
        self._open_row = False

    def heading(self, text: str, level: int = 2, anchor: str | None = None) -> Page:
        self._close_row()
        ident = f' id="{escape(anchor)}"' if anchor else ""
        self._body.append(f"<h{level}{ident}>{escape(text)}</h{level}>")
        return self

    def paragraph(self, text: str, css: str = "") -> Page:
        self._close_row()
        cls = f' class="{css}"' if css else ""
        self._body.append(f"<p{cls}>{escape(text)}</p>")
        return self

    def note(self, text: str) -> Page:
        return self.paragraph(text, "note")

    def raw(self, markup: str) -> Page:
        """Markup built by carelake itself (links, tags); never user text."""
        self._close_row()
        self._body.append(markup)
        return self

    def cards(self, items: list[tuple[str, int, str]]) -> Page:
        """Headline counts as cards: (label, count, css class)."""
        self._close_row()
        body = "".join(f'<div class="card {escape(css)}"><b>{n:,}</b>{escape(label)}</div>' for label, n, css in items)
        self._body.append(f'<div class="cards">{body}</div>')
        return self

    def data(self, ident: str, value: Any) -> Page:
        """A JSON document in the page (`<script type="application/json" id=...>`) for the page's own script."""
        self._data.append((ident, value))
        return self

    def script(self, source: str) -> Page:
        """Page behaviour written by carelake (filters, sorting), run after the charts' library is loaded."""
        self._scripts.append(source)
        return self

    def table(self, columns: list[str], rows: list[list[object]], caption: str | None = None) -> Page:
        self._close_row()
        head = "".join(f"<th>{escape(c)}</th>" for c in columns)
        body = "".join("<tr>" + "".join(_cell(v) for v in r) + "</tr>" for r in rows)
        cap = f"<caption>{escape(caption)}</caption>" if caption else ""
        self._body.append(f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        return self

    def chart(self, data: list[dict[str, Any]], layout: dict[str, Any], *, label: str, wide: bool = False) -> Page:
        """A plotly chart (traces, layout); charts in a row sit side by side until the next non-chart section.

        A chart with no point to draw (none, or every one withheld) is a stated box instead of empty axes."""
        if not self._open_row:
            self._body.append('<div class="charts">')
            self._open_row = True
        if not any(len(t.get("x") or t.get("y") or t.get("median") or []) for t in data):
            self._body.append(f'<div class="chart empty"><h3>{escape(label)}</h3><p class="muted">nothing to draw: no '
                              "figure, or every figure below the minimum cell count</p></div>")  # fmt: skip
            return self
        ident = f"chart-{len(self._charts)}"
        spec = {"data": data, "layout": {"margin": {"l": 60, "r": 20, "t": 40, "b": 50}, **layout}}
        self._charts.append((ident, spec))
        css = "chart wide" if wide else "chart"
        self._body.append(
            f'<div class="{css}" data-chart="{ident}-spec" role="img" aria-label="{escape(label)}"></div>'
        )
        return self

    def _close_row(self) -> None:
        if self._open_row:
            self._body.append("</div>")
            self._open_row = False

    def render(self) -> str:
        self._close_row()
        blocks = [(f"{ident}-spec", spec) for ident, spec in self._charts] + self._data
        specs = "".join(f'<script type="application/json" id="{i}">{_json(value)}</script>' for i, value in blocks)
        script = f"<script>{plotly_js()}</script><script>{_DRAW}</script>" if self._charts else ""
        script += "".join(f"<script>{source}</script>" for source in self._scripts)
        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{escape(self.title)}</title><style>{_CSS}</style></head><body>"
            + "\n".join(self._body)
            + specs
            + script
            + "</body></html>\n"
        )

    def write(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.render(), encoding="utf-8")
        return path
