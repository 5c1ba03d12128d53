"""Build the bundled mini-vocabulary (`vocabulary/*.csv.gz`) for exactly the concepts the simulator writes.

Rows come from the Synthea27Nj vocabulary bundled with carelake where it has them; the rest are written here by hand
(Athena's ids and names; `docs/simulator.md`, "Codes and vocabulary"). Run `python -m carelake.synth.vocab` after
changing `codes.py`; the output is deterministic (gzip without time or name), and a test checks it is up to date.
"""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

from carelake.synth.codes import CONDITIONS, DRUGS, INGREDIENTS, MEASURES, PROCEDURES, VISITS

__all__ = ["FILES", "SOURCE_MAPS", "build", "concept_ids", "vocabulary_rows"]

SYNTHEA = Path(__file__).parents[1] / "data" / "synthea27nj"
VOCABULARY = Path(__file__).with_name("vocabulary")
FILES = ("CONCEPT", "CONCEPT_RELATIONSHIP", "CONCEPT_ANCESTOR", "VOCABULARY", "DOMAIN", "CONCEPT_CLASS", "RELATIONSHIP")
EHR = 32817
GENDERS = (8507, 8532)
RACES = (8527, 8516, 8515)
ETHNICITIES = (38003563, 38003564)
# Non-standard source concepts written or met in FHIR → their standard concept ("Maps to").
SOURCE_MAPS = {3030354: 46236952}  # LOINC 33914-3 (deprecated 2018) → 77147-7

_OPEN = ("1970-01-01", "2099-12-31", "")
# concept_id: (name, domain, vocabulary, class, standard, code); valid from 1970-01-01 to 2099-12-31.
HAND_CONCEPTS: dict[int, tuple[str, str, str, str, str, str]] = {
    0: ("No matching concept", "Metadata", "None", "Undefined", "", "No matching concept"),
    EHR: ("EHR", "Type Concept", "Type Concept", "Type Concept", "S", "OMOP4976890"),
    8507: ("MALE", "Gender", "Gender", "Gender", "S", "M"),
    8532: ("FEMALE", "Gender", "Gender", "Gender", "S", "F"),
    8527: ("White", "Race", "Race", "Race", "S", "5"),
    8516: ("Black or African American", "Race", "Race", "Race", "S", "3"),
    8515: ("Asian", "Race", "Race", "Race", "S", "2"),
    442077: ("Anxiety disorder", "Condition", "SNOMED", "Clinical Finding", "S", "197480006"),
    46236952: (
        "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum, Plasma or Blood by "
        "Creatinine-based formula (MDRD)",
        "Measurement",
        "LOINC",
        "Lab Test",
        "S",
        "77147-7",
    ),
    1503297: ("metformin", "Drug", "RxNorm", "Ingredient", "S", "6809"),
    43526465: ("canagliflozin", "Drug", "RxNorm", "Ingredient", "S", "1373458"),
    974166: ("hydrochlorothiazide", "Drug", "RxNorm", "Ingredient", "S", "5487"),
    956874: ("furosemide", "Drug", "RxNorm", "Ingredient", "S", "4603"),
    1346823: ("carvedilol", "Drug", "RxNorm", "Ingredient", "S", "20352"),
    739138: ("sertraline", "Drug", "RxNorm", "Ingredient", "S", "36437"),
    # Local concepts (OHDSI convention: ids >= 2,000,000,000 are site-specific): no concept id known for certain.
    2000000001: (
        "Number of steps in 24 hour Measured",
        "Measurement",
        "Carelake",
        "Clinical Observation",
        "S",
        "41950-7",
    ),
    2000000002: ("Sleep duration", "Measurement", "Carelake", "Clinical Observation", "S", "93832-4"),
}
VOCABULARIES = {
    "None": ("OMOP Standardized Vocabularies", "OMOP generated", ""),
    "SNOMED": ("Systematic Nomenclature of Medicine - Clinical Terms (IHTSDO)", "http://www.snomed.org/", ""),
    "LOINC": ("Logical Observation Identifiers Names and Codes (Regenstrief Institute)", "http://loinc.org/", ""),
    "RxNorm": ("RxNorm (NLM)", "http://www.nlm.nih.gov/research/umls/rxnorm/", ""),
    "UCUM": ("Unified Code for Units of Measure (Regenstrief Institute)", "http://unitsofmeasure.org/", ""),
    "Visit": ("OMOP Visit", "OMOP generated", ""),
    "Gender": ("OMOP Gender", "OMOP generated", ""),
    "Race": ("Race and Ethnicity Code Set (USBC)", "http://www.cdc.gov/nchs/data/dvs/Race_Ethnicity_CodeSet.pdf", ""),
    "Ethnicity": ("OMOP Ethnicity", "OMOP generated", ""),
    "Type Concept": ("OMOP Type Concept", "OMOP generated", ""),
    "Carelake": ("carelake simulator local concepts", "docs/simulator.md", ""),
}
RELATIONSHIPS = {  # relationship_id: (name, is_hierarchical, defines_ancestry, reverse)
    "Maps to": ("Non-standard to Standard map (OMOP)", "0", "0", "Mapped from"),
    "Mapped from": ("Standard to Non-standard map (OMOP)", "0", "0", "Maps to"),
}


