"""Replicate real Synthea R4 Observations and Patients into Bulk-style NDJSON with fresh ids, for the FHIR benchmarks.

    uv run python benchmarks/fhir_data.py --observations 1000000 [--patients 200000] --out DIR

Sources: the Observation and Patient resources inside the transaction bundles of the SMART sample data
(`../shared/data/synthea-fhir/smart-generated-sample-data-r4-2019/*.json` beside the repository, or `--source`).
Replica k of a source resource gets the id uuid5(NS, "k/Type/original-id"). The bundles' references are
bundle-local `urn:uuid:`s, which mean nothing in a Bulk export, so each is rewritten to the relative reference of
the same replica of its target: `subject` -> `Patient/<fresh id>`, `encounter` -> `Encounter/<fresh id>` (the
Encounters themselves are not written). Everything else is kept as in the source, serialised compactly, one
resource a line. Observations go in files of 200,000 lines (`Observation.000.ndjson`, ...), then the Patients of
every replica used (`Patient.000.ndjson`, ...), plus further replicas of the Patients alone if `--patients` asks
for more (the sources have 108 Observations a Patient, so 1M Observations name only ~9,000 Patients). Output is
deterministic; `manifest.json` records the counts, and a second run with the same arguments does nothing.
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

SHARED = Path(__file__).resolve().parents[2] / "shared"  # beside the repository
SOURCE = SHARED / "data" / "synthea-fhir" / "smart-generated-sample-data-r4-2019"
LINES_PER_FILE = 200_000
NAMESPACE = uuid.UUID("6f1c2b0e-5d0a-4c59-9a8e-6b2f4b1e0c11")
FORMAT_VERSION = 2
_HOLE = re.compile(r'"\\u0000(\d+)\\u0000"')  # how json.dumps writes the placeholder "\x00<n>\x00"


class Template:
    """One source resource serialised once, with holes for its id and its `urn:uuid:` references."""

    def __init__(self, resource: dict[str, Any], kinds: dict[str, str]) -> None:
        self.kind = str(resource["resourceType"])
        self.original_id = str(resource["id"])
        self.targets: list[tuple[str, str]] = []  # hole n >= 1: (resource type, original id) it refers to
        copy = json.loads(json.dumps(resource))
        copy["id"] = "\x000\x00"
        self._punch(copy, kinds)
        pieces = _HOLE.split(json.dumps(copy, ensure_ascii=False, separators=(",", ":")))
        self.parts = pieces[0::2]
        self.holes = [int(n) for n in pieces[1::2]]

    def _punch(self, node: Any, kinds: dict[str, str]) -> None:
        if isinstance(node, list):
            for item in node:
                self._punch(item, kinds)
        elif isinstance(node, dict):
            ref = node.get("reference")
            if isinstance(ref, str) and ref.startswith("urn:uuid:"):
                if ref not in kinds:
                    raise ValueError(f"{self.kind}/{self.original_id}: {ref} is not in any bundle")
                self.targets.append((kinds[ref], ref.removeprefix("urn:uuid:")))
                node["reference"] = f"\x00{len(self.targets)}\x00"
            for value in node.values():
                self._punch(value, kinds)

    def render(self, replica: int) -> str:
        """Replica `replica` of the resource as one NDJSON line."""
        values = [fresh_id(replica, self.kind, self.original_id)]
        values += [f"{kind}/{fresh_id(replica, kind, original)}" for kind, original in self.targets]
        out = [self.parts[0]]
        for hole, part in zip(self.holes, self.parts[1:], strict=True):
            out += ['"', values[hole], '"', part]
        out.append("\n")
        return "".join(out)


@functools.lru_cache(maxsize=1 << 16)
def fresh_id(replica: int, kind: str, original: str) -> str:
    """Deterministic fresh id of replica `replica` of `kind/original`."""
    return str(uuid.uuid5(NAMESPACE, f"{replica}/{kind}/{original}"))


def read_sources(source: Path) -> tuple[list[Template], list[Template]]:
    """Patients and Observations of every bundle in `source`, in file then entry order."""
    bundles = [json.loads(path.read_text(encoding="utf-8")) for path in sorted(source.glob("*.json"))]
    entries = [entry for bundle in bundles for entry in bundle.get("entry", [])]
    kinds = {e["fullUrl"]: e["resource"]["resourceType"] for e in entries if "fullUrl" in e}
    wanted: dict[str, list[Template]] = {"Patient": [], "Observation": []}
    for entry in entries:
        resource = entry["resource"]
        if resource["resourceType"] in wanted:
            wanted[resource["resourceType"]].append(Template(resource, kinds))
    if not wanted["Patient"] or not wanted["Observation"]:
        raise SystemExit(f"no Patient or Observation resources in {source}")
    return wanted["Patient"], wanted["Observation"]


class _Writer:
    """Streams lines to `Kind.000.ndjson`, `Kind.001.ndjson`, ... with at most LINES_PER_FILE lines each."""

    def __init__(self, out: Path, kind: str) -> None:
        self.out, self.kind, self.count = out, kind, 0
        self.files: list[str] = []
        self._handle: TextIO | None = None

    def write(self, line: str) -> None:
        if self._handle is None:
            name = f"{self.kind}.{len(self.files):03d}.ndjson"
            self.files.append(name)
            self._handle = (self.out / name).open("w", encoding="utf-8", buffering=1 << 20)
        self._handle.write(line)
        self.count += 1
        if self.count % LINES_PER_FILE == 0:
            self.close()

    def close(self) -> list[str]:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        return self.files


def _replicas(templates: list[Template], n: int, at_least_replicas: int = 0) -> Iterator[tuple[int, Template]]:
    """(replica, template) cycling through the templates: n items, or more to finish `at_least_replicas` replicas."""
    count = 0
    replica = 0
    while count < n or replica < at_least_replicas:
        for template in templates:
            if count >= n and replica >= at_least_replicas:
                return
            yield replica, template
            count += 1
        replica += 1


def reuse_or_clear(out: Path, manifest_path: Path, wanted: dict[str, Any]) -> dict[str, Any] | None:
    """The manifest of files already made with the `wanted` arguments (marked `cached`); else an emptied `out`."""
    if manifest_path.exists():
        manifest: dict[str, Any] = json.loads(manifest_path.read_text())
        if all(manifest.get(k) == v for k, v in wanted.items()) and all(
            (out / name).exists() for name in manifest["files"]
        ):
            return {**manifest, "cached": True}
    out.mkdir(parents=True, exist_ok=True)
    manifest_path.unlink(missing_ok=True)
    for old in out.glob("*.ndjson"):
        old.unlink()
    return None


def generate(out: Path, n_observations: int, n_patients: int = 0, source: Path = SOURCE) -> dict[str, Any]:
    """Write the NDJSON files into `out` and return the manifest; `cached` is true when they were there already.

    Patients: every replica of the sources that the Observations use, then further replicas (Patients without
    Observations) up to `n_patients` if that is more.
    """
    manifest_path = out / "manifest.json"
    wanted: dict[str, Any] = {"version": FORMAT_VERSION, "observations": n_observations, "min_patients": n_patients}
    wanted["source"] = str(source)
    if (cached := reuse_or_clear(out, manifest_path, wanted)) is not None:
        return cached
    patients, observations = read_sources(source)
    obs_writer = _Writer(out, "Observation")
    replicas = 0
    for replica, obs in _replicas(observations, n_observations):
        obs_writer.write(obs.render(replica))
        replicas = replica + 1
    pat_writer = _Writer(out, "Patient")
    for replica, pat in _replicas(patients, n_patients, replicas):
        pat_writer.write(pat.render(replica))
    manifest = {
        **wanted,
        "patients": pat_writer.count,
        "replicas": replicas,
        "lines_per_file": LINES_PER_FILE,
        "files": obs_writer.close() + pat_writer.close(),
    }
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    return {**manifest, "cached": False}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--observations", type=int, default=1_000_000)
    p.add_argument("--patients", type=int, default=0, help="at least this many Patients (default: those referenced)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--source", type=Path, default=SOURCE)
    a = p.parse_args()
    t = time.perf_counter()
    manifest = generate(a.out, a.observations, a.patients, a.source)
    size = sum((a.out / name).stat().st_size for name in manifest["files"])
    how = "already there" if manifest["cached"] else f"written in {time.perf_counter() - t:.1f}s"
    print(
        f"{a.out}: {manifest['observations']:,} Observations, {manifest['patients']:,} Patients "
        f"({size / 1e9:.2f} GB), {how}"
    )


if __name__ == "__main__":
    main()
