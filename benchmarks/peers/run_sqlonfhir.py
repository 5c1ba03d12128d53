"""Run one SQL-on-FHIR v2 ViewDefinition over Bulk NDJSON files with sqlonfhir (run inside the peers venv).

    python run_sqlonfhir.py VIEW.json INPUT_DIR [--batch 10000]

sqlonfhir evaluates a list of resource dicts in memory (`sqlonfhir.evaluate(resources, view)` -> list of row
dicts); it has no reader of its own. This streams the NDJSON files in batches (parsed with orjson, the fastest
parser at hand, to favour the peer), evaluates each batch and keeps every output row (the library's own output,
a list of dicts), so the rows are materialised like the other arms' tables without holding all the input at once.
"load" is the reading and parsing time, "view" the evaluation time. Prints one JSON line: rows, load_s, view_s and
the non-null count of each column.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path
from typing import Any

import orjson
from sqlonfhir import evaluate


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("view", type=Path)
    p.add_argument("input", type=Path)
    p.add_argument("--batch", type=int, default=10_000)
    a = p.parse_args()
    view = json.loads(a.view.read_text())
    files = sorted(a.input.glob("*.ndjson"))
    rows: list[dict[str, Any]] = []
    load_s = view_s = 0.0
    batch: list[bytes] = []

    def flush() -> None:
        nonlocal load_s, view_s
        t = time.perf_counter()
        resources = [orjson.loads(line) for line in batch]
        u = time.perf_counter()
        # evaluate() normalises (mutates) the view it is given: hand it a fresh copy each time.
        rows.extend(evaluate(resources, copy.deepcopy(view)))
        load_s += u - t
        view_s += time.perf_counter() - u
        batch.clear()

    for path in files:
        with path.open("rb") as f:
            t = time.perf_counter()
            for line in f:
                batch.append(line)
                if len(batch) == a.batch:
                    load_s += time.perf_counter() - t
                    flush()
                    t = time.perf_counter()
            load_s += time.perf_counter() - t
    flush()
    names = list(rows[0]) if rows else []
    non_null = {name: sum(1 for row in rows if row.get(name) is not None) for name in names}
    json.dump({"rows": len(rows), "load_s": load_s, "view_s": view_s, "non_null": non_null}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
