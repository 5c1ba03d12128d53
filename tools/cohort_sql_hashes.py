"""One hash per (engine, cohort) of the SQL each Circe definition compiles to: run it in two checkouts and diff the
output to show a refactoring left every cohort's SQL as it was.

    uv run python tools/cohort_sql_hashes.py DEFINITIONS_DIR > hashes.txt

DEFINITIONS_DIR holds `<id>.json` Circe definitions (the PhenotypeLibrary's 1,100 are in
../shared/data/circe-cohorts/phenotype-library/cohorts). Nothing connects: the SQL is rendered per engine name.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from carelake.cohorts import compile_cohort
from carelake.errors import CarelakeError


def main(folder: Path) -> None:
    definitions = sorted(folder.glob("*.json"), key=lambda p: int(p.stem))
    if not definitions:
        raise SystemExit(f"{folder}: no <id>.json definitions")
    for engine in ("duckdb", "postgres", "spark"):
        for path in definitions:
            try:
                sql = compile_cohort(path, int(path.stem), engine)
            except CarelakeError as e:  # a definition an engine refuses is part of the fingerprint too
                sql = f"refused: {e}"
            print(engine, path.stem, hashlib.sha256(sql.encode("utf-8")).hexdigest()[:16])


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(Path(sys.argv[1]))
