"""The charts pages draw, as plotly specs (traces, layout) built from figures that may leave the machine.

The general shapes (bars, grouped columns, a line, a survival step curve) serve the quality dashboard and the
characterization page. The study's charts each take a disclosed table of one evaluation part (test, or an external
validation; rows a small count withheld are empty and are skipped).
"""

from __future__ import annotations

import math
from typing import Any

import pyarrow as pa

__all__ = [
    "Chart",
    "attrition_chart",
    "bar_chart",
    "calibration_chart",
    "column_chart",
    "decision_chart",
    "distribution_chart",
    "horizon_calibration_chart",
    "importance_chart",
    "line_chart",
    "occupation_chart",
    "pr_chart",
    "risk_group_survival_chart",
    "roc_chart",
    "subgroup_chart",
    "survival_chart",
    "time_metrics_chart",
]

Chart = tuple[list[dict[str, Any]], dict[str, Any]]
_GREY = {"color": "#9aa4ad", "dash": "dash", "width": 1}


def _f(v: Any) -> float | None:
    return None if v is None or (isinstance(v, float) and not math.isfinite(v)) else float(v)


def _rows(table: pa.Table | None) -> list[dict[str, Any]]:
    return [] if table is None else list(table.to_pylist())


def _axes(x: str, y: str, title: str, *, unit: bool = True) -> dict[str, Any]:
    rng = {"range": [0, 1]} if unit else {}
    return {
        "title": {"text": title},
        "xaxis": {"title": {"text": x}, **rng},
        "yaxis": {"title": {"text": y}, **rng},
        "legend": {"orientation": "h", "y": -0.2},
    }


def bar_chart(labels: list[str], values: list[float], title: str, x_title: str, color: str = "#4a7bd0") -> Chart:
    """Horizontal bars, first label on top."""
    data: list[dict[str, Any]] = [
        {"type": "bar", "orientation": "h", "y": labels, "x": values, "name": x_title, "marker": {"color": color}}
    ]
    layout = _axes(x_title, "", title, unit=False)
    layout["margin"] = {"l": 20, "r": 20, "t": 40, "b": 50}
    layout["yaxis"] |= {"automargin": True, "autorange": "reversed", "type": "category"}
    layout["showlegend"] = False
    return data, layout


def column_chart(labels: list[str], series: dict[str, list[float | None]], title: str, y_title: str) -> Chart:
    """Vertical columns, one colour per series side by side; a missing value (withheld) draws no column."""
    data: list[dict[str, Any]] = [
        {"type": "bar", "x": labels, "y": values, "name": name} for name, values in series.items()
    ]
    layout = _axes("", y_title, title, unit=False)
    layout["barmode"] = "group"
    layout["xaxis"]["type"] = "category"
    return data, layout


def line_chart(x: list[Any], y: list[float], title: str, x_title: str, y_title: str) -> Chart:
    data: list[dict[str, Any]] = [{"type": "scatter", "mode": "lines+markers", "x": x, "y": y, "name": y_title}]
    layout = _axes(x_title, y_title, title, unit=False)
    layout["showlegend"] = False
    return data, layout


def survival_chart(
    days: list[float], survival: list[float], lower: list[float], upper: list[float], title: str
) -> Chart:
    """A step curve from (0, 1) with its confidence band (a band value that is not finite is left out)."""
    x = [0.0, *days]
    lower_, upper_ = [_f(v) for v in lower], [_f(v) for v in upper]
    data: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "lines",
            "x": x,
            "y": [1.0, *upper_],
            "line": {"shape": "hv", "width": 0},
            "showlegend": False,
            "hoverinfo": "skip",
        },
        {
            "type": "scatter",
            "mode": "lines",
            "x": x,
            "y": [1.0, *lower_],
            "line": {"shape": "hv", "width": 0},
            "fill": "tonexty",
            "fillcolor": "rgba(31,119,180,0.2)",
            "name": "95% band",
        },
        {
            "type": "scatter",
            "mode": "lines",
            "x": x,
            "y": [1.0, *survival],
            "line": {"shape": "hv"},
            "name": "survival",
        },
    ]
    layout = _axes("days from the start of time at risk", "survival free of outcome", title, unit=False)
    layout["yaxis"]["range"] = [max(0.0, min([1.0, *(v for v in lower_ if v is not None)]) - 0.02), 1.0]
    return data, layout


