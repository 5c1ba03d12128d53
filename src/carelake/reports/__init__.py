"""Pages people read: self-contained HTML (plotly.js inlined, no network), one way to draw them (`page`, `charts`).

The pages: a prediction study's report with model card and TRIPOD+AI checklist (`study`, `tripod`), the data quality
dashboard (`quality`) and the characterization (`characterization`).
"""

from __future__ import annotations

from carelake.reports.characterization import characterization_page, write_characterization
from carelake.reports.page import Page
from carelake.reports.quality import quality_page, write_dashboard
from carelake.reports.study import publish, render_study_report, write_study_report

__all__ = [
    "Page",
    "characterization_page",
    "publish",
    "quality_page",
    "render_study_report",
    "write_characterization",
    "write_dashboard",
    "write_study_report",
]
