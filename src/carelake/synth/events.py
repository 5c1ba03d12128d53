"""Turn a chunk's State into event arrays: visits, conditions, measurements (and survey scores), drugs, procedures.

Records refer to persons by their index in the chunk and to visits by their index in `Events.visit_*`; the writers
turn both into ids. Codes are indexes into the key lists below.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from carelake.synth.codes import CONDITIONS, DRUGS, MEASURES, PROCEDURES
from carelake.synth.model import INDEX, YEARS, State

__all__ = ["COND_KEYS", "DRUG_KEYS", "MEAS_KEYS", "PROC_KEYS", "Events", "make_events"]

I = NDArray[np.int64]  # noqa: E741
F = NDArray[np.float64]
B = NDArray[np.bool_]

COND_KEYS = list(CONDITIONS)
MEAS_KEYS = list(MEASURES)
DRUG_KEYS = list(DRUGS)
PROC_KEYS = list(PROCEDURES)
WEARABLE_DAYS = 30
_C = {k: i for i, k in enumerate(COND_KEYS)}
_M = {k: i for i, k in enumerate(MEAS_KEYS)}
_D = {k: i for i, k in enumerate(DRUG_KEYS)}
_P = {k: i for i, k in enumerate(PROC_KEYS)}


@dataclass
class Events:
    """Flat event arrays for one chunk, each group sorted by person."""

    visit_person: I
    visit_kind: I  # 0 outpatient, 1 emergency, 2 inpatient
    visit_start: I
    visit_end: I
    cond_person: I
    cond_key: I
    cond_date: I
    cond_visit: I  # -1: none
    meas_person: I
    meas_key: I
    meas_date: I
    meas_value: F
    meas_visit: I
    drug_person: I
    drug_key: I
    drug_date: I
    drug_visit: I
    proc_person: I
    proc_key: I
    proc_date: I
    proc_visit: I


class _Acc:
    """Collects (person, key, date, visit[, value]) pieces and sorts them by person, then date."""

    def __init__(self) -> None:
        self.parts: list[tuple[I, I, I, I, F]] = []

    def add(
        self, person: I, key: int | I, date: I, visit: I | None = None, value: NDArray[np.floating[Any]] | None = None
    ) -> None:
        n = len(person)
        self.parts.append(  # values as float64 whatever the caller's float width
            (
                person,
                np.broadcast_to(np.asarray(key, dtype=np.int64), (n,)).copy(),
                date,
                np.full(n, -1, dtype=np.int64) if visit is None else visit,
                np.zeros(n) if value is None else np.asarray(value, dtype=np.float64),
            )
        )

    def done(self) -> tuple[I, I, I, I, F]:
        cols = [np.concatenate([p[i] for p in self.parts]) for i in range(5)]
        order = np.lexsort((cols[1], cols[2], cols[0]))
        return cols[0][order], cols[1][order], cols[2][order], cols[3][order], cols[4][order]


def _poisson_dates(rng: np.random.Generator, s: State, rate: F) -> tuple[I, I]:
    """Event dates of a Poisson process with a per-person yearly rate over each person's observation window."""
    years = (s.obs_end - s.obs_start) / 365.25
    counts = rng.poisson(np.maximum(rate * years, 0.0))
    person = np.repeat(np.arange(s.n, dtype=np.int64), counts)
    span = (s.obs_end - s.obs_start)[person]
    return person, s.obs_start[person] + np.floor(rng.random(len(person)) * (span + 1)).astype(np.int64)


def _separate_stays(person: I, kind: I, start: I, end: I) -> B:
    """Drop inpatient stays starting within a day of the person's previous stay: loaders merge those into one visit."""
    keep = np.ones(len(person), dtype=bool)
    while True:
        ip = np.nonzero(keep & (kind == 2))[0]
        clash = (person[ip[1:]] == person[ip[:-1]]) & (start[ip[1:]] <= end[ip[:-1]] + 1)
        if not clash.any():
            return keep
        keep[ip[1:][clash]] = False


