"""The de-identification policy: what an export does to each identifier, read from YAML and checked against the CDM.

The default (`safe_harbor.yaml`, beside this module) is HIPAA Safe Harbor's checklist of 18 identifiers, each with
the OMOP columns that can hold it. A site's own policy has the same keys; each problem is named by file, line and
key (`policy.yaml:31: identifiers.names.person.full_name: no column full_name in person`), and the whole file is
refused, so nothing is exported under a policy that does not say what its author meant.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml

from carelake.errors import ConfigError
from carelake.omop.schema import table_by_name
from carelake.privacy.pseudonymize import DEFAULT_MAX_SHIFT_DAYS, MAX_SHIFT_DAYS, shift_range_ok

__all__ = ["ACTIONS", "DEFAULT_POLICY", "Action", "Policy", "PolicyError", "load_policy"]

Action = Literal["drop", "zip3", "year", "keep"]
ACTIONS: tuple[Action, ...] = ("drop", "zip3", "year", "keep")
DEFAULT_POLICY = "safe_harbor.yaml"
_KEYS = ("version", "restricted_zip3", "dates", "max_shift_days", "age_over", "reference_date", "identifiers")


class PolicyError(ConfigError):
    """A policy file that cannot be followed: each problem with its line and key."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.problems = problems
        listed = "\n".join(f"  {p}" for p in problems)
        super().__init__(
            f"{source}: {len(problems)} problem{'s' * (len(problems) != 1)} in the de-identification policy\n{listed}",
            hint=f"fix each key named; the default policy, {DEFAULT_POLICY}, shows every key",
        )


@dataclass(frozen=True)
class Policy:
    """What to do with each column (table, column) -> (action, the identifier it stands for); dates and ages."""

    source: str
    columns: dict[tuple[str, str], tuple[Action, str]]
    identifiers: tuple[str, ...]
    dates: Literal["shift", "year"] = "shift"
    max_shift_days: int = DEFAULT_MAX_SHIFT_DAYS
    age_over: int = 89
    reference_date: date | None = None
    restricted_zip3: frozenset[str] = field(default_factory=frozenset)

    def action(self, table: str, column: str) -> Action:
        return self.columns.get((table, column), ("keep", ""))[0]


def _line(node: yaml.Node | None) -> int:
    return node.start_mark.line + 1 if node is not None else 1


def _mapping(node: yaml.Node | None) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {str(k.value): (k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode)}


def load_policy(path: Path | None = None) -> Policy:
    """The policy at `path`, or the default Safe Harbor policy; PolicyError lists every problem."""
    if path is None:
        text = resources.files("carelake.privacy").joinpath(DEFAULT_POLICY).read_text(encoding="utf-8")
        source = DEFAULT_POLICY
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"cannot read the policy {path}: {e}", hint="give a YAML file") from e
        source = str(path)
    try:
        tree = yaml.compose(text, Loader=yaml.SafeLoader)
        data: Any = yaml.safe_load(text)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark
        raise PolicyError(source, [f"{source}:{mark.line + 1 if mark else 1}: not valid YAML: {e.problem}"]) from e
    if not isinstance(data, dict):
        raise PolicyError(source, [f"{source}:1: a policy is a mapping of keys ({', '.join(_KEYS)})"])
    return _check(source, tree, data)


def _check(source: str, tree: yaml.Node | None, data: dict[str, Any]) -> Policy:
    problems: list[str] = []
    top = _mapping(tree)

    def at(key: str) -> str:
        return f"{source}:{_line(top[key][0] if key in top else None)}: {key}"

    for key in data:
        if key not in _KEYS:
            problems.append(f"{at(str(key))}: not a policy key (the keys are {', '.join(_KEYS)})")
    if data.get("version", 1) != 1:
        problems.append(f"{at('version')}: version {data.get('version')!r} is not one carelake reads (1)")
    dates = data.get("dates", "shift")
    if dates not in ("shift", "year"):
        problems.append(f"{at('dates')}: {dates!r} is not shift or year")
    shift = data.get("max_shift_days", DEFAULT_MAX_SHIFT_DAYS)
    if not shift_range_ok(shift):
        problems.append(f"{at('max_shift_days')}: {shift!r} is not a whole number of days from 1 to {MAX_SHIFT_DAYS}")
    age = data.get("age_over", 89)
    if isinstance(age, bool) or not isinstance(age, int) or not 1 <= age <= 120:
        problems.append(f"{at('age_over')}: {age!r} is not an age from 1 to 120")
    reference = data.get("reference_date")
    if reference is not None and not isinstance(reference, date):
        problems.append(f"{at('reference_date')}: {reference!r} is not a date (YYYY-MM-DD)")
    zips = data.get("restricted_zip3", [])
    if not isinstance(zips, list) or not all(isinstance(z, str) and len(z) == 3 and z.isdigit() for z in zips):
        problems.append(f'{at("restricted_zip3")}: give a list of three-digit strings, quoted ("036")')
        zips = []
    columns: dict[tuple[str, str], tuple[Action, str]] = {}
    identifiers: list[str] = []
    groups = data.get("identifiers", {})
    if not isinstance(groups, dict):
        problems.append(f"{at('identifiers')}: a mapping of identifier -> {{table.column: action}}")
        groups = {}
    group_nodes = _mapping(top["identifiers"][1]) if "identifiers" in top else {}
    for name, entries in groups.items():
        identifiers.append(str(name))
        nodes = _mapping(group_nodes[str(name)][1]) if str(name) in group_nodes else {}
        if entries is None:
            entries = {}
        if not isinstance(entries, dict):
            line = _line(group_nodes[str(name)][1] if str(name) in group_nodes else None)
            problems.append(f"{source}:{line}: identifiers.{name}: a mapping of table.column: action, or {{}}")
            continue
        for target, action in entries.items():
            where = f"{source}:{_line(nodes[str(target)][0] if str(target) in nodes else None)}: "
            where += f"identifiers.{name}.{target}"
            table_name, _, column = str(target).partition(".")
            table = table_by_name(table_name)
            if table is None or not column:
                problems.append(f"{where}: {table_name!r} is not a CDM 5.4 table (write table.column)")
                continue
            if column not in table.schema.column_names:
                problems.append(f"{where}: no column {column} in {table.name}")
                continue
            if action not in ACTIONS:
                problems.append(f"{where}: {action!r} is not an action ({', '.join(ACTIONS)})")
                continue
            kind = table.schema.column(column).kind
            if action == "year" and kind not in ("date", "timestamp"):
                problems.append(f"{where}: year applies to dates, and {column} is {kind}")
            elif action == "zip3" and kind != "varchar":
                problems.append(f"{where}: zip3 applies to text, and {column} is {kind}")
            elif column == "person_id":
                problems.append(f"{where}: person_id is always a pseudonym; it takes no action")
            elif (table.name, column) in columns:
                problems.append(f"{where}: {table.name}.{column} is named twice")
            else:
                columns[(table.name, column)] = (action, str(name))
    if problems:
        raise PolicyError(source, problems)
    return Policy(
        source,
        columns,
        tuple(identifiers),
        dates=dates,
        max_shift_days=shift,
        age_over=age,
        reference_date=reference,
        restricted_zip3=frozenset(zips),
    )
