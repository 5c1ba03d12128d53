"""Reading a study file: YAML, checked against the schema, every problem named by file, line and key.

`load_study` refuses the whole file on any problem, listing each one ("study.yaml:12: population.washout_days:
..."), so a user fixes them in one pass. `check_references` also opens the cohort files and builds the covariate
settings, without touching a warehouse: what `carelake study validate` runs.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from carelake.cohorts import CohortDefinitionError, parse_expression
from carelake.errors import ConfigError
from carelake.features import CovariateSettings
from carelake.limits import MAX_DEPTH
from carelake.studies.spec import Study

__all__ = ["StudyError", "StudyFile", "check_references", "covariate_settings", "load_study"]


class StudyError(ConfigError):
    """A study file that cannot run: each problem with its file, line and key."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.problems = problems
        listed = "\n".join(f"  {p}" for p in problems)
        super().__init__(
            f"{path}: {len(problems)} problem{'s' * (len(problems) != 1)} in the study file\n{listed}",
            hint="fix each key named; `carelake study validate FILE` checks the file without running it",
        )


@dataclass(frozen=True)
class StudyFile:
    """A checked study, where it was read from (cohort files are relative to it), and each key's line."""

    study: Study
    path: Path
    _tree: yaml.Node | None

    def line(self, *keys: str | int) -> int | None:
        """The line (1-based) of the key at `keys` (for instance 'outcomes', 0, 'cohort'); None if absent."""
        return _line(self._tree, keys)

    def resolve(self, file: str) -> Path:
        return (self.path.parent / file).resolve()


def load_study(path: str | Path) -> StudyFile:
    """Parse and check a study file; StudyError lists every problem found."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"{file}: no such study file", hint="give the path of a study YAML file")
    text = file.read_text(encoding="utf-8")
    try:
        tree = yaml.compose(text, Loader=yaml.SafeLoader)
        _check_size(file, tree)
        data: Any = yaml.safe_load(text)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(file)
        raise StudyError(file, [f"{where}: not valid YAML: {e.problem}"]) from e
    except RecursionError:
        raise StudyError(file, [f"{file}: nested deeper than {MAX_DEPTH} levels; no study file needs that"]) from None
    if not isinstance(data, dict):
        raise StudyError(file, [f"{file}:1: the study file must be a mapping of keys (name:, target:, ...)"])
    try:
        study = Study.model_validate(data)
    except ValidationError as e:
        raise StudyError(file, [_problem(file, tree, err) for err in e.errors()]) from e
    return StudyFile(study, file, tree)


# More nodes than any study file holds, counted with each alias expanded: a file of nested aliases ("a billion
# laughs") would otherwise take hours to check.
_MAX_NODES = 100_000


def _check_size(file: Path, tree: yaml.Node | None) -> None:
    """Refuse a study file that nests deeper than the limit, or expands (through aliases) beyond any real one."""
    todo: list[tuple[yaml.Node, int]] = [(tree, 1)] if tree is not None else []
    seen = 0
    while todo:
        node, depth = todo.pop()
        seen += 1
        if depth > MAX_DEPTH:
            line = node.start_mark.line + 1
            raise StudyError(file, [f"{file}:{line}: nested deeper than {MAX_DEPTH} levels; no study file needs that"])
        if seen > _MAX_NODES:
            raise StudyError(
                file, [f"{file}: more than {_MAX_NODES:,} values once its aliases (*name) are expanded; write it out"]
            )
        if isinstance(node, yaml.SequenceNode):
            todo.extend((child, depth + 1) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            todo.extend((child, depth + 1) for pair in node.value for child in pair)


def check_references(sf: StudyFile) -> list[str]:
    """Problems with what the file points to: cohort files that are missing or not Circe, covariate settings."""
    problems: list[str] = []
    for _, keys, ref in sf.study.cohort_refs():
        if ref.cohort is None:
            continue
        where = f"{sf.path}:{sf.line(*keys, 'cohort') or 1}: {_dotted((*keys, 'cohort'))}"
        target = sf.resolve(ref.cohort)
        if not target.is_file():
            problems.append(f"{where}: no cohort file {target}")
            continue
        try:
            parse_expression(target)
        except CohortDefinitionError as e:
            problems.append(f"{where}: {target.name} is not a Circe cohort definition: {e.message}")
    try:
        CovariateSettings(**_covariates(sf.study.covariates))
    except (ConfigError, TypeError) as e:
        message = e.message if isinstance(e, ConfigError) else str(e).replace("CovariateSettings.__init__() ", "")
        problems.append(f"{sf.path}:{sf.line('covariates') or 1}: covariates: {message}")
    return problems


def covariate_settings(sf: StudyFile) -> CovariateSettings:
    """The file's `covariates:` as CovariateSettings (its defaults where the file is silent)."""
    return CovariateSettings(**_covariates(sf.study.covariates))


def _covariates(values: dict[str, Any]) -> dict[str, Any]:
    """YAML lists as the tuples CovariateSettings holds."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key == "temporal_windows" and isinstance(value, list):
            out[key] = tuple(tuple(w) for w in value)
        else:
            out[key] = tuple(value) if isinstance(value, list) else value
    return out


def _problem(path: Path, tree: yaml.Node | None, err: Any) -> str:
    loc = tuple(err["loc"])
    line = _line(tree, loc) or 1
    message = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        message = f"unknown key; the keys here are {', '.join(_keys_at(loc[:-1]))}"
    elif err["type"] == "missing":
        message = "required key missing"
    elif not isinstance(err.get("input"), dict | list):
        message += f" (got {err.get('input')!r})"
    return f"{path}:{line}: {_dotted(loc)}: {message}"


def _keys_at(loc: tuple[Any, ...]) -> list[str]:
    """The keys the schema allows at `loc` (list positions skipped), for the message about an unknown one."""
    model: type[BaseModel] = Study
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        inner = _model_in(field.annotation) if field is not None else None
        if inner is None:
            break
        model = inner
    return list(model.model_fields)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The schema class inside an annotation such as `Population`, `list[CohortRef]` or `X | None`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _line(node: yaml.Node | None, keys: tuple[Any, ...]) -> int | None:
    """The line of the deepest key of `keys` present in the YAML tree (pydantic's extra parts, like union member
    names, are not keys and stop the walk)."""
    line = None
    for key in keys:
        if isinstance(node, yaml.MappingNode):
            found = next(((k, v) for k, v in node.value if k.value == key), None)
            if found is None:
                return line if line is not None else node.start_mark.line + 1
            line, node = found[0].start_mark.line + 1, found[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and 0 <= key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            break
    return line
