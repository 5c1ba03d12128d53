"""A saved model directory: everything needed to score persons elsewhere, in files that are safe to open.

    model.json           format, carelake version, model type, parameters, the covariate ids of its columns, for
                         a linear model its intercept and nonzero coefficients, and for a survival model the
                         baseline cumulative hazard (time in days, H0)
    model.txt            a tree model, in LightGBM's own text format (competing.txt: a competing-risks model's
                         hazard of the competing event, whose baseline model.json holds under "competing")
    covariate_ref.csv    the covariates' ids and names (what each column means)
    study.yaml           the study file that made it, and the cohort files it names under cohorts/
    provenance.json      where the training data came from (engine, CDM source, row counts, time)

Nothing is unpickled: JSON is parsed, and LightGBM's text is read by LightGBM's parser. A directory written in a
different format is refused with both versions named.
"""

from __future__ import annotations

import csv
import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

import carelake
from carelake.errors import ConfigError
from carelake.models.risk import LinearRisk, RiskModel, TreeRisk
from carelake.models.survival import CompetingRisk, SurvivalRisk

__all__ = ["FORMAT", "SavedModel", "load_model", "save_model"]

log = logging.getLogger(__name__)

FORMAT = 1  # raise when what model.json holds changes meaning


@dataclass(frozen=True)
class SavedModel:
    """A loaded model directory."""

    path: Path
    risk: RiskModel | SurvivalRisk | CompetingRisk
    covariate_names: dict[int, str]
    meta: dict[str, Any]
    provenance: dict[str, Any]

    @property
    def study_file(self) -> Path:
        return self.path / "study.yaml"


def save_model(
    folder: Path,
    model: RiskModel | SurvivalRisk | CompetingRisk,
    reference: pa.Table,
    *,
    study_file: Path,
    cohort_files: dict[str, Path],
    provenance: dict[str, Any],
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write `model` and what it needs into `folder` (replaced if it exists)."""
    risk = model if isinstance(model, LinearRisk | TreeRisk) else model.score_model
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    meta: dict[str, Any] = {
        "format": FORMAT,
        "carelake_version": carelake.__version__,
        "model_type": risk.model_type,
        "params": risk.params,
        "covariate_ids": [int(c) for c in risk.covariate_ids],
        **(extra or {}),
    }
    if isinstance(model, SurvivalRisk):
        meta["survival"] = model.to_json()
    if isinstance(model, CompetingRisk):
        meta["survival"] = model.outcome.to_json()
        meta["competing"] = {"params": model.competing.params, "survival": model.competing.to_json(),
                             **_score_json(folder, model.competing.score_model, "competing.txt")}  # fmt: skip
    meta.update(_score_json(folder, risk, "model.txt"))
    (folder / "model.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    with (folder / "covariate_ref.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(reference.column_names)
        w.writerows(zip(*(reference.column(c).to_pylist() for c in reference.column_names), strict=True))
    shutil.copyfile(study_file, folder / "study.yaml")
    for relative, source in cohort_files.items():
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    (folder / "provenance.json").write_text(json.dumps(provenance, indent=1) + "\n", encoding="utf-8")
    return folder


def _score_json(folder: Path, risk: RiskModel, tree_file: str) -> dict[str, Any]:
    """A score model as model.json holds it: coefficients inline, or trees in `tree_file` beside it."""
    if isinstance(risk, LinearRisk):
        return {"linear": risk.to_json()}
    (folder / tree_file).write_text(risk.text, encoding="utf-8")
    return {"trees": tree_file}


def _score_from(path: Path, part: dict[str, Any], meta: dict[str, Any], ids: np.ndarray) -> RiskModel:
    """The score model `part` of model.json describes (its own dict, or the competing one's)."""
    if "linear" in part:
        coef = np.zeros(ids.size)
        pos = {int(c): j for j, c in enumerate(ids)}
        for item in part["linear"]["coefficients"]:
            coef[pos[int(item["covariate_id"])]] = float(item["coefficient"])
        return LinearRisk(meta["model_type"], meta["params"], ids, float(part["linear"]["intercept"]), coef)
    if "trees" in part:
        text_file = path / str(part["trees"])
        if not text_file.is_file():
            raise _refuse(path, f"the tree model {text_file.name} is missing", "copy the whole model folder")
        return TreeRisk(meta["model_type"], meta["params"], ids, text_file.read_text(encoding="utf-8"))
    raise _refuse(path, "model.json holds neither a linear model nor trees", "re-run the study")


def _baseline(risk: RiskModel, part: dict[str, Any]) -> SurvivalRisk:
    return SurvivalRisk(risk, np.asarray(part["baseline_time"], dtype=np.float64),
                        np.asarray(part["baseline_cumulative_hazard"], dtype=np.float64))  # fmt: skip


def _refuse(folder: Path, message: str, hint: str) -> ConfigError:
    return ConfigError(f"{folder}: {message}", hint=hint)


def load_model(folder: str | Path) -> SavedModel:
    """Read a model directory written by `save_model`; a clear error for anything else."""
    path = Path(folder)
    meta_file = path / "model.json"
    if not meta_file.is_file():
        raise _refuse(
            path,
            "not a carelake model directory (no model.json)",
            "give the model folder a study run wrote (OUT/<analysis>/model)",
        )
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise _refuse(path, f"model.json is not valid JSON (line {e.lineno}): {e.msg}", "re-run the study") from e
    fmt, version = meta.get("format"), meta.get("carelake_version", "unknown")
    if fmt != FORMAT:
        raise _refuse(
            path,
            f"model format {fmt} written by carelake {version}; this is carelake {carelake.__version__}, which reads "
            f"format {FORMAT}",
            f"re-run the study with carelake {carelake.__version__}, or score with carelake {version}",
        )
    if version != carelake.__version__:
        log.warning(
            "%s was written by carelake %s; this is %s (same model format)", path, version, carelake.__version__
        )
    ids = np.asarray(meta.get("covariate_ids", []), dtype=np.int64)
    risk = _score_from(path, meta, meta, ids)
    model: RiskModel | SurvivalRisk | CompetingRisk = risk
    if "survival" in meta:
        model = _baseline(risk, meta["survival"])
    if "competing" in meta and isinstance(model, SurvivalRisk):
        other = meta["competing"]
        own = {**meta, "params": other.get("params", meta["params"])}
        model = CompetingRisk(model, _baseline(_score_from(path, other, own, ids), other["survival"]))
    names: dict[int, str] = {}
    ref = path / "covariate_ref.csv"
    if ref.is_file():
        with ref.open(newline="", encoding="utf-8") as f:
            names = {int(r["covariate_id"]): r["covariate_name"] for r in csv.DictReader(f)}
    prov_file = path / "provenance.json"
    prov = json.loads(prov_file.read_text(encoding="utf-8")) if prov_file.is_file() else {}
    return SavedModel(path, model, names, meta, prov)
