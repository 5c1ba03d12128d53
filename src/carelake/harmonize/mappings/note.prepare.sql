-- DocumentReference → note: one row per resource; its first text/plain attachment with data is the note's text.
CREATE {temp}TABLE {stage}.note_source AS
SELECT d.id, d.patient_id, d.encounter_id, d.practitioner_id, coalesce(d.date, d.period_start) AS date_text,
       d.type_system, d.type_code, coalesce(d.type_display, d.type_text) AS title, d.status,
       coalesce(d.language, t.attachment_language) AS language, t.data,
       CASE WHEN t.data IS NULL THEN NULL
            WHEN length(t.data) % 4 = 0 AND regexp_matches(t.data, '^[A-Za-z0-9+/]*=?=?$') THEN 'base64'
            ELSE 'invalid' END AS data_kind
FROM {stage}.document_reference AS d
LEFT JOIN (
  SELECT id, data, attachment_language, row_number() OVER (PARTITION BY id ORDER BY content_index) AS k
  FROM {stage}.document_reference
  WHERE lower(content_type) LIKE 'text/plain%' AND data IS NOT NULL
) AS t ON t.id = d.id AND t.k = 1
WHERE coalesce(d.content_index, 0) = 0;

-- The note class: the type's code in its system's vocabulary, then its standard concept ("Maps to").
CREATE {temp}TABLE {stage}.note_class AS
SELECT s.id, max(coalesce(tc.concept_id, CASE WHEN sc.standard_concept = 'S' THEN sc.concept_id END, 0)) AS concept_id
FROM {stage}.note_source AS s
JOIN {stage}.code_system AS cs ON cs.system = s.type_system
JOIN {cdm}.concept AS sc ON sc.vocabulary_id = cs.vocabulary_id AND sc.concept_code = s.type_code
LEFT JOIN {cdm}.concept_relationship AS cr
  ON cr.concept_id_1 = sc.concept_id AND cr.relationship_id = 'Maps to' AND cr.invalid_reason IS NULL
LEFT JOIN {cdm}.concept AS tc ON tc.concept_id = cr.concept_id_2
GROUP BY s.id;

-- Notes that become rows: a loaded person, a date, decodable text, not entered-in-error. Base64 is decoded here
-- (DuckDB's from_base64/decode; the warehouse spells them for PostgreSQL and Spark).
CREATE {temp}TABLE {stage}.note_ready AS
SELECT s.id, s.type_code, s.title, s.language,
       p.omop_id AS person_id, v.omop_id AS visit_id, dt.omop_id AS visit_detail_id, pr.omop_id AS provider_id,
       coalesce(c.concept_id, 0) AS class_concept_id,
       CAST(substr(s.date_text, 1, 10) AS DATE) AS note_date,
       CAST(replace(substr(s.date_text, 1, 19), 'T', ' ') AS TIMESTAMP) AS note_datetime,
       CASE WHEN s.data_kind = 'base64' THEN decode(from_base64(s.data)) END AS note_text
FROM {stage}.note_source AS s
JOIN {map} AS p ON p.kind = 'person' AND p.source_id = s.patient_id
LEFT JOIN {stage}.visit_key AS k ON k.id = s.encounter_id
LEFT JOIN {map} AS v ON v.kind = 'visit_occurrence' AND v.source_id = k.visit_key
LEFT JOIN {map} AS dt ON dt.kind = 'visit_detail' AND dt.source_id = s.encounter_id
LEFT JOIN {map} AS pr ON pr.kind = 'provider' AND pr.source_id = s.practitioner_id
LEFT JOIN {stage}.note_class AS c ON c.id = s.id
WHERE s.date_text IS NOT NULL AND s.data_kind = 'base64' AND s.status IS DISTINCT FROM 'entered-in-error'
