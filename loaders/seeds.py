"""The polars loader: extraction results → dbt seed CSVs (raw_metrics, documents, rejects).

Rows are sorted and written with fixed formatting so that the same input gives a
byte-identical file.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import polars as pl

from .schema import DOCUMENTS_SCHEMA, RAW_METRICS_SCHEMA, REJECTED_SCHEMA
# formatted without polars (re-exported: callers import them from here)
from .seedlines import mentions_csv, write_mentions_csv  # noqa: F401

# the seed files the loader writes (the other seeds/*.csv are vocabularies)
LOADER_SEEDS = ("raw_metrics.csv", "documents.csv", "rejected_documents.csv", "document_texts.csv")


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


# ------------------------------------------------------------------- streaming (tongbi run)


def mentions_frame(mentions: Sequence[object]) -> pl.DataFrame:
    """raw_metrics rows of Mention objects, built column by column (much faster than from
    row dicts), sorted like `raw_metrics_frame`."""
    columns = {name: [getattr(m, name) for m in mentions] for name in RAW_METRICS_SCHEMA}
    return pl.DataFrame(columns, schema=dict(RAW_METRICS_SCHEMA)).sort(["doc_id", "mention_seq"])


def mentions_from_csv(data: bytes) -> list[dict[str, object]]:
    """Rows written by `mentions_csv`, read back (the extraction cache's lookup)."""
    if not data:
        return []
    df = pl.read_csv(data, has_header=False, new_columns=list(RAW_METRICS_SCHEMA),
                     schema=dict(RAW_METRICS_SCHEMA))
    return df.to_dicts()


def header_csv(schema: Mapping[str, pl.DataType]) -> bytes:
    return pl.DataFrame(schema=dict(schema)).write_csv(None, **CSV_OPTIONS).encode("utf-8")  # type: ignore[arg-type]


class SortedCsvWriter:
    """seeds/raw_metrics.csv written one document at a time with bounded memory.

    `add(doc_id, lines)` appends a document's lines to `<path>.unsorted` and remembers where
    they are; `finish()` gives `path` with the documents in doc_id order (the order
    `raw_metrics_frame` sorts them in: doc_ids are unique, each document's lines are sorted by
    mention_seq), and returns the sha256 of its bytes. When the documents came in doc_id order
    (files named by their ids) the spill file is the result and is only renamed; otherwise the
    byte ranges are copied in order. The same input gives the same bytes as writing the whole
    frame at once (seeds.write_csv).
    """

    def __init__(self, path: Path, header: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.spill = path.with_name(path.name + ".unsorted")
        self.header = header
        self._fh = self.spill.open("wb", buffering=1 << 20)   # a document's lines are a few kB
        self._fh.write(header)
        self._offset = len(header)
        self._index: list[tuple[str, int, int]] = []
        self._hash = hashlib.sha256(header)
        self._in_order = True
        self._last: str | None = None
        self.rows = 0

    def add(self, doc_id: str, lines: bytes, n_rows: int = 0) -> None:
        if self._last is not None and doc_id <= self._last:
            self._in_order = False
        self._last = doc_id
        self.rows += n_rows
        if not lines:
            return
        self._fh.write(lines)
        self._index.append((doc_id, self._offset, len(lines)))
        self._offset += len(lines)
        if self._in_order:
            self._hash.update(lines)

    def finish(self) -> str:
        self._fh.close()
        if self._in_order:
            self.spill.replace(self.path)
            return self._hash.hexdigest()
        h = hashlib.sha256(self.header)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with self.spill.open("rb") as src, tmp.open("wb") as dst:
            dst.write(self.header)
            for _, offset, length in sorted(self._index):
                src.seek(offset)
                data = src.read(length)
                dst.write(data)
                h.update(data)
        tmp.replace(self.path)
        self.spill.unlink()
        return h.hexdigest()

    def abort(self) -> None:
        self._fh.close()
        for p in (self.spill, self.path.with_name(self.path.name + ".tmp")):
            p.unlink(missing_ok=True)
