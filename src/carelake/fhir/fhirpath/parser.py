"""Pratt parser producing the AST in :mod:`carelake.fhir.fhirpath.ast`.

Precedence follows the official grammar, loosest first: implies; or/xor; and; in/contains;
equality; inequality; union; is/as; additive; multiplicative; polarity; then ``.`` and ``[]``.
"""

from __future__ import annotations

from decimal import Decimal

from carelake.fhir.fhirpath.ast import (
    Binary,
    External,
    Function,
    Identifier,
    Index,
    Indexer,
    Literal,
    Member,
    Node,
    This,
    Total,
    TypeOp,
    TypeSpecifier,
    Unary,
)
from carelake.fhir.fhirpath.errors import FhirPathSyntaxError
from carelake.fhir.fhirpath.lexer import Token, tokenize
from carelake.fhir.fhirpath.quantity import Quantity, normalise_calendar_word

__all__ = ["parse_expression"]

# operator -> (left binding power, right binding power); right < left makes it right-associative
_BINARY: dict[str, tuple[int, int]] = {
    "implies": (10, 9),
    "or": (20, 21),
    "xor": (20, 21),
    "and": (30, 31),
    "in": (40, 41),
    "contains": (40, 41),
    "=": (50, 51),
    "~": (50, 51),
    "!=": (50, 51),
    "!~": (50, 51),
    "<": (60, 61),
    "<=": (60, 61),
    ">": (60, 61),
    ">=": (60, 61),
    "|": (70, 71),
    "+": (90, 91),
    "-": (90, 91),
    "&": (90, 91),
    "*": (100, 101),
    "/": (100, 101),
    "div": (100, 101),
    "mod": (100, 101),
}
_TYPE_OP_POWER = 80
_PREFIX_POWER = 110
_POSTFIX_POWER = 120
_TYPE_ARG_FUNCTIONS = frozenset({"is", "as", "ofType"})
_WORD_OPERATORS = frozenset({"and", "or", "xor", "implies", "in", "contains", "div", "mod", "is", "as"})


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.pos = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.pos]

    def error(self, message: str, token: Token | None = None) -> FhirPathSyntaxError:
        token = token or self.tok
        return FhirPathSyntaxError(message, token.pos, self.text)

    def advance(self) -> Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def is_op(self, text: str) -> bool:
        return self.tok.kind == "op" and self.tok.text == text

    def expect_op(self, text: str) -> Token:
        if not self.is_op(text):
            raise self.error(f"expected {text!r}")
        return self.advance()

    def binary_op(self) -> str | None:
        token = self.tok
        if token.kind == "op" and token.text in _BINARY:
            return token.text
        if token.kind == "ident" and token.text in _WORD_OPERATORS:
            return token.text
        return None

    def expression(self, min_power: int = 0) -> Node:
        left = self.prefix()
        while True:
            op = self.binary_op()
            if op is None:
                break
            if op in ("is", "as"):
                if min_power > _TYPE_OP_POWER:
                    break
                self.advance()
                left = TypeOp(op, left, self.type_specifier())
                continue
            lbp, rbp = _BINARY[op]
            if lbp < min_power:
                break
            self.advance()
            left = Binary(op, left, self.expression(rbp))
        return left

    def prefix(self) -> Node:
        if self.tok.kind == "op" and self.tok.text in ("+", "-"):
            op = self.advance().text
            return Unary(op, self.expression(_PREFIX_POWER))
        return self.postfix(self.term())

    def postfix(self, node: Node) -> Node:
        while True:
            if self.is_op("."):
                self.advance()
                node = self.invocation(node)
            elif self.is_op("["):
                self.advance()
                index = self.expression()
                self.expect_op("]")
                node = Indexer(node, index)
            else:
                return node

    def identifier(self) -> str:
        token = self.tok
        if token.kind in ("ident", "delimited"):
            self.advance()
            return token.text
        raise self.error("expected an identifier")

    def invocation(self, target: Node | None) -> Node:
        if self.is_op("$"):
            return self.special()
        name = self.identifier()
        if self.is_op("("):
            return self.function(target, name)
        if target is None:
            return Identifier(name)
        return Member(target, name)

    def special(self) -> Node:
        dollar = self.expect_op("$")
        token = self.tok
        if token.kind == "ident" and token.pos == dollar.pos + 1:
            self.advance()
            if token.text == "this":
                return This()
            if token.text == "index":
                return Index()
            if token.text == "total":
                return Total()
        raise self.error("expected $this, $index or $total", token)

    def function(self, target: Node | None, name: str) -> Node:
        self.expect_op("(")
        args: list[Node] = []
        if not self.is_op(")"):
            args.append(self.expression())
            while self.is_op(","):
                self.advance()
                args.append(self.expression())
        self.expect_op(")")
        if name in _TYPE_ARG_FUNCTIONS and len(args) == 1:
            spec = _as_type_specifier(args[0])
            if spec is not None:
                args[0] = spec
        return Function(target, name, tuple(args))

    def type_specifier(self) -> TypeSpecifier:
        parts = [self.identifier()]
        while self.is_op(".") and self.tokens[self.pos + 1].kind in ("ident", "delimited"):
            self.advance()
            parts.append(self.identifier())
        if len(parts) > 2:
            raise self.error("type specifier has too many parts")
        return TypeSpecifier(parts[0], parts[1]) if len(parts) == 2 else TypeSpecifier(None, parts[0])

    def term(self) -> Node:
        token = self.tok
        if token.kind == "op":
            if token.text == "(":
                self.advance()
                inner = self.expression()
                self.expect_op(")")
                return inner
            if token.text == "{":
                self.advance()
                self.expect_op("}")
                return Literal(None, "null")
            if token.text == "%":
                self.advance()
                name_token = self.tok
                if name_token.kind in ("ident", "delimited", "string"):
                    self.advance()
                    return External(name_token.text)
                raise self.error("expected a name after %")
            if token.text == "$":
                return self.special()
            raise self.error(f"unexpected {token.text!r}")
        if token.kind == "string":
            self.advance()
            return Literal(token.text, "string")
        if token.kind == "number":
            self.advance()
            return self.number(token)
        if token.kind == "long":
            self.advance()
            return Literal(int(token.text), "long")
        if token.kind == "date":
            self.advance()
            return Literal(token.text, "date")
        if token.kind == "datetime":
            self.advance()
            return Literal(token.text, "dateTime")
        if token.kind == "time":
            self.advance()
            return Literal(token.text, "time")
        if token.kind == "ident" and token.text in ("true", "false"):
            self.advance()
            return Literal(token.text == "true", "boolean")
        if token.kind in ("ident", "delimited"):
            return self.invocation(None)
        raise self.error("unexpected end of expression" if token.kind == "eof" else "unexpected token")

    def number(self, token: Token) -> Node:
        value = Decimal(token.text) if "." in token.text else int(token.text)
        unit: str | None = None
        nxt = self.tok
        if nxt.kind == "string":
            unit = nxt.text
            self.advance()
        elif nxt.kind == "ident":
            word = normalise_calendar_word(nxt.text)
            if word is not None:
                unit = word
                self.advance()
        if unit is None:
            if isinstance(value, Decimal):
                return Literal(value, "decimal")
            return Literal(value, "integer")
        return Literal(Quantity(Decimal(value), normalise_calendar_word(unit) or unit), "quantity")


def _as_type_specifier(node: Node) -> TypeSpecifier | None:
    if isinstance(node, Identifier):
        return TypeSpecifier(None, node.name)
    if isinstance(node, Member) and isinstance(node.target, Identifier):
        return TypeSpecifier(node.target.name, node.name)
    return None


def parse_expression(text: str) -> Node:
    """Parse ``text`` into an AST; raises FhirPathSyntaxError (an expression nested past Python's recursion limit,
    a few hundred levels, included: no real one comes near)."""
    parser = _Parser(text)
    if parser.tok.kind == "eof":
        raise parser.error("empty expression")
    try:
        node = parser.expression()
    except RecursionError:
        raise FhirPathSyntaxError("the expression nests too deep to parse", parser.tok.pos, text) from None
    if parser.tok.kind != "eof":
        raise parser.error(f"unexpected {parser.tok.text!r}")
    return node
