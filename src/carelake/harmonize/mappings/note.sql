-- Prepared notes (note.prepare.sql) → note. Type EHR (32817), encoding UTF-8 (32678), English (4180186) when the
-- language is en, en-* or not given, else 0.
INSERT INTO {cdm}.note (
  note_id, person_id, note_date, note_datetime, note_type_concept_id, note_class_concept_id, note_title, note_text,
  encoding_concept_id, language_concept_id, provider_id, visit_occurrence_id, visit_detail_id, note_source_value
)
SELECT m.omop_id, n.person_id, n.note_date, n.note_datetime, 32817, n.class_concept_id, substr(n.title, 1, 250),
       n.note_text, 32678,
       CASE WHEN n.language IS NULL OR lower(n.language) = 'en' OR lower(n.language) LIKE 'en-%' THEN 4180186 ELSE 0 END,
       n.provider_id, n.visit_id, n.visit_detail_id, substr(n.type_code, 1, 50)
FROM {stage}.note_ready AS n
JOIN {map} AS m ON m.kind = 'note' AND m.source_id = n.id
