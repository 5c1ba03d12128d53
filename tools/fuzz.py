"""The long fuzz run: the properties of tests/hostile/test_fuzz.py with fresh random examples, for minutes.

    uv run python tools/fuzz.py [--examples 2000] [-k ndjson]

CI runs the same properties on a fixed, derandomized set of 100 examples each (seconds). This draws new ones
every run (CARELAKE_FUZZ=long), prints how many each property tried (Hypothesis' statistics) and any failing
example, shrunk; a failure is a bug to fix and then to keep as a regression test in tests/hostile/.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--examples", type=int, default=2000, help="examples per property")
    p.add_argument("-k", default="", help="only the properties whose name has this (pytest -k)")
    a = p.parse_args()
    env = {**os.environ, "CARELAKE_FUZZ": "long", "CARELAKE_FUZZ_EXAMPLES": str(a.examples)}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--hypothesis-show-statistics",
               str(ROOT / "tests" / "hostile" / "test_fuzz.py")]  # fmt: skip
    if a.k:
        command += ["-k", a.k]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, check=False)
    print(f"fuzz: {a.examples:,} examples per property, {time.perf_counter() - start:,.0f} s, exit {done.returncode}")
    sys.exit(done.returncode)


if __name__ == "__main__":
    main()
