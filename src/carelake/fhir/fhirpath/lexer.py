"""Hand-written FHIRPath tokenizer (the official ANTLR grammar's lexer rules, no ANTLR)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from carelake.fhir.fhirpath.errors import FhirPathSyntaxError

__all__ = ["Token", "tokenize"]


@dataclass(frozen=True, slots=True)
class Token:
    """``kind`` is one of: ident, delimited, string, number, long, date, datetime, time, op, eof."""

    kind: str
    text: str  # decoded for strings/delimited identifiers, raw otherwise
    pos: int


_DATE = r"\d{4}(?:-\d{2}(?:-\d{2})?)?"
_TIME = r"\d{2}(?::\d{2}(?::\d{2}(?:\.\d+)?)?)?"
_TZ = r"(?:Z|[+-]\d{2}:\d{2})?"
_DATETIME_RE = re.compile(rf"@({_DATE}T(?:{_TIME}{_TZ})?)")
_DATE_RE = re.compile(rf"@({_DATE})")
_TIME_RE = re.compile(rf"@T({_TIME})")
_NUMBER_RE = re.compile(r"\d+(?:\.\d+)?")
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATORS: tuple[str, ...] = ("<=", ">=", "!=", "!~", "+", "-", "*", "/", "&", "|", "<", ">", "=", "~")
_OPERATORS += ("(", ")", "[", "]", "{", "}", ".", ",", "%", "$")
_ESCAPES = {"'": "'", '"': '"', "`": "`", "\\": "\\", "/": "/", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def _quoted(text: str, start: int, quote: str) -> tuple[str, int]:
    """Decode a quoted string/identifier starting at ``start``; returns (value, end offset)."""
    out: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == quote:
            return "".join(out), i + 1
        if ch == "\\":
            if i + 1 >= len(text):
                break
            nxt = text[i + 1]
            if nxt == "u":
                digits = text[i + 2 : i + 6]
                if not re.fullmatch(r"[0-9A-Fa-f]{4}", digits):
                    raise FhirPathSyntaxError("invalid \\u escape", i, text)
                out.append(chr(int(digits, 16)))
                i += 6
                continue
            if nxt not in _ESCAPES:
                raise FhirPathSyntaxError(f"invalid escape \\{nxt}", i, text)
            out.append(_ESCAPES[nxt])
            i += 2
            continue
        out.append(ch)
        i += 1
    raise FhirPathSyntaxError("unterminated quoted text", start, text)


def tokenize(text: str) -> list[Token]:
    """Split an expression into tokens; comments and whitespace are dropped."""
    tokens: list[Token] = []
    i, size = 0, len(text)
    while i < size:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if text.startswith("//", i):
            end = text.find("\n", i)
            i = size if end < 0 else end + 1
            continue
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                raise FhirPathSyntaxError("unterminated comment", i, text)
            i = end + 2
            continue
        if ch == "'" or ch == "`":
            value, end = _quoted(text, i, ch)
            tokens.append(Token("string" if ch == "'" else "delimited", value, i))
            i = end
            continue
        if ch == "@":
            for kind, pattern in (("time", _TIME_RE), ("datetime", _DATETIME_RE), ("date", _DATE_RE)):
                m = pattern.match(text, i)
                if m:
                    tokens.append(Token(kind, m.group(1), i))
                    i = m.end()
                    break
            else:
                raise FhirPathSyntaxError("invalid date/time literal", i, text)
            if i < size and (text[i].isalnum() or text[i] in "_:"):
                raise FhirPathSyntaxError("invalid date/time literal", i, text)
            continue
        if "0" <= ch <= "9":  # str.isdigit() is true of "²" too
            m = _NUMBER_RE.match(text, i)
            assert m is not None
            if m.end() < size and text[m.end()] == "L" and "." not in m.group(0):
                tokens.append(Token("long", m.group(0), i))
                i = m.end() + 1
            else:
                tokens.append(Token("number", m.group(0), i))
                i = m.end()
            continue
        m = _IDENT_RE.match(text, i)
        if m:
            tokens.append(Token("ident", m.group(0), i))
            i = m.end()
            continue
        for op in _OPERATORS:
            if text.startswith(op, i):
                tokens.append(Token("op", op, i))
                i += len(op)
                break
        else:
            raise FhirPathSyntaxError(f"unexpected character {ch!r}", i, text)
    tokens.append(Token("eof", "", size))
    return tokens
