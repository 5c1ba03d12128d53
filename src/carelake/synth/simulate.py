"""`synthesize`: persons in chunks → OMOP CSV, FHIR NDJSON and the ground truth, with bounded memory."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa

from carelake.errors import UserError
from carelake.synth import model
from carelake.synth.events import Events, make_events
from carelake.synth.fhir import RESOURCE_TYPES, fhir_lines
from carelake.synth.model import INDEX, LOOKBACK, State, ckd4_risk, ckd4_risk_without_frailty, simulate_state, survival
from carelake.synth.omop import COLUMNS, Ids, omop_tables
from carelake.synth.output import CsvGz, Ndjson
from carelake.synth.vocab import FILES as VOCABULARY_FILES

__all__ = ["CHUNK", "Format", "SynthReport", "simulate_chunk", "synthesize", "truth_table"]

Format = Literal["omop", "fhir", "both"]
CHUNK = 20_000
VOCABULARY = Path(__file__).with_name("vocabulary")
TRUTH_COLUMNS = [
    "person_id",
    "person_source_value",
    "index_date",
    "age",
    "female",
    "t2d",
    "htn",
    "hf",
    "egfr",
    "hba1c",
    "treated_canagliflozin",
    "p_hf_hosp_1y",
    "hf_hosp_1y",
    "ckd_at_risk",
    "p_ckd4_3y",
    "p_ckd4_3y_no_frailty",
    "p_ckd4_3y_untreated",
    "p_ckd4_3y_treated",
    "ite_canagliflozin_ckd4_3y",
    "ckd4_3y",
    "p_egfr_below30_1y",
    "p_egfr_below30_2y",
    "p_egfr_below30_3y",
    "p_egfr_below15_1y",
    "p_egfr_below15_2y",
    "p_egfr_below15_3y",
    "gompertz_eta",
    "gompertz_b",
    "p_death_1y",
    "survival_3y",
    "death_date",
    "death_1y",
]


@dataclass
class SynthReport:
    """What was written: persons, rows per file, where."""

    persons: int
    seed: int
    out: str
    rows: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def simulate_chunk(seed: int, chunk: int, n: int) -> tuple[State, Events]:
    """One chunk's persons and events; a chunk's draws depend only on (seed, chunk number)."""
    rng = np.random.default_rng([seed, chunk])
    state = simulate_state(rng, n)
    return state, make_events(rng, state)


def truth_table(s: State, ev: Events, pid: np.ndarray) -> pa.Table:
    """The generating model's probabilities at the index date, and what then happened, per person."""
    year = INDEX + 365
    hf_visit = (ev.visit_kind == 2) & (ev.visit_start >= INDEX) & (ev.visit_start < year)
    from carelake.synth.events import COND_KEYS

    hf_key = COND_KEYS.index("hf")
    hf_reason = np.zeros(len(ev.visit_person), dtype=bool)
    linked = ev.cond_visit[(ev.cond_key == hf_key) & (ev.cond_visit >= 0)]
    hf_reason[linked] = True
    hf_hosp = np.zeros(s.n, dtype=bool)
    hf_hosp[ev.visit_person[hf_visit & hf_reason]] = True
    at_risk = s.t2d & (s.egfr >= 30)
    untreated = ckd4_risk(s.egfr, s.decline_mean, False)
    treated = ckd4_risk(s.egfr, s.decline_mean, True)
    p_ckd = np.where(s.treated, treated, untreated)
    bound = ckd4_risk_without_frailty(s.egfr, s.decline_mean / np.exp(s.frailty), s.treated)
    nan = np.full(s.n, np.nan)
    # The latent eGFR below 30 (CKD stage 4 or worse) and 15 (end-stage) at the 1-3 year check-up slots.
    bounds = ((30, 1), (30, 2), (30, 3), (15, 1), (15, 2), (15, 3))
    stages = {
        f"p_egfr_below{b}_{k}y": ckd4_risk(s.egfr, s.decline_mean, s.treated, float(k), float(b)) for b, k in bounds
    }
    return pa.table(
        {
            "person_id": pid,
            "person_source_value": pa.array([f"p{i}" for i in pid.tolist()]),
            "index_date": pa.array(np.full(s.n, INDEX, np.int32), pa.date32()),
            "age": np.round(s.age, 2),
            "female": s.female,
            "t2d": s.t2d,
            "htn": s.htn,
            "hf": s.hf,
            "egfr": np.round(s.egfr, 2),
            "hba1c": np.round(s.hba1c, 2),
            "treated_canagliflozin": s.treated,
            "p_hf_hosp_1y": -np.expm1(-s.hf_rate),
            "hf_hosp_1y": hf_hosp,
            "ckd_at_risk": at_risk,
            "p_ckd4_3y": np.where(at_risk, p_ckd, nan),
            "p_ckd4_3y_no_frailty": np.where(at_risk, bound, nan),
            "p_ckd4_3y_untreated": np.where(at_risk, untreated, nan),
            "p_ckd4_3y_treated": np.where(at_risk, treated, nan),
            "ite_canagliflozin_ckd4_3y": np.where(at_risk, treated - untreated, nan),
            "ckd4_3y": pa.array(s.egfr_path[:, LOOKBACK + 3] < 30, mask=~at_risk),
            **stages,
            "gompertz_eta": s.mort_eta,
            "gompertz_b": np.full(s.n, model.GOMPERTZ_B),
            "p_death_1y": 1 - survival(s.mort_eta, 1.0),
            "survival_3y": survival(s.mort_eta, 3.0),
            "death_date": pa.array(np.maximum(s.death, 0).astype(np.int32), pa.date32(), mask=s.death < 0),
            "death_1y": (s.death >= 0) & (s.death < year),
        }
    )


