"""Stored history -> a static HTML report (plotly), a JSON of every figure, Prometheus text.

The frame (`dashboards.frame`) draws the overview and the page; each signal adds one
section module registered in `dashboards.sections.SECTION_MODULES`.
"""
