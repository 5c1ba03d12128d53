"""How each check type counts violating and denominator rows: a `Probe` per catalogue check.

Semantics follow DataQualityDashboard's SQL templates (inst/sql/sql_server); the few deliberate differences:
isStandardValidConcept also counts concepts whose standard_concept is NULL (DQD issue #626), and DEATH is reduced
to one row per person before joining so that a duplicate death record cannot double-count events.
"""

from __future__ import annotations

from carelake.omop.schema import spec_width, table_by_name
from carelake.quality.catalogue import Check, spec_rows
from carelake.quality.sql import Probe, table_ref

__all__ = ["probe_for"]

_DATE_TYPES = ("date", "datetime")


def _count(cond: str, weight: str = "1") -> str:
    return f"COALESCE(SUM(CASE WHEN {cond} THEN {weight} ELSE 0 END), 0)"


def _literal(value: str, is_date: bool) -> str:
    """A catalogue bound (1850, '19500101', DATEADD(dd,1,GETDATE()), YEAR(GETDATE())+1) as canonical SQL."""
    v = value.strip()
    if v.upper().startswith("DATEADD(DD,1,GETDATE())"):
        return "(CURRENT_DATE + INTERVAL 1 DAY)"
    if v.upper().replace(" ", "") == "YEAR(GETDATE())+1":
        return "(EXTRACT(YEAR FROM CURRENT_DATE) + 1)"
    if is_date:
        digits = v.strip("'")
        return f"DATE '{digits[:4]}-{digits[4:6]}-{digits[6:8]}'"
    return str(float(v)) if "." in v else str(int(v))


def _field_spec(table: str, fld: str) -> dict[str, str]:
    for row in spec_rows("FIELD"):
        if row["cdmTableName"].lower() == table and row["cdmFieldName"].strip('"').lower() == fld:
            return row
    return {}


def _is_pk(table: str, fld: str) -> bool:
    spec = table_by_name(table)
    return spec is not None and spec.schema.primary_key == (fld,)


def _concepts(text: str) -> str:
    return ", ".join(str(int(x)) for x in text.split(",") if x.strip())


def _descendant_ancestors(table: str) -> str:
    ids: list[str] = []
    for row in spec_rows("CONCEPT"):
        if row["cdmTableName"].lower() == table and row.get("plausibleGenderUseDescendants"):
            ids.extend(x.strip() for x in row["conceptId"].split(","))
    return ", ".join(sorted(set(ids)))


