"""The FHIRPath function library, one module per spec section; importing registers them."""

from __future__ import annotations

from carelake.fhir.fhirpath.functions import (  # noqa: F401  (imported to register)
    collections,
    conversion,
    existence,
    fhir,
    math,
    strings,
    types,
)
from carelake.fhir.fhirpath.functions.registry import FUNCTIONS

__all__ = ["FUNCTIONS"]
