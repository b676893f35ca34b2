"""raw_metrics seed lines formatted in Python, without importing polars: `tongbi extract` and
the extraction workers write every document's lines, and polars' import alone cost as much as
extracting a few hundred bulletins. `loaders/seeds.py` re-exports these; the column list is
RAW_METRICS_SCHEMA's (tests/test_seeds_format.py holds them equal, and the lines to the bytes
polars writes)."""
from __future__ import annotations

import datetime as dt
import re
from operator import attrgetter
from pathlib import Path
from typing import Iterable, Sequence

# loaders/schema.py RAW_METRICS_SCHEMA's columns, in order, and which of them are Float64
COLUMNS: tuple[str, ...] = (
    "doc_id", "mention_seq", "quote", "char_start", "char_end", "measure", "value", "unit", "value_raw",
    "unit_raw", "approx", "period_year", "period_end_month", "period_kind", "metric_code", "metric_name",
    "metric_raw", "region_code", "region_name", "region_raw", "industry_code", "industry_name",
    "industry_raw", "breakdown", "source_url", "published", "rule")
FLOAT_COLUMNS: frozenset[str] = frozenset({"value"})

_NEEDS_QUOTES = re.compile(r'[,"\r\n]')
_FLOAT_AT = tuple(i for i, c in enumerate(COLUMNS) if c in FLOAT_COLUMNS)
_ROW = attrgetter(*COLUMNS)
_SEQ = attrgetter("mention_seq")


def header_line() -> bytes:
    return (",".join(COLUMNS) + "\n").encode("utf-8")


def mentions_csv(mentions: Sequence[object]) -> bytes:
    """One document's raw_metrics rows as lines of seeds/raw_metrics.csv (no header). Every
    value is formatted on its own, so a document's lines are the same bytes whether written
    alone or within the whole file."""
    if not mentions:
        return b""
    lines = _format_rows(mentions)
    if lines is None:   # a value whose text only polars can be trusted to give (1e-05 vs 0.00001)
        from .seeds import CSV_OPTIONS, mentions_frame

        return mentions_frame(mentions).write_csv(None, include_header=False, **CSV_OPTIONS).encode("utf-8")  # type: ignore[arg-type]
    return lines.encode("utf-8")


def _cell(v: object, is_float: bool) -> str | None:
    """A value as polars writes it under seeds.CSV_OPTIONS; None when only polars can say."""
    if v is None:
        return ""
    t = type(v)
    if t is str:
        if not v:
            return '""'
        if _NEEDS_QUOTES.search(v):   # type: ignore[arg-type]
            return '"' + v.replace('"', '""') + '"'   # type: ignore[union-attr]
        return v   # type: ignore[return-value]
    if t is int and is_float:
        v, t = float(v), float   # type: ignore[arg-type]
    if t is float:
        text = repr(v)
        if "e" in text or "n" in text:   # 1e-05, inf, nan
            return None
        return text
    if t is int:
        return str(v)
    if t is dt.date:
        return v.isoformat()   # type: ignore[union-attr]
    if isinstance(v, str):   # a str subclass
        return _cell(str(v), is_float)
    return None   # bool, datetime, anything else


def _format_rows(mentions: Sequence[object]) -> str | None:
    """The lines polars writes under CSV_OPTIONS, formatted in Python: a frame per document
    cost more than the extraction itself. None when a float's shortest form has an exponent
    (polars and Python spell those differently).

    Formatted a column at a time: a column's values are nearly always of one type, so each is
    turned into cells by one comprehension or `map` for its type (and one quoting search over
    the whole column) instead of a function call per cell; the rows are then joined in C. A
    column of any other mix of types goes cell by cell through `_cell`."""
    rows = [_ROW(m) for m in sorted(mentions, key=_SEQ)]
    columns: list[list[str]] = []
    for i, values in enumerate(zip(*rows)):
        cells = _column_cells(values, i in _FLOAT_AT)
        if cells is None:
            return None
        columns.append(cells)
    lines = list(map(",".join, zip(*columns)))
    lines.append("")
    return "\n".join(lines)


_NONE = type(None)
_INT = frozenset({int})
_NUMBER = frozenset({int, float})
_OPTIONAL_INT, _OPTIONAL_DATE = frozenset({int, _NONE}), frozenset({dt.date, _NONE})


def _column_cells(values: tuple[object, ...], is_float: bool) -> list[str] | None:
    """One column's cells as `_cell` spells them, by the types the column holds."""
    if type(values[0]) is str:
        try:   # a column of strings (or str subclasses, whose text is the same) joins; else TypeError
            text = "".join(values)   # type: ignore[arg-type]
        except TypeError:
            text = None
        if text is not None:
            if _NEEDS_QUOTES.search(text) is None:
                return [v or '""' for v in values]   # type: ignore[misc]
            return [('"' + v.replace('"', '""') + '"') if _NEEDS_QUOTES.search(v) else (v or '""')  # type: ignore[union-attr,arg-type]
                    for v in values]
    types = frozenset(map(type, values))
    if is_float and types <= _NUMBER:
        cells = list(map(repr, map(float, values)))   # type: ignore[arg-type]
        text = "".join(cells)
        if "e" in text or "n" in text:   # 1e-05, inf, nan
            return None
        return cells
    if types == _INT:
        return list(map(str, values))
    if types <= _OPTIONAL_INT and not is_float:
        return ["" if v is None else str(v) for v in values]
    if types <= _OPTIONAL_DATE:
        return ["" if v is None else v.isoformat() for v in values]   # type: ignore[union-attr]
    cells = [_cell(v, is_float) for v in values]
    return None if None in cells else cells   # type: ignore[return-value]


def write_mentions_csv(parts: Iterable[tuple[str, bytes]], path: Path) -> None:
    """seeds/raw_metrics.csv from each document's `mentions_csv` lines: the bytes
    `write_csv(raw_metrics_frame(...))` gives (documents in doc_id order, doc_ids unique, each
    document's lines in mention_seq order), written atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as f:
        f.write(header_line())
        for _, lines in sorted(parts, key=lambda p: p[0]):
            f.write(lines)
    tmp.replace(path)
