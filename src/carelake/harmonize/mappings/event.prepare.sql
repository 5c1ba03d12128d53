-- Every coded clinical event, whatever its resource, in one shape: the code, its dates, a reason to skip it,
-- and the domain it goes to when its code does not map (the resource type decides then).

-- Each encounter's visit and visit_detail ids, looked up once per encounter: the events then join one small table
-- instead of probing the id map twice per event (millions of string probes into a map of millions).
CREATE {temp}TABLE {stage}.encounter_ids AS
SELECT k.id AS encounter_id, v.omop_id AS visit_id, d.omop_id AS visit_detail_id
FROM {stage}.visit_key AS k
LEFT JOIN {map} AS v ON v.kind = 'visit_occurrence' AND v.source_id = k.visit_key
LEFT JOIN {map} AS d ON d.kind = 'visit_detail' AND d.source_id = k.id;

-- The events, with their person and visit ids looked up here, once: the table is millions of rows, and three text
-- ids a row would be its largest part.
CREATE {temp}TABLE {stage}.event AS
SELECT u.resource_type, u.resource_id, u.part, p.omop_id AS person_id, x.visit_id, x.visit_detail_id, u.code_system,
       u.code, u.start_text, u.end_text, u.skip_reason, u.default_domain, u.value_number, u.value_unit, u.value_code,
       u.value_string,
       -- Whether both dates are whole dates that exist (harmonize/dates.py): the others are rejected, named.
       {day_ok:u.start_text} AND {day_ok:u.end_text} AS dates_ok
