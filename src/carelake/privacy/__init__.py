"""Privacy by design. `disclosure`: the one small-cell rule every exported figure passes. `secret`: the site
secret pseudonyms are keyed with. `pseudonymize`: a copy of the CDM with keyed person pseudonyms and shifted dates.

`disclosure` and `secret` depend on nothing but `carelake.errors`, so any stage may apply their rules to what it
exports; `pseudonymize` (which needs the warehouse and the CDM schema) is imported from its module.
"""

from __future__ import annotations

from carelake.privacy.disclosure import DEFAULT_MIN_CELL_COUNT, DisclosureRule, disclosure_rule

__all__ = ["DEFAULT_MIN_CELL_COUNT", "DisclosureRule", "disclosure_rule"]
