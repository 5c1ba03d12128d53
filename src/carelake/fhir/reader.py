"""Read FHIR R4 as it really arrives: Bulk NDJSON (any naming, gzip or not), bundles, single resources, manifests.

Everything is a stream of `Parsed` items, each either a resource with where it came from or a `Rejection` naming
file, line (NDJSON) or entry (bundle) and the reason. Memory is bounded by the largest single JSON document: NDJSON
is read line by line, and a bundle is parsed one file at a time.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from carelake.errors import InputError
from carelake.fhir.model import r4
from carelake.fhir.validate import check_resource
from carelake.limits import CUT, count_cut, depth_problem, without_deep_parts

log = logging.getLogger(__name__)

__all__ = ["Parsed", "Rejection", "SkippedFile", "discover", "parse_line", "read_file"]

_NDJSON_SUFFIXES = (".ndjson", ".jsonl", ".ndjson.gz", ".jsonl.gz")
_JSON_SUFFIXES = (".json", ".json.gz")
# Bundle types whose entries are resources to store; a history or a message is taken the same way.
_BUNDLE_TYPES = {"transaction", "batch", "collection", "searchset", "history", "document", "message",
                 "transaction-response", "batch-response"}  # fmt: skip


@dataclass(slots=True)
class Parsed:
    """One resource and its provenance. `text` is the original JSON when it can be stored unchanged."""

    resource_type: str
    id: str
    resource: dict[str, Any]
    text: str | None
    file: str
    line: int | None = None
    entry: int | None = None
    full_url: str | None = None


@dataclass(frozen=True, slots=True)
class Rejection:
    """An input record that is not loaded, and why."""

    file: str
    line: int | None
    entry: int | None
    reason: str
    resource_type: str | None = None
    id: str | None = None

    @property
    def where(self) -> str:
        if self.line is not None:
            return f"{self.file}:{self.line}"
        if self.entry is not None:
            return f"{self.file}: entry {self.entry}"
        return self.file


@dataclass(frozen=True, slots=True)
class SkippedFile:
    """A file in the input that holds no FHIR resources (a Bulk export log, a manifest), and why it was passed over."""

    file: str
    reason: str


def discover(paths: Iterable[str | Path]) -> Iterator[Path | SkippedFile]:
    """Files to read, in a stable order: directories are walked; a Bulk manifest names its own output files."""
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise InputError("no such file or directory", file=str(path), hint="check the path")
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and _is_fhir_name(p.name))
            if not files:
                raise InputError("no .ndjson or .json files in this directory", file=str(path))
            manifests = [p for p in files if _is_manifest(p)]
            listed: set[Path] = set()
            for m in manifests:
                yield SkippedFile(str(m), "Bulk Data export manifest (its output files are read)")
                listed.update(_manifest_outputs(m))
            for p in files:
                if p in manifests:
                    continue
                yield SkippedFile(str(p), "Bulk Data export log, not FHIR resources") if _is_log(p) else p
            for p in sorted(listed - set(files)):
                yield p
        elif _is_manifest(path):
            yield SkippedFile(str(path), "Bulk Data export manifest (its output files are read)")
            yield from _manifest_outputs(path)
        else:
            yield path


def _is_fhir_name(name: str) -> bool:
    return name.lower().endswith(_NDJSON_SUFFIXES + _JSON_SUFFIXES)


def _is_log(path: Path) -> bool:
    if path.name.lower() not in {"log.ndjson", "log.ndjson.gz"}:
        return False
    with _open_text(path) as f:
        first = f.readline()
    try:
        row = json.loads(first)
    except ValueError:
        return False
    return isinstance(row, dict) and "resourceType" not in row and "eventId" in row


def _is_manifest(path: Path) -> bool:
    if not path.name.lower().endswith(_JSON_SUFFIXES) or path.stat().st_size > 50_000_000:
        return False
    with _open_text(path) as f:
        head = f.read(4096)
    if '"output"' not in head and '"transactionTime"' not in head:
        return False
    try:
        with _open_text(path) as f:
            doc = json.load(f)
    except ValueError:
        return False
    return isinstance(doc, dict) and "resourceType" not in doc and isinstance(doc.get("output"), list)


def _manifest_outputs(path: Path) -> list[Path]:
    """Local files a Bulk manifest lists; its URLs point at a server, so the file name is looked up beside it."""
    with _open_text(path) as f:
        doc = json.load(f)
    out: list[Path] = []
    for item in doc.get("output", []):
        url = str(item.get("url", "")) if isinstance(item, dict) else ""
        name = url.rstrip("/").rsplit("/", 1)[-1]
        candidates = [path.parent / name, path.parent / (name + ".ndjson"), path.parent / (name + ".ndjson.gz")]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            raise InputError(
                f"the manifest lists {url!r} but no file {name!r} is beside it",
                file=str(path),
                hint="download every output file of the export into the manifest's folder",
            )
        out.append(found)
    return out


def _open_text(path: Path) -> io.TextIOBase:
    # NDJSON lines end at "\n" only (a "\r" before it is stripped with the rest of the whitespace), as in the scanner.
    if path.name.lower().endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="\n")
    return path.open(encoding="utf-8", newline="\n")


def read_file(path: Path) -> Iterator[Parsed | Rejection]:
    """Resources of one file, NDJSON or a JSON document, sniffed by content when the name does not say."""
    name = path.name.lower()
    try:
        if name.endswith(_NDJSON_SUFFIXES):
            yield from _read_ndjson(path)
            return
        if name.endswith(_JSON_SUFFIXES) and path.stat().st_size > 0:
            yield from _read_document(path)
            return
        if path.stat().st_size == 0 or _first_char(path) == "":
            yield Rejection(str(path), None, None, "empty file")
            return
        yield from _read_document(path)
    except (EOFError, gzip.BadGzipFile, UnicodeDecodeError, OSError) as e:
        yield Rejection(str(path), None, None, f"cannot read the file: {e}")


def _first_char(path: Path) -> str:
    with _open_text(path) as f:
        return f.read(1024).strip()[:1]


def _read_ndjson(path: Path) -> Iterator[Parsed | Rejection]:
    file = str(path)
    seen_any = False
    with _open_text(path) as f:
        for number, line in enumerate(f, start=1):
            text = line.strip()
            if not text:
                continue
            seen_any = True
            yield parse_line(text, file, number)
    if not seen_any:
        yield Rejection(file, None, None, "empty file")


def parse_line(text: str, file: str, number: int) -> Parsed | Rejection:
    """One NDJSON line (already stripped): the resource, or why it is rejected."""
    if (problem := depth_problem(text)) is not None:
        return Rejection(file, number, None, problem)
    try:
        doc = json.loads(text)
    except ValueError as e:
        return Rejection(file, number, None, f"malformed JSON: {e}")
    return _resource(doc, text, file, number, None, None, suspect=_may_hold_half_pair(text))


# A \uD800-\uDFFF escape without its other half: json.loads keeps it as a lone surrogate, which no UTF-8 store can
# hold. The pattern only finds candidates (an escaped backslash before "ud800" matches too); `_not_unicode` decides.
_HALF_PAIR = re.compile(
    r"(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}|\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])"
)


def _may_hold_half_pair(text: str) -> bool:
    return "\\u" in text and _HALF_PAIR.search(text) is not None  # the substring test spares most text the regex


def _not_unicode(doc: Any) -> bool:
    try:
        json.dumps(doc, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _read_document(path: Path) -> Iterator[Parsed | Rejection]:
    file = str(path)
    with _open_text(path) as f:
        text = f.read()
    if not text.strip():
        yield Rejection(file, None, None, "empty file")
        return
    if (problem := depth_problem(text)) is not None:
        if text.lstrip().startswith("{") and "\n{" in text:
            yield from _read_ndjson_text(file, text)  # NDJSON saved as .json: each line is measured on its own
            return
        yield from _read_deep_document(file, text, problem)
        return
    try:
        doc = json.loads(text)
    except ValueError as e:
        # NDJSON saved as .json: try it line by line before giving up.
        if text.lstrip().startswith("{") and "\n{" in text:
            yield from _read_ndjson_text(file, text)
            return
        yield Rejection(file, getattr(e, "lineno", None), None, f"malformed JSON: {e}")
        return
    suspect = _may_hold_half_pair(text)
    if isinstance(doc, dict) and doc.get("resourceType") == "Bundle":
        yield from _read_bundle(doc, file, suspect=suspect)
        return
    yield _resource(doc, None, file, None, None, None, suspect=suspect)


def _read_ndjson_text(file: str, text: str) -> Iterator[Parsed | Rejection]:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            item = parse_line(line.strip(), file, number)
            yield item


def _read_deep_document(file: str, text: str, problem: str) -> Iterator[Parsed | Rejection]:
    """A document nesting deeper than the limit: a Bundle's entries that do are set aside and the rest is read;
    anywhere else the whole document is refused."""
    doc = without_deep_parts(text, keep=3)  # Bundle {, entry [, the entry's {
    entries = doc.get("entry") if isinstance(doc, dict) and doc.get("resourceType") == "Bundle" else None
    if not isinstance(entries, list) or count_cut(doc) != sum(1 for e in entries if e == CUT):
        yield Rejection(file, None, None, problem)
        return
    yield from _read_bundle(doc, file, problem, suspect=_may_hold_half_pair(text))


def _read_bundle(
    bundle: dict[str, Any], file: str, deep: str = "", *, suspect: bool = False
) -> Iterator[Parsed | Rejection]:
    """The entries of a Bundle; `deep` is the reason for the ones cut out for nesting too deep, `suspect` whether the
    file may hold half a surrogate pair."""
    kind = bundle.get("type")
    if kind not in _BUNDLE_TYPES:
        yield Rejection(file, None, None, f"Bundle.type {kind!r} is not a FHIR bundle type", "Bundle", bundle.get("id"))
        return
    entries = bundle.get("entry", [])
    if not isinstance(entries, list):
        yield Rejection(file, None, None, "Bundle.entry is not a list", "Bundle", bundle.get("id"))
        return
    if not entries:  # said, not passed over in silence: a damaged key ('entri') looks just like this
        reason = "a Bundle with no entries, so nothing to load" + ("" if "entry" in bundle else " (it has no 'entry')")
        yield Rejection(file, None, None, reason, "Bundle", _str(bundle.get("id")))
        return
    for number, entry in enumerate(entries, start=1):
        if deep and entry == CUT:
            yield Rejection(file, None, number, deep)
            continue
        if not isinstance(entry, dict):
            yield Rejection(file, None, number, "Bundle.entry is not an object")
            continue
        resource = entry.get("resource")
        if resource is None:
            request = entry.get("request") or {}
            method = request.get("method") if isinstance(request, dict) else None
            if method == "DELETE":
                yield Rejection(file, None, number, "DELETE entry: nothing to store")
            else:
                yield Rejection(file, None, number, "entry without a resource")
            continue
        full_url = entry.get("fullUrl") if isinstance(entry.get("fullUrl"), str) else None
        yield _resource(resource, None, file, None, number, full_url, suspect=suspect)


def _resource(
    doc: Any,
    text: str | None,
    file: str,
    line: int | None,
    entry: int | None,
    full_url: str | None,
    *,
    suspect: bool = False,
) -> Parsed | Rejection:
    if not isinstance(doc, dict):
        return Rejection(file, line, entry, f"expected a JSON object, found {type(doc).__name__}")
    rtype = doc.get("resourceType")
    if not isinstance(rtype, str) or not rtype:
        return Rejection(file, line, entry, "resource without resourceType")
    if not r4().is_resource(rtype):
        return Rejection(file, line, entry, f"unknown resourceType {rtype!r}", rtype, _str(doc.get("id")))
    rid = doc.get("id")
    if rid is None and full_url and full_url.startswith("urn:uuid:"):
        # Transaction bundles may leave the id to the server; the entry's urn:uuid is the stable choice.
        rid = full_url[len("urn:uuid:") :]
        doc["id"] = rid
        text = None
    if rid is None:
        # No id at all (test fixtures, some exports): a key derived from the content keeps loads idempotent,
        # and the resource itself stays as written, so `id` reads as empty in a view.
        rid = "carelake-" + uuid.uuid5(uuid.NAMESPACE_URL, json.dumps(doc, sort_keys=True)).hex
    elif not isinstance(rid, str) or not rid:
        return Rejection(file, line, entry, "Resource.id must be a non-empty string", rtype)
    problem = check_resource(doc, rtype)
    if problem is not None:
        return Rejection(file, line, entry, problem, rtype, rid)
    if suspect and _not_unicode(doc):
        reason = "a string holds half of a UTF-16 surrogate pair (a \\uD800-\\uDFFF escape alone), which is not text"
        return Rejection(file, line, entry, reason, rtype, rid)
    return Parsed(rtype, rid, doc, text, file, line, entry, full_url)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None
