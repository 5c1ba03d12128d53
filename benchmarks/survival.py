"""A whole survival study on simulated persons, timed per stage, checked against the simulator's true hazard, with
the tree model's fit time beside scikit-survival's (a GPL peer, measured here only).

    uv run python benchmarks/survival.py [--persons 100000] [--seed 1] [--work DIR] [--study FILE]
                                         [--peer-rows 10000] [--no-peers]

Simulates (or reuses, as benchmarks/study.py does) persons loaded into DuckDB, then runs the study file (default:
the example survival study: time to death over four years, Cox and boosted Cox with 3-fold CV, horizons 1-3
years) and writes its tables, models and report; prints seconds per stage and the peak RSS. Ground truth: per
model, the test Harrell's C beside the C of the true log hazard (`gompertz_eta`) on the same test persons, and the
calibration slope of the predicted 2-year risk (the true 2-year risk's slope beside it). Targets: under 3 minutes,
C within 0.01 of the true hazard's, slope 0.9-1.1. With a multi-state analysis (--study
src/carelake/data/example_study/ckd_progression.yaml): its state occupation at each horizon beside the generating
model's (target: within 0.01). Then the boosted Cox model's fit time beside scikit-survival's
GradientBoostingSurvivalAnalysis and RandomSurvivalForest on the same training rows (a subsample of --peer-rows:
the forest needs minutes per 10,000 rows), one thread each.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from study import prepare, timed_study  # noqa: E402 (the benchmarks' shared simulate, load and run steps)

STAGES = [f"p_egfr_below{b}_{k}y" for b in (30, 15) for k in (1, 2, 3)]


def truth(data: Path) -> dict[int, dict[str, float]]:
    """person_id -> the true log hazard of death at index, Gompertz b, and P(latent eGFR below 30 / 15 at 1-3 y)."""
    with gzip.open(data / "truth.csv.gz", "rt", newline="") as f:
        return {int(r["person_id"]): {k: float(r[k]) for k in ("gompertz_eta", "gompertz_b", *STAGES)}
                for r in csv.DictReader(f)}  # fmt: skip


def true_occupation(people: list[dict[str, float]], day: int, states: tuple[str, ...]) -> dict[str, float]:
    """The mean over persons of P(alive and in each CKD stage) at `day`, and P(dead): death depends on the state at
    index only, so P(alive, stage) = S(day) x P(latent eGFR in the stage at the check-up of year k)."""
    k = round((day - 30) / 365.25)
    eta = np.array([p["gompertz_eta"] for p in people])
    b = np.array([p["gompertz_b"] for p in people])
    alive = 1.0 - true_risk(eta, b, float(day))
    below30 = np.array([p[f"p_egfr_below30_{k}y"] for p in people])
    below15 = np.array([p[f"p_egfr_below15_{k}y"] for p in people])
    shares = [alive * (1 - below30), alive * (below30 - below15), alive * below15, 1 - alive]
    return {name: float(np.mean(v)) for name, v in zip(states, shares, strict=True)}


def true_risk(eta: np.ndarray, b: np.ndarray, days: float) -> np.ndarray:
    """1 - S(t) of the simulator's Gompertz hazard h(t) = exp(eta + b t), t in years."""
    years = days / 365.25
    return np.asarray(-np.expm1(-np.exp(eta) * np.expm1(b * years) / b))


def peers(run: Any, rows: int, seed: int) -> None:
    from sksurv.ensemble import GradientBoostingSurvivalAnalysis, RandomSurvivalForest
    from sksurv.util import Surv

    from carelake.models.cox import survival_target
    from carelake.models.survival import make_survival_model

    analysis = next(a for a in run.analyses if a.model_type == "boosted_cox" and a.predictions is not None)
    pred = analysis.predictions.to_pylist()
    features = run.features
    index = {(r[0], r[1]): i for i, r in enumerate(zip(features.rows.column("person_id").to_pylist(),
             features.rows.column("cohort_start_date").to_pylist(), strict=True))}  # fmt: skip
    train = [r for r in pred if r["evaluation"] == "Train"]
    pick = np.random.default_rng(seed).choice(len(train), min(rows, len(train)), replace=False)
    chosen = [train[i] for i in np.sort(pick)]
    x = features.matrix[[index[(r["person_id"], r["cohort_start_date"])] for r in chosen]]
    time_, event = np.array([r["time"] for r in chosen]), np.array([r["event"] == 1 for r in chosen])
    dense = x.toarray()
    print(f"\ntree models on {len(chosen):,} training rows x {x.shape[1]} covariates ({int(event.sum())} events), "
          "one thread each")  # fmt: skip
    fits = {}
    t = time.perf_counter()
    make_survival_model("boosted_cox", analysis.params, seed).fit(x, survival_target(time_, event))
    fits["carelake boosted_cox " + str(analysis.params)] = time.perf_counter() - t
    y = Surv.from_arrays(event, time_)
    t = time.perf_counter()
    GradientBoostingSurvivalAnalysis(n_estimators=int(analysis.params.get("n_estimators", 200)), learning_rate=0.05,
                                     max_depth=3, random_state=seed).fit(dense, y)  # fmt: skip
    fits["scikit-survival GradientBoostingSurvivalAnalysis"] = time.perf_counter() - t
    t = time.perf_counter()
    RandomSurvivalForest(n_estimators=100, min_samples_leaf=15, n_jobs=1, random_state=seed).fit(dense, y)
    fits["scikit-survival RandomSurvivalForest (100 trees)"] = time.perf_counter() - t
    ours = next(iter(fits.values()))
    for name, seconds in fits.items():
        print(f"{name:<70} {seconds:8.2f} s  {seconds / ours:6.1f}x")


