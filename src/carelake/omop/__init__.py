"""OMOP CDM 5.4: the schema, loaders for OMOP CSV/Parquet and Athena vocabularies, and warehouse info."""
