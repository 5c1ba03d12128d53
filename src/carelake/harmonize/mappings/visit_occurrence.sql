-- Visits (merged in visit.prepare.sql) → visit_occurrence; each encounter → visit_detail under its visit.
INSERT INTO {cdm}.visit_occurrence (
  visit_occurrence_id, person_id, visit_concept_id, visit_start_date, visit_start_datetime, visit_end_date,
  visit_end_datetime, visit_type_concept_id, provider_id, care_site_id, visit_source_value, visit_source_concept_id
)
SELECT v.omop_id, p.omop_id, min(e.visit_concept_id), CAST(min(e.start_ts) AS DATE), min(e.start_ts),
       CAST(max(e.end_ts) AS DATE), max(e.end_ts), 32817, min(pr.omop_id), min(cs.omop_id), substr(k.visit_key, 1, 50),
       0
FROM {stage}.encounter_visit AS e
JOIN {stage}.visit_key AS k ON k.id = e.id
JOIN {map} AS p ON p.kind = 'person' AND p.source_id = e.patient_id
JOIN {map} AS v ON v.kind = 'visit_occurrence' AND v.source_id = k.visit_key
LEFT JOIN {map} AS pr ON pr.kind = 'provider' AND pr.source_id = e.practitioner_id
LEFT JOIN {map} AS cs ON cs.kind = 'care_site' AND cs.source_id = e.organization_id
GROUP BY v.omop_id, p.omop_id, k.visit_key
ORDER BY v.omop_id;

INSERT INTO {cdm}.visit_detail (
  visit_detail_id, person_id, visit_detail_concept_id, visit_detail_start_date, visit_detail_start_datetime,
  visit_detail_end_date, visit_detail_end_datetime, visit_detail_type_concept_id, provider_id, care_site_id,
  visit_detail_source_value, visit_detail_source_concept_id, visit_occurrence_id
)
SELECT x.visit_detail_id, p.omop_id, e.visit_concept_id, CAST(e.start_ts AS DATE), e.start_ts, CAST(e.end_ts AS DATE),
       e.end_ts, 32817, pr.omop_id, cs.omop_id, substr(e.id, 1, 50), 0, x.visit_id
FROM {stage}.encounter_visit AS e
-- The encounter's visit and visit_detail ids, looked up once per encounter in event.prepare.sql.
JOIN {stage}.encounter_ids AS x ON x.encounter_id = e.id
JOIN {map} AS p ON p.kind = 'person' AND p.source_id = e.patient_id
LEFT JOIN {map} AS pr ON pr.kind = 'provider' AND pr.source_id = e.practitioner_id
LEFT JOIN {map} AS cs ON cs.kind = 'care_site' AND cs.source_id = e.organization_id
WHERE x.visit_id IS NOT NULL AND x.visit_detail_id IS NOT NULL
ORDER BY x.visit_detail_id
