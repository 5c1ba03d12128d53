"""String functions. The input must be a single string; anything else is an execution error."""

from __future__ import annotations

import base64
import binascii
import html
import json
import re
from functools import lru_cache

from carelake.fhir.fhirpath.context import Collection, Context
from carelake.fhir.fhirpath.errors import FhirPathExecutionError
from carelake.fhir.fhirpath.functions.registry import function
from carelake.fhir.fhirpath.values import singleton, to_system


def _string(focus: Collection, name: str) -> str | None:
    value = to_system(singleton(focus, f"{name}()"))
    if value is None:
        return None
    if not isinstance(value, str):
        raise FhirPathExecutionError(f"{name}() needs a string input")
    return value


def _arg(collection: Collection, name: str) -> str | None:
    value = to_system(singleton(collection, f"{name}() argument"))
    if value is None:
        return None
    if not isinstance(value, str):
        raise FhirPathExecutionError(f"{name}() needs a string argument")
    return value


def _int_arg(collection: Collection, name: str) -> int | None:
    value = to_system(singleton(collection, f"{name}() argument"))
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise FhirPathExecutionError(f"{name}() needs an integer argument")
    return value


@lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.DOTALL)
    except re.error as exc:
        raise FhirPathExecutionError(f"invalid regular expression {pattern!r}: {exc}") from None


@function("indexOf", 1)
def index_of(ctx: Context, focus: Collection, sub: Collection) -> Collection:
    text, part = _string(focus, "indexOf"), _arg(sub, "indexOf")
    return [] if text is None or part is None else [text.find(part)]


@function("substring", 1, 2)
def substring(ctx: Context, focus: Collection, start: Collection, length: Collection | None = None) -> Collection:
    text = _string(focus, "substring")
    begin = _int_arg(start, "substring")
    if text is None or begin is None or begin < 0 or begin >= len(text):
        return []
    if length is None:
        return [text[begin:]]
    size = _int_arg(length, "substring")
    if size is None:
        return [text[begin:]]
    return [text[begin : begin + max(size, 0)]]


def _predicate(name: str, test: str) -> None:
    def impl(ctx: Context, focus: Collection, other: Collection) -> Collection:
        text, part = _string(focus, name), _arg(other, name)
        if text is None or part is None:
            return []
        if test == "start":
            return [text.startswith(part)]
        if test == "end":
            return [text.endswith(part)]
        return [part in text]

    function(name, 1)(impl)


_predicate("startsWith", "start")
_predicate("endsWith", "end")
_predicate("contains", "in")


@function("upper")
def upper(ctx: Context, focus: Collection) -> Collection:
    text = _string(focus, "upper")
    return [] if text is None else [text.upper()]


@function("lower")
def lower(ctx: Context, focus: Collection) -> Collection:
    text = _string(focus, "lower")
    return [] if text is None else [text.lower()]


@function("replace", 2)
def replace(ctx: Context, focus: Collection, pattern: Collection, substitution: Collection) -> Collection:
    text, old, new = _string(focus, "replace"), _arg(pattern, "replace"), _arg(substitution, "replace")
    if text is None or old is None or new is None:
        return []
    return [text.replace(old, new)]


@function("matches", 1)
def matches(ctx: Context, focus: Collection, regex: Collection) -> Collection:
    text, pattern = _string(focus, "matches"), _arg(regex, "matches")
    if text is None or pattern is None:
        return []
    return [_regex(pattern).search(text) is not None]


@function("matchesFull", 1)
def matches_full(ctx: Context, focus: Collection, regex: Collection) -> Collection:
    text, pattern = _string(focus, "matchesFull"), _arg(regex, "matchesFull")
    if text is None or pattern is None:
        return []
    return [_regex(pattern).fullmatch(text) is not None]


