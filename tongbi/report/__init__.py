"""`tongbi report`: a static HTML report of the published warehouse (see tongbi/report/render.py)."""
from __future__ import annotations

from .charts import FONT_DIR_ENV, FontChoice, find_cjk_font, wrap_subtitle
from .data import ReportError, Warehouse, read_warehouse
from .render import ReportOptions, ReportResult, build_report, render_html
from .sections import Context
from .view import Anchors, web_url

__all__ = ["FONT_DIR_ENV", "FontChoice", "find_cjk_font", "wrap_subtitle", "ReportError", "Warehouse",
           "read_warehouse", "ReportOptions", "ReportResult", "build_report", "render_html", "Context",
           "Anchors", "web_url"]