def probe_for(check: Check) -> Probe:
    """The SQL probe for a catalogue check, by check type (DQD's template semantics)."""
    name, t, f = check.name, check.table, check.field or ""
    prm = check.params
    ref = table_ref(t)
    col = f"t.{f}"
    ftype = _field_spec(t, f).get("cdmDatatype", "").lower() if f else ""
    as_date = f"CAST({col} AS DATE)"

    def scan(v: str, d: str = "COUNT(*)", *joins: str) -> Probe:
        return Probe(v, d, table=t, joins=tuple(joins))

    if name in ("cdmTable", "cdmField"):
        return Probe("0", "1", table=t, structural=True)
    if name == "measurePersonCompleteness":
        src = f"@cdm.person pp LEFT JOIN (SELECT DISTINCT person_id FROM {ref}) x ON pp.person_id = x.person_id"
        return Probe(_count("x.person_id IS NULL"), "COUNT(*)", source=src)
    if name == "measureConditionEraCompleteness":
        src = (
            "(SELECT DISTINCT person_id FROM @cdm.condition_occurrence) co "
            f"LEFT JOIN (SELECT DISTINCT person_id FROM {ref}) x ON co.person_id = x.person_id"
        )
        return Probe(_count("x.person_id IS NULL"), "COUNT(*)", source=src)
    if name == "measureObservationPeriodOverlap":
        a, b = "a.observation_period", "b.observation_period"
        src = (
            f"(SELECT a.person_id, MAX(CASE WHEN b.person_id IS NULL THEN 0 ELSE 1 END) AS bad FROM {ref} a "
            f"LEFT JOIN {ref} b ON a.person_id = b.person_id AND a.observation_period_id <> b.observation_period_id "
            f"AND (({a}_start_date <= {b}_end_date AND {a}_end_date >= {b}_start_date) "
            f"OR {a}_end_date + INTERVAL 1 DAY = {b}_start_date OR {b}_end_date + INTERVAL 1 DAY = {a}_start_date) "
            "GROUP BY a.person_id) x"
        )
        return Probe("COALESCE(SUM(x.bad), 0)", "COUNT(*)", source=src)
    if name in ("isRequired", "measureValueCompleteness"):
        return scan(_count(f"{col} IS NULL"))
    if name == "cdmDatatype":
        return scan(_count(f"{col} IS NOT NULL AND CAST({col} AS DOUBLE) <> FLOOR(CAST({col} AS DOUBLE))"))
    if name == "isPrimaryKey":
        src = f"(SELECT {f} AS k, COUNT(*) AS n FROM {ref} GROUP BY {f}) g"
        return Probe(_count("g.k IS NOT NULL AND g.n > 1", "g.n"), "COALESCE(SUM(g.n), 0)", source=src)
    if name == "isForeignKey":
        fk_table, fk_field = prm["fkTableName"].lower(), prm["fkFieldName"].lower()
        if fk_table == "concept":
            return scan(_count(f"{col} IS NOT NULL AND c_{f}.concept_id IS NULL"), "COUNT(*)", f"c:{f}")
        unique = "1" if _is_pk(fk_table, fk_field) else "0"
        return scan(
            _count(f"{col} IS NOT NULL AND fk_{f}.{fk_field} IS NULL"),
            "COUNT(*)",
            f"fk:{f}:{fk_table}:{fk_field}:{unique}",
        )
    if name == "fkDomain":
        dom = prm["fkDomain"].replace("'", "''")
        return scan(_count(f"c_{f}.concept_id <> 0 AND c_{f}.domain_id <> '{dom}'"), "COUNT(*)", f"c:{f}")
    if name == "fkClass":
        cls = prm["fkClass"].replace("'", "''")
        return scan(_count(f"c_{f}.concept_id <> 0 AND c_{f}.concept_class_id <> '{cls}'"), "COUNT(*)", f"c:{f}")
    if name == "isStandardValidConcept":
        cond = (
            f"c_{f}.concept_id <> 0 "
            f"AND (COALESCE(c_{f}.standard_concept, '') <> 'S' OR c_{f}.invalid_reason IS NOT NULL)"
        )
        return scan(_count(cond), "COUNT(*)", f"c:{f}")
    if name in ("standardConceptRecordCompleteness", "sourceConceptRecordCompleteness"):
        return scan(_count(f"{col} = 0"))
    if name == "sourceValueCompleteness":
        std = f"t.{prm['standardConceptFieldName'].lower()}"
        v = (
            f"COUNT(DISTINCT CASE WHEN {std} = 0 THEN {col} END) "
            f"+ COALESCE(MAX(CASE WHEN {std} = 0 AND {col} IS NULL THEN 1 ELSE 0 END), 0)"
        )
        d = f"COUNT(DISTINCT {col}) + COALESCE(MAX(CASE WHEN {col} IS NULL THEN 1 ELSE 0 END), 0)"
        return scan(v, d)
    if name in ("plausibleValueLow", "plausibleValueHigh") and check.level == "FIELD":
        is_date = ftype in _DATE_TYPES
        value = as_date if is_date else col
        bound = _literal(prm[name], is_date)
        op = "<" if name == "plausibleValueLow" else ">"
        return scan(_count(f"{value} {op} {bound}"), _count(f"{col} IS NOT NULL"))
    if name == "plausibleTemporalAfter":
        after_table = prm["plausibleTemporalAfterTableName"].lower()
        after_field = prm["plausibleTemporalAfterFieldName"].lower()
        if after_table == t:
            return scan(_count(f"t.{after_field} > {col}"))
        alias = "p" if after_table == "person" else None
        if alias is None:
            raise ValueError(f"plausibleTemporalAfter against {after_table} is not supported")
        return scan(_count(f"p.{after_field} > {col}"), "COUNT(*)", "p")
    if name == "plausibleDuringLife":
        return scan(_count(f"{col} > de.death_date + INTERVAL 60 DAY"), _count("de.person_id IS NOT NULL"), "de")
    if name == "withinVisitDates":
        cond = f"{col} < vo.visit_start_date - INTERVAL 7 DAY OR {col} > vo.visit_end_date + INTERVAL 7 DAY"
        return scan(_count(cond), _count("vo.visit_occurrence_id IS NOT NULL"), "vo")
    if name == "plausibleAfterBirth":
        birth = (
            "COALESCE(CAST(p.birth_datetime AS DATE), "
            "CAST(CAST(p.year_of_birth AS VARCHAR) "
            "|| '-' || LPAD(CAST(COALESCE(p.month_of_birth, 1) AS VARCHAR), 2, '0') "
            "|| '-' || LPAD(CAST(COALESCE(p.day_of_birth, 1) AS VARCHAR), 2, '0') AS DATE))"
        )
        return scan(_count(f"{col} IS NOT NULL AND {as_date} < {birth}"), _count(f"{col} IS NOT NULL"), "p")
    if name == "plausibleBeforeDeath":
        return scan(
            _count(f"{col} IS NOT NULL AND {as_date} > de.death_date + INTERVAL 60 DAY"),
            _count(f"{col} IS NOT NULL AND de.person_id IS NOT NULL"),
            "de",
        )
    if name == "plausibleStartBeforeEnd":
        end = f"t.{prm['plausibleStartBeforeEndFieldName'].lower()}"
        return scan(_count(f"{as_date} > CAST({end} AS DATE)"))
    if name == "withinSpecWidth":
        return scan(_count(f"LENGTH({col}) > {spec_width(t, f)}"), _count(f"{col} IS NOT NULL"))
    if name == "withinObservationPeriod":
        inside = (
            "SELECT 1 FROM @cdm.observation_period op WHERE op.person_id = t.person_id AND "
            f"{col} BETWEEN op.observation_period_start_date AND op.observation_period_end_date"
        )
        # A source of its own (AS t, not t): the correlated subquery stays out of the table's main scan.
        return Probe(
            _count(f"{col} IS NOT NULL AND NOT EXISTS ({inside})"), _count(f"{col} IS NOT NULL"), source=f"{ref} AS t"
        )
    return _concept_probe(check, ref, f)


