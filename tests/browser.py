"""Open a carelake page in headless Chromium (Debian's, never a downloaded one) and check it drew offline.

`drawn_offline` waits until plotly has drawn every chart, asserts each holds an SVG with a trace, that no script
failed and that no request left the file; it hands the open page to `check` for the page's own assertions.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="browser test needs Debian's chromium at /usr/bin/chromium"
)


def drawn_offline(path: Path, charts: int, check: Callable[[Any], None] | None = None) -> None:
    """Open `path`; no link to a network in its markup; exactly `charts` charts, all drawn; no page error and no
    request but the file itself."""
    markup = re.sub(r"<script\b.*?</script>", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", markup)  # plotly.js's own links never load
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (dev dependency) is not installed")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_page()
            errors: list[str] = []
            requests: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(path.as_uri())
            found = page.locator("[data-chart]")
            assert found.count() == charts
            page.wait_for_function(
                "document.querySelectorAll('[data-drawn=yes]').length === "
                "document.querySelectorAll('[data-chart]').length",
                timeout=60_000,
            )
            for i in range(charts):  # plotly drew an SVG with at least one trace in each
                assert found.nth(i).locator("svg.main-svg").count() >= 1
                assert found.nth(i).locator("g.trace, g.bars, g.boxlayer path").count() >= 1, i
            if check is not None:
                check(page)
            assert not errors
            assert all(u.startswith("file:") for u in requests), requests
        finally:
            browser.close()
