"""Replicate whole Synthea R4 patients into Bulk-style NDJSON with fresh ids, for the FHIR -> OMOP benchmark.

    uv run python benchmarks/fhir_omop_data.py [--resources 5000000] [--out DIR] [--billing]

Source: the 19 transaction bundles of the SMART sample data (`../shared/data/synthea-fhir/
smart-generated-sample-data-r4-2019`, override with `--source`), one Synthea patient each with every clinical
resource Synthea writes: Patient, Encounter, Condition, Observation, Procedure, MedicationRequest, Immunization,
DiagnosticReport, CarePlan, Goal, AllergyIntolerance, ImagingStudy, and the Organizations and Practitioners its
encounters name. Claim and ExplanationOfBenefit are left out unless `--billing`: no FHIR -> OMOP converter here
maps them, and EOBs alone are 42% of the bytes, so they would mostly time the staging of JSON nobody reads.

The unit of replication is one patient's bundle: unit k is replica k // 19 of bundle k % 19, and every resource of
it gets the id uuid5(NS, "replica/Type/original-id"). The bundles' `urn:uuid:` references point inside the same
bundle, and are rewritten to `Type/<fresh id>` of the same replica, so every reference resolves and no two
replicas share anything. Units are written whole until at least `--resources` resources are out, so the output is
a little above the request (at most one patient's resources) and a smaller request is a prefix of a larger one,
patient by patient. Files are grouped by type as a Bulk export writes them (`Observation.000.ndjson`, ... with at
most 200,000 lines each), one compact resource a line, and nothing else in the folder. Writing streams (memory
stays at the 19 templates); the output is deterministic; `<out>.manifest.json`, beside the folder, records what was
asked and written, and a second run with the same arguments does nothing.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from fhir_data import SOURCE, Template, reuse_or_clear  # benchmarks/ is on sys.path: it is the running script's folder

# Generated data goes beside the repository (../scratch), outside the tree; --out puts it elsewhere.
OUT = Path(__file__).resolve().parents[2] / "scratch" / "bench" / "fhir_omop"
LINES_PER_FILE = 200_000
BILLING = frozenset({"Claim", "ExplanationOfBenefit"})
NAMESPACE = uuid.UUID("2d7f6a8e-3b1c-4f0e-8a55-0c9e1f4b7d21")
FORMAT_VERSION = 1


class Unit:
    """One source bundle (one patient): its resources as templates, in bundle order."""

    def __init__(self, name: str, templates: list[Template]) -> None:
        self.name = name
        self.templates = templates
        self.keys = [(t.kind, t.original_id) for t in templates]

    def render(self, replica: int) -> Iterator[tuple[str, str]]:
        """(resource type, NDJSON line) of every resource of replica `replica` of this patient."""
        ids = {key: _fresh(replica, *key) for key in self.keys}
        for t, key in zip(self.templates, self.keys, strict=True):
            values = [ids[key]]
            for target in t.targets:
                values.append(f"{target[0]}/{ids.get(target) or _fresh(replica, *target)}")
            out = [t.parts[0]]
            for hole, part in zip(t.holes, t.parts[1:], strict=True):
                out += ['"', values[hole], '"', part]
            out.append("\n")
            yield t.kind, "".join(out)


def _fresh(replica: int, kind: str, original: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{replica}/{kind}/{original}"))


def read_units(source: Path, billing: bool) -> list[Unit]:
    """One unit per bundle of `source`, in file order; without `billing`, no Claim or ExplanationOfBenefit."""
    bundles = [(path.name, json.loads(path.read_text(encoding="utf-8"))) for path in sorted(source.glob("*.json"))]
    kinds = {e["fullUrl"]: e["resource"]["resourceType"] for _, b in bundles for e in b.get("entry", [])}
    units = []
    for name, bundle in bundles:
        resources = [e["resource"] for e in bundle.get("entry", [])]
        kept = [r for r in resources if billing or r["resourceType"] not in BILLING]
        units.append(Unit(name, [Template(r, kinds) for r in kept]))
    if not any(u.templates for u in units):
        raise SystemExit(f"no resources in {source}")
    return units


class _Writers:
    """One `Type.NNN.ndjson` series per resource type, at most LINES_PER_FILE lines a file."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.counts: Counter[str] = Counter()
        self.files: list[str] = []
        self._open: dict[str, TextIO] = {}

    def write(self, kind: str, line: str) -> None:
        handle = self._open.get(kind)
        if handle is None:
            name = f"{kind}.{self.counts[kind] // LINES_PER_FILE:03d}.ndjson"
            self.files.append(name)
            handle = self._open[kind] = (self.out / name).open("w", encoding="utf-8", buffering=1 << 20)
        handle.write(line)
        self.counts[kind] += 1
        if self.counts[kind] % LINES_PER_FILE == 0:
            self._open.pop(kind).close()

    def close(self) -> None:
        for handle in self._open.values():
            handle.close()
        self._open.clear()


def generate(out: Path, resources: int, *, billing: bool = False, source: Path = SOURCE) -> dict[str, Any]:
    """Write at least `resources` resources into `out` (whole patients) and return the manifest.

    `cached` in the result is true when the files were there already from a run with the same arguments.
    """
    manifest_path = out.parent / f"{out.name}.manifest.json"  # beside, not in: the folder holds only FHIR
    wanted: dict[str, Any] = {"version": FORMAT_VERSION, "requested": resources, "billing": billing}
    wanted["source"] = str(source)
    if (cached := reuse_or_clear(out, manifest_path, wanted)) is not None:
        return cached
    units = read_units(source, billing)
    writers = _Writers(out)
    written = patients = 0
    try:
        while written < resources:
            unit = units[patients % len(units)]
            for kind, line in unit.render(patients // len(units)):
                writers.write(kind, line)
                written += 1
            patients += 1
    finally:
        writers.close()
    manifest = {
        **wanted,
        "resources": written,
        "patients": patients,
        "replicas": -(-patients // len(units)),
        "per_type": dict(sorted(writers.counts.items())),
        "bytes": sum((out / name).stat().st_size for name in writers.files),
        "lines_per_file": LINES_PER_FILE,
        "files": sorted(writers.files),
    }
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    return {**manifest, "cached": False}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--resources", type=int, default=5_000_000, help="at least this many (whole patients)")
    p.add_argument("--out", type=Path, help=f"default {OUT}/ndjson-<resources>")
    p.add_argument("--billing", action="store_true", help="keep Claim and ExplanationOfBenefit")
    p.add_argument("--source", type=Path, default=SOURCE)
    a = p.parse_args()
    out = a.out or OUT / f"ndjson-{a.resources}{'-billing' if a.billing else ''}"
    t = time.perf_counter()
    manifest = generate(out, a.resources, billing=a.billing, source=a.source)
    how = "already there" if manifest["cached"] else f"written in {time.perf_counter() - t:.1f}s"
    mix = ", ".join(f"{k} {v:,}" for k, v in sorted(manifest["per_type"].items(), key=lambda kv: -kv[1]))
    print(f"{out}: {manifest['resources']:,} resources, {manifest['patients']:,} patients, ", end="")
    print(f"{manifest['bytes'] / 1e9:.2f} GB, {how}")
    print(f"  {mix}")


if __name__ == "__main__":
    main()
