-- The persons in this load: each run replaces their rows in every OMOP table it writes, so a re-run changes nothing.
CREATE {temp}TABLE {stage}.persons_in_load AS
SELECT m.omop_id FROM {map} AS m
JOIN {stage}.patient AS p ON m.kind = 'person' AND m.source_id = p.id;
