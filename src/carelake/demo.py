"""The main job, end to end on embedded DuckDB: the whole path from health records to a prediction report.

simulate persons with known truth → FHIR Bulk NDJSON → `load fhir` (stage and harmonize to OMOP, with the
simulator's vocabulary) → data quality (DataQualityDashboard checks, dashboard) → the example study's cohorts →
characterization of the target cohort → the example prediction study (models, evaluation, report) → one index
page linking the three pages. The study file and cohort JSON it runs ship in carelake/data/example_study: the
example a user copies.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import carelake
from carelake.characterize import TimeAtRisk, characterize
from carelake.harmonize.load import load_fhir
from carelake.omop.vocabulary import load_vocabulary
from carelake.privacy.disclosure import DisclosureRule
from carelake.quality.report import run_quality
from carelake.reports import Page, publish, write_characterization, write_dashboard
from carelake.studies import load_study
from carelake.studies.run import run_study
from carelake.synth import synthesize
from carelake.warehouse import Warehouse

__all__ = ["DEMO_PERSONS", "EXAMPLE_STUDY", "DemoResult", "run_demo"]

EXAMPLE_STUDY = Path(carelake.__file__).parent / "data" / "example_study" / "study.yaml"
VOCABULARY = Path(carelake.__file__).parent / "synth" / "vocabulary"
DEMO_PERSONS = 20_000


@dataclass
class DemoResult:
    """The headline of a demo run, and where its pages are."""

    persons: int
    quality: dict[str, int]
    cohorts: dict[str, int | None]
    analyses: list[dict[str, Any]]
    pages: dict[str, str]
    seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        best = [a for a in self.analyses if a.get("best")]
        return {
            "persons": self.persons,
            "quality": self.quality,
            "cohorts": self.cohorts,
            "test_auroc": {a["outcome"]: a["test_auroc"] for a in best},
            "calibration_slope": {a["outcome"]: a["calibration_slope"] for a in best},
            "analyses": self.analyses,
            "report": self.pages["index"],
            "pages": self.pages,
            "seconds": {k: round(v, 2) for k, v in self.seconds.items()},
        }


def _index(out: Path, result: DemoResult, rule: DisclosureRule) -> Path:
    page = Page("carelake demo: from health records to a prediction report",
                f"{result.persons:,} simulated persons (known truth), as FHIR, harmonized to OMOP CDM 5.4 on "
                f"embedded DuckDB; counts below {rule.min_cell_count} are withheld.")  # fmt: skip
    links = [
        (result.pages["quality"], "Data quality dashboard", "DataQualityDashboard checks on the harmonized CDM"),
        (result.pages["characterization"], "Characterization", "Table 1, incidence and Kaplan-Meier of death"),
        (result.pages["study"], "Prediction study report", "models, evaluation, model card, TRIPOD+AI"),
    ]
    items = "".join(
        f'<li><a href="{Path(href).relative_to(out).as_posix()}">{title}</a>: {text}</li>'
        for href, title, text in links
    )
    page.raw(f"<ul>{items}</ul>")
    q = result.quality
    page.heading("Data quality")
    page.table(["checks", "passed", "failed", "not applicable"],
               [[q.get("total"), q.get("passed"), q.get("failed"), q.get("not_applicable")]])  # fmt: skip
    page.heading("Cohorts")
    page.table(["cohort", "persons"], [[k, v] for k, v in result.cohorts.items()])
    page.heading("Prediction")
    page.table(["outcome", "model", "test AUROC", "calibration slope", "best"],
               [[a["outcome"], a["model"], a["test_auroc"], a["calibration_slope"], bool(a.get("best"))]
                for a in result.analyses])  # fmt: skip
    page.heading("Time")
    page.table(["stage", "seconds"], [[k, round(v, 1)] for k, v in result.seconds.items()])
    return page.write(out / "index.html")


def run_demo(
    wh: Warehouse,
    out: Path,
    *,
    persons: int = DEMO_PERSONS,
    seed: int = 1,
    rule: DisclosureRule | None = None,
    progress: Callable[[str], None] | None = None,
) -> DemoResult:
    """Run the whole path into `wh` (replacing what a demo loaded before) and write the pages under `out`."""
    say = progress or (lambda _m: None)
    rule = rule or DisclosureRule()
    seconds: dict[str, float] = {}
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)

    def stage(name: str, started: float) -> None:
        seconds[name] = time.perf_counter() - started

    t = time.perf_counter()
    say(f"simulating {persons:,} persons as FHIR Bulk NDJSON")
    synthesize(persons, seed, out / "data", "fhir")
    stage("simulate", t)
    t = time.perf_counter()
    say("loading the vocabulary and the FHIR resources (harmonize to OMOP)")
    load_vocabulary(wh, sorted(VOCABULARY.glob("*.csv.gz")), mode="replace")
    load_fhir(wh, [out / "data" / "fhir"])
    stage("load fhir", t)
    t = time.perf_counter()
    say("data quality checks")
    quality = run_quality(wh, out / "quality", min_cell_count=rule)
    stage("quality", t)
    t = time.perf_counter()
    say("prediction study: cohorts, population, covariates, models, evaluation")
    run = run_study(wh, load_study(EXAMPLE_STUDY), progress=lambda m: say(f"study: {m}"))
    stage("study", t)
    t = time.perf_counter()
    say("characterization and pages")
    target = run.cohorts[0]
    death = next(c for c in run.cohorts if c.name == "Death")
    chars = characterize(wh, [target.cohort_id], outcome_id=death.cohort_id, tar=TimeAtRisk(0, 364),
                         min_cell_count=rule)  # fmt: skip
    char_paths = write_characterization(chars, out / "characterization")
    results = publish(run, out / "study", rule)
    counts = quality.run.counts()
    best = set(results["best"])
    result = DemoResult(
        persons=persons,
        quality={
            "total": len(quality.run.results),
            "passed": counts.get("passed", 0),
            "failed": counts.get("failed", 0),
            "errors": counts.get("error", 0),
            "not_applicable": counts.get("not applicable", 0),
        },
        cohorts={c["name"]: c["persons"] for c in results["cohorts"]},
        analyses=[a | {"best": a["analysis"] in best} for a in results["analyses"]],
        pages={
            "quality": str(write_dashboard(quality)),
            "characterization": str(char_paths["html"]),
            "study": str(results["report"]),
            "index": str(out / "index.html"),
        },
        seconds=seconds,
    )
    stage("pages", t)
    _index(out, result, rule)
    return result
