"""The accounting of a harmonization run: every record read is counted in exactly one outcome.

Written (per OMOP table), skipped (with the reason: subject not a loaded Patient, entered-in-error and similar
statuses, no mapping for the type) or rejected (a required field missing). All counted by SQL over the stage
tables, nothing estimated; `HarmonizeReport.balanced` checks that the outcomes add up to what was read.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from carelake.harmonize.dates import date_reason
from carelake.harmonize.manifest import STAGE_TABLES, TARGETS, mapped_resource_types
from carelake.harmonize.stage import Stage

__all__ = ["HarmonizeReport", "account"]


@dataclass
class HarmonizeReport:
    """Per resource type: read, written (per OMOP table), skipped and rejected (per reason)."""

    read: Counter[str] = field(default_factory=Counter)
    written: dict[str, Counter[str]] = field(default_factory=dict)
    skipped: dict[str, Counter[str]] = field(default_factory=dict)
    rejected: dict[str, Counter[str]] = field(default_factory=dict)
    rows: Counter[str] = field(default_factory=Counter)
    # Per vocabulary (or code system URI when it has none): codes seen, mapped to a source concept, to a standard one.
    coverage: dict[str, dict[str, int]] = field(default_factory=dict)
    top_unmapped: list[dict[str, Any]] = field(default_factory=list)

    def balanced(self, resource_type: str) -> bool:
        """read = written + skipped + rejected."""
        total = sum(self.written.get(resource_type, Counter()).values())
        total += sum(self.skipped.get(resource_type, Counter()).values())
        total += sum(self.rejected.get(resource_type, Counter()).values())
        return total == self.read[resource_type]

    def to_dict(self) -> dict[str, Any]:
        return {
            "resources": {
                t: {
                    "read": self.read[t],
                    "written": dict(self.written.get(t, {})),
                    "skipped": dict(self.skipped.get(t, {})),
                    "rejected": dict(self.rejected.get(t, {})),
                }
                for t in sorted(self.read)
            },
            "omop_rows": dict(self.rows),
            "vocabulary_coverage": self.coverage,
            "top_unmapped_codes": self.top_unmapped,
        }


def account(stage: Stage, report: HarmonizeReport) -> None:
    """Count every resource read into exactly one outcome (SQL over the stage tables, nothing estimated)."""
    mapped = mapped_resource_types()
    wh, s = stage.warehouse, stage.schema
    for name, n in report.read.items():
        if name not in mapped:
            report.skipped[name] = Counter({"no OMOP mapping for this resource type yet": n})
    if report.read.get("Medication"):
        # Medications are not rows of their own: their codes go into the drug exposures that reference them.
        report.skipped["Medication"] = Counter(
            {"read for the code of the medications that reference it": report.read["Medication"]}
        )
    p = stage.count
    report.written["Patient"] = Counter({"person": p(f"SELECT count(*) FROM {s}.patient WHERE birth_date IS NOT NULL")})
    report.rejected["Patient"] = Counter(
        {
            "no birthDate (person.year_of_birth is required)": p(
                f"SELECT count(*) FROM {s}.patient WHERE birth_date IS NULL"
            )
        }
    )
    loaded = f"(SELECT source_id FROM {stage.id_map} WHERE kind = 'person')"
    report.written["Encounter"] = Counter({"visit_detail+visit_occurrence": p(
        f"SELECT count(*) FROM {s}.encounter WHERE patient_id IN {loaded} AND start IS NOT NULL "
        "AND status IS DISTINCT FROM 'entered-in-error'")})  # fmt: skip
    report.skipped["Encounter"] = Counter({
        "subject is not a loaded Patient": p(f"SELECT count(*) FROM {s}.encounter WHERE patient_id NOT IN {loaded} "
                                             "OR patient_id IS NULL"),
        "status entered-in-error": p(f"SELECT count(*) FROM {s}.encounter WHERE patient_id IN {loaded} "
                                     "AND status = 'entered-in-error'"),
    })  # fmt: skip
    report.rejected["Encounter"] = Counter({"no period.start": p(
        f"SELECT count(*) FROM {s}.encounter WHERE patient_id IN {loaded} AND start IS NULL "
        "AND status IS DISTINCT FROM 'entered-in-error'")})  # fmt: skip
    _account_events(stage, report)
    _account_notes(stage, report, loaded)
    _account_bad_dates(stage, report)
    for entry in STAGE_TABLES:
        if entry.written_to and entry.resource_type:
            count = p(f"SELECT count(*) FROM {s}.{entry.name}")
            report.written[entry.resource_type] = Counter({entry.written_to: count})
    _coverage(stage, report)
    for table in TARGETS:
        report.rows[table] = wh.row_count(wh.cdm_schema, table)
    for kinds in (report.written, report.skipped, report.rejected):
        for rtype in list(kinds):
            kinds[rtype] = Counter({k: v for k, v in kinds[rtype].items() if v})


def _account_events(stage: Stage, report: HarmonizeReport) -> None:
    """Each event resource lands in the table(s) of its code's domain, or is skipped or rejected with a reason
    (an event's person_id is NULL when its subject is no loaded Patient)."""
    s = stage.schema
    # Counted in the warehouse: one row per (type, tables), not one per resource brought into Python.
    rows = stage.warehouse.fetch_arrow(
        f"""SELECT resource_type, tables, count(*) AS n
            FROM (SELECT resource_type, CASE WHEN min(target_table) = max(target_table) THEN min(target_table)
                         ELSE min(target_table) || '+' || max(target_table) END AS tables
                  FROM {s}.event_ready GROUP BY resource_type, resource_id) AS per_resource
            GROUP BY resource_type, tables"""
    ).to_pylist()
    for row in rows:
        report.written.setdefault(row["resource_type"], Counter())[row["tables"]] += int(row["n"])
    outcomes = stage.warehouse.fetch_arrow(
        f"""SELECT resource_type, CASE
                 WHEN person_id IS NULL THEN 'skipped:subject is not a loaded Patient'
                 WHEN skip_reason IS NOT NULL THEN 'skipped:' || skip_reason
                 WHEN NOT dates_ok THEN 'rejected:{date_reason("its start or end date")}'
                 WHEN resource_type = 'AllergyIntolerance' THEN 'rejected:no date (onsetDateTime or recordedDate)'
                 ELSE 'rejected:no date (onset, performed, authoredOn, occurrence, effective or manufactureDate)'
               END AS outcome,
               count(DISTINCT resource_id) AS n
            FROM {s}.event
            WHERE person_id IS NULL OR skip_reason IS NOT NULL OR start_text IS NULL OR NOT dates_ok
            GROUP BY 1, 2"""
    ).to_pylist()
    for row in outcomes:
        kind, _, reason = str(row["outcome"]).partition(":")
        target = report.skipped if kind == "skipped" else report.rejected
        target.setdefault(row["resource_type"], Counter())[reason] += int(row["n"])


def _account_bad_dates(stage: Stage, report: HarmonizeReport) -> None:
    """Records of the checked stage tables set aside for a date that is not real (one reason per field)."""
    for row in stage.warehouse.fetch_arrow(
        f"""SELECT resource_type, min(field) AS field, count(*) AS n
            FROM (SELECT resource_type, id, min(field) AS field FROM {stage.schema}.bad_date GROUP BY 1, 2) AS r
            GROUP BY resource_type, field"""
    ).to_pylist():
        reason = date_reason(str(row["field"]))
        report.rejected.setdefault(str(row["resource_type"]), Counter())[reason] += int(row["n"])


def _account_notes(stage: Stage, report: HarmonizeReport, loaded: str) -> None:
    """Each DocumentReference is one note, or skipped or rejected with the reason (one outcome per resource)."""
    rows = stage.warehouse.fetch_arrow(
        f"""SELECT CASE
                 WHEN patient_id IS NULL OR patient_id NOT IN {loaded} THEN 'skipped:subject is not a loaded Patient'
                 WHEN status = 'entered-in-error' THEN 'skipped:status entered-in-error'
                 WHEN date_text IS NULL THEN 'rejected:no date (date or context.period.start)'
                 WHEN data_kind IS NULL THEN 'rejected:no text/plain attachment with data (note_text is required)'
                 WHEN data_kind = 'invalid' THEN 'rejected:attachment data is not base64'
                 ELSE 'written:note' END AS outcome, count(*) AS n
            FROM {stage.schema}.note_source GROUP BY 1"""
    ).to_pylist()
    kinds = {"written": report.written, "skipped": report.skipped, "rejected": report.rejected}
    for row in rows:
        kind, _, reason = str(row["outcome"]).partition(":")
        kinds[kind].setdefault("DocumentReference", Counter())[reason] += int(row["n"])


def _coverage(stage: Stage, report: HarmonizeReport, top: int = 20) -> None:
    """Mapped share per vocabulary and the most frequent codes without a concept: what to add to the vocabulary."""
    s = stage.schema
    vocab = "coalesce(cs.vocabulary_id, e.code_system, '(no system)')"
    for row in stage.warehouse.fetch_arrow(
        f"""SELECT {vocab} AS vocabulary, count(*) AS codes,
                   sum(CASE WHEN cm.source_concept_id <> 0 THEN 1 ELSE 0 END) AS source_mapped,
                   sum(CASE WHEN cm.concept_id <> 0 THEN 1 ELSE 0 END) AS standard_mapped
            FROM {s}.event AS e
            JOIN {s}.code_map AS cm
              ON cm.system_key = coalesce(e.code_system, '') AND cm.code_key = coalesce(e.code, '')
            LEFT JOIN {s}.code_system AS cs ON cs.system = e.code_system
            GROUP BY 1 ORDER BY 2 DESC"""
    ).to_pylist():
        report.coverage[str(row["vocabulary"])] = {
            k: int(row[k]) for k in ("codes", "source_mapped", "standard_mapped")
        }
    report.top_unmapped = stage.warehouse.fetch_arrow(
        f"""SELECT {vocab} AS vocabulary, e.code, count(*) AS n
            FROM {s}.event AS e
            JOIN {s}.code_map AS cm
              ON cm.system_key = coalesce(e.code_system, '') AND cm.code_key = coalesce(e.code, '')
            LEFT JOIN {s}.code_system AS cs ON cs.system = e.code_system
            WHERE cm.concept_id = 0 GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT {top}"""
    ).to_pylist()
