"""`characterize(wh, cohort_ids, ...)`: Table 1s, SMDs, incidence and Kaplan-Meier, exported with small cells hidden.

Everything that leaves through `to_dict` (and so JSON, CSV and HTML) passes the disclosure rule
(`carelake.privacy.disclosure`): a withheld count becomes the text "<5", and the figures derived from it
(percentages, summaries, rates) are dropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from carelake.characterize.outcomes import TimeAtRisk, time_to_outcome
from carelake.characterize.stats import KaplanMeier, incidence_rate, kaplan_meier, smd_binary, smd_continuous
from carelake.characterize.table1 import Table1, table1
from carelake.errors import ConfigError
from carelake.privacy.disclosure import DisclosureRule, disclosure_rule
from carelake.warehouse import Warehouse

__all__ = ["Characterization", "Incidence", "characterize"]


@dataclass(frozen=True)
class Incidence:
    target_id: int
    outcome_id: int
    tar: TimeAtRisk
    persons: int
    events: int
    person_days: float
    rate: float  # per 1,000 person-years
    lower: float
    upper: float


@dataclass
class Characterization:
    """Unsuppressed results; export with `to_dict()` (suppressed) or the writers in carelake.characterize.export."""

    tables: list[Table1]
    rule: DisclosureRule = field(default_factory=DisclosureRule)
    window_days: int = 365
    smd: list[dict[str, Any]] = field(default_factory=list)
    incidence: Incidence | None = None
    km: KaplanMeier | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with every withheld count shown as "<N" and what it would reveal left out."""
        label, hidden = self.rule.label, self.rule.hides
        out: dict[str, Any] = {"min_cell_count": self.rule.min_cell_count, "window_days": self.window_days}
        out["cohorts"] = []
        for t in self.tables:
            cats = [
                {
                    "section": c.section,
                    "label": c.label,
                    "concept_id": c.concept_id,
                    "count": label(c.count),
                    "percent": None if hidden(c.count) or not t.persons else round(100 * c.count / t.persons, 2),
                }
                for c in t.categories
            ]
            meas = [
                {"concept_id": m.concept_id, "label": m.label, "n": label(m.n)}
                | ({} if hidden(m.n) else {"mean": m.mean, "sd": m.sd, "median": m.median, "q1": m.q1, "q3": m.q3})
                for m in t.measurements
            ]
            small = hidden(t.persons)
            out["cohorts"].append(
                {
                    "cohort_id": t.cohort_id,
                    "persons": label(t.persons),
                    "records": label(t.records),
                    "age_mean": None if small else t.age_mean,
                    "age_sd": None if small else t.age_sd,
                    "categories": cats,
                    "measurements": meas,
                }
            )
        out["smd"] = self.smd
        if self.incidence is not None:
            i = self.incidence
            hide = hidden(i.events)
            out["incidence"] = {
                "target_id": i.target_id,
                "outcome_id": i.outcome_id,
                "time_at_risk": i.tar.label(),
                "persons": label(i.persons),
                "events": label(i.events),
                "person_years": round(i.person_days / 365.25, 3),
                "rate_per_1000_py": None if hide else _num(i.rate),
                "lower": None if hide else _num(i.lower),
                "upper": None if hide else _num(i.upper),
            }
        if self.km is not None:
            k = self.km
            out["kaplan_meier"] = [
                {
                    "day": float(k.time[j]),
                    "at_risk": label(int(k.at_risk[j])),
                    "events": label(int(k.events[j])),
                    "survival": float(k.survival[j]),
                    "lower": float(k.lower[j]),
                    "upper": float(k.upper[j]),
                }
                for j in range(len(k.time))
            ]
        return out


def _num(x: float) -> float | None:
    return None if math.isnan(x) else round(x, 4)


def _smd(a: Table1, b: Table1) -> list[dict[str, Any]]:
    """SMD per shared row of two Table 1s (a category missing in one cohort counts as 0 there)."""
    out: list[dict[str, Any]] = []
    if a.age_mean is not None and b.age_mean is not None:
        out.append(
            {
                "section": "age",
                "label": "age at index (mean)",
                "smd": smd_continuous(a.age_mean, a.age_sd or 0.0, b.age_mean, b.age_sd or 0.0),
            }
        )
    pa_ = {(c.section, c.label): c.count / a.persons for c in a.categories} if a.persons else {}
    pb = {(c.section, c.label): c.count / b.persons for c in b.categories} if b.persons else {}
    for key in sorted(set(pa_) | set(pb)):
        out.append({"section": key[0], "label": key[1], "smd": smd_binary(pa_.get(key, 0.0), pb.get(key, 0.0))})
    return out


def characterize(
    wh: Warehouse,
    cohort_ids: list[int],
    *,
    outcome_id: int | None = None,
    tar: TimeAtRisk | None = None,
    window_days: int = 365,
    top: int = 20,
    min_cell_count: int | DisclosureRule | None = None,
) -> Characterization:
    """Table 1 per cohort; SMDs when there are two; incidence and KM of `outcome_id` in the first cohort's TAR.

    `min_cell_count`: the disclosure rule's cutoff for what `to_dict` exports (default: the rule's default).
    """
    if not cohort_ids:
        raise ConfigError("no cohort to characterize", hint="name at least one cohort id")
    rule = disclosure_rule(min_cell_count)
    result = Characterization(
        [table1(wh, cid, window_days=window_days, top=top) for cid in cohort_ids],
        rule=rule,
        window_days=window_days,
    )
    if len(result.tables) == 2:
        result.smd = _smd(result.tables[0], result.tables[1])
    if outcome_id is not None:
        tar = tar or TimeAtRisk()
        times, events = time_to_outcome(wh, cohort_ids[0], outcome_id, tar)
        k = int(events.sum())
        person_days = float(np.sum(times + 1))
        rate, lo, hi = incidence_rate(k, person_days)
        result.incidence = Incidence(cohort_ids[0], outcome_id, tar, len(times), k, person_days, rate, lo, hi)
        result.km = kaplan_meier(times, events)
    return result
