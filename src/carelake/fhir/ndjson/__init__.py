"""Bulk NDJSON at engine speed: Arrow or an in-memory DuckDB parses, sorts and shape-checks the lines, Python sees few.

Parsing every resource in Python costs more than the rest of a load together. Here a file is read in chunks of
whole lines, and each chunk is classified in one of two ways; both find each line's resourceType, id, whether it
has references to rewrite, and vouch for its shape against the R4 model (`validate.shape_fits`):

- Arrow's JSON reader parses the whole chunk into columns, which also gives one schema for all its lines (their
  merged structure). When that merged structure fits the model for every resource type in the chunk, so does each
  line's own; on a clean export that is every chunk, and it is the cheap way (one C++ parse, no per-line structure).
- Otherwise (a line Arrow will not take, items that disagree, a null, one line that does not fit) DuckDB computes each
  line's JSON structure; a structure is checked once and answers for every line that shares it.

What neither can vouch for (malformed JSON, unknown types, odd ids, structures that need a closer look) goes to the
full Python check, which gives the exact reason; so the outcome per line is the same as reading it in Python.

Modules: `lines` (a file as chunks of whole, decoded lines), `scanner` (the threads, and DuckDB's way), `shapes`
(Arrow's way: its merged schema as a structure the model can check, references found in the parsed columns),
`routes` (a classified chunk cut into what goes straight to the raw store and what Python must read).
"""

from __future__ import annotations

from carelake.fhir.ndjson.routes import Chunk
from carelake.fhir.ndjson.scanner import NdjsonScanner

__all__ = ["Chunk", "NdjsonScanner"]
