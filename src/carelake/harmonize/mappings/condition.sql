-- Condition rows (prepared in condition.prepare.sql) into the table of their standard concept's domain.
INSERT INTO {cdm}.condition_occurrence (
  condition_occurrence_id, person_id, condition_concept_id, condition_start_date, condition_start_datetime,
  condition_end_date, condition_end_datetime, condition_type_concept_id, visit_occurrence_id,
  condition_source_value, condition_source_concept_id
)
SELECT m.omop_id, c.person_id, c.concept_id, CAST(substr(c.start_text, 1, 10) AS DATE),
       CAST(replace(substr(c.start_text, 1, 19), 'T', ' ') AS TIMESTAMP),
       CAST(substr(c.abatement, 1, 10) AS DATE), CAST(replace(substr(c.abatement, 1, 19), 'T', ' ') AS TIMESTAMP),
       32817, c.visit_id, c.code, c.source_concept_id
FROM {stage}.condition_ready AS c
JOIN {map} AS m ON m.kind = 'condition_occurrence' AND m.source_id = c.row_key
WHERE c.domain_id NOT IN ('Observation', 'Measurement', 'Procedure');

INSERT INTO {cdm}.observation (
  observation_id, person_id, observation_concept_id, observation_date, observation_datetime,
  observation_type_concept_id, visit_occurrence_id, observation_source_value, observation_source_concept_id
)
SELECT m.omop_id, c.person_id, c.concept_id, CAST(substr(c.start_text, 1, 10) AS DATE),
       CAST(replace(substr(c.start_text, 1, 19), 'T', ' ') AS TIMESTAMP), 32817, c.visit_id, c.code,
       c.source_concept_id
FROM {stage}.condition_ready AS c
JOIN {map} AS m ON m.kind = 'observation' AND m.source_id = c.row_key
WHERE c.domain_id = 'Observation';

INSERT INTO {cdm}.measurement (
  measurement_id, person_id, measurement_concept_id, measurement_date, measurement_datetime,
  measurement_type_concept_id, visit_occurrence_id, measurement_source_value, measurement_source_concept_id
)
SELECT m.omop_id, c.person_id, c.concept_id, CAST(substr(c.start_text, 1, 10) AS DATE),
       CAST(replace(substr(c.start_text, 1, 19), 'T', ' ') AS TIMESTAMP), 32817, c.visit_id, c.code,
       c.source_concept_id
FROM {stage}.condition_ready AS c
JOIN {map} AS m ON m.kind = 'measurement' AND m.source_id = c.row_key
WHERE c.domain_id = 'Measurement';

INSERT INTO {cdm}.procedure_occurrence (
  procedure_occurrence_id, person_id, procedure_concept_id, procedure_date, procedure_datetime,
  procedure_type_concept_id, visit_occurrence_id, procedure_source_value, procedure_source_concept_id
)
SELECT m.omop_id, c.person_id, c.concept_id, CAST(substr(c.start_text, 1, 10) AS DATE),
       CAST(replace(substr(c.start_text, 1, 19), 'T', ' ') AS TIMESTAMP), 32817, c.visit_id, c.code,
       c.source_concept_id
FROM {stage}.condition_ready AS c
JOIN {map} AS m ON m.kind = 'procedure_occurrence' AND m.source_id = c.row_key
WHERE c.domain_id = 'Procedure'