def roc_chart(thresholds: pa.Table | None) -> Chart:
    rows = [r for r in _rows(thresholds) if r["sensitivity"] is not None and r["specificity"] is not None]
    pts = sorted({(1.0 - r["specificity"], r["sensitivity"]) for r in rows})
    xs, ys = [0.0, *(p[0] for p in pts), 1.0], [0.0, *(p[1] for p in pts), 1.0]
    data: list[dict[str, Any]] = [
        {"type": "scatter", "mode": "lines", "x": xs, "y": ys, "name": "model", "line": {"shape": "hv"}},
        {"type": "scatter", "mode": "lines", "x": [0, 1], "y": [0, 1], "name": "chance", "line": _GREY},
    ]
    return data, _axes("1 - specificity", "sensitivity", "ROC curve")


def pr_chart(thresholds: pa.Table | None) -> Chart:
    rows = [r for r in _rows(thresholds) if r["sensitivity"] is not None and r["positivePredictiveValue"] is not None]
    pts = sorted((r["sensitivity"], r["positivePredictiveValue"]) for r in rows)
    data = [{"type": "scatter", "mode": "lines", "x": [p[0] for p in pts], "y": [p[1] for p in pts], "name": "model"}]
    return data, _axes("recall (sensitivity)", "precision (PPV)", "Precision-recall")


def calibration_chart(strata: pa.Table | None, curve: pa.Table | None) -> Chart:
    rows = [r for r in _rows(strata) if r["observedIncidence"] is not None]
    smooth = _rows(curve)
    top = max(
        [
            0.05,
            *(r["averagePredictedProbability"] for r in rows),
            *(r["observedIncidence"] for r in rows),
            *(r["predicted"] for r in smooth),
        ]
    )
    top = min(1.0, top * 1.1)
    data: list[dict[str, Any]] = [
        {"type": "scatter", "mode": "lines", "x": [0, top], "y": [0, top], "name": "ideal", "line": _GREY},
        {
            "type": "scatter",
            "mode": "markers",
            "x": [r["averagePredictedProbability"] for r in rows],
            "y": [r["observedIncidence"] for r in rows],
            "name": "risk strata (observed vs mean predicted)",
        },
        {
            "type": "scatter",
            "mode": "lines",
            "x": [r["predicted"] for r in smooth],
            "y": [r["observed"] for r in smooth],
            "name": "LOWESS",
        },
    ]
    layout = _axes("predicted risk", "observed risk", "Calibration", unit=False)
    layout["xaxis"]["range"] = layout["yaxis"]["range"] = [0, top]
    return data, layout


def decision_chart(curve: pa.Table | None) -> Chart:
    rows = _rows(curve)
    t = [r["threshold"] for r in rows]
    nb = [_f(r["netBenefit"]) for r in rows]
    low = min([0.0, *(v for v in nb if v is not None)])
    data: list[dict[str, Any]] = [
        {"type": "scatter", "mode": "lines", "x": t, "y": nb, "name": "model"},
        {"type": "scatter", "mode": "lines", "x": t, "y": [_f(r["treatAll"]) for r in rows], "name": "treat all"},
        {"type": "scatter", "mode": "lines", "x": t, "y": [0.0] * len(t), "name": "treat none", "line": _GREY},
    ]
    top = max([0.01, *(v for v in nb if v is not None)])
    layout = _axes("threshold risk", "net benefit", "Decision curve", unit=False)
    layout["yaxis"]["range"] = [max(low, -top), top * 1.15]
    return data, layout


