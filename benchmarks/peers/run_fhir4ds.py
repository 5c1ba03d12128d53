"""Run one SQL-on-FHIR v2 ViewDefinition over Bulk NDJSON files with fhir4ds-v2 (run inside the peers venv).

    python run_fhir4ds.py VIEW.json INPUT_DIR --db PATH

fhir4ds turns a ViewDefinition into DuckDB SQL (`fhir4ds.generate_view_sql`) over a `resources(id, resourceType,
resource JSON, patient_ref)` table, evaluated by its bundled FHIRPath C++ extension (`fhir4ds.create_connection`
loads it). Its own loader (`FHIRDataLoader`) parses every resource in Python; to favour the peer, the table is
filled by DuckDB's read_ndjson_objects instead ("load"), the same way the hand-written SQL arm loads, and the
view's rows are fetched to Arrow ("view"). Prints one JSON line: rows, load_s, view_s and the non-null count of
each column.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import fhir4ds
import pyarrow  # noqa: F401 - imported before the clock starts, like every arm


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("view", type=Path)
    p.add_argument("input", type=Path)
    p.add_argument("--db", type=Path, required=True)
    a = p.parse_args()
    view = json.loads(a.view.read_text())
    files = [str(f) for f in sorted(a.input.glob("*.ndjson"))]
    con = fhir4ds.create_connection(str(a.db))
    t = time.perf_counter()
    con.execute(
        f"""CREATE TABLE resources AS
        SELECT json_extract_string(json, '$.id') AS id, json_extract_string(json, '$.resourceType') AS "resourceType",
               json AS resource, NULL::VARCHAR AS patient_ref
        FROM read_ndjson_objects({files!r})"""
    )
    load_s = time.perf_counter() - t
    t = time.perf_counter()
    table = con.sql(fhir4ds.generate_view_sql(view)).to_arrow_table()
    view_s = time.perf_counter() - t
    non_null = {name: table.num_rows - table.column(name).null_count for name in table.column_names}
    json.dump({"rows": table.num_rows, "load_s": load_s, "view_s": view_s, "non_null": non_null}, sys.stdout)
    print()
    con.close()


if __name__ == "__main__":
    main()
