"""pyomop's FHIR -> OMOP conversion of a folder of Bulk NDJSON, timed; one JSON line out (for fhir_to_omop.py).

    benchmarks/_work/venv-pyomop/bin/python benchmarks/peers/run_pyomop.py DIR --db X.sqlite

Runs pyomop's own command line in this process, as a user would type it: `pyomop --create --name X.sqlite`
(the CDM 5.4 tables in SQLite, pyomop's default engine; not timed), then `pyomop --name X.sqlite --input DIR`
(timed): fhiry flattens every NDJSON line into a pandas DataFrame (a process per core), pyomop writes it to a CSV,
and its CdmCsvLoader maps the rows into OMOP tables with `mapping.default.json`, then rewrites person ids, birth
fields, gender and concept ids. pyomop's click messages go to stderr so stdout holds only the result:
`resources` (lines in DIR), `seconds`, and `rows` per non-empty OMOP table.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path


def _pyomop(*args: str) -> None:
    """`pyomop ARGS` in this process; a failure raises instead of exiting quietly."""
    from pyomop.main import cli

    with contextlib.redirect_stdout(sys.stderr):
        cli.main(list(args), prog_name="pyomop", standalone_mode=False)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("input", type=Path, help="folder of NDJSON files")
    p.add_argument("--db", type=Path, required=True, help="SQLite file to create (replaced)")
    a = p.parse_args()
    files = sorted(a.input.glob("*.ndjson"))
    resources = 0
    for path in files:
        with path.open("rb") as f:
            resources += sum(1 for line in f if line.strip())
    a.db.unlink(missing_ok=True)
    _pyomop("--create", "--version", "cdm54", "--dbtype", "sqlite", "--name", str(a.db))
    # pyomop leaves its intermediate CSV in the temp folder: keep it beside the database and remove it after.
    with tempfile.TemporaryDirectory(dir=a.db.parent) as tmp:
        tempfile.tempdir = tmp
        t = time.perf_counter()
        _pyomop("--version", "cdm54", "--dbtype", "sqlite", "--name", str(a.db), "--input", str(a.input))
        seconds = time.perf_counter() - t
    tempfile.tempdir = None
    con = sqlite3.connect(a.db)
    tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    rows = {t: con.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables}
    con.close()
    print(json.dumps({"resources": resources, "seconds": seconds, "rows": {t: n for t, n in rows.items() if n}}))


if __name__ == "__main__":
    main()
