"""System.Quantity and just enough UCUM to compare, convert and multiply common units.

Units are reduced to a factor on a vector of base dimensions (m, g, s, ...). Calendar duration
words (``year`` .. ``millisecond``) are kept as words; the definite ones (week and shorter)
convert to their UCUM equivalents, while ``year``/``month`` only compare with each other
(FHIRPath says ``1 year`` is not ``1 'a'``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

__all__ = [
    "CALENDAR_UNITS",
    "Quantity",
    "UnitError",
    "canonical_unit",
    "convert_value",
    "normalise_calendar_word",
    "to_base",
]


@dataclass(frozen=True, slots=True)
class Quantity:
    """A value with a unit: a UCUM string without quotes, or a singular calendar word."""

    value: Decimal
    unit: str

    def __str__(self) -> str:
        text = format_decimal(self.value)
        if self.unit in CALENDAR_UNITS:
            return f"{text} {self.unit}"
        return f"{text} '{self.unit}'"


def format_decimal(value: Decimal) -> str:
    """Plain (never scientific) text of a decimal, keeping its precision."""
    return format(value, "f")


class UnitError(ValueError):
    """A unit string this UCUM subset cannot read."""


CALENDAR_UNITS: frozenset[str] = frozenset({"year", "month", "week", "day", "hour", "minute", "second", "millisecond"})
_PLURALS = {f"{word}s": word for word in CALENDAR_UNITS}
# Definite calendar words and the UCUM unit they equal.
CALENDAR_TO_UCUM = {"week": "wk", "day": "d", "hour": "h", "minute": "min", "second": "s", "millisecond": "ms"}


def normalise_calendar_word(word: str) -> str | None:
    """``days`` -> ``day``; None when ``word`` is no calendar duration word."""
    if word in CALENDAR_UNITS:
        return word
    return _PLURALS.get(word)


Dims = tuple[tuple[str, int], ...]

_BASE_ATOMS: dict[str, tuple[str, dict[str, int]]] = {
    # atom: (factor, dimensions)
    "m": ("1", {"m": 1}),
    "g": ("1", {"g": 1}),
    "s": ("1", {"s": 1}),
    "K": ("1", {"K": 1}),
    "mol": ("1", {"mol": 1}),
    "A": ("1", {"A": 1}),
    "cd": ("1", {"cd": 1}),
    "rad": ("1", {"rad": 1}),
    "sr": ("1", {"rad": 2}),
    "L": ("0.001", {"m": 3}),
    "l": ("0.001", {"m": 3}),
    "N": ("1000", {"g": 1, "m": 1, "s": -2}),
    "Pa": ("1000", {"g": 1, "m": -1, "s": -2}),
    "J": ("1000", {"g": 1, "m": 2, "s": -2}),
    "W": ("1000", {"g": 1, "m": 2, "s": -3}),
    "Hz": ("1", {"s": -1}),
    "bar": ("100000000", {"g": 1, "m": -1, "s": -2}),
    "m[Hg]": ("133322.387415", {"g": 1, "m": -1, "s": -2}),
    "m[H2O]": ("9806.65", {"g": 1, "m": -1, "s": -2}),
    "cal": ("4184", {"g": 1, "m": 2, "s": -2}),
    "eq": ("1", {"eq": 1}),
    "U": ("1", {"U": 1}),
    "IU": ("1", {"[IU]": 1}),
    "[IU]": ("1", {"[IU]": 1}),
    "[iU]": ("1", {"[IU]": 1}),
}
_UNPREFIXED_ATOMS: dict[str, tuple[str, dict[str, int]]] = {
    "min": ("60", {"s": 1}),
    "h": ("3600", {"s": 1}),
    "d": ("86400", {"s": 1}),
    "wk": ("604800", {"s": 1}),
    "mo": ("2629800", {"s": 1}),
    "a": ("31557600", {"s": 1}),
    "t": ("1000000", {"g": 1}),
    "%": ("0.01", {}),
    "[ppm]": ("0.000001", {}),
    "[in_i]": ("0.0254", {"m": 1}),
    "[ft_i]": ("0.3048", {"m": 1}),
    "[yd_i]": ("0.9144", {"m": 1}),
    "[mi_i]": ("1609.344", {"m": 1}),
    "[lb_av]": ("453.59237", {"g": 1}),
    "[oz_av]": ("28.349523125", {"g": 1}),
    "[gr]": ("0.06479891", {"g": 1}),
    "[pi]": ("3.14159265358979323846", {}),
    "deg": ("0.0174532925199432957692", {"rad": 1}),
    "[degF]": ("1", {"[degF]": 1}),
    "Cel": ("1", {"Cel": 1}),
    # calendar words count as units of their own so year/month only compare with each other
    "year": ("12", {"_month": 1}),
    "month": ("1", {"_month": 1}),
}
for _word, _code in CALENDAR_TO_UCUM.items():
    if _code in _UNPREFIXED_ATOMS:
        _UNPREFIXED_ATOMS[_word] = _UNPREFIXED_ATOMS[_code]
_UNPREFIXED_ATOMS["second"] = ("1", {"s": 1})
_UNPREFIXED_ATOMS["millisecond"] = ("0.001", {"s": 1})

_PREFIXES = {
    "Y": "1e24", "Z": "1e21", "E": "1e18", "P": "1e15", "T": "1e12", "G": "1e9", "M": "1e6",
    "k": "1e3", "h": "1e2", "da": "1e1", "d": "1e-1", "c": "1e-2", "m": "1e-3", "u": "1e-6",
    "n": "1e-9", "p": "1e-12", "f": "1e-15", "a": "1e-18", "z": "1e-21", "y": "1e-24",
}  # fmt: skip

_TOKEN = re.compile(r"\(|\)|\.|/|\{[^}]*\}|[^./(){}]+")
_EXPONENT = re.compile(r"^(.*?)([+-]?\d+)$")


def _atom(symbol: str) -> tuple[Decimal, dict[str, int]]:
    """Factor and dimensions of one unit symbol with optional prefix and exponent."""
    if symbol == "1":
        return Decimal(1), {}
    match = re.fullmatch(r"10([*^])([+-]?\d+)", symbol)
    if match:
        return Decimal(10) ** int(match.group(2)), {}
    exponent = 1
    name = symbol
    if symbol not in _BASE_ATOMS and symbol not in _UNPREFIXED_ATOMS:
        found = _EXPONENT.match(symbol)
        if found and found.group(1) and not found.group(1).endswith(("*", "^")):
            name, exponent = found.group(1), int(found.group(2))
    factor, dims = _lookup(name)
    return factor**exponent, {key: power * exponent for key, power in dims.items()}


def _lookup(name: str) -> tuple[Decimal, dict[str, int]]:
    if name in _UNPREFIXED_ATOMS:
        text, dims = _UNPREFIXED_ATOMS[name]
        return Decimal(text), dict(dims)
    if name in _BASE_ATOMS:
        text, dims = _BASE_ATOMS[name]
        return Decimal(text), dict(dims)
    for size in (2, 1):
        prefix, rest = name[:size], name[size:]
        if prefix in _PREFIXES and rest in _BASE_ATOMS:
            text, dims = _BASE_ATOMS[rest]
            return Decimal(_PREFIXES[prefix]) * Decimal(text), dict(dims)
    raise UnitError(f"unknown unit {name!r}")


def _merge(target: dict[str, int], dims: dict[str, int], sign: int) -> None:
    for key, power in dims.items():
        target[key] = target.get(key, 0) + sign * power


@lru_cache(maxsize=1024)
def to_base(unit: str) -> tuple[Decimal, Dims]:
    """Factor to base units and the dimension vector of a UCUM string or calendar word."""
    tokens = _TOKEN.findall(unit)
    pos = 0

    def term() -> tuple[Decimal, dict[str, int]]:
        nonlocal pos
        factor: Decimal = Decimal(1)
        dims: dict[str, int] = {}
        sign = 1
        if pos < len(tokens) and tokens[pos] == "/":
            sign = -1
            pos += 1
        while pos < len(tokens):
            tok = tokens[pos]
            if tok == ")":
                break
            pos += 1
            if tok.startswith("{"):
                part: tuple[Decimal, dict[str, int]] = (Decimal(1), {})
            elif tok == "(":
                part = term()
                if pos >= len(tokens) or tokens[pos] != ")":
                    raise UnitError(f"unbalanced parenthesis in {unit!r}")
                pos += 1
            else:
                part = _atom(tok)
            factor = factor * part[0] if sign > 0 else factor / part[0]
            _merge(dims, part[1], sign)
            if pos < len(tokens) and tokens[pos] in "./":
                sign = 1 if tokens[pos] == "." else -1
                pos += 1
                if pos >= len(tokens):
                    raise UnitError(f"dangling operator in {unit!r}")
        return factor, dims

    if not unit:
        raise UnitError("empty unit")
    factor, dims = term()
    if pos != len(tokens):
        raise UnitError(f"cannot read unit {unit!r}")
    return factor, tuple(sorted((k, v) for k, v in dims.items() if v))


def canonical_unit(unit: str) -> tuple[Decimal, Dims] | None:
    """:func:`to_base` that answers None for units outside this UCUM subset."""
    try:
        return to_base(unit)
    except (UnitError, ArithmeticError):
        return None


def convert_value(value: Decimal, unit: str, target: str) -> Decimal | None:
    """``value`` in ``unit`` expressed in ``target``; None if not commensurable."""
    if unit == target:
        return value
    source_base, target_base = canonical_unit(unit), canonical_unit(target)
    if source_base is None or target_base is None or source_base[1] != target_base[1]:
        return None
    return value * source_base[0] / target_base[0]
