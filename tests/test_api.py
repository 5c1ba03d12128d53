"""The Python API a notebook sees: names pinned, reachable from `import carelake`, one convention throughout."""

from __future__ import annotations

import inspect
import subprocess
import sys

import carelake
from carelake.errors import CarelakeError

API = [
    "CarelakeError",
    "__version__",
    "characterize",
    "cohorts",
    "connect",
    "create_cdm",
    "describe",
    "features",
    "fhir",
    "harmonize",
    "load_fhir",
    "load_omop",
    "load_vocabulary",
    "omop",
    "privacy",
    "quality",
    "sources",
    "synth",
    "warehouse",
]
STAGES = ["characterize", "cohorts", "features", "fhir", "harmonize", "privacy", "quality", "synth", "warehouse"]


def test_top_level_names_are_pinned_and_listed_for_completion() -> None:
    assert carelake.__all__ == API
    assert set(API) <= set(dir(carelake))
    for name in API:
        assert getattr(carelake, name) is not None, name
    assert carelake.cohorts.generate is carelake.cohorts.generate  # a subpackage, reached without importing it


def test_import_stays_light() -> None:
    """`import carelake` loads no engine and no Arrow, so the CLI's --help and a notebook's first cell are instant."""
    heavy = "('duckdb', 'pyarrow', 'psycopg', 'pyspark')"
    code = f"import sys, carelake; print(sorted(m for m in {heavy} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def _public() -> list[tuple[str, object]]:
    out = []
    for stage in STAGES:
        module = getattr(carelake, stage)
        out.extend((f"{stage}.{name}", getattr(module, name)) for name in module.__all__)
    out.extend((name, getattr(carelake, name)) for name in API if name not in STAGES)
    return out


def test_every_function_on_a_warehouse_takes_it_first_as_wh() -> None:
    checked = []
    for name, obj in _public():
        if not inspect.isfunction(obj):
            continue
        # Annotations as written (the modules use postponed evaluation), e.g. "Warehouse" or "str | Warehouse".
        hints = {p.name: str(p.annotation) for p in inspect.signature(obj).parameters.values()}
        params = list(hints)
        on_warehouse = [
            p for p in params if "Warehouse" in str(hints.get(p, "")) and "WarehouseURL" not in str(hints.get(p, ""))
        ]
        if on_warehouse and name not in ("fhir.compile_view", "cohorts.compile_cohort"):
            assert params[0] == "wh" and on_warehouse == ["wh"], (name, params)
            checked.append(name)
    assert len(checked) >= 15, checked


def test_every_public_error_is_a_carelake_error() -> None:
    errors = [(n, o) for n, o in _public() if isinstance(o, type) and issubclass(o, BaseException)]
    assert len(errors) >= 3
    for name, cls in errors:
        assert issubclass(cls, CarelakeError), name
    from carelake.fhir.fhirpath import FhirPathError

    assert issubclass(FhirPathError, CarelakeError)
