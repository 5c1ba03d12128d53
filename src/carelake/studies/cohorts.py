"""The study's cohorts in the warehouse: a Circe file is generated under an id of its own, an id must exist.

A cohort given as a file gets the id 1,000,000,000 + (CRC-32 of its JSON text mod 10^9): the same definition always
lands on the same id, so re-running a study replaces its own rows and leaves the user's cohorts (small ids) alone.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from carelake.cohorts import generate
from carelake.errors import ConfigError
from carelake.studies.file import StudyFile
from carelake.studies.spec import CohortRef
from carelake.warehouse import Warehouse, quote

__all__ = ["StudyCohort", "cohort_name", "file_cohort_id", "prepare_cohorts"]

_BASE = 1_000_000_000


@dataclass(frozen=True)
class StudyCohort:
    """A cohort of the study: its role (target, outcome), name, id in `<results>.cohort`, rows and persons."""

    role: str
    name: str
    cohort_id: int
    rows: int
    persons: int
    source: str


def file_cohort_id(text: str) -> int:
    return _BASE + zlib.crc32(text.encode("utf-8")) % _BASE


def cohort_name(ref: CohortRef, fallback: str) -> str:
    """The name a study cohort goes by: its `name:`, else its file's stem, else `fallback`."""
    if ref.name:
        return ref.name
    if ref.cohort:
        return ref.cohort.rsplit("/", 1)[-1].removesuffix(".json")
    return fallback


def prepare_cohorts(wh: Warehouse, sf: StudyFile) -> list[StudyCohort]:
    """Generate the file cohorts, check the given ids have rows; the target first, then each outcome, then a
    multi-state analysis's states and absorbing state (roles target, outcome, state, absorbing)."""
    refs = sf.study.cohort_refs()
    ids: dict[int, tuple[str, str]] = {}
    definitions: dict[int, str] = {}
    for role, keys, ref in refs:
        if ref.cohort is not None:
            path = sf.resolve(ref.cohort)
            if not path.is_file():
                raise ConfigError(
                    f"{sf.path}:{sf.line(*keys, 'cohort') or 1}: {'.'.join(map(str, keys))}.cohort: no cohort file "
                    f"{path}",
                    hint="give a Circe JSON file relative to the study file, or cohort_id of a generated cohort",
                )
            text = path.read_text(encoding="utf-8")
            cid = file_cohort_id(text)
            definitions[cid] = text
            ids[cid] = (role, str(path))
        else:
            assert ref.cohort_id is not None
            ids.setdefault(ref.cohort_id, (role, f"cohort id {ref.cohort_id}"))
    if definitions:
        generate(wh, definitions)
    results = quote(wh.results_schema)
    out: list[StudyCohort] = []
    for role, keys, ref in refs:
        given = file_cohort_id(sf.resolve(ref.cohort).read_text(encoding="utf-8")) if ref.cohort else ref.cohort_id
        assert given is not None
        cid = given
        counts = wh.fetch_arrow(
            f"SELECT COUNT(*) AS n, COUNT(DISTINCT subject_id) AS p FROM {results}.cohort "
            f"WHERE cohort_definition_id = {int(cid)}"
        ).to_pylist()[0]
        rows, persons = int(counts["n"] or 0), int(counts["p"] or 0)
        if ref.cohort_id is not None and rows == 0:
            raise ConfigError(
                f"{sf.path}:{sf.line(*keys, 'cohort_id') or 1}: {'.'.join(map(str, keys))}.cohort_id: cohort "
                f"{cid} has no rows in {wh.results_schema}.cohort",
                hint="generate it first (carelake cohort generate) or give its Circe file as cohort:",
            )
        if role == "target" and rows == 0:
            raise ConfigError(
                f"{sf.path}:{sf.line('target') or 1}: target: the target cohort has no persons in this warehouse",
                hint="check the cohort definition against the data loaded (carelake cohort generate shows attrition)",
            )
        out.append(StudyCohort(role, cohort_name(ref, f"cohort {cid}"), int(cid), rows, persons, ids[int(cid)][1]))
    return out