def distribution_chart(dist: pa.Table | None) -> Chart:
    data: list[dict[str, Any]] = []
    for r in _rows(dist):
        if r["PersonCount"] is None:
            continue
        data.append(
            {
                "type": "box",
                "name": "with outcome" if r["class"] == 1 else "without outcome",
                "q1": [r["P25PredictedProbability"]],
                "median": [r["MedianPredictedProbability"]],
                "q3": [r["P75PredictedProbability"]],
                "lowerfence": [r["P05PredictedProbability"]],
                "upperfence": [r["P95PredictedProbability"]],
                "mean": [r["averagePredictedProbability"]],
                "x": ["with outcome" if r["class"] == 1 else "without outcome"],
            }
        )
    layout = _axes(
        "", "predicted risk (box: quartiles; whiskers: 5th-95th centile)", "Predicted risk by outcome", unit=False
    )
    layout["showlegend"] = False
    return data, layout


def subgroup_chart(subgroups: pa.Table | None, whole: float | None, metric: str = "AUROC") -> Chart:
    rows = [r for r in _rows(subgroups) if r["metric"] == metric]
    labels = [f"{r['subgroup']}: {r['level']}" for r in rows]
    values = [_f(r["value"]) for r in rows]
    data: list[dict[str, Any]] = [
        {
            "type": "bar",
            "orientation": "h",
            "y": labels,
            "x": values,
            "name": metric,
            "text": [r["note"] or "" for r in rows],
            "hoverinfo": "x+y+text",
        }
    ]
    if whole is not None:
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": [whole, whole],
                "y": [labels[0], labels[-1]] if labels else [],
                "name": "all persons",
                "line": {"color": "#c0392b", "dash": "dot"},
            }
        )
    layout = _axes(metric, "", f"{metric} by subgroup; empty bars: not estimable or withheld", unit=False)
    if metric == "AUROC":
        layout["xaxis"]["range"] = [0.5, 1.0]
    layout["margin"] = {"l": 170, "r": 20, "t": 40, "b": 50}
    layout["yaxis"]["autorange"] = "reversed"
    return data, layout


def _short(name: str, width: int = 90) -> str:
    """A covariate's name for an axis: the concept first, then the analysis and window."""
    head, sep, concept = name.partition(" relative to index: ")
    label = f"{concept} ({head.replace(' during day', ',')})" if sep else name
    return label if len(label) <= width else label[: width - 1] + "…"


def importance_chart(importance: pa.Table | None, top: int = 20) -> Chart:
    rows = importance.slice(0, top).to_pylist() if importance is not None else []
    names = [_short(str(r["covariate_name"])) for r in rows]
    data: list[dict[str, Any]] = [
        {
            "type": "bar",
            "orientation": "h",
            "y": names,
            "x": [r["mean_abs_contribution"] for r in rows],
            "name": "mean |contribution|",
        }
    ]
    layout = _axes("mean absolute contribution to the log-odds ", "", f"Top {len(rows)} predictors", unit=False)
    layout["margin"] = {"l": 20, "r": 20, "t": 40, "b": 50}
    layout["yaxis"]["automargin"] = True
    layout["yaxis"]["autorange"] = "reversed"
    return data, layout


def attrition_chart(attrition: pa.Table, outcome: str) -> Chart:
    rows = [r for r in attrition.to_pylist() if r.get("outcome") == outcome]
    data: list[dict[str, Any]] = [
        {
            "type": "bar",
            "orientation": "h",
            "y": [r["description"] for r in rows],
            "x": [r["uniquePeople"] for r in rows],
            "name": "persons",
        }
    ]
    layout = _axes("persons", "", f"Study population: {outcome}", unit=False)
    layout["margin"] = {"l": 260, "r": 20, "t": 40, "b": 50}
    layout["yaxis"]["autorange"] = "reversed"
    return data, layout


_THIRDS = {"low": "#2e86de", "middle": "#f39c12", "high": "#c0392b"}


