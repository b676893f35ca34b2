"""The polars loader: extraction results → dbt seed CSVs (raw_metrics, documents, rejects).

Rows are sorted and written with fixed formatting so that the same input gives a
byte-identical file.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
from itertools import repeat
from operator import attrgetter
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import polars as pl

from .schema import DOCUMENTS_SCHEMA, RAW_METRICS_SCHEMA, REJECTED_SCHEMA

# the seed files the loader writes (the other seeds/*.csv are vocabularies)
_COLUMNS = tuple(RAW_METRICS_SCHEMA)
_FLOAT_COLUMNS = tuple(t == pl.Float64 for t in RAW_METRICS_SCHEMA.values())

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


def mentions_csv(mentions: Sequence[object]) -> bytes:
    """One document's raw_metrics rows as lines of seeds/raw_metrics.csv (no header). Every
    value is formatted on its own, so a document's lines are the same bytes whether written
    alone or within the whole file."""
    if not mentions:
        return b""
    lines = _format_rows(mentions)
    if lines is None:   # a value whose text only polars can be trusted to give (1e-05 vs 0.00001)
        return mentions_frame(mentions).write_csv(None, include_header=False, **CSV_OPTIONS).encode("utf-8")  # type: ignore[arg-type]
    return lines.encode("utf-8")


_NEEDS_QUOTES = re.compile(r'[,"\r\n]')


def _format_rows(mentions: Sequence[object]) -> str | None:
    """The lines polars writes under CSV_OPTIONS, formatted in Python: a frame per document
    cost more than the extraction itself. None when a float's shortest form has an exponent
    (polars and Python spell those differently); tests/test_seeds_format.py holds the two to
    the same bytes."""
    out: list[str] = []
    for m in sorted(mentions, key=attrgetter("mention_seq")):
        cells: list[str] = []
        for v, is_float in zip(map(getattr, repeat(m, len(_COLUMNS)), _COLUMNS), _FLOAT_COLUMNS):
            if is_float and isinstance(v, int) and not isinstance(v, bool):
                v = float(v)
            if v is None:
                cells.append("")
            elif isinstance(v, str):
                if not v:
                    cells.append('""')
                elif _NEEDS_QUOTES.search(v):
                    cells.append('"' + v.replace('"', '""') + '"')
                else:
                    cells.append(v)
            elif isinstance(v, float):
                text = repr(v)
                if "e" in text or "n" in text:   # 1e-05, inf, nan
                    return None
                cells.append(text)
            elif isinstance(v, bool):
                return None
            elif isinstance(v, int):
                cells.append(str(v))
            elif isinstance(v, dt.date) and not isinstance(v, dt.datetime):
                cells.append(v.isoformat())
            else:
                return None
        out.append(",".join(cells))
    out.append("")
    return "\n".join(out)


def mentions_from_csv(data: bytes) -> list[dict[str, object]]:
    """Rows written by `mentions_csv`, read back (the extraction cache's lookup)."""
    if not data:
        return []
    df = pl.read_csv(data, has_header=False, new_columns=list(RAW_METRICS_SCHEMA),
                     schema=dict(RAW_METRICS_SCHEMA))
    return df.to_dicts()


def write_mentions_csv(parts: Iterable[tuple[str, bytes]], path: Path) -> None:
    """seeds/raw_metrics.csv from each document's `mentions_csv` lines: the bytes
    `write_csv(raw_metrics_frame(...))` gives (documents in doc_id order, doc_ids unique, each
    document's lines in mention_seq order), written atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as f:
        f.write(header_csv(RAW_METRICS_SCHEMA))
        for _, lines in sorted(parts, key=lambda p: p[0]):
            f.write(lines)
    tmp.replace(path)


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
        self._fh = self.spill.open("wb")
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
