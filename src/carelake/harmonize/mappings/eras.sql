-- condition_era and drug_era, OHDSI's way: events of one concept merged while less than 30 days apart.
-- Drugs are rolled up to their RxNorm ingredient through concept_ancestor (drug_era holds ingredients only, so
-- without concept_ancestor there are no drug eras).
CREATE {temp}TABLE {stage}.era_events AS
SELECT 'condition' AS kind, person_id, condition_concept_id AS concept_id, condition_start_date AS s,
       coalesce(condition_end_date, condition_start_date + 1) AS e
FROM {cdm}.condition_occurrence
WHERE condition_concept_id <> 0 AND person_id IN (SELECT omop_id FROM {stage}.persons_in_load)
UNION ALL
SELECT 'drug', d.person_id, i.concept_id, d.drug_exposure_start_date,
       CASE WHEN d.drug_exposure_end_date > d.drug_exposure_start_date THEN d.drug_exposure_end_date
            ELSE d.drug_exposure_start_date + 1 END
FROM {cdm}.drug_exposure AS d
JOIN (
  SELECT ca.descendant_concept_id AS drug_id, min(c.concept_id) AS concept_id
  FROM {cdm}.concept_ancestor AS ca JOIN {cdm}.concept AS c ON c.concept_id = ca.ancestor_concept_id
  WHERE c.concept_class_id = 'Ingredient' AND c.vocabulary_id IN ('RxNorm', 'RxNorm Extension')
  GROUP BY ca.descendant_concept_id
) AS i ON i.drug_id = d.drug_concept_id
WHERE d.drug_concept_id <> 0 AND d.person_id IN (SELECT omop_id FROM {stage}.persons_in_load);

CREATE {temp}TABLE {stage}.eras AS
SELECT kind, person_id, concept_id, min(s) AS era_start, max(e) AS era_end, count(*) AS n
FROM (
  SELECT *, sum(CASE WHEN prev_end IS NULL OR s > prev_end THEN 1 ELSE 0 END)
              OVER (PARTITION BY kind, person_id, concept_id ORDER BY s, e ROWS UNBOUNDED PRECEDING) AS grp
  FROM (
    SELECT *, max(e + 30) OVER (PARTITION BY kind, person_id, concept_id ORDER BY s, e
                                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end
    FROM {stage}.era_events
  ) AS ordered
) AS grouped
GROUP BY kind, person_id, concept_id, grp;

INSERT INTO {cdm}.condition_era (
  condition_era_id, person_id, condition_concept_id, condition_era_start_date, condition_era_end_date,
  condition_occurrence_count
)
SELECT (SELECT coalesce(max(condition_era_id), 0) FROM {cdm}.condition_era)
       + row_number() OVER (ORDER BY person_id, concept_id, era_start), person_id, concept_id, era_start, era_end, n
FROM {stage}.eras WHERE kind = 'condition';

INSERT INTO {cdm}.drug_era (
  drug_era_id, person_id, drug_concept_id, drug_era_start_date, drug_era_end_date, drug_exposure_count, gap_days
)
SELECT (SELECT coalesce(max(drug_era_id), 0) FROM {cdm}.drug_era)
       + row_number() OVER (ORDER BY person_id, concept_id, era_start), person_id, concept_id, era_start, era_end, n,
       0
FROM {stage}.eras WHERE kind = 'drug'
