"""The polars loader: extraction results → dbt seed CSVs (raw_metrics, documents, rejects).

Rows are sorted and written with fixed formatting so that the same input gives a
byte-identical file.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Mapping

import polars as pl

from .schema import DOCUMENTS_SCHEMA, RAW_METRICS_SCHEMA, REJECTED_SCHEMA


def frame(rows: Iterable[Mapping[str, object]], schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame([{k: r.get(k) for k in schema} for r in rows], schema=dict(schema), orient="row")


def raw_metrics_frame(rows: Iterable[Mapping[str, object]]) -> pl.DataFrame:
    return frame(rows, RAW_METRICS_SCHEMA).sort(["doc_id", "mention_seq"])


def documents_frame(rows: Iterable[Mapping[str, object]]) -> pl.DataFrame:
    return frame(rows, DOCUMENTS_SCHEMA).sort("doc_id")


def rejected_frame(rows: Iterable[Mapping[str, object]]) -> pl.DataFrame:
    return frame(rows, REJECTED_SCHEMA).sort(["path", "line"])


# how every seed CSV is formatted (pipeline and manifest write and hash the same bytes)
CSV_OPTIONS: dict[str, object] = {"float_precision": None, "null_value": "", "date_format": "%Y-%m-%d",
                                  "line_terminator": "\n"}


def csv_bytes(df: pl.DataFrame) -> bytes:
    return df.write_csv(None, **CSV_OPTIONS).encode("utf-8")  # type: ignore[arg-type]


def write_csv(df: pl.DataFrame, path: Path) -> None:
    """Write atomically: a reader (or dbt) never sees half a seed file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    df.write_csv(tmp, **CSV_OPTIONS)  # type: ignore[arg-type]
    tmp.replace(path)
