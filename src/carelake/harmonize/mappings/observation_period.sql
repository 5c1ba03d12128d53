-- One observation period per person, from the first to the last clinical event written for them, or to death.
INSERT INTO {cdm}.observation_period (
  observation_period_id, person_id, observation_period_start_date, observation_period_end_date,
  period_type_concept_id
)
SELECT m.omop_id, e.person_id, min(e.d0), max(e.d1), 32817
FROM (
  SELECT person_id, visit_start_date AS d0, visit_end_date AS d1 FROM {cdm}.visit_occurrence
  UNION ALL
  SELECT person_id, condition_start_date, coalesce(condition_end_date, condition_start_date)
  FROM {cdm}.condition_occurrence
  UNION ALL
  SELECT person_id, observation_date, observation_date FROM {cdm}.observation
  UNION ALL
  SELECT person_id, measurement_date, measurement_date FROM {cdm}.measurement
  UNION ALL
  SELECT person_id, procedure_date, procedure_date FROM {cdm}.procedure_occurrence
  UNION ALL
  SELECT person_id, drug_exposure_start_date, drug_exposure_end_date FROM {cdm}.drug_exposure
  UNION ALL
  SELECT person_id, device_exposure_start_date, device_exposure_start_date FROM {cdm}.device_exposure
  UNION ALL
  -- A recorded death ends the person's follow-up: without it, a death after the last visit falls outside
  -- observation, and cohorts and time at risk (which live inside observation) would never see it.
  SELECT person_id, death_date, death_date FROM {cdm}.death
) AS e
JOIN {map} AS m ON m.kind = 'observation_period' AND m.source_id = CAST(e.person_id AS VARCHAR)
WHERE e.person_id IN (SELECT omop_id FROM {stage}.persons_in_load)
GROUP BY m.omop_id, e.person_id