def results_of(analysis: Any) -> list[dict[str, Any]]:
    """The analysis's headline figures as results.json gives them (minimum cell count 5)."""
    from carelake.privacy.disclosure import DisclosureRule
    from carelake.studies.output import headline

    return [headline(analysis, DisclosureRule())]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work", type=Path, default=HERE / "_work")
    parser.add_argument("--study", type=Path, default=HERE.parent / "src/carelake/data/example_study/survival.yaml")
    parser.add_argument("--peer-rows", type=int, default=10_000)
    parser.add_argument("--no-peers", action="store_true")
    a = parser.parse_args()
    data, url = prepare(a.persons, a.seed, a.work)

    from carelake.evaluation.survival import Survival, harrell_c
    from carelake.evaluation.survival.calibration import horizon_calibration

    run, _ = timed_study(url, a.study, a.work / f"survival-out-{a.study.stem}-{a.persons}")

    true = truth(data)
    if run.multistate is not None and run.multistate.fit is not None:
        result = run.multistate
        people = [true[int(p)] for p in result.population.rows.column("person_id").to_pylist()]
        print(f"\nmulti-state ({len(people):,} persons): Aalen-Johansen from the records against the generating model")
        print(f"{'day':>5} {'state':<26} {'estimate':>9} {'truth':>7} {'gap':>7}")
        worst = 0.0
        for day in result.horizons:
            want = true_occupation(people, day, result.states)
            got = result.fit.occupation_at(float(day))[0]
            for j, state in enumerate(result.states):
                worst = max(worst, abs(got[j] - want[state]))
                print(f"{day:5d} {state:<26} {got[j]:9.4f} {want[state]:7.4f} {got[j] - want[state]:+7.4f}")
        print(f"largest gap {worst:.4f} (target 0.01)")
    print(f"\n{'analysis':<28} {'test n':>7} {'events':>7} {'C':>7} {'true C':>7} {'gap':>7} "
          f"{'slope 2y':>8} {'true':>6} {'ICI 2y':>7}")  # fmt: skip
    for analysis in run.analyses:
        if analysis.predictions is None:
            print(f"{analysis.analysis_id:<28} {'; '.join(analysis.notes)}")
            continue
        rows = [r for r in analysis.predictions.to_pylist() if r["evaluation"] == "Test"]
        if analysis.study_type == "competing_risks":
            h = next(x for x in results_of(analysis) if x)
            print(f"{analysis.analysis_id:<28} {len(rows):7d} {int(h['test_events']):7d} Wolbers' C "
                  f"{h['test_wolbers_c']:.4f}; competing events {int(h['test_competing_events'])}")  # fmt: skip
            for day in analysis.horizons:
                key = str(day)
                print(f"{'':<28} day {day}: AUC {h['time_dependent_auc'][key]:.4f}, incidence predicted "
                      f"{h['mean_predicted_incidence'][key]:.4f}, observed (Aalen-Johansen) "
                      f"{h['observed_incidence'][key]:.4f}")  # fmt: skip
            continue
        s = Survival(np.array([r["time"] for r in rows], dtype=float), np.array([r["event"] == 1 for r in rows]))
        got = harrell_c(s, np.array([r["score"] for r in rows])).c
        star = " *" if analysis in run.best else ""
        if analysis.outcome.name != "Death" or "risk_730d" not in rows[0]:  # the true hazard is death's
            print(f"{analysis.analysis_id + star:<28} {len(rows):7d} {int(s.event.sum()):7d} {got:7.4f}")
            continue
        eta = np.array([true[r["person_id"]]["gompertz_eta"] for r in rows])
        b = np.array([true[r["person_id"]]["gompertz_b"] for r in rows])
        best = harrell_c(s, eta).c
        fitted = horizon_calibration(s, np.array([r["risk_730d"] for r in rows]), 730.0)
        ideal = horizon_calibration(s, true_risk(eta, b, 730.0), 730.0)
        print(f"{analysis.analysis_id + star:<28} {len(rows):7d} {int(s.event.sum()):7d} {got:7.4f} {best:7.4f} "
              f"{got - best:+7.4f} {fitted.slope:8.3f} {ideal.slope:6.3f} {fitted.ici:7.4f}")  # fmt: skip
    print("(* best model of its outcome, by test Harrell's C; slope: Cox regression on log(-log(1 - risk)))")
    if not a.no_peers and any(x.model_type == "boosted_cox" and x.predictions is not None for x in run.analyses):
        peers(run, a.peer_rows, a.seed)


if __name__ == "__main__":
    main()
