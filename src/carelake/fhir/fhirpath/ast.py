"""The FHIRPath abstract syntax tree.

This is a shared contract: the evaluator walks it and the SQL compiler translates it, so the
class names and fields are fixed. Nodes are frozen, slotted dataclasses so they hash (parse
results are cached) and are cheap.

Literal value conventions (``Literal.type`` -> Python value):

* ``boolean`` -> bool, ``string`` -> str (escapes decoded), ``integer``/``long`` -> int,
  ``decimal`` -> decimal.Decimal (exponent kept, so ``1.10`` keeps two places)
* ``date``/``dateTime``/``time`` -> the literal text without the leading ``@`` (and without the
  ``T`` for times): ``@2015-02-04T14:34:28Z`` -> ``'2015-02-04T14:34:28Z'``, ``@2015T`` ->
  ``'2015T'``, ``@T14:34`` -> ``'14:34'``
* ``quantity`` -> :class:`Quantity` (calendar words singular, e.g. ``4 days`` -> unit ``'day'``;
  UCUM units without quotes, e.g. ``4 'mg'`` -> unit ``'mg'``)
* ``null`` (the ``{}`` literal) -> None
"""

from __future__ import annotations

from dataclasses import dataclass

from carelake.fhir.fhirpath.quantity import Quantity

__all__ = [
    "Binary",
    "External",
    "Function",
    "Identifier",
    "Index",
    "Indexer",
    "Literal",
    "Member",
    "Node",
    "Quantity",
    "This",
    "Total",
    "TypeOp",
    "TypeSpecifier",
    "Unary",
]


@dataclass(frozen=True, slots=True)
class Node:
    """Base class of all syntax nodes."""


@dataclass(frozen=True, slots=True)
class Literal(Node):
    """A literal value; see the module docstring for the value of each ``type``."""

    value: object
    type: str


@dataclass(frozen=True, slots=True)
class Identifier(Node):
    """A bare name at the start of a path (member name or type name), backticks removed."""

    name: str


@dataclass(frozen=True, slots=True)
class This(Node):
    """``$this``."""


@dataclass(frozen=True, slots=True)
class Index(Node):
    """``$index``."""


@dataclass(frozen=True, slots=True)
class Total(Node):
    """``$total``."""


@dataclass(frozen=True, slots=True)
class External(Node):
    """``%name`` (quotes or backticks removed)."""

    name: str


@dataclass(frozen=True, slots=True)
class Member(Node):
    """``target.name``: navigation to a child element."""

    target: Node
    name: str


@dataclass(frozen=True, slots=True)
class Function(Node):
    """``target.name(args)``; ``target`` is None when the call starts a term."""

    target: Node | None
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Indexer(Node):
    """``target[index]``."""

    target: Node
    index: Node


@dataclass(frozen=True, slots=True)
class Unary(Node):
    """Polarity: ``op`` is ``'-'`` or ``'+'``."""

    op: str
    operand: Node


@dataclass(frozen=True, slots=True)
class Binary(Node):
    """A binary operator, ``op`` as written (``'div'``, ``'and'``, ``'!~'``, ...)."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class TypeSpecifier(Node):
    """A type name, optionally qualified (``FHIR.Quantity`` -> namespace ``'FHIR'``)."""

    namespace: str | None
    name: str


@dataclass(frozen=True, slots=True)
class TypeOp(Node):
    """The ``is`` / ``as`` operators."""

    op: str
    operand: Node
    type: TypeSpecifier
