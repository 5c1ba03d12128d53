-- Encounter → visit_occurrence; Encounter.class gives the visit concept (ETL-Synthea's table).
INSERT INTO {cdm}.visit_occurrence (
  visit_occurrence_id, person_id, visit_concept_id, visit_start_date, visit_start_datetime, visit_end_date,
  visit_end_datetime, visit_type_concept_id, provider_id, care_site_id, visit_source_value, visit_source_concept_id
)
SELECT
  v.omop_id,
  p.omop_id,
  coalesce(c.concept_id, 0),
  CAST(substr(e.start, 1, 10) AS DATE),
  CAST(replace(substr(e.start, 1, 19), 'T', ' ') AS TIMESTAMP),
  CAST(substr(coalesce(e."end", e.start), 1, 10) AS DATE),
  CAST(replace(substr(coalesce(e."end", e.start), 1, 19), 'T', ' ') AS TIMESTAMP),
  32817,
  pr.omop_id,
  cs.omop_id,
  e.id,
  0
FROM {stage}.encounter AS e
JOIN {map} AS p ON p.kind = 'person' AND p.source_id = e.patient_id
JOIN {map} AS v ON v.kind = 'visit_occurrence' AND v.source_id = e.id
LEFT JOIN {stage}.fixed_concept AS c ON c.value_set = 'visit' AND c.code = upper(e.class_code)
LEFT JOIN {map} AS pr ON pr.kind = 'provider' AND pr.source_id = e.practitioner_id
LEFT JOIN {map} AS cs ON cs.kind = 'care_site' AND cs.source_id = e.organization_id
WHERE e.start IS NOT NULL AND e.status IS DISTINCT FROM 'entered-in-error'
