"""Pages people read: self-contained HTML (plotly.js inlined, no network), one way to draw them (`page`), the
charts of a prediction study (`charts`), its report with model card and TRIPOD+AI checklist (`study`, `tripod`)."""

from __future__ import annotations

from carelake.reports.page import Page
from carelake.reports.study import publish, render_study_report, write_study_report

__all__ = ["Page", "publish", "render_study_report", "write_study_report"]
