-- Patient → person. A Patient without birthDate cannot be a person (year_of_birth is required): rejected.
INSERT INTO {cdm}.person (
  person_id, gender_concept_id, year_of_birth, month_of_birth, day_of_birth, birth_datetime,
  race_concept_id, ethnicity_concept_id, location_id, provider_id, care_site_id,
  person_source_value, gender_source_value, gender_source_concept_id,
  race_source_value, race_source_concept_id, ethnicity_source_value, ethnicity_source_concept_id
)
SELECT
  m.omop_id,
  coalesce(g.concept_id, 0),
  CAST(substr(p.birth_date, 1, 4) AS INTEGER),
  CASE WHEN length(p.birth_date) >= 7 THEN CAST(substr(p.birth_date, 6, 2) AS INTEGER) END,
  CASE WHEN length(p.birth_date) >= 10 THEN CAST(substr(p.birth_date, 9, 2) AS INTEGER) END,
  CASE WHEN length(p.birth_date) >= 10 THEN CAST(substr(p.birth_date, 1, 10) AS TIMESTAMP) END,
  coalesce(r.concept_id, 0),
  coalesce(e.concept_id, 0),
  lo.omop_id,
  pr.omop_id,
  cs.omop_id,
  p.id,
  p.gender,
  0,
  coalesce(p.race_text, p.race_code),
  0,
  coalesce(p.ethnicity_text, p.ethnicity_code),
  0
FROM {stage}.patient AS p
JOIN {map} AS m ON m.kind = 'person' AND m.source_id = p.id
LEFT JOIN {stage}.fixed_concept AS g ON g.value_set = 'gender' AND g.code = p.gender
LEFT JOIN {stage}.fixed_concept AS r ON r.value_set = 'race' AND r.code = p.race_code
LEFT JOIN {stage}.fixed_concept AS e ON e.value_set = 'ethnicity' AND e.code = p.ethnicity_code
LEFT JOIN {map} AS lo ON lo.kind = 'location' AND lo.source_id = 'Patient/' || p.id
LEFT JOIN {map} AS pr ON pr.kind = 'provider' AND pr.source_id = p.practitioner_id
LEFT JOIN {map} AS cs ON cs.kind = 'care_site' AND cs.source_id = p.organization_id
WHERE p.birth_date IS NOT NULL;

-- Patient.deceased[x] → death (a date is required; deceasedBoolean alone has none).
INSERT INTO {cdm}.death (person_id, death_date, death_datetime, death_type_concept_id)
SELECT m.omop_id, CAST(substr(p.deceased_datetime, 1, 10) AS DATE),
       CAST(replace(substr(p.deceased_datetime, 1, 19), 'T', ' ') AS TIMESTAMP), 32817
FROM {stage}.patient AS p
JOIN {map} AS m ON m.kind = 'person' AND m.source_id = p.id
WHERE p.birth_date IS NOT NULL AND p.deceased_datetime IS NOT NULL