def make_events(rng: np.random.Generator, s: State) -> Events:
    """Draw every event of the chunk from the state (docs/simulator.md, 'Events')."""
    n = s.n
    chronic = (s.t2d | s.htn | s.hf).astype(np.float64)
    nchronic = s.t2d.astype(np.float64) + s.htn + s.hf
    old = np.maximum(s.age - 50.0, 0.0)

    # Annual check-ups (slot k = years from the index date), then visits drawn as Poisson processes.
    slot_date = INDEX + YEARS[None, :] * 365 + rng.integers(-30, 31, (n, len(YEARS)))
    attend = rng.random((n, len(YEARS))) < np.where(chronic > 0, 0.95, 0.7)[:, None]
    attend &= (slot_date >= s.obs_start[:, None]) & (slot_date <= s.obs_end[:, None])
    a_person, a_slot = np.nonzero(attend)
    a_date = slot_date[a_person, a_slot]
    op_p, op_d = _poisson_dates(rng, s, 1.0 + 0.8 * nchronic + 0.02 * old)
    er_p, er_d = _poisson_dates(rng, s, 0.25 + 0.12 * nchronic)
    ip_p, ip_d = _poisson_dates(rng, s, 0.03 + 0.003 * old + 0.04 * nchronic)
    hf_p, hf_d = _poisson_dates(rng, s, s.hf_rate)
    kinds = [
        np.zeros(len(a_person) + len(op_p), np.int64),
        np.ones(len(er_p), np.int64),
        np.full(len(ip_p) + len(hf_p), 2),
    ]
    v_person = np.concatenate([a_person, op_p, er_p, ip_p, hf_p])
    v_kind = np.concatenate(kinds)
    v_start = np.concatenate([a_date, op_d, er_d, ip_d, hf_d])
    stay = np.concatenate(
        [
            np.zeros(len(a_person) + len(op_p) + len(er_p), np.int64),
            1 + rng.poisson(2.5, len(ip_p)),
            2 + rng.poisson(3.0, len(hf_p)),
        ]
    )
    v_end = np.minimum(v_start + stay, s.obs_end[v_person])
    # Reason: -2 check-up, -1 follow-up, else a condition key.
    acute = np.where(rng.random(len(er_p)) < 0.5, _C["bronchitis"], _C["sprain"])
    reason = np.concatenate(
        [
            np.full(len(a_person), -2),
            np.full(len(op_p), -1),
            acute,
            np.full(len(ip_p), _C["pneumonia"]),
            np.full(len(hf_p), _C["hf"]),
        ]
    )
    slot = np.concatenate([a_slot, np.full(len(v_person) - len(a_slot), -1)])
    order = np.lexsort((v_kind, v_start, v_person))
    v_person, v_kind, v_start, v_end, reason, slot = (
        x[order] for x in (v_person, v_kind, v_start, v_end, reason, slot)
    )
    keep = _separate_stays(v_person, v_kind, v_start, v_end)
    v_person, v_kind, v_start, v_end, reason, slot = (x[keep] for x in (v_person, v_kind, v_start, v_end, reason, slot))
    vid = np.arange(len(v_person), dtype=np.int64)
    annual = slot >= 0
    av_person, av_date, av_slot, av_id = v_person[annual], v_start[annual], slot[annual], vid[annual]

    cond, meas, drug, proc = _Acc(), _Acc(), _Acc(), _Acc()
    has_reason = reason >= 0
    cond.add(v_person[has_reason], reason[has_reason], v_start[has_reason], vid[has_reason])
    # Procedures follow the visit's reason (no random draws, so the other events do not change): a chest X-ray for
    # pneumonia and acute bronchitis, an ECG at every admission, an echocardiogram at heart-failure admissions.
    for key, sel in (
        ("xray", (reason == _C["pneumonia"]) | (reason == _C["bronchitis"])),
        ("ecg", v_kind == 2),
        ("echo", reason == _C["hf"]),
    ):
        proc.add(v_person[sel], _P[key], v_start[sel], vid[sel])

    # Chronic conditions present at the index date: recorded when first seen (onset, or start of observation).
    for key, has, onset in (("t2d", s.t2d, s.t2d_onset), ("htn", s.htn, s.htn_onset), ("hf", s.hf, s.hf_onset)):
        p = np.nonzero(has)[0]
        cond.add(p, _C[key], np.maximum(onset[p], s.obs_start[p]))
        if key == "hf":  # the echocardiogram that recorded the heart failure
            proc.add(p, _P["echo"], np.maximum(onset[p], s.obs_start[p]))
    # Incident diabetes and hypertension after the index date (constant hazards by age).
    adult = s.age >= 18
    inc: dict[str, tuple[B, I]] = {}
    for key, has, base, slope in (("t2d", s.t2d, 0.007, 0.02), ("htn", s.htn, 0.02, 0.03)):
        t = INDEX + np.round(rng.exponential(1.0, n) / (base * np.exp(slope * (s.age - 50))) * 365.25).astype(np.int64)
        new = adult & ~has & (t <= s.obs_end)
        cond.add(np.nonzero(new)[0], _C[key], t[new])
        inc[key] = (new, t)
    t2d_any = s.t2d | inc["t2d"][0]
    t2d_start = np.where(s.t2d, np.maximum(s.t2d_onset, s.obs_start), inc["t2d"][1])
    htn_any = s.htn | inc["htn"][0]
    htn_start = np.where(s.htn, np.maximum(s.htn_onset, s.obs_start), inc["htn"][1])

    # Vital signs at check-ups (age 3 and over), labs for those followed for kidney function.
    p, d, k, v = av_person, av_date, av_slot, av_id
    m = len(p)
    years_from_index = YEARS[k].astype(np.float64)
    on_acei = rng.random(n) < 0.6
    vit = s.age[p] + years_from_index >= 3
    age_k = s.age[p] + years_from_index
    sbp = (
        112 + 0.45 * np.maximum(age_k - 20, 0) + 14 * htn_any[p] - 7 * (on_acei[p] & htn_any[p]) + rng.normal(0, 10, m)
    )
    dbp = 0.5 * sbp + 12 + rng.normal(0, 6, m)
    for key, val in (
        ("sbp", sbp),
        ("dbp", dbp),
        ("hr", 74 + 5 * s.hf[p] + rng.normal(0, 9, m)),
        ("bmi", s.bmi[p] * (1 + 0.004 * years_from_index) + rng.normal(0, 0.4, m)),
    ):
        meas.add(p[vit], _M[key], d[vit], v[vit], np.round(val[vit], 0 if key != "bmi" else 1))
    diab = t2d_any[p] & (d >= t2d_start[p])
    hba1c = s.hba1c[p] + 0.08 * years_from_index + rng.normal(0, 0.3, m)
    meas.add(p[diab], _M["hba1c"], d[diab], v[diab], np.round(hba1c[diab], 1))
    renal = (s.age[p] >= 18) & (t2d_any[p] | htn_any[p] | s.hf[p] | (s.age[p] >= 60))
    latent = s.egfr_path[p, k]
    meas.add(
        p[renal],
        _M["egfr"],
        d[renal],
        v[renal],
        np.round(np.clip(latent[renal] + rng.normal(0, 3, int(renal.sum())), 3, 160)),
    )
    # CKD stages: recorded at the first check-up with labs where the latent eGFR is below the stage's bound.
    for key, bound in (("ckd3", 60.0), ("ckd4", 30.0), ("esrd", 15.0)):
        hit = np.nonzero(renal & (latent < bound))[0]
        first = hit[np.unique(p[hit], return_index=True)[1]]
        cond.add(p[first], _C[key], d[first], v[first])
    # Hemodialysis recorded at every check-up from end-stage renal disease on (the latent eGFR only falls).
    on_dialysis = renal & (latent < 15.0)
    proc.add(p[on_dialysis], _P["dialysis"], d[on_dialysis], v[on_dialysis])

    # Young people: PHQ-9 and GAD-7 at check-ups; a score of 10 or more is diagnosed, half then start sertraline.
    yk = s.young[p]
    sertraline = rng.random(n) < 0.5
    started = np.full(n, np.iinfo(np.int64).max)
    order = np.argsort(d, kind="stable")
    diagnosed: dict[str, B] = {}
    for key, cond_key, latent_s, base, scale, top in (
        ("phq9", "depression", s.mood, 3.0, 4.0, 27),
        ("gad7", "anxiety", s.worry, 3.5, 3.5, 21),
    ):
        score = np.clip(np.round(base + scale * latent_s[p] + rng.normal(0, 2.5, m)), 0, top)
        first_hi = np.full(n, np.iinfo(np.int64).max)
        hi = order[yk[order] & (score[order] >= 10)]
        np.minimum.at(first_hi, p[hi], d[hi])
        treated_after = sertraline[p] & (d > np.minimum(started[p], first_hi[p]))
        score = np.where(treated_after, np.maximum(score - 4, 0), score)
        meas.add(p[yk], _M[key], d[yk], v[yk], score[yk])
        got = first_hi < np.iinfo(np.int64).max
        idx = np.nonzero(got)[0]
        cond.add(idx, _C[cond_key], first_hi[idx])
        started = np.minimum(started, first_hi)
        diagnosed[key] = got

    # Wearables: daily steps, resting heart rate and sleep for the first days after the index date.
    w = np.nonzero(s.wearable)[0]
    wp = np.repeat(w, WEARABLE_DAYS)
    wd = INDEX + np.tile(np.arange(WEARABLE_DAYS, dtype=np.int64), len(w))
    keep = wd <= s.obs_end[wp]
    wp, wd = wp[keep], wd[keep]
    q = len(wp)
    steps = np.maximum(0, rng.normal(8500 - 45 * (s.age[wp] - 40) - 2000 * s.hf[wp] - 60 * (s.bmi[wp] - 28), 2500, q))
    meas.add(wp, _M["steps"], wd, None, np.round(steps))
    meas.add(wp, _M["rhr"], wd, None, np.round(64 + 4 * s.hf[wp] + 0.3 * (s.bmi[wp] - 28) + rng.normal(0, 4, q)))
    meas.add(wp, _M["sleep"], wd, None, np.round(np.clip(rng.normal(7.0, 0.9, q), 2, 12), 1))

    # Drugs depend on the state: a prescription at initiation, renewed at every later check-up.
    sert_start = np.where(sertraline & (diagnosed["phq9"] | diagnosed["gad7"]), started, -1)
    plans = {
        "metformin": np.where(t2d_any & (rng.random(n) < 0.8), t2d_start, -1),
        "canagliflozin": np.where(s.treated, INDEX, -1),
        "lisinopril": np.where(htn_any & on_acei, htn_start, -1),
        "hctz": np.where(htn_any & ~on_acei & (rng.random(n) < 0.5), htn_start, -1),
        "furosemide": np.where(s.hf & (rng.random(n) < 0.8), np.maximum(s.hf_onset, s.obs_start), -1),
        "carvedilol": np.where(s.hf & (rng.random(n) < 0.7), np.maximum(s.hf_onset, s.obs_start), -1),
        "sertraline": sert_start,
    }
    for key, start in plans.items():
        first = np.nonzero((start >= s.obs_start) & (start <= s.obs_end))[0]
        drug.add(first, _D[key], start[first])
        renew = (start[p] >= 0) & (d > start[p])
        drug.add(p[renew], _D[key], d[renew], v[renew])

    cp, ck, cd, cv, _ = cond.done()
    mp, mk, md, mv, mval = meas.done()
    dp, dk, dd, dv, _ = drug.done()
    pp, pk, pd, pv, _ = proc.done()
    return Events(
        v_person, v_kind, v_start, v_end, cp, ck, cd, cv, mp, mk, md, mval, mv, dp, dk, dd, dv, pp, pk, pd, pv
    )