def _concept_probe(check: Check, ref: str, f: str) -> Probe:
    name, t, prm = check.name, check.table, check.params
    cid = check.concept_id or ""
    if name in ("plausibleGender", "plausibleGenderUseDescendants"):
        gender = 8507 if prm[name] == "Male" else 8532
        if name == "plausibleGender":
            src = (
                f"(SELECT t.{f} AS concept_id, p.gender_concept_id, COUNT(*) AS n FROM {ref} t "
                f"LEFT JOIN @cdm.person p ON t.person_id = p.person_id GROUP BY t.{f}, p.gender_concept_id) g"
            )
        else:
            src = (
                f"(SELECT ca.ancestor_concept_id AS concept_id, p.gender_concept_id, COUNT(*) AS n FROM {ref} t "
                f"JOIN @cdm.concept_ancestor ca ON ca.descendant_concept_id = t.{f} "
                f"LEFT JOIN @cdm.person p ON t.person_id = p.person_id "
                f"WHERE ca.ancestor_concept_id IN ({_descendant_ancestors(t) or cid}) "
                "GROUP BY ca.ancestor_concept_id, p.gender_concept_id) g"
            )
        has = f"g.concept_id IN ({_concepts(cid)})"
        return Probe(_count(f"{has} AND g.gender_concept_id <> {gender}", "g.n"), _count(has, "g.n"), source=src)
    if name == "plausibleUnitConceptIds":
        src = (
            f"(SELECT t.{f} AS concept_id, t.unit_concept_id, COUNT(*) AS n FROM {ref} t "
            "WHERE t.value_as_number IS NOT NULL AND t.unit_source_value IS NOT NULL "
            f"GROUP BY t.{f}, t.unit_concept_id) g"
        )
        units = prm.get("plausibleUnitConceptIds", "")
        bad = f"g.unit_concept_id NOT IN ({_concepts(units)})" if units else "g.unit_concept_id IS NOT NULL"
        has = f"g.concept_id = {int(cid)}"
        return Probe(_count(f"{has} AND {bad}", "g.n"), _count(has, "g.n"), source=src)
    if name in ("plausibleValueLow", "plausibleValueHigh"):
        op = "<" if name == "plausibleValueLow" else ">"
        bound = _literal(prm[name], False)
        has = f"t.{f} = {int(cid)} AND t.unit_concept_id = {check.unit_concept_id} AND t.value_as_number IS NOT NULL"
        return Probe(_count(f"{has} AND t.value_as_number {op} {bound}"), _count(has), table=t)
    raise ValueError(f"no probe for check type {name}")