def concept_ids() -> list[int]:
    """Every concept id the simulator writes or its FHIR output maps through, sorted."""
    codes = [*CONDITIONS.values(), *MEASURES.values(), *DRUGS.values(), *INGREDIENTS.values(), *PROCEDURES.values()]
    ids = {c.concept_id for c in codes} | {c.unit_concept_id for c in MEASURES.values()}
    ids |= {v[0] for v in VISITS.values()} | {0, EHR, *GENDERS, *RACES, *ETHNICITIES, *SOURCE_MAPS}
    return sorted(ids)


def _read(name: str) -> list[dict[str, str]]:
    with gzip.open(SYNTHEA / f"{name}.csv.gz", "rt", newline="") as f:
        return list(csv.DictReader(f))


def vocabulary_rows() -> dict[str, tuple[list[str], list[list[str]]]]:
    """(header, rows) of each vocabulary table."""
    wanted = concept_ids()
    synthea = {int(r["concept_id"]): r for r in _read("CONCEPT")}
    cols = [
        "concept_id",
        "concept_name",
        "domain_id",
        "vocabulary_id",
        "concept_class_id",
        "standard_concept",
        "concept_code",
        "valid_start_date",
        "valid_end_date",
        "invalid_reason",
    ]
    concepts: list[list[str]] = []
    for cid in wanted:
        if cid in HAND_CONCEPTS:
            concepts.append([str(cid), *HAND_CONCEPTS[cid], *_OPEN])
        elif cid in synthea:
            concepts.append([synthea[cid][c][:10] if c.startswith("valid_") else synthea[cid][c] for c in cols])
        else:
            raise KeyError(f"concept {cid} is neither in Synthea27Nj nor written by hand")
    standard = {int(r[0]) for r in concepts if r[5] == "S" and r[2] not in ("Unit", "Type Concept", "Metadata")}
    rel: list[list[str]] = []
    for cid in sorted(standard):
        rel += [[str(cid), str(cid), "Mapped from", *_OPEN], [str(cid), str(cid), "Maps to", *_OPEN]]
    for src, std in SOURCE_MAPS.items():
        rel += [[str(src), str(std), "Maps to", *_OPEN], [str(std), str(src), "Mapped from", *_OPEN]]
    rel.sort(key=lambda r: (int(r[0]), int(r[1]), r[2]))
    ancestors = [[str(c.concept_id)] * 2 + ["0", "0"] for c in INGREDIENTS.values()]
    for key, drug in DRUGS.items():
        ancestors += [[str(drug.concept_id)] * 2 + ["0", "0"], [str(INGREDIENTS[key].concept_id), str(drug.concept_id)]]
        ancestors[-1] += ["1", "1"]
    ancestors.sort(key=lambda r: (int(r[0]), int(r[1])))
    vocab_rows = {r["vocabulary_id"]: r for r in _read("VOCABULARY")}
    vocabs = []
    for vid in sorted({r[3] for r in concepts}):
        if vid in vocab_rows:
            r = vocab_rows[vid]
            vocabs.append([vid, r["vocabulary_name"], r["vocabulary_reference"], r["vocabulary_version"], "0"])
        else:
            vocabs.append([vid, *VOCABULARIES[vid], "0"])
    domains = [[d, d, "0"] for d in sorted({r[2] for r in concepts})]
    classes = [[c, c, "0"] for c in sorted({r[4] for r in concepts})]
    relationships = [[k, *v, "0"] for k, v in sorted(RELATIONSHIPS.items())]
    return {
        "CONCEPT": (cols, concepts),
        "CONCEPT_RELATIONSHIP": (
            ["concept_id_1", "concept_id_2", "relationship_id", "valid_start_date", "valid_end_date", "invalid_reason"],
            rel,
        ),
        "CONCEPT_ANCESTOR": (
            ["ancestor_concept_id", "descendant_concept_id", "min_levels_of_separation", "max_levels_of_separation"],
            ancestors,
        ),
        "VOCABULARY": (
            ["vocabulary_id", "vocabulary_name", "vocabulary_reference", "vocabulary_version", "vocabulary_concept_id"],
            vocabs,
        ),
        "DOMAIN": (["domain_id", "domain_name", "domain_concept_id"], domains),
        "CONCEPT_CLASS": (["concept_class_id", "concept_class_name", "concept_class_concept_id"], classes),
        "RELATIONSHIP": (
            [
                "relationship_id",
                "relationship_name",
                "is_hierarchical",
                "defines_ancestry",
                "reverse_relationship_id",
                "relationship_concept_id",
            ],
            relationships,
        ),
    }


def encode(header: list[str], rows: list[list[str]]) -> bytes:
    """A gzip CSV with fixed header bytes (no time, no name), so rebuilding gives the same file."""
    text = io.StringIO()
    w = csv.writer(text, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return gzip.compress(text.getvalue().encode(), compresslevel=9, mtime=0)


def build(out: Path = VOCABULARY) -> dict[str, int]:
    """Write every vocabulary file under `out`; returns rows per file."""
    out.mkdir(parents=True, exist_ok=True)
    counts = {}
    for name, (header, rows) in vocabulary_rows().items():
        (out / f"{name}.csv.gz").write_bytes(encode(header, rows))
        counts[name] = len(rows)
    return counts


if __name__ == "__main__":
    print(build())