FROM (
SELECT 'Condition' AS resource_type, id AS resource_id, CAST(NULL AS INTEGER) AS part, patient_id, encounter_id,
       code_system, code,
       coalesce(onset, recorded) AS start_text, abatement AS end_text,
       CASE WHEN verification IN ('refuted', 'entered-in-error') THEN 'verificationStatus ' || verification END
         AS skip_reason,
       'Condition' AS default_domain, CAST(NULL AS DOUBLE) AS value_number, CAST(NULL AS VARCHAR) AS value_unit,
       CAST(NULL AS VARCHAR) AS value_code, CAST(NULL AS VARCHAR) AS value_string
FROM {stage}.condition
UNION ALL
-- AllergyIntolerance → observation, ETL-Synthea's way: the allergy code's own concept (routed in event_ready).
SELECT 'AllergyIntolerance', id, NULL, patient_id, encounter_id, code_system, code, coalesce(onset, recorded), NULL,
       CASE WHEN verification IN ('refuted', 'entered-in-error') THEN 'verificationStatus ' || verification END,
       'Observation', NULL, NULL, NULL, NULL
FROM {stage}.allergy_intolerance
UNION ALL
SELECT 'Procedure', id, NULL, patient_id, encounter_id, code_system, code, coalesce(performed, period_start), period_end,
       CASE WHEN status IN ('entered-in-error', 'not-done') THEN 'status ' || status END,
       'Procedure', NULL, NULL, NULL, NULL
FROM {stage}.procedure
UNION ALL
SELECT 'MedicationRequest', r.id, NULL, r.patient_id, r.encounter_id, coalesce(r.code_system, m.code_system),
       coalesce(r.code, m.code), r.authored, NULL,
       CASE WHEN r.status IN ('entered-in-error', 'cancelled', 'draft') THEN 'status ' || r.status END,
       'Drug', NULL, NULL, NULL, NULL
FROM {stage}.medication_request AS r LEFT JOIN {stage}.medication AS m ON m.id = r.medication_ref
UNION ALL
SELECT 'MedicationAdministration', r.id, NULL, r.patient_id, r.encounter_id, coalesce(r.code_system, m.code_system),
       coalesce(r.code, m.code), coalesce(r.effective, r.effective_start), r.effective_end,
       CASE WHEN r.status IN ('entered-in-error', 'not-done') THEN 'status ' || r.status END,
       'Drug', NULL, NULL, NULL, NULL
FROM {stage}.medication_administration AS r LEFT JOIN {stage}.medication AS m ON m.id = r.medication_ref
UNION ALL
SELECT 'MedicationStatement', r.id, NULL, r.patient_id, r.encounter_id, coalesce(r.code_system, m.code_system),
       coalesce(r.code, m.code), coalesce(r.effective, r.effective_start), r.effective_end,
       CASE WHEN r.status IN ('entered-in-error', 'not-taken') THEN 'status ' || r.status END,
       'Drug', NULL, NULL, NULL, NULL
FROM {stage}.medication_statement AS r LEFT JOIN {stage}.medication AS m ON m.id = r.medication_ref
UNION ALL
SELECT 'Immunization', id, NULL, patient_id, encounter_id, code_system, code, occurrence, NULL,
       CASE WHEN status IN ('entered-in-error', 'not-done') THEN 'status ' || status END,
       'Drug', NULL, NULL, NULL, NULL
FROM {stage}.immunization
UNION ALL
SELECT 'Observation', id, NULL, patient_id, encounter_id, code_system, code, coalesce(effective, effective_start, issued),
       NULL, CASE WHEN status IN ('entered-in-error', 'cancelled') THEN 'status ' || status END,
       CASE WHEN category IN ('laboratory', 'vital-signs') OR value_number IS NOT NULL THEN 'Measurement'
            ELSE 'Observation' END,
       value_number, value_unit, value_code, value_string
FROM {stage}.observation
UNION ALL
-- Each component of an Observation (a blood pressure's systolic and diastolic) is a row of its own.
SELECT 'Observation', id, CAST(component_index AS INTEGER), patient_id, encounter_id, code_system, code,
       coalesce(effective, effective_start, issued), NULL,
       CASE WHEN status IN ('entered-in-error', 'cancelled') THEN 'status ' || status END,
       CASE WHEN category IN ('laboratory', 'vital-signs') OR value_number IS NOT NULL THEN 'Measurement'
            ELSE 'Observation' END,
       value_number, value_unit, value_code, value_string
FROM {stage}.observation_component
UNION ALL
-- Device: R4 has no use period, so manufactureDate is the start; Synthea CSV adds the encounter and STOP (device_use).
SELECT 'Device', d.id, NULL, d.patient_id, u.encounter_id, d.code_system, d.code, d.start, u.stop,
       CASE WHEN d.status = 'entered-in-error' THEN 'status ' || d.status END,
       'Device', NULL, NULL, NULL, NULL
FROM {stage}.device AS d LEFT JOIN {stage}.device_use AS u ON u.id = d.id
) AS u
LEFT JOIN {map} AS p ON p.kind = 'person' AND p.source_id = u.patient_id
LEFT JOIN {stage}.encounter_ids AS x ON x.encounter_id = u.encounter_id;

-- Source concept by the code system's vocabulary, standard concept by "Maps to"; its domain picks the table.
-- Looked up once per distinct code (thousands), not per event (millions): the vocabulary is joined to a small table.
CREATE {temp}TABLE {stage}.code_map AS
SELECT DISTINCT
  k.system_key,
  k.code_key,
  coalesce(sc.concept_id, 0) AS source_concept_id,
  coalesce(tc.concept_id, CASE WHEN sc.standard_concept = 'S' THEN sc.concept_id END, 0) AS concept_id,
  coalesce(tc.domain_id, CASE WHEN sc.standard_concept = 'S' THEN sc.domain_id END) AS domain_id
FROM (SELECT DISTINCT coalesce(code_system, '') AS system_key, coalesce(code, '') AS code_key FROM {stage}.event) AS k
LEFT JOIN {stage}.code_system AS cs ON cs.system = k.system_key
LEFT JOIN {cdm}.concept AS sc ON sc.vocabulary_id = cs.vocabulary_id AND sc.concept_code = k.code_key
-- A "Maps to" whose target is not in the vocabulary (a trimmed one) is no mapping, not a second concept-0 row.
LEFT JOIN (SELECT cr.concept_id_1, t.concept_id, t.domain_id
           FROM {cdm}.concept_relationship AS cr JOIN {cdm}.concept AS t ON t.concept_id = cr.concept_id_2
           WHERE cr.relationship_id = 'Maps to' AND cr.invalid_reason IS NULL) AS tc
  ON tc.concept_id_1 = sc.concept_id;


-- Only the columns the inserts and the accounting read: the table is millions of rows, and its width is its cost.
CREATE {temp}TABLE {stage}.event_ready AS
SELECT
  c.resource_type, c.resource_id, c.code, c.source_concept_id, c.concept_id,
  c.value_number, c.value_unit, c.value_code, c.value_string,
  -- A component's key is its panel's with '#' and its index: 'Observation/<id>#1|<concept>'.
  c.resource_type || '/' || c.resource_id || coalesce('#' || CAST(c.part AS VARCHAR), '') || '|'
    || CAST(c.concept_id AS VARCHAR) AS row_key,
  -- An allergy whose code is a substance (RxNorm aspirin: Drug) is an observation, never an exposure.
  CASE CASE WHEN c.resource_type = 'AllergyIntolerance' AND c.domain_id <> 'Condition' THEN 'Observation'
            ELSE c.domain_id END
    WHEN 'Condition' THEN 'condition_occurrence'
    WHEN 'Procedure' THEN 'procedure_occurrence'
    WHEN 'Drug' THEN 'drug_exposure'
    WHEN 'Measurement' THEN 'measurement'
    WHEN 'Device' THEN 'device_exposure'
    ELSE 'observation'
  END AS target_table,
  CAST(substr(c.start_text, 1, 10) AS DATE) AS start_date,
  CAST(replace(substr(c.start_text, 1, 19), 'T', ' ') AS TIMESTAMP) AS start_datetime,
  CAST(substr(c.end_text, 1, 10) AS DATE) AS end_date,
  CAST(replace(substr(c.end_text, 1, 19), 'T', ' ') AS TIMESTAMP) AS end_datetime,
  c.person_id,
  c.visit_id,
  c.visit_detail_id,
  u.concept_id AS unit_concept_id
-- Each event with its concepts (code_map), not materialised: the coverage report joins the same way.
FROM (SELECT e.*, cm.source_concept_id, cm.concept_id, coalesce(cm.domain_id, e.default_domain) AS domain_id
      FROM {stage}.event AS e
      JOIN {stage}.code_map AS cm
        ON cm.system_key = coalesce(e.code_system, '') AND cm.code_key = coalesce(e.code, '')) AS c
LEFT JOIN {cdm}.concept AS u ON u.vocabulary_id = 'UCUM' AND u.concept_code = c.value_unit
WHERE c.person_id IS NOT NULL AND c.start_text IS NOT NULL AND c.skip_reason IS NULL AND c.dates_ok
