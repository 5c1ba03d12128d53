"""Privacy by design. `disclosure`: the one small-cell rule every exported figure passes.

This package depends on nothing but `carelake.errors`, so any stage may apply its rules to what it exports.
"""

from __future__ import annotations

from carelake.privacy.disclosure import DEFAULT_MIN_CELL_COUNT, DisclosureRule, disclosure_rule

__all__ = ["DEFAULT_MIN_CELL_COUNT", "DisclosureRule", "disclosure_rule"]
