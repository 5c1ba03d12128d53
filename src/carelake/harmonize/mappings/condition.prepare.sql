-- Condition: the first coding → source concept (by code system's vocabulary) → standard concept by "Maps to".
-- The standard concept's domain decides the table; unmapped codes stay conditions with concept 0.
CREATE TABLE {stage}.condition_coded AS
SELECT
  c.*,
  coalesce(c.onset, c.recorded) AS start_text,
  coalesce(sc.concept_id, 0) AS source_concept_id,
  coalesce(tc.concept_id, CASE WHEN sc.standard_concept = 'S' THEN sc.concept_id END, 0) AS concept_id,
  coalesce(tc.domain_id, CASE WHEN sc.standard_concept = 'S' THEN sc.domain_id END, 'Condition') AS domain_id
FROM {stage}.condition AS c
LEFT JOIN {stage}.code_system AS cs ON cs.system = c.code_system
LEFT JOIN {cdm}.concept AS sc ON sc.vocabulary_id = cs.vocabulary_id AND sc.concept_code = c.code
LEFT JOIN {cdm}.concept_relationship AS cr
  ON cr.concept_id_1 = sc.concept_id AND cr.relationship_id = 'Maps to' AND cr.invalid_reason IS NULL
LEFT JOIN {cdm}.concept AS tc ON tc.concept_id = cr.concept_id_2;

CREATE TABLE {stage}.condition_ready AS
SELECT c.*, c.id || '|' || CAST(c.concept_id AS VARCHAR) AS row_key, p.omop_id AS person_id, v.omop_id AS visit_id
FROM {stage}.condition_coded AS c
JOIN {map} AS p ON p.kind = 'person' AND p.source_id = c.patient_id
LEFT JOIN {map} AS v ON v.kind = 'visit_occurrence' AND v.source_id = c.encounter_id
WHERE c.start_text IS NOT NULL AND coalesce(c.verification, '') NOT IN ('refuted', 'entered-in-error')
