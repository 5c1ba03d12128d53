"""How many tests the suite has per engine, and how many of them run (the rest carry a reasoned skip mark).

    uv run python tools/count_tests.py            # all engines, then -m postgres, then -m spark

Collection only: nothing runs and no engine starts. The figure each issue note reports when the suite changes shape.
"""

from __future__ import annotations

import contextlib
import io
import sys
from typing import Any

import pytest


class _Count:
    def __init__(self) -> None:
        self.collected = self.skipped = 0

    def pytest_collection_finish(self, session: Any) -> None:
        self.collected = len(session.items)
        self.skipped = sum(1 for item in session.items if item.get_closest_marker("skip"))


def count(marker: str | None) -> tuple[int, int]:
    """(collected, marked to skip) for `-m marker`, or for the whole suite."""
    plugin = _Count()
    args = ["--collect-only", "-q", *(["-m", marker] if marker else [])]
    with contextlib.redirect_stdout(io.StringIO()):
        code = pytest.main(args, plugins=[plugin])
    if code not in (0, 5):  # 5: nothing collected
        raise SystemExit(f"collection failed (pytest exit {code}) for {args}")
    return plugin.collected, plugin.skipped


def main() -> None:
    for label, marker in (("all", None), ("postgres", "postgres"), ("spark", "spark")):
        collected, skipped = count(marker)
        print(f"{label:<9} {collected:5d} collected  {collected - skipped:5d} run  {skipped:4d} marked never/notimpl")


if __name__ == "__main__":
    main()
    sys.exit(0)