def risk_group_survival_chart(curves: pa.Table | None, column: str = "survival") -> Chart:
    """Kaplan-Meier survival (or Aalen-Johansen incidence, `column` "incidence") per third of predicted risk, in
    steps every 30 days; withheld rows skipped."""
    rows = [r for r in _rows(curves) if _f(r[column]) is not None]
    data: list[dict[str, Any]] = []
    for group, color in _THIRDS.items():
        mine = [r for r in rows if r["riskGroup"] == group]
        if mine:
            data.append({"type": "scatter", "mode": "lines", "name": f"{group} predicted risk",
                         "x": [r["time"] for r in mine], "y": [r[column] for r in mine],
                         "line": {"shape": "hv", "color": color},
                         "text": [f"at risk {r['atRisk']}" for r in mine]})  # fmt: skip
    title = "Kaplan-Meier survival" if column == "survival" else "Aalen-Johansen incidence of the outcome"
    layout = _axes("days from the start of time at risk", title, f"{title} by risk group", unit=False)
    return data, layout


def horizon_calibration_chart(calibration: pa.Table | None) -> Chart:
    """Per horizon, mean predicted against Kaplan-Meier observed risk by risk decile, with the observed interval."""
    rows = [r for r in _rows(calibration) if _f(r["observedRisk"]) is not None and r["PersonCount"] is not None]
    top = max([0.05, *(float(r["predictedRisk"]) for r in rows), *(_f(r["observedUpper"]) or 0.0 for r in rows)])
    data: list[dict[str, Any]] = [{"type": "scatter", "mode": "lines", "x": [0, top], "y": [0, top],
                                   "name": "ideal", "line": _GREY}]  # fmt: skip
    for horizon in dict.fromkeys(r["horizon"] for r in rows):
        mine = [r for r in rows if r["horizon"] == horizon]
        up = [(_f(r["observedUpper"]) or r["observedRisk"]) - r["observedRisk"] for r in mine]
        down = [r["observedRisk"] - (_f(r["observedLower"]) or r["observedRisk"]) for r in mine]
        data.append({"type": "scatter", "mode": "lines+markers", "name": f"{horizon} days",
                     "x": [r["predictedRisk"] for r in mine], "y": [r["observedRisk"] for r in mine],
                     "error_y": {"type": "data", "symmetric": False, "array": up, "arrayminus": down}})  # fmt: skip
    layout = _axes("mean predicted risk", "observed risk (Kaplan-Meier)", "Calibration at each horizon", unit=False)
    layout["xaxis"]["range"] = layout["yaxis"]["range"] = [0, top * 1.05]
    return data, layout


def time_metrics_chart(metrics: pa.Table | None) -> Chart:
    """Time-dependent AUC and the Brier score over time."""
    rows = _rows(metrics)
    data: list[dict[str, Any]] = [
        {"type": "scatter", "mode": "lines+markers", "name": "AUC(t)", "x": [r["time"] for r in rows],
         "y": [_f(r["AUC"]) for r in rows]},
        {"type": "scatter", "mode": "lines+markers", "name": "Brier score(t)", "x": [r["time"] for r in rows],
         "y": [_f(r["brierScore"]) for r in rows], "yaxis": "y2"},
    ]  # fmt: skip
    layout = _axes("days from the start of time at risk", "cumulative/dynamic AUC", "Discrimination and Brier score "
                   "over time", unit=False)  # fmt: skip
    layout["yaxis2"] = {"title": {"text": "Brier score"}, "overlaying": "y", "side": "right"}
    return data, layout


def occupation_chart(occupation: pa.Table | None, states: list[str]) -> Chart:
    """State occupation over time, stacked: at each time the shares of the states add up to 1."""
    rows = _rows(occupation)
    data: list[dict[str, Any]] = []
    for state in states:
        mine = [r for r in rows if r["state"] == state]
        data.append({"type": "scatter", "mode": "lines", "stackgroup": "states", "name": state,
                     "x": [r["time"] for r in mine], "y": [_f(r["probability"]) for r in mine],
                     "line": {"shape": "hv"}})  # fmt: skip
    layout = _axes("days from the start of time at risk", "probability of being in each state",
                   "State occupation (Aalen-Johansen); gaps: withheld", unit=False)  # fmt: skip
    layout["yaxis"]["range"] = [0, 1]
    return data, layout
