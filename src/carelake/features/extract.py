"""`extract(wh, cohort_id)`: covariates computed in the warehouse, returned as a sparse matrix and its reference."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import scipy.sparse as sp

from carelake.features.settings import DEMOGRAPHIC_NAMES, DEMOGRAPHICS, DOMAINS, VISIT_COUNT, WINDOWS, CovariateSettings
from carelake.features.sql import LONG, ROWS, covariate_statements, rows_sql
from carelake.warehouse import Warehouse, quote

__all__ = ["FeatureMatrix", "extract"]

_REFERENCE = pa.schema(
    [
        ("covariate_id", pa.int64()),
        ("covariate_name", pa.string()),
        ("analysis_id", pa.int32()),
        ("analysis_name", pa.string()),
        ("concept_id", pa.int64()),
        ("window", pa.string()),
        ("time_id", pa.int32()),
    ]
)


@dataclass
class FeatureMatrix:
    """Covariates of one cohort.

    `matrix` is CSR, shape (cohort rows, covariates): row i is `rows[i]` (cohort rows ordered by subject_id,
    cohort_start_date, cohort_end_date); column j is `reference[j]` (ordered by covariate_id). Binary features are
    1.0; measurement values hold the value, visit counts the count.
    """

    matrix: sp.csr_matrix
    reference: pa.Table
    rows: pa.Table
    cohort_id: int

    def column(self, covariate_id: int) -> int:
        """The matrix column of a covariate id (KeyError when no row has it)."""
        ids = self.reference.column("covariate_id").to_numpy()
        j = int(np.searchsorted(ids, covariate_id))
        if j >= len(ids) or ids[j] != covariate_id:
            raise KeyError(covariate_id)
        return j

    def save(self, folder: Path) -> None:
        """covariates.npz (scipy), covariate_ref.parquet and rows.parquet in `folder`."""
        folder.mkdir(parents=True, exist_ok=True)
        sp.save_npz(folder / "covariates.npz", self.matrix)
        pq.write_table(self.reference, folder / "covariate_ref.parquet")
        pq.write_table(self.rows, folder / "rows.parquet")


def _analysis_names() -> dict[int, tuple[str, str]]:
    """analysis id -> (FeatureExtraction-style name, window key)."""
    names: dict[int, tuple[str, str]] = {
        aid: (f"Demographics{k.title().replace('_', '')}", "") for k, aid in DEMOGRAPHICS.items()
    }
    for d in DOMAINS.values():
        table = d.table.title().replace("_", "")
        for w, off in WINDOWS.items():
            wt = w.title().replace("_", "")
            names[d.base + off] = (f"{table}{wt}", w)
            if d.group_base is not None:
                names[d.group_base + off] = (f"{d.name.title()}Group{wt}", w)
            if d.name == "measurement":
                names[704 + off] = (f"MeasurementValue{wt}", w)
                names[708 + off] = (f"MeasurementRangeGroup{wt}", w)
    for w, aid in VISIT_COUNT.items():
        names[aid] = (f"VisitCount{w.title().replace('_', '')}", w)
    return names


_RANGE = {1: "below normal range", 2: "within normal range", 3: "above normal range"}


def _name(analysis: str, concept: str, detail: int | None, unit: str, window: str) -> str:
    if analysis.startswith("Demographics"):
        label = re.sub(r"(?<!^)([A-Z])", r" \1", analysis.removeprefix("Demographics")).lower()
        if label == "age group" and detail is not None:
            return f"age group: {detail * 5:>3} - {detail * 5 + 4:>3}"
        return f"{label} = {concept if concept else detail}"
    span = f" during day {window} relative to index"
    if analysis.startswith("MeasurementValue"):
        return f"measurement value{span}: {concept} ({unit or 'no unit'})"
    if analysis.startswith("MeasurementRangeGroup"):
        return f"measurement {_RANGE.get(detail or 0, '?')}{span}: {concept}"
    if analysis.startswith("VisitCount"):
        return f"visit count{span}"
    return f"{analysis}{span}: {concept}"


def _reference(wh: Warehouse, settings: CovariateSettings) -> pa.Table:
    cdm = quote(wh.cdm_schema)
    raw = wh.fetch_arrow(
        "SELECT x.covariate_id, x.analysis_id, x.concept_id, x.detail, x.time_id, c.concept_name, "
        "u.concept_name AS unit "
        "FROM (SELECT covariate_id, MIN(analysis_id) AS analysis_id, MIN(concept_id) AS concept_id, "
        "MIN(detail) AS detail, MIN(time_id) AS time_id, CASE WHEN MIN(analysis_id) IN (1, 4, 5) "
        "OR MIN(analysis_id) > 7 THEN MIN(concept_id) END AS name_concept, CASE WHEN MIN(analysis_id) "
        f"IN (705, 706, 707, 708) THEN MIN(detail) END AS unit_concept FROM {LONG} GROUP BY covariate_id) x "
        f"LEFT JOIN {cdm}.concept c ON c.concept_id = x.name_concept "
        f"LEFT JOIN {cdm}.concept u ON u.concept_id = x.unit_concept "
        "ORDER BY x.covariate_id"
    ).to_pylist()
    names = _analysis_names()
    out: dict[str, list[object]] = {f.name: [] for f in _REFERENCE}
    for r in raw:
        analysis, wkey = names.get(int(r["analysis_id"]), (str(r["analysis_id"]), ""))
        time_id = int(r["time_id"] or 0)
        if time_id:
            start, end = settings.temporal_windows[time_id - 1]
            window = f"{start}..{end}"
        else:
            window = settings.window_label(wkey) if wkey else ""
        cid = int(r["concept_id"] or 0)
        concept = str(r["concept_name"] or DEMOGRAPHIC_NAMES.get(cid) or (cid or ""))
        detail = None if r["detail"] is None else int(r["detail"])
        out["covariate_id"].append(int(r["covariate_id"]))
        out["covariate_name"].append(_name(analysis, concept, detail, str(r["unit"] or ""), window))
        out["analysis_id"].append(int(r["analysis_id"]))
        out["analysis_name"].append(analysis)
        out["concept_id"].append(int(r["concept_id"] or 0))
        out["window"].append(window)
        out["time_id"].append(time_id)
    return pa.table(out, schema=_REFERENCE)


def extract(wh: Warehouse, cohort_id: int, settings: CovariateSettings | None = None) -> FeatureMatrix:
    """Covariates for every row of cohort `cohort_id` in `<results>.cohort`, computed in the warehouse.

    Only the nonzero entries and the covariate reference leave the warehouse, so memory follows the number of
    features present, not cohort rows x covariates.
    """
    settings = settings or CovariateSettings()
    cdm = quote(wh.cdm_schema)
    for statement in rows_sql(quote(wh.results_schema), cohort_id):
        wh.execute(statement)
    has_ancestors = bool(wh.fetch_scalar(f"SELECT COUNT(*) FROM (SELECT 1 FROM {cdm}.concept_ancestor LIMIT 1) a"))
    for statement in covariate_statements(settings, cdm, has_ancestors=has_ancestors):
        wh.execute(statement)
    rows = wh.fetch_arrow(
        f"SELECT row_id, person_id, index_date AS cohort_start_date, end_date AS cohort_end_date "
        f"FROM {ROWS} ORDER BY row_id"
    )
    reference = _reference(wh, settings)
    long = wh.fetch_arrow(f"SELECT row_id, covariate_id, covariate_value FROM {LONG}")
    ids = reference.column("covariate_id").to_numpy()
    cols = np.searchsorted(ids, long.column("covariate_id").to_numpy())
    matrix = sp.csr_matrix(
        (
            long.column("covariate_value").to_numpy().astype(np.float64),
            (long.column("row_id").to_numpy(), cols),
        ),
        shape=(rows.num_rows, len(ids)),
    )
    for table in (LONG, ROWS):
        wh.execute(f"DROP TABLE IF EXISTS {table}")
    return FeatureMatrix(matrix, reference, rows, cohort_id)
