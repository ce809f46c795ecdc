"""Operator reports: execution quality against the NBBO (text table and a self-contained HTML page)."""
from gateway.reports.execution_quality import (
    Assessment,
    Execution,
    ExecutionQualityReport,
    FillQuality,
    QualitySummary,
    ReportBuilder,
    assess,
    footnotes,
    summary_table,
)
from gateway.reports.html import render_html

__all__ = [
    "Assessment",
    "Execution",
    "ExecutionQualityReport",
    "FillQuality",
    "QualitySummary",
    "ReportBuilder",
    "assess",
    "footnotes",
    "render_html",
    "summary_table",
]