def synthesize(persons: int, seed: int, out: Path, fmt: Format = "omop", *, chunk: int = CHUNK) -> SynthReport:
    """Write `persons` simulated persons under `out` (omop/, fhir/, truth.csv.gz, truth.json)."""
    if persons < 1:
        raise UserError("--persons must be at least 1")
    if fmt not in ("omop", "fhir", "both"):
        raise UserError(f"unknown format {fmt!r}", hint="use omop, fhir or both")
    out.mkdir(parents=True, exist_ok=True)
    csvs: dict[str, CsvGz] = {}
    nd: dict[str, Ndjson] = {}
    if fmt in ("omop", "both"):
        (out / "omop").mkdir(exist_ok=True)
        csvs = {name: CsvGz(out / "omop" / f"{name}.csv.gz", cols) for name, cols in COLUMNS.items()}
        for name in VOCABULARY_FILES:
            shutil.copyfile(VOCABULARY / f"{name}.csv.gz", out / "omop" / f"{name}.csv.gz")
    if fmt in ("fhir", "both"):
        (out / "fhir").mkdir(exist_ok=True)
        nd = {t: Ndjson(out / "fhir" / f"{t}.000.ndjson") for t in RESOURCE_TYPES}
    truth = CsvGz(out / "truth.csv.gz", TRUTH_COLUMNS)
    ids = Ids()
    try:
        for c, first in enumerate(range(0, persons, chunk)):
            n = min(chunk, persons - first)
            state, ev = simulate_chunk(seed, c, n)
            pid = np.arange(first + 1, first + n + 1, dtype=np.int64)
            ids.assign(ev)
            for name, table in (omop_tables(state, ev, pid, ids) if csvs else {}).items():
                csvs[name].write(table)
            for rtype, lines in (fhir_lines(state, ev, pid, ids) if nd else {}).items():
                nd[rtype].write(lines)
            truth.write(truth_table(state, ev, pid))
    finally:
        for w in csvs.values():
            w.close()
        for f in nd.values():
            f.close()
        truth.close()
    meta = {
        "seed": seed,
        "persons": persons,
        "chunk": chunk,
        "index_date": "2021-01-01",
        "end_date": "2024-12-31",
        "gompertz_b": model.GOMPERTZ_B,
        "decline_shape": model.DECLINE_SHAPE,
        "canagliflozin_decline_factor": model.CANAGLIFLOZIN_EFFECT,
        "problems": {
            "p_hf_hosp_1y": "hospitalization for heart failure within 1 year of the index date (absent death)",
            "p_ckd4_3y": "latent eGFR below 30 within 3 years, persons with type 2 diabetes and eGFR >= 30 at index",
            "p_death_1y": "death within 1 year; survival S(t) = exp(-exp(eta) * (exp(b t) - 1) / b)",
            "ite_canagliflozin_ckd4_3y": "risk difference of CKD stage 4 in 3 years, canagliflozin vs none",
        },
        "docs": "docs/simulator.md",
    }
    (out / "truth.json").write_text(json.dumps(meta, indent=2) + "\n")
    rows = {f"omop/{n}": w.rows for n, w in csvs.items()} | {f"fhir/{t}": w.rows for t, w in nd.items()}
    return SynthReport(persons, seed, str(out), rows | {"truth": truth.rows})
