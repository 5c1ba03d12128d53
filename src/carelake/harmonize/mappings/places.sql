-- Location, Organization and Practitioner → location, care_site and provider; patients' home addresses → location.
-- Rows are replaced by their source id, so re-runs and new exports update them in place.
CREATE {temp}TABLE {stage}.place AS
SELECT 'Location/' || id AS key, address_1, address_2, city, state, zip, county, country, latitude, longitude
FROM {stage}.location
UNION ALL
SELECT 'Organization/' || id, address_1, address_2, city, state, zip, county, country, latitude, longitude
FROM {stage}.organization WHERE address_1 IS NOT NULL OR city IS NOT NULL OR zip IS NOT NULL
UNION ALL
SELECT 'Patient/' || id, address_1, NULL, city, state, zip, county, NULL, NULL, NULL
FROM {stage}.patient WHERE address_1 IS NOT NULL OR city IS NOT NULL OR zip IS NOT NULL;

DELETE FROM {cdm}.location WHERE location_id IN (
  SELECT m.omop_id FROM {map} AS m JOIN {stage}.place AS p ON m.kind = 'location' AND m.source_id = p.key);

INSERT INTO {cdm}.location (
  location_id, address_1, address_2, city, state, zip, county, location_source_value, country_source_value,
  latitude, longitude
)
SELECT m.omop_id, substr(p.address_1, 1, 50), substr(p.address_2, 1, 50), substr(p.city, 1, 50),
       CASE WHEN length(p.state) = 2 THEN p.state END, substr(p.zip, 1, 9), substr(p.county, 1, 20),
       substr(p.key, 1, 50), substr(p.country, 1, 80), p.latitude, p.longitude
FROM {stage}.place AS p JOIN {map} AS m ON m.kind = 'location' AND m.source_id = p.key;

DELETE FROM {cdm}.care_site WHERE care_site_id IN (
  SELECT m.omop_id FROM {map} AS m JOIN {stage}.organization AS o ON m.kind = 'care_site' AND m.source_id = o.id);

INSERT INTO {cdm}.care_site (care_site_id, care_site_name, place_of_service_concept_id, location_id,
                             care_site_source_value)
SELECT m.omop_id, substr(o.name, 1, 255), 0, l.omop_id, substr(o.id, 1, 50)
FROM {stage}.organization AS o
JOIN {map} AS m ON m.kind = 'care_site' AND m.source_id = o.id
LEFT JOIN {map} AS l ON l.kind = 'location' AND l.source_id = 'Organization/' || o.id;

DELETE FROM {cdm}.provider WHERE provider_id IN (
  SELECT m.omop_id FROM {map} AS m JOIN {stage}.practitioner AS p ON m.kind = 'provider' AND m.source_id = p.id);

INSERT INTO {cdm}.provider (provider_id, provider_name, npi, gender_concept_id, provider_source_value,
                            gender_source_value)
SELECT m.omop_id,
       substr(trim(coalesce(p.prefix || ' ', '') || coalesce(p.given || ' ', '') || coalesce(p.family, '')), 1, 255),
       substr(p.npi, 1, 20), coalesce(g.concept_id, 0), substr(p.id, 1, 50), p.gender
FROM {stage}.practitioner AS p
JOIN {map} AS m ON m.kind = 'provider' AND m.source_id = p.id
LEFT JOIN {stage}.fixed_concept AS g ON g.value_set = 'gender' AND g.code = p.gender