@function("replaceMatches", 2)
def replace_matches(ctx: Context, focus: Collection, regex: Collection, substitution: Collection) -> Collection:
    text = _string(focus, "replaceMatches")
    pattern, new = _arg(regex, "replaceMatches"), _arg(substitution, "replaceMatches")
    if text is None or pattern is None or new is None:
        return []
    if pattern == "":
        return [text]
    template = re.sub(r"\$(\d+)", r"\\g<\1>", new.replace("\\", "\\\\"))
    return [_regex(pattern).sub(template, text)]


@function("length")
def length(ctx: Context, focus: Collection) -> Collection:
    text = _string(focus, "length")
    return [] if text is None else [len(text)]


@function("toChars")
def to_chars(ctx: Context, focus: Collection) -> Collection:
    text = _string(focus, "toChars")
    return [] if text is None else list(text)


@function("trim")
def trim(ctx: Context, focus: Collection) -> Collection:
    text = _string(focus, "trim")
    return [] if text is None else [text.strip()]


@function("split", 1)
def split(ctx: Context, focus: Collection, separator: Collection) -> Collection:
    text, sep = _string(focus, "split"), _arg(separator, "split")
    if text is None or sep is None:
        return []
    return list(text.split(sep)) if sep else list(text)


@function("join", 0, 1)
def join(ctx: Context, focus: Collection, separator: Collection | None = None) -> Collection:
    sep = (_arg(separator, "join") if separator is not None else "") or ""
    parts: list[str] = []
    for item in focus:
        value = to_system(item)
        if not isinstance(value, str):
            raise FhirPathExecutionError("join() needs strings")
        parts.append(value)
    return [sep.join(parts)]


@function("encode", 1)
def encode(ctx: Context, focus: Collection, encoding: Collection) -> Collection:
    text, kind = _string(focus, "encode"), _arg(encoding, "encode")
    if text is None or kind is None:
        return []
    data = text.encode("utf-8")
    if kind == "base64":
        return [base64.b64encode(data).decode("ascii")]
    if kind == "urlbase64":
        return [base64.urlsafe_b64encode(data).decode("ascii")]
    if kind == "hex":
        return [data.hex()]
    raise FhirPathExecutionError(f"unknown encoding {kind!r}")


@function("decode", 1)
def decode(ctx: Context, focus: Collection, encoding: Collection) -> Collection:
    text, kind = _string(focus, "decode"), _arg(encoding, "decode")
    if text is None or kind is None:
        return []
    try:
        if kind == "base64":
            data = base64.b64decode(text, validate=True)
        elif kind == "urlbase64":
            data = base64.urlsafe_b64decode(text)
        elif kind == "hex":
            data = bytes.fromhex(text)
        else:
            raise FhirPathExecutionError(f"unknown encoding {kind!r}")
        return [data.decode("utf-8")]
    except (binascii.Error, ValueError):
        return []


@function("escape", 1)
def escape(ctx: Context, focus: Collection, target: Collection) -> Collection:
    text, kind = _string(focus, "escape"), _arg(target, "escape")
    if text is None or kind is None:
        return []
    if kind == "html":
        return [html.escape(text, quote=True)]
    if kind == "json":
        return [json.dumps(text, ensure_ascii=False)[1:-1]]
    raise FhirPathExecutionError(f"unknown escape target {kind!r}")


@function("unescape", 1)
def unescape(ctx: Context, focus: Collection, target: Collection) -> Collection:
    text, kind = _string(focus, "unescape"), _arg(target, "unescape")
    if text is None or kind is None:
        return []
    if kind == "html":
        return [html.unescape(text)]
    if kind == "json":
        return [_JSON_ESCAPE.sub(_json_unescape_one, text)]
    raise FhirPathExecutionError(f"unknown escape target {kind!r}")


_JSON_ESCAPE = re.compile(r'\\(["\\/bfnrt]|u[0-9a-fA-F]{4})')
_JSON_SIMPLE = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def _json_unescape_one(match: re.Match[str]) -> str:
    code = match.group(1)
    if code.startswith("u"):
        return chr(int(code[1:], 16))
    return _JSON_SIMPLE[code]
