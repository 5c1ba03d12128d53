-- Encounters → visits, ETL-Synthea's way: inpatient encounters that start at most one day after the previous
-- inpatient stay of the same person ends are one visit; every other encounter is a visit of its own. Each
-- encounter stays a visit_detail row under its visit.
CREATE {temp}TABLE {stage}.encounter_visit AS
SELECT e.*, coalesce(c.concept_id, 0) AS visit_concept_id,
       CAST(replace(substr(e.start, 1, 19), 'T', ' ') AS TIMESTAMP) AS start_ts,
       CAST(replace(substr(coalesce(e."end", e.start), 1, 19), 'T', ' ') AS TIMESTAMP) AS end_ts
FROM {stage}.encounter AS e
LEFT JOIN {stage}.fixed_concept AS c ON c.value_set = 'visit' AND c.code = upper(e.class_code)
WHERE e.start IS NOT NULL AND e.status IS DISTINCT FROM 'entered-in-error';

CREATE {temp}TABLE {stage}.visit_key AS
SELECT id, patient_id,
       CASE WHEN visit_concept_id = 9201
            THEN 'IP/' || first_value(id) OVER (PARTITION BY patient_id, visit_concept_id, grp ORDER BY start_ts, id)
            ELSE id END AS visit_key
FROM (
  SELECT *, sum(CASE WHEN prev_end IS NULL OR CAST(start_ts AS DATE) > CAST(prev_end AS DATE) + 1 THEN 1 ELSE 0 END)
              OVER (PARTITION BY patient_id, visit_concept_id ORDER BY start_ts, id ROWS UNBOUNDED PRECEDING) AS grp
  FROM (
    SELECT *, max(end_ts) OVER (PARTITION BY patient_id, visit_concept_id ORDER BY start_ts, id
                                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end
    FROM {stage}.encounter_visit
  ) AS ordered
) AS grouped
