"""docs/harmonize.md's mapping tables are generated from the mappings: they must match them, and name real fields."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType

from carelake.omop.schema import table_by_name

ROOT = Path(__file__).resolve().parents[2]
MAPPINGS = ROOT / "src" / "carelake" / "harmonize" / "mappings"


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_harmonize_docs", ROOT / "tools" / "gen_harmonize_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_docs_match_the_generator() -> None:
    tool = _tool()
    current = (ROOT / "docs" / "harmonize.md").read_text(encoding="utf-8")
    assert tool.update(current, tool.render()) == current, "run: uv run python tools/gen_harmonize_docs.py"


def test_a_changed_description_makes_the_docs_stale() -> None:
    tool = _tool()
    block = tool.render()
    doc = "intro\n" + tool.BEGIN + "\nold\n" + tool.END + "\noutro\n"
    assert tool.update(doc, block) == "intro\n" + block + "\noutro\n"
    assert "| `Patient.gender` | person.gender_concept_id | male 8507, female 8532" in block


def test_every_column_is_described_and_targets_real_cdm_fields() -> None:
    tool = _tool()
    views = sorted(MAPPINGS.glob("*.view.json"))
    assert len(views) >= 16
    for path in views:
        for _element, name, description in tool.columns(json.loads(path.read_text(encoding="utf-8"))):
            assert description, f"{path.name}: column {name} has no description"
            target, _ = tool.split_description(description)
            table_name = ""
            for part in filter(None, re.split(r",\s*", target)):
                # "visit_occurrence.a, b": a part without a table is a field of the table before it.
                if "." in part or not table_name:
                    table_name, _, field = part.partition(".")
                else:
                    field = part
                table = table_by_name(table_name.strip())
                assert table is not None, f"{path.name} {name}: no CDM table {table_name!r}"
                stem = field.split("/")[0]
                if field and "*" not in field:
                    names = [c.name for c in table.schema.columns]
                    assert any(n.startswith(stem) for n in names), f"{path.name} {name}: no field {part!r}"
