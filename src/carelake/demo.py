"""The main job, end to end on the bundled sample: create a warehouse, load it, summarise what is there."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from carelake.omop.info import WarehouseInfo, describe
from carelake.omop.loader import LoadReport, Progress, load_files
from carelake.warehouse import Warehouse, quote

__all__ = ["DemoResult", "run_demo", "sample_path"]


def sample_path(stack: ExitStack) -> Path:
    """The bundled Synthea27Nj CSV folder, as a real path for as long as `stack` is open."""
    return stack.enter_context(resources.as_file(resources.files("carelake").joinpath("data/synthea27nj")))


@dataclass
class DemoResult:
    load: LoadReport
    info: WarehouseInfo
    persons_by_gender: dict[str, int] = field(default_factory=dict)
    top_conditions: list[tuple[str, int]] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {
            "load": self.load.to_dict(),
            "info": self.info.to_dict(),
            "persons_by_gender": self.persons_by_gender,
            "top_conditions": [{"condition": c, "persons": n} for c, n in self.top_conditions],
        }


def run_demo(wh: Warehouse, *, progress: Progress | None = None) -> DemoResult:
    """Load the sample (replacing what the demo loaded before) and compute a first look at it."""
    with ExitStack() as stack:
        report = load_files(wh, [sample_path(stack)], mode="replace", progress=progress)
    cdm = quote(wh.cdm_schema)
    genders = wh.fetch_arrow(
        # 8507/8532 are OMOP's fixed MALE/FEMALE concepts; a vocabulary subset may lack their rows.
        f"SELECT COALESCE(c.concept_name, CASE p.gender_concept_id WHEN 8507 THEN 'MALE' WHEN 8532 THEN 'FEMALE' "
        f"ELSE 'concept ' || CAST(p.gender_concept_id AS VARCHAR) END) AS gender, "
        f"COUNT(*) AS n FROM {cdm}.person p LEFT JOIN {cdm}.concept c ON c.concept_id = p.gender_concept_id "
        f"GROUP BY 1 ORDER BY 2 DESC, 1"
    ).to_pylist()
    conditions = wh.fetch_arrow(
        f"SELECT c.concept_name AS name, COUNT(DISTINCT o.person_id) AS n "
        f"FROM {cdm}.condition_occurrence o JOIN {cdm}.concept c ON c.concept_id = o.condition_concept_id "
        f"GROUP BY c.concept_name ORDER BY n DESC, name LIMIT 5"
    ).to_pylist()
    return DemoResult(
        load=report,
        info=describe(wh),
        persons_by_gender={str(r["gender"]): int(r["n"]) for r in genders},
        top_conditions=[(str(r["name"]), int(r["n"])) for r in conditions],
    )
