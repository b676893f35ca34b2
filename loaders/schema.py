"""The raw_metrics contract: one row per statistic mention, as `tongbi extract` writes it.

The column order here is the column order of `seeds/raw_metrics.csv`; dbt's seed column types
in `dbt_project.yml` and the staging model follow it.
"""
from __future__ import annotations

import polars as pl

MEASURES: tuple[str, ...] = (
    "level", "yoy_pct", "share_pct", "change", "target",
    "completion_pct", "pp_change", "contribution_pct", "other",
)
PERIOD_KINDS: tuple[str, ...] = ("ytd", "quarter", "month", "year", "as_of", "since", "plan", "other")

RAW_METRICS_SCHEMA: dict[str, pl.DataType] = {
    "doc_id": pl.String,            # file name without extension
    "mention_seq": pl.Int64,        # order of the mention in its document, from 1
    "quote": pl.String,             # text[char_start:char_end] of the decoded file
    "char_start": pl.Int64,
    "char_end": pl.Int64,
    "measure": pl.String,           # one of MEASURES
    "value": pl.Float64,            # normalised: 1616.27亿元 -> 161627000000
    "unit": pl.String,              # CNY, USD, count, percent, pp, mu, kW, ...
    "value_raw": pl.String,         # the number as written: 1616.27, 两千, 5.4
    "unit_raw": pl.String,          # the unit as written: 亿元, 万余名, %
    "approx": pl.String,            # 近|超|约|余|多|... when the figure is approximate, else empty
    "period_year": pl.Int64,
    "period_end_month": pl.Int64,
    "period_kind": pl.String,       # one of PERIOD_KINDS
    "metric_code": pl.String,
    "metric_name": pl.String,
    "metric_raw": pl.String,        # the words that named the metric in the text
    "region_code": pl.String,       # empty when the name could not be resolved
    "region_name": pl.String,       # full official Chinese name
    "region_raw": pl.String,        # the name as written
    "industry_code": pl.String,
    "industry_name": pl.String,
    "industry_raw": pl.String,
    "breakdown": pl.String,         # key=value;key=value (资金来源, 投资主体, 园区, 城乡)
    "source_url": pl.String,
    "published": pl.Date,
    "rule": pl.String,              # which extraction rule produced the row
}

DOCUMENTS_SCHEMA: dict[str, pl.DataType] = {
    "doc_id": pl.String,
    "path": pl.String,
    "title": pl.String,
    "source_url": pl.String,
    "published": pl.Date,
    "reference_year": pl.Int64,
    "reference_year_source": pl.String,   # front_matter|text|option
    "encoding": pl.String,
    "is_traditional": pl.Boolean,
    "n_chars": pl.Int64,
    "sha256": pl.String,
    "n_mentions": pl.Int64,
}

REJECTED_SCHEMA: dict[str, pl.DataType] = {
    "path": pl.String,
    "line": pl.Int64,
    "reason": pl.String,
}
