"""Population simulator: persons with chronic disease, visits, labs, drugs and deaths, with their ground truth.

`synthesize(persons, seed, out, fmt)` writes OMOP CSV and/or FHIR NDJSON describing the same people, and
`truth.csv.gz` with each person's true risks from the generating model (docs/simulator.md).
"""

from carelake.synth.simulate import SynthReport, simulate_chunk, synthesize, truth_table

__all__ = ["SynthReport", "simulate_chunk", "synthesize", "truth_table"]
