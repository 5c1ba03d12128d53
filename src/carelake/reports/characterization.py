"""The characterization page: Table 1 per cohort, age bands, standardized differences, incidence and Kaplan-Meier.

Everything on it comes from `Characterization.to_dict()`, the suppressed form: a withheld count shows as "<n" and
its percentage is not drawn.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from carelake.characterize import Characterization, write_outputs
from carelake.reports.charts import column_chart, survival_chart
from carelake.reports.page import Page

__all__ = ["characterization_page", "write_characterization"]


def _f(x: object) -> str:
    return "" if x is None else f"{x:.2f}"


def _age_bands(data: dict[str, Any], page: Page) -> None:
    cohorts = data["cohorts"]
    labels = sorted(
        {c["label"] for co in cohorts for c in co["categories"] if c["section"] == "age band"},
        key=lambda s: int(s.rstrip("+").split("-")[0]),
    )
    if not labels:
        return
    series: dict[str, list[float | None]] = {}
    for co in cohorts:
        share = {c["label"]: c["percent"] for c in co["categories"] if c["section"] == "age band"}
        series[f"cohort {co['cohort_id']}"] = [share.get(label) for label in labels]
    data_, layout = column_chart(labels, series, "% of persons by age band at index (withheld bands not drawn)", "%")
    page.chart(data_, layout, label="age bands")


def _cohort(c: dict[str, Any], page: Page) -> None:
    page.heading(f"Cohort {c['cohort_id']}", anchor=f"cohort-{c['cohort_id']}")
    age = ""
    if c["age_mean"] is not None:
        sd = "" if c["age_sd"] is None else f" (sd {c['age_sd']:.1f})"
        age = f", age at index {c['age_mean']:.1f}{sd}"
    page.paragraph(f"persons {c['persons']}, records {c['records']}{age}")
    page.table(
        ["section", "label", "count", "%"],
        [[x["section"], x["label"], x["count"], x["percent"]] for x in c["categories"]],
    )
    if c["measurements"]:
        page.table(
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


def characterization_page(data: dict[str, Any]) -> Page:
    """The page for a suppressed characterization (`Characterization.to_dict()`)."""
    page = Page(
        "Characterization",
        f"Counts below {data['min_cell_count']} are shown as <{data['min_cell_count']}; windows look back "
        f"{data['window_days']} days from index.",
    )
    for c in data["cohorts"]:
        _cohort(c, page)
    page.heading("Age at index", anchor="age")
    _age_bands(data, page)
    if data["smd"]:
        page.heading("Standardized mean differences", anchor="smd")
        page.table(["section", "label", "SMD"], [[s["section"], s["label"], f"{s['smd']:.3f}"] for s in data["smd"]])
    if "incidence" in data:
        i = data["incidence"]
        page.heading(f"Incidence of cohort {i['outcome_id']} in cohort {i['target_id']}", anchor="incidence")
        ci = "" if i["lower"] is None else f"{i['lower']}-{i['upper']}"
        page.table(
            ["time at risk", "persons", "events", "person-years", "rate / 1,000 PY", "95% CI"],
            [[i["time_at_risk"], i["persons"], i["events"], i["person_years"], i["rate_per_1000_py"], ci]],
        )
        points = data.get("kaplan_meier", [])
        if points:
            traces, layout = survival_chart(
                [float(p["day"]) for p in points],
                [float(p["survival"]) for p in points],
                [float(p["lower"]) for p in points],
                [float(p["upper"]) for p in points],
                "Survival free of outcome (Greenwood 95% band)",
            )
            page.chart(traces, layout, label="Kaplan-Meier", wide=True)
    return page


def write_characterization(result: Characterization, folder: Path) -> dict[str, Path]:
    """characterization.json, .csv (characterize/export.py) and .html in `folder`, all from the suppressed form."""
    paths = write_outputs(result, folder)
    paths["html"] = characterization_page(result.to_dict()).write(folder / "characterization.html")
    return paths
