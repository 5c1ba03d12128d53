"""The whole suite: every check DQD's catalogue and carelake's extensions define, each with its SQL probe."""

from __future__ import annotations

from dataclasses import replace

from carelake.quality.catalogue import Check, check_types, matches, spec_rows
from carelake.quality.extensions import extension_types
from carelake.quality.probes import probe_for

__all__ = ["generate_checks"]


def _int(text: str) -> int | None:
    return int(text) if text.strip().lstrip("-").isdigit() else None


def _concept_ids(text: str) -> str | None:
    """DQD's conceptId cell: one id or a comma-separated set (plausibleGenderUseDescendants)."""
    ids = [x.strip() for x in text.split(",") if x.strip()]
    return ",".join(ids) or None


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def generate_checks() -> list[Check]:
    """Every check the catalogue defines (about 2,500 for CDM 5.4), each with its SQL probe."""
    out: list[Check] = []
    for ctype in (*check_types(), *extension_types()):
        for row in spec_rows(ctype.level):
            if not matches(row, ctype.evaluation_filter) or (ctype.extra_filter and not ctype.extra_filter(row)):
                continue
            fld = row.get("cdmFieldName", "").strip('"').lower() or None
            params = {k: v for k, v in row.items() if k.startswith(ctype.name) or k.startswith("fk")}
            params.update({k: row[k] for k in ("standardConceptFieldName", "conceptName") if row.get(k)})
            check = Check(
                type=ctype,
                table=row["cdmTableName"].lower(),
                field=fld if ctype.level != "TABLE" else None,
                concept_id=_concept_ids(row.get("conceptId", "")) if ctype.level == "CONCEPT" else None,
                unit_concept_id=_int(row.get("unitConceptId", "")) if ctype.level == "CONCEPT" else None,
                threshold=_number(row.get(f"{ctype.name}Threshold", "")),
                notes=row.get(f"{ctype.name}Notes") or None,
                params=params,
            )
            out.append(replace(check, probe=probe_for(check)))
    return out
