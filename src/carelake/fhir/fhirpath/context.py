"""Evaluation context shared by the evaluator and the function library."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Collection", "Context", "Environment", "Fn", "FunctionSpec"]

Collection = list[Any]


class Environment:
    """Per-evaluation state: variables, the resource roots, strictness and the clock."""

    __slots__ = ("_now", "context", "resource", "root_resource", "strict", "variables")

    def __init__(
        self,
        variables: Mapping[str, Collection],
        resource: Collection,
        strict: bool = False,
    ) -> None:
        self.variables = variables
        self.resource = resource
        self.context = resource
        self.root_resource = resource
        self.strict = strict
        self._now: _dt.datetime | None = None

    @property
    def now(self) -> _dt.datetime:
        """The evaluation instant: now() and today() agree within one evaluation."""
        if self._now is None:
            self._now = _dt.datetime.now().astimezone()
        return self._now


class Context:
    """The focus of an expression: ``$this`` (as a collection), ``$index``, ``$total``."""

    __slots__ = ("env", "index", "this", "total")

    def __init__(
        self, env: Environment, this: Collection, index: int | None = None, total: Collection | None = None
    ) -> None:
        self.env = env
        self.this = this
        self.index = index
        self.total = total

    def focus(self, item: Any, index: int | None = None, total: Collection | None = None) -> Context:
        """A child context whose ``$this`` is ``item`` (used by where/select/all/...)."""
        return Context(self.env, [item], index, total)


Fn = Callable[[Context], Collection]


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    """A library function: ``kind`` says how arguments arrive.

    * ``eager``: evaluated collections, ``impl(ctx, focus, *collections)``
    * ``lazy``: compiled expressions, ``impl(ctx, focus, *fns)`` (for $this-relative arguments)
    * ``type``: the argument syntax nodes, ``impl(ctx, focus, *nodes)`` (ofType(X), is(X), ...)
    """

    impl: Callable[..., Collection]
    min_args: int
    max_args: int
    kind: str
