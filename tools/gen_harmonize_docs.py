"""Write the FHIR → OMOP mapping tables of docs/harmonize.md from the mapping definitions themselves.

Each ViewDefinition column in `src/carelake/harmonize/mappings/*.view.json` carries its target and rule in the
standard `description` field ("→ table.field: rule"); each SQL file opens with a comment saying what it does. The
tables go between `<!-- generated: mappings -->` and `<!-- end generated -->`; prose outside stays hand-written.

    uv run python tools/gen_harmonize_docs.py           # rewrite docs/harmonize.md
    uv run python tools/gen_harmonize_docs.py --check   # exit 1 when it is out of date
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MAPPINGS = ROOT / "src" / "carelake" / "harmonize" / "mappings"
DOC = ROOT / "docs" / "harmonize.md"
BEGIN = "<!-- generated: mappings -->"
END = "<!-- end generated -->"
# The order the pipeline runs its SQL files (src/carelake/harmonize/pipeline.py); files not named here follow.
SQL_ORDER = ("places", "visit.prepare", "event.prepare", "note.prepare", "person", "visit_occurrence", "event",
             "note", "observation_period", "eras")  # fmt: skip
_TARGET = re.compile(r"^→\s*(?P<target>[^:]+?)(?::\s*(?P<rule>.*))?$", re.S)
_WRITES = re.compile(r"INSERT\s+INTO\s+\{cdm\}\.(\w+)", re.I)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def columns(view: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(FHIR element, column name, description) for every column of a view, nested selects included."""
    out: list[tuple[str, str, str]] = []

    def walk(select: dict[str, Any], prefix: str) -> None:
        each = select.get("forEach") or select.get("forEachOrNull")
        here = f"{prefix}.{each}" if each else prefix
        for col in select.get("column", []):
            path = str(col["path"])
            element = f"{here} (position)" if path == "%rowIndex" else f"{here}.{path}"
            out.append((element, str(col["name"]), str(col.get("description", ""))))
        for nested in [*select.get("select", []), *select.get("unionAll", [])]:
            walk(nested, here)

    for select in view.get("select", []):
        walk(select, str(view["resource"]))
    return out


def split_description(description: str) -> tuple[str, str]:
    """ "→ person.gender_concept_id: male 8507" → ("person.gender_concept_id", "male 8507"); no arrow: no target."""
    m = _TARGET.match(description.strip())
    if m is None:
        return "", description.strip()
    return m["target"].strip(), (m["rule"] or "").strip()


def _view_order() -> list[Path]:
    from carelake.harmonize.manifest import STAGE_TABLES

    files = sorted(MAPPINGS.glob("*.view.json"))
    rank = {t.name: i for i, t in enumerate(STAGE_TABLES)}
    return sorted(files, key=lambda p: (rank.get(p.name.removesuffix(".view.json"), len(rank)), p.name))


def _sql_summary(path: Path) -> tuple[str, str]:
    text = path.read_text(encoding="utf-8")
    lead: list[str] = []
    for line in text.splitlines():
        if not line.startswith("--"):
            break
        lead.append(line.removeprefix("--").strip())
    writes = sorted(dict.fromkeys(m.lower() for m in _WRITES.findall(text)))
    return ", ".join(writes), " ".join(lead)


def render() -> str:
    """The generated block, markers included."""
    lines = [BEGIN, "<!-- written by tools/gen_harmonize_docs.py from the mappings; edit them, not this block -->", ""]
    for path in _view_order():
        view = json.loads(path.read_text(encoding="utf-8"))
        lines += [
            f"#### {view['resource']} (`{path.name}`)",
            "",
            "| FHIR element | OMOP field | rule |",
            "|---|---|---|",
        ]
        for element, name, description in columns(view):
            target, rule = split_description(description)
            lines.append(f"| `{_cell(element)}` | {_cell(target) or '(' + name + ')'} | {_cell(rule)} |")
        lines.append("")
    lines += ["#### SQL steps, in the order they run", "", "| file | writes | what it does |", "|---|---|---|"]
    rank = {name: i for i, name in enumerate(SQL_ORDER)}
    for path in sorted(MAPPINGS.glob("*.sql"), key=lambda p: (rank.get(p.stem, len(rank)), p.name)):
        writes, what = _sql_summary(path)
        lines.append(f"| `{path.name}` | {_cell(writes) or 'stage tables'} | {_cell(what)} |")
    lines += ["", END]
    return "\n".join(lines)


def update(document: str, block: str) -> str:
    """`document` with its generated block replaced by `block`."""
    start, end = document.find(BEGIN), document.find(END)
    if start < 0 or end < start:
        raise SystemExit(f"{DOC}: the markers {BEGIN} ... {END} are missing")
    return document[:start] + block + document[end + len(END) :]


def main(argv: list[str]) -> int:
    current = DOC.read_text(encoding="utf-8")
    wanted = update(current, render())
    if "--check" in argv:
        if wanted != current:
            print(f"{DOC} is out of date: run uv run python tools/gen_harmonize_docs.py", file=sys.stderr)
            return 1
        return 0
    if wanted != current:
        DOC.write_text(wanted, encoding="utf-8")
        print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
