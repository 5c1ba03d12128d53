"""JSON, CSV and a self-contained HTML page (inline SVG, no scripts, no network) from the suppressed results."""

from __future__ import annotations

import csv
import html
import json
from pathlib import Path
from typing import Any

from carelake.characterize.core import Characterization

__all__ = ["csv_rows", "render_html", "write_outputs"]

_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")


def csv_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """One long table: section, cohort, label, concept, statistic, value."""
    rows: list[dict[str, Any]] = []

    def add(section: str, cohort: object, label: str, concept: object, stat: str, value: object) -> None:
        rows.append(
            {"section": section, "cohort_id": cohort, "label": label, "concept_id": concept, "statistic": stat}
            | {"value": "" if value is None else value}
        )

    for c in data["cohorts"]:
        cid = c["cohort_id"]
        for stat in ("persons", "records", "age_mean", "age_sd"):
            add("summary", cid, stat, "", stat, c[stat])
        for cat in c["categories"]:
            add(cat["section"], cid, cat["label"], cat["concept_id"], "count", cat["count"])
            add(cat["section"], cid, cat["label"], cat["concept_id"], "percent", cat["percent"])
        for m in c["measurements"]:
            for stat in ("n", "mean", "sd", "median", "q1", "q3"):
                add("measurement", cid, m["label"], m["concept_id"], stat, m.get(stat))
    for s in data["smd"]:
        add("smd", "", f"{s['section']}: {s['label']}", "", "smd", round(s["smd"], 4))
    if "incidence" in data:
        i = data["incidence"]
        for stat in ("persons", "events", "person_years", "rate_per_1000_py", "lower", "upper"):
            add("incidence", i["target_id"], f"outcome {i['outcome_id']}, {i['time_at_risk']}", "", stat, i[stat])
    for k in data.get("kaplan_meier", []):
        for stat in ("at_risk", "events", "survival", "lower", "upper"):
            add("kaplan_meier", data["incidence"]["target_id"], f"day {k['day']:g}", "", stat, k[stat])
    return rows


def _e(x: object) -> str:
    return html.escape(str(x))


def _bars(data: dict[str, Any]) -> str:
    """Grouped bars: percent of persons per age band, one colour per cohort; suppressed bands are not drawn."""
    bands = (
        [c["label"] for c in data["cohorts"][0]["categories"] if c["section"] == "age band"] if data["cohorts"] else []
    )
    labels = sorted(
        {c["label"] for co in data["cohorts"] for c in co["categories"] if c["section"] == "age band"} | set(bands),
        key=lambda s: int(s.rstrip("+").split("-")[0]),
    )
    w, h, pad = 560, 220, 40
    if not labels:
        return ""
    group = (w - 2 * pad) / len(labels)
    bar = group * 0.8 / max(1, len(data["cohorts"]))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" role="img" aria-label="age bands">']
    parts.append(f'<line x1="{pad}" y1="{h - pad}" x2="{w - pad}" y2="{h - pad}" stroke="#333"/>')
    for gi, label in enumerate(labels):
        x0 = pad + gi * group + group * 0.1
        parts.append(
            f'<text x="{x0 + group * 0.4:.1f}" y="{h - pad + 14}" font-size="11" '
            f'text-anchor="middle">{_e(label)}</text>'
        )
        for ci, co in enumerate(data["cohorts"]):
            cat = next((c for c in co["categories"] if c["section"] == "age band" and c["label"] == label), None)
            x = x0 + ci * bar
            if cat is None or cat["percent"] is None:
                if cat is not None:
                    parts.append(
                        f'<text x="{x + bar / 2:.1f}" y="{h - pad - 4}" font-size="9" '
                        f'text-anchor="middle">{_e(cat["count"])}</text>'
                    )
                continue
            bh = (h - 2 * pad) * cat["percent"] / 100
            parts.append(
                f'<rect x="{x:.1f}" y="{h - pad - bh:.1f}" width="{bar:.1f}" height="{bh:.1f}" '
                f'fill="{_COLORS[ci % len(_COLORS)]}"><title>cohort {co["cohort_id"]}: {cat["percent"]}%</title></rect>'
            )
    parts.append(f'<text x="{pad}" y="16" font-size="12">% of persons by age band at index</text></svg>')
    return "".join(parts)


