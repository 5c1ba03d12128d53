"""The example study written the obvious way a data scientist would: pandas reads the OMOP tables, scikit-learn fits.

    uv run python benchmarks/study_baseline.py --data DIR   (DIR holds the simulator's omop/ folder)

Same question as src/carelake/data/example_study/study.yaml: persons observed on 2021-01-01; a heart-failure
admission (inpatient visit with a heart-failure condition) or death within days 0-364; persons followed for fewer
than 364 days without the outcome left out. Covariates: age, sex, every condition / drug / procedure / measurement /
observation concept any time before and in the year before index, and each measurement's latest value (a dense
pandas frame). LASSO (StandardScaler + liblinear) and LightGBM (its default threads), GridSearchCV 3-fold by log
loss over the study's grids, 25% stratified test split, AUROC with 100 bootstrap resamples, AUPRC, Brier, calibration
slope. No threshold table, subgroups, decision curve, report or saved model: it does less than the study.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd
from lightgbm import LGBMClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

INDEX = pd.Timestamp("2021-01-01")
EVENTS = {
    "condition_occurrence": ("condition_concept_id", "condition_start_date"),
    "drug_exposure": ("drug_concept_id", "drug_exposure_start_date"),
    "procedure_occurrence": ("procedure_concept_id", "procedure_date"),
    "measurement": ("measurement_concept_id", "measurement_date"),
    "observation": ("observation_concept_id", "observation_date"),
}


def read(omop: Path, table: str, columns: list[str]) -> pd.DataFrame:
    frame = pd.read_csv(omop / f"{table.upper()}.csv.gz", usecols=columns)
    for c in columns:
        if c.endswith("_date"):
            frame[c] = pd.to_datetime(frame[c])
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True)
    a = parser.parse_args()
    omop = a.data / "omop"
    t = time.perf_counter()
    marks: list[tuple[str, float]] = []

    def mark(name: str) -> None:
        marks.append((name, time.perf_counter()))

    person = read(omop, "person", ["person_id", "gender_concept_id", "year_of_birth"])
    op = read(omop, "observation_period",
              ["person_id", "observation_period_start_date", "observation_period_end_date"])  # fmt: skip
    visits = read(omop, "visit_occurrence", ["visit_occurrence_id", "visit_concept_id"])
    death = read(omop, "death", ["person_id", "death_date"])
    events = {name: read(omop, name, ["person_id", concept, date]) for name, (concept, date) in EVENTS.items()}
    values = read(omop, "measurement", ["person_id", "measurement_concept_id", "measurement_date", "value_as_number"])
    conditions = read(omop, "condition_occurrence", ["person_id", "condition_concept_id", "condition_start_date",
                                                     "visit_occurrence_id"])  # fmt: skip
    mark("read tables (pandas)")

    pop = op[(op.observation_period_start_date <= INDEX) & (op.observation_period_end_date >= INDEX)]
    pop = pop.merge(person, on="person_id")
    pop["followed"] = (pop.observation_period_end_date - INDEX).dt.days
    hf = conditions[conditions.condition_concept_id == 316139].merge(visits, on="visit_occurrence_id")
    hf = hf[(hf.visit_concept_id == 9201)]
    days = (hf.condition_start_date - INDEX).dt.days
    hf_people = set(hf.person_id[(days >= 0) & (days <= 364)])
    d = (death.death_date - INDEX).dt.days
    dead = set(death.person_id[(d >= 0) & (d <= 364)])
    x = pd.DataFrame({"person_id": pop.person_id, "age": INDEX.year - pop.year_of_birth,
                      "female": (pop.gender_concept_id == 8532).astype(float)})  # fmt: skip
    for name, (concept, date) in EVENTS.items():
        e = events[name]
        e = e[e.person_id.isin(pop.person_id) & (e[date] <= INDEX)]
        for window, start in (("any", None), ("365", INDEX - pd.Timedelta(days=365))):
            w = e if start is None else e[e[date] >= start]
            flags = pd.crosstab(w.person_id, w[concept]).clip(upper=1)
            flags.columns = [f"{name}_{window}_{c}" for c in flags.columns]
            x = x.merge(flags, left_on="person_id", right_index=True, how="left")
    v = values[values.person_id.isin(pop.person_id) & (values.measurement_date <= INDEX)].dropna()
    latest = v.sort_values("measurement_date").groupby(["person_id", "measurement_concept_id"]).value_as_number.last()
    latest = latest.unstack()
    latest.columns = [f"value_{c}" for c in latest.columns]
    x = x.merge(latest, left_on="person_id", right_index=True, how="left").fillna(0.0)
    mark("population and covariates (pandas)")

    grids = {
        "lasso": (make_pipeline(StandardScaler(), LogisticRegression(l1_ratio=1.0, solver="liblinear")),
                  {"logisticregression__C": [0.03, 0.1, 0.3, 1.0]}),
        "lightgbm": (LGBMClassifier(learning_rate=0.05, n_estimators=150, verbose=-1),
                     {"num_leaves": [7, 15]}),
    }  # fmt: skip
    rng = np.random.default_rng(0)
    for outcome, people in (("Heart-failure admission", hf_people), ("Death", dead)):
        y = pop.person_id.isin(people).to_numpy()
        keep = y | (pop.followed.to_numpy() >= 363)
        features = x[keep].drop(columns="person_id").to_numpy(dtype=float)
        labels = y[keep].astype(int)
        x_tr, x_te, y_tr, y_te = train_test_split(features, labels, test_size=0.25, stratify=labels, random_state=42)
        for name, (model, grid) in grids.items():
            search = GridSearchCV(model, grid, cv=3, scoring="neg_log_loss").fit(x_tr, y_tr)
            p = search.predict_proba(x_te)[:, 1]
            boots = []
            for _ in range(100):
                i = rng.integers(0, y_te.size, y_te.size)
                if 0 < y_te[i].sum() < y_te.size:
                    boots.append(roc_auc_score(y_te[i], p[i]))
            logit = np.log(np.clip(p, 1e-12, 1 - 1e-12) / np.clip(1 - p, 1e-12, 1))
            slope = LogisticRegression(C=1e12).fit(logit[:, None], y_te).coef_[0, 0]
            print(f"{outcome:<26} {name:<9} AUROC {roc_auc_score(y_te, p):.4f} "
                  f"({np.percentile(boots, 2.5):.3f}-{np.percentile(boots, 97.5):.3f}) "
                  f"AUPRC {average_precision_score(y_te, p):.4f} Brier {brier_score_loss(y_te, p):.5f} "
                  f"slope {slope:.3f}  [{features.shape[1]} covariates]", flush=True)  # fmt: skip
            mark(f"{outcome}: {name} (scikit-learn)")
    previous = t
    for name, at in marks:
        print(f"  {name:<48} {at - previous:8.1f} s")
        previous = at
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  {'baseline total':<48} {time.perf_counter() - t:8.1f} s   peak RSS {peak:,.0f} MB")


if __name__ == "__main__":
    main()
