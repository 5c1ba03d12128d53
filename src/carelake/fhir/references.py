"""Reference resolution: `urn:uuid:` fullUrls and conditional references become `Type/id` when the target is loaded.

Transaction bundles point at each other's entries by `urn:uuid:` and at shared practitioners and organisations by
search (`Practitioner?identifier=system|value`); a warehouse needs plain `Type/id` to join on. The index is
built from every resource read, across files; a reference whose target is not in the input is kept as written and
counted, never dropped.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

__all__ = ["ReferenceIndex"]


class ReferenceIndex:
    """Maps fullUrls and (type, identifier) pairs to `Type/id`, and rewrites references in place."""

    def __init__(self) -> None:
        self._urls: dict[str, str] = {}
        self._identifiers: dict[str, str] = {}
        self.rewritten = 0
        self.unresolved: Counter[str] = Counter()

    def add(self, resource_type: str, rid: str, resource: dict[str, Any], full_url: str | None) -> None:
        """Remember how other resources may point at this one."""
        key = f"{resource_type}/{rid}"
        if full_url:
            self._urls[full_url] = key
        identifiers = resource.get("identifier")
        if isinstance(identifiers, list):
            for ident in identifiers:
                if isinstance(ident, dict) and isinstance(ident.get("value"), str):
                    system = ident.get("system") if isinstance(ident.get("system"), str) else ""
                    self._identifiers[f"{resource_type}?{system}|{ident['value']}"] = key
                    self._identifiers.setdefault(f"{resource_type}?|{ident['value']}", key)

    def needs_rewrite(self, resource: dict[str, Any], text: str | None = None) -> bool:
        """True when the resource holds a reference that is a urn, a search, or an absolute URL.

        With the resource's JSON text at hand, a regular expression answers without walking the resource.
        """
        if text is not None:
            return _PENDING_TEXT.search(text) is not None
        return any(_pending(ref) for ref in _references(resource))

    def resolve(self, resource: dict[str, Any], *, final: bool) -> bool:
        """Rewrite what can be resolved now; True when nothing is left pending.

        With `final`, whatever is still unresolved is counted (by kind) and left as written.
        """
        complete = True
        for holder in _holders(resource):
            ref = holder["reference"]
            if not _pending(ref):
                continue
            target = self.lookup(ref)
            if target is not None:
                holder["reference"] = target
                self.rewritten += 1
            elif final:
                self.unresolved[_kind(ref)] += 1
            else:
                complete = False
        return complete

    def add_identifiers(self, resource_type: str, rid: str, identifiers: Any) -> None:
        """`add` for a resource known only by its identifier list (the NDJSON fast path never parses the rest)."""
        self.add(resource_type, rid, {"identifier": identifiers}, None)

    def resolve_text(self, text: str, *, final: bool) -> str | bool | None:
        """`resolve` on a resource's JSON text, without parsing it: the rewritten text, or None when a target is not
        known yet (and not `final`), or False when a pending reference is spelled in a way only a parse can handle
        (escapes inside the value): the caller then parses the resource and uses `resolve`.
        """
        pending = len(_PENDING_TEXT.findall(text))
        seen = 0
        missing = False
        rewritten = 0
        unresolved: Counter[str] = Counter()

        def swap(m: re.Match[str]) -> str:
            nonlocal seen, missing, rewritten
            ref = m.group(2)
            if not _pending(ref):
                return m.group(0)
            seen += 1
            target = self.lookup(ref)
            if target is None:
                missing = True
                unresolved[_kind(ref)] += 1
                return m.group(0)
            rewritten += 1
            if '"' in target or "\\" in target:
                target = json.dumps(target)[1:-1]
            return m.group(1) + target + '"'

        out = _REF_VALUE.sub(swap, text)
        if seen < pending:
            return False
        if missing and not final:
            return None
        self.rewritten += rewritten
        self.unresolved.update(unresolved)
        return out

    def lookup(self, ref: str) -> str | None:
        if ref in self._urls:
            return self._urls[ref]
        if "?" in ref and not ref.startswith(("http://", "https://")):
            rtype, _, query = ref.partition("?")
            params = parse_qsl(query, keep_blank_values=True)
            for name, value in params:
                if name == "identifier":
                    system, bar, code = value.rpartition("|")
                    key = f"{rtype}?{system}|{code}" if bar else f"{rtype}?|{value}"
                    if key in self._identifiers:
                        return self._identifiers[key]
            return None
        return None


# A "reference" whose value is a urn, an absolute URL or has a query part; the JSON encoder may put spaces around ":".
_PENDING_TEXT = re.compile(r'"reference"\s*:\s*"(?:urn:|https?:|[^"]*\?)')
# A reference value without escapes, captured for rewriting in place.
_REF_VALUE = re.compile(r'("reference"\s*:\s*")([^"\\]*)"')


def _pending(ref: str) -> bool:
    return ref.startswith(("urn:", "http://", "https://")) or ("?" in ref)


def _kind(ref: str) -> str:
    if ref.startswith("urn:"):
        return "urn"
    if "?" in ref:
        return "conditional"
    return "absolute URL"


def _holders(node: Any) -> Iterator[dict[str, Any]]:
    """Every object with a string `reference` (a Reference), at any depth."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("reference")
            if isinstance(ref, str):
                yield item
            stack.extend(v for v in item.values() if isinstance(v, (dict, list)))
        elif isinstance(item, list):
            stack.extend(v for v in item if isinstance(v, (dict, list)))


def _references(node: Any) -> Iterator[str]:
    for holder in _holders(node):
        yield holder["reference"]