def _km(data: dict[str, Any]) -> str:
    """A step curve with its Greenwood band, day 0 to the last event."""
    points = data.get("kaplan_meier", [])
    w, h, pad = 560, 260, 40
    last = float(max([p["day"] for p in points] + [1.0]))

    def sx(d: float) -> float:
        return float(pad + (w - 2 * pad) * d / last)

    def sy(s: float) -> float:
        return float(h - pad - (h - 2 * pad) * s)

    line, upper, lower = [f"M{sx(0):.1f},{sy(1):.1f}"], [(0.0, 1.0)], [(0.0, 1.0)]
    prev = 1.0
    for p in points:
        line.append(f"L{sx(p['day']):.1f},{sy(prev):.1f} L{sx(p['day']):.1f},{sy(p['survival']):.1f}")
        upper += [(p["day"], upper[-1][1]), (p["day"], p["upper"])]
        lower += [(p["day"], lower[-1][1]), (p["day"], p["lower"])]
        prev = p["survival"]
    band = " ".join(f"{sx(d):.1f},{sy(s):.1f}" for d, s in upper + lower[::-1])
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" role="img" aria-label="Kaplan-Meier">'
        f'<polygon points="{band}" fill="#1f77b4" fill-opacity="0.2"/>'
        f'<path d="{" ".join(line)}" fill="none" stroke="#1f77b4" stroke-width="2"/>'
        f'<line x1="{pad}" y1="{h - pad}" x2="{w - pad}" y2="{h - pad}" stroke="#333"/>'
        f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{h - pad}" stroke="#333"/>'
        f'<text x="{pad}" y="{h - 10}" font-size="11">day 0</text>'
        f'<text x="{w - pad}" y="{h - 10}" font-size="11" text-anchor="end">day {last:g}</text>'
        f'<text x="{pad - 4}" y="{pad}" font-size="11" text-anchor="end">1</text>'
        f'<text x="{pad - 4}" y="{h - pad}" font-size="11" text-anchor="end">0</text>'
        f'<text x="{pad}" y="16" font-size="12">Survival free of outcome (Greenwood 95% band)</text></svg>'
    )


def _table(head: list[str], rows: list[list[object]]) -> str:
    th = "".join(f"<th>{_e(x)}</th>" for x in head)
    body = "".join("<tr>" + "".join(f"<td>{_e('' if x is None else x)}</td>" for x in r) + "</tr>" for r in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def render_html(data: dict[str, Any]) -> str:
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>carelake characterization</title><style>"
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}</style></head><body>",
        f"<h1>Characterization</h1><p>Counts below {data['min_cell_count']} are shown as "
        f"&lt;{data['min_cell_count']}; windows look back {data['window_days']} days from index.</p>",
    ]
    for c in data["cohorts"]:
        parts.append(f"<h2>Cohort {_e(c['cohort_id'])}</h2><p>persons {_e(c['persons'])}, records {_e(c['records'])}")
        if c["age_mean"] is not None:
            sd = "" if c["age_sd"] is None else f" (sd {c['age_sd']:.1f})"
            parts.append(f", age at index {c['age_mean']:.1f}{sd}")
        parts.append("</p>")
        parts.append(
            _table(
                ["section", "label", "count", "%"],
                [[x["section"], x["label"], x["count"], x["percent"]] for x in c["categories"]],
            )
        )
        if c["measurements"]:
            parts.append(
                _table(
                    ["measurement", "n", "mean", "sd", "median", "IQR"],
                    [
                        [
                            m["label"],
                            m["n"],
                            _f(m.get("mean")),
                            _f(m.get("sd")),
                            _f(m.get("median")),
                            "" if "q1" not in m else f"{m['q1']:.2f}-{m['q3']:.2f}",
                        ]
                        for m in c["measurements"]
                    ],
                )
            )
    parts.append(_bars(data))
    if data["smd"]:
        parts.append("<h2>Standardized mean differences</h2>")
        parts.append(
            _table(["section", "label", "SMD"], [[s["section"], s["label"], f"{s['smd']:.3f}"] for s in data["smd"]])
        )
    if "incidence" in data:
        i = data["incidence"]
        parts.append(f"<h2>Incidence of cohort {_e(i['outcome_id'])} in cohort {_e(i['target_id'])}</h2>")
        parts.append(
            _table(
                ["time at risk", "persons", "events", "person-years", "rate / 1,000 PY", "95% CI"],
                [
                    [
                        i["time_at_risk"],
                        i["persons"],
                        i["events"],
                        i["person_years"],
                        i["rate_per_1000_py"],
                        "" if i["lower"] is None else f"{i['lower']}-{i['upper']}",
                    ]
                ],
            )
        )
        parts.append(_km(data))
    parts.append("</body></html>")
    return "".join(parts)


def _f(x: object) -> str:
    return "" if x is None else f"{x:.2f}"


def write_outputs(result: Characterization, folder: Path) -> dict[str, Path]:
    """characterization.json, .csv and .html in `folder` — all from the suppressed `to_dict()`."""
    folder.mkdir(parents=True, exist_ok=True)
    data = result.to_dict()
    paths = {ext: folder / f"characterization.{ext}" for ext in ("json", "csv", "html")}
    paths["json"].write_text(json.dumps(data, indent=2), encoding="utf-8")
    with paths["csv"].open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, ["section", "cohort_id", "label", "concept_id", "statistic", "value"])
        writer.writeheader()
        writer.writerows(csv_rows(data))
    paths["html"].write_text(render_html(data), encoding="utf-8")
    return paths
