"""JSON and CSV from the suppressed results (reports/characterization.py draws the page from the same form)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from carelake.characterize.core import Characterization

__all__ = ["csv_rows", "write_outputs"]


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


def write_outputs(result: Characterization, folder: Path) -> dict[str, Path]:
    """characterization.json and .csv in `folder`, both from the suppressed `to_dict()`."""
    folder.mkdir(parents=True, exist_ok=True)
    data = result.to_dict()
    paths = {ext: folder / f"characterization.{ext}" for ext in ("json", "csv")}
    paths["json"].write_text(json.dumps(data, indent=2), encoding="utf-8")
    with paths["csv"].open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, ["section", "cohort_id", "label", "concept_id", "statistic", "value"])
        writer.writeheader()
        writer.writerows(csv_rows(data))
    return paths
