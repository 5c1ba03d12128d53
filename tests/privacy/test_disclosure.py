"""The disclosure rule: one rule in Python and in SQL, set in one place, applied to every export."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import carelake
from carelake.config import load_settings
from carelake.errors import ConfigError
from carelake.privacy import DEFAULT_MIN_CELL_COUNT, DisclosureRule, disclosure_rule
from carelake.warehouse import connect

LIBRARY = Path(__file__).parents[1] / "data" / "circe" / "phenotypelibrary"


def test_rule_in_sql_is_the_rule_in_python() -> None:
    wh = connect("duckdb:///:memory:")
    for cutoff in (1, 2, 5, 11):
        rule = DisclosureRule(cutoff)
        got = wh.fetch_arrow(f"SELECT n, {rule.sql_shown('n')} AS shown FROM range(0, 25) t(n) ORDER BY n").to_pylist()
        assert [r["shown"] for r in got] == [not rule.hides(n) for n in range(25)]
        assert [rule.label(n) for n in range(25)] == [f"<{cutoff}" if 0 < n < cutoff else n for n in range(25)]
    wh.close()
    assert (
        DisclosureRule(5).shown(4) is None and DisclosureRule(5).shown(0) == 0 and DisclosureRule(5).shown(None) is None
    )
    assert disclosure_rule(None).min_cell_count == DEFAULT_MIN_CELL_COUNT == 5


@pytest.mark.parametrize("bad", [0, -3, True, 2.5, "5"])
def test_rule_refuses_cutoffs_that_are_not_counts(bad: Any) -> None:
    with pytest.raises(ConfigError, match="min_cell_count"):
        DisclosureRule(bad)


def test_cutoff_is_set_in_one_place_flags_over_env_over_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = tmp_path / "carelake.toml"
    monkeypatch.delenv("CARELAKE_MIN_CELL_COUNT", raising=False)
    assert load_settings(config_file=toml).min_cell_count_from == "default"
    toml.write_text("min_cell_count = 11\n")
    assert (load_settings(config_file=toml).min_cell_count, load_settings(config_file=toml).min_cell_count_from) == (
        11,
        str(toml),
    )
    monkeypatch.setenv("CARELAKE_MIN_CELL_COUNT", "20")
    assert load_settings(config_file=toml).min_cell_count == 20
    assert load_settings(config_file=toml, flag_min_cell_count=3).min_cell_count == 3
    monkeypatch.delenv("CARELAKE_MIN_CELL_COUNT")
    toml.write_text("min_cell_count = 0\n")
    with pytest.raises(ConfigError, match=r"carelake.toml: min_cell_count 0 is below 1"):
        load_settings(config_file=toml)
    toml.write_text('min_cell_count = "five"\n')
    with pytest.raises(ConfigError, match="must be a whole number"):
        load_settings(config_file=toml)


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARELAKE_")}
    done = subprocess.run(
        [sys.executable, "-m", "carelake", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    return done


def _exports(url: str, cutoff: int, folder: Path) -> dict[str, Any]:
    """Run `quality` and `characterize` with the cutoff set in carelake.toml only; read back what they wrote."""
    folder.mkdir()
    (folder / "carelake.toml").write_text(f'warehouse = "{url}"\nmin_cell_count = {cutoff}\n')
    _cli("quality", "--out", "q", "--json", cwd=folder)
    _cli("characterize", "--cohort", "770", "--cohort", "976", "--outcome", "23", "--out", "c", "--json", cwd=folder)
    page = (folder / "q" / "dashboard.html").read_text()
    achilles = re.search(r'<script type="application/json" id="achilles-data">(.*?)</script>', page, re.S)
    assert achilles is not None
    return {
        "dqd": json.loads((folder / "q" / "dqd-results.json").read_text()),
        "page": page,
        "achilles": json.loads(achilles.group(1).replace("<\\/", "</")),
        "table1": json.loads((folder / "c" / "characterization.json").read_text()),
        "table1_html": (folder / "c" / "characterization.html").read_text(),
    }


def _counts(doc: Any) -> list[int | str]:
    """Every count-like value in a characterization document (ints and "<N" labels), however nested."""
    keys = {"count", "n", "persons", "records", "events", "at_risk"}
    out: list[int | str] = []
    if isinstance(doc, dict):
        for k, v in doc.items():
            if k in keys and isinstance(v, int | str):
                out.append(v)
            else:
                out.extend(_counts(v))
    elif isinstance(doc, list):
        for v in doc:
            out.extend(_counts(v))
    return out


def test_configured_cutoff_changes_every_export(tmp_path: Path, sample_dir: Path) -> None:
    url = f"duckdb:///{tmp_path / 'wh.duckdb'}"
    wh = connect(url)
    carelake.load_omop(wh, [sample_dir])
    carelake.cohorts.generate(wh, {cid: LIBRARY / f"{cid}.json" for cid in (23, 770, 976)})
    wh.close()
    low, high = _exports(url, 5, tmp_path / "five"), _exports(url, 11, tmp_path / "eleven")
    for cutoff, got in ((5, low), (11, high)):
        # Quality JSON: no violated or denominator count from 1 to cutoff - 1, and the cutoff recorded.
        assert got["dqd"]["Metadata"][0]["CARELAKE_MIN_CELL_COUNT"] == cutoff
        for r in got["dqd"]["CheckResults"]:
            for key in ("numViolatedRows", "numDenominatorRows"):
                assert not (r[key] is not None and 0 < r[key] < cutoff), (cutoff, r["checkId"], key)
        # Dashboard: the page says so and its characterization holds no small cell.
        assert f"counts below {cutoff} are withheld" in got["page"]
        assert got["achilles"]["minCellCount"] == cutoff
        assert all(not 0 < r["count_value"] < cutoff for r in got["achilles"]["results"])
        # Characterization: every small count is the label "<cutoff".
        counts = _counts(got["table1"]["cohorts"]) + _counts(got["table1"].get("kaplan_meier", []))
        assert got["table1"]["min_cell_count"] == cutoff
        assert all(c == f"<{cutoff}" or (isinstance(c, int) and not 0 < c < cutoff) for c in counts)
        assert f"Counts below {cutoff} are shown as &lt;{cutoff}" in got["table1_html"]
    # And the higher cutoff withholds strictly more in each export.
    hidden = {k: sum(r["suppressed"] for r in d["dqd"]["CheckResults"]) for k, d in (("5", low), ("11", high))}
    assert hidden["11"] > hidden["5"]
    assert len(high["achilles"]["results"]) < len(low["achilles"]["results"])
    assert _counts(high["table1"]).count("<11") > _counts(low["table1"]).count("<5")


def test_a_difference_of_several_counts_is_checked() -> None:
    """Persons less events less censored (those still followed at a horizon) is a count too."""
    import pyarrow as pa

    table = pa.table({"n": [10, 12, 10], "e": [8, 5, 5], "c": [0, 5, 0], "rate": [0.8, 0.4, 0.5]})
    got = DisclosureRule().suppress(table, ("n", "e", "c", "n-e-c"), ("n",)).to_pylist()
    assert [r["rate"] for r in got] == [None, None, 0.5]  # 10-8-0 = 2 and 12-5-5 = 2 are hidden, 5 is shown
