"""Athena vocabulary downloads: tab-separated, dates as YYYYMMDD, and quotes that are text, not quoting."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from carelake.omop.loader import LoadMode, LoadReport, Progress, load_files
from carelake.omop.reader import OnError
from carelake.omop.schema import CdmTable
from carelake.warehouse import Warehouse

__all__ = ["VOCABULARY_TABLES", "load_vocabulary"]

VOCABULARY_TABLES = frozenset(
    {
        "concept",
        "concept_ancestor",
        "concept_class",
        "concept_relationship",
        "concept_synonym",
        "domain",
        "drug_strength",
        "relationship",
        "source_to_concept_map",
        "vocabulary",
    }
)


def _is_vocabulary(table: CdmTable) -> bool:
    return table.name in VOCABULARY_TABLES


def load_vocabulary(
    wh: Warehouse,
    paths: Sequence[Path],
    *,
    mode: LoadMode = "replace",
    on_error: OnError = "raise",
    rejects_path: Path | None = None,
    progress: Progress | None = None,
    strict: bool = False,
) -> LoadReport:
    """Load an Athena export. Default mode is replace: a new vocabulary release supersedes the old one.

    Athena writes concept names with bare double quotes inside tab-separated fields, so tab files are read with
    quoting off; CONCEPT_CPT4.csv and the cpt4 tooling are not tables and are reported, not loaded.
    """
    return load_files(
        wh,
        paths,
        mode=mode,
        on_error=on_error,
        rejects_path=rejects_path,
        allowed=_is_vocabulary,
        quoting=False,
        progress=progress,
        strict=strict,
        not_tables={"concept_cpt4": "CPT4 names come from the UMLS (run Athena's cpt4 tool); not a CDM table"},
    )
