"""Each document's seed lines are formatted in Python (seeds.mentions_csv) for speed; they must
be the bytes polars writes for the same rows, which the warehouse and the cache were built on."""
from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

from loaders.corpus import extract_corpus
from loaders.extraction import Mention
from loaders.seeds import CSV_OPTIONS, mentions_csv, mentions_frame
from loaders.vocabulary import load_vocabulary

BULLETINS = Path(__file__).resolve().parent.parent / "data" / "bulletins"


def _polars_lines(mentions: list[Mention]) -> bytes:
    return mentions_frame(mentions).write_csv(None, include_header=False, **CSV_OPTIONS).encode("utf-8")  # type: ignore[arg-type]


def test_bundled_bulletins_format_as_polars_does() -> None:
    result = extract_corpus([BULLETINS], load_vocabulary())
    by_doc: dict[str, list[Mention]] = {}
    for m in result.mentions:
        by_doc.setdefault(m.doc_id, []).append(m)
    assert len(by_doc) > 5
    for doc_id, mentions in by_doc.items():
        assert mentions_csv(mentions) == _polars_lines(mentions), doc_id


def test_awkward_values_format_as_polars_does() -> None:
    base = extract_corpus([BULLETINS], load_vocabulary()).mentions[0]
    variants = [
        {"quote": 'a,b "c"\nd\re', "approx": "", "metric_raw": None},
        {"value": 5, "period_year": None, "published": None},
        {"value": 0.1 + 0.2, "published": dt.date(2024, 2, 29)},
        {"value": 1e-05}, {"value": 1e16}, {"value": 1e22}, {"value": -0.0},
        {"value": float("nan")}, {"value": float("inf")},
    ]
    for i, change in enumerate(variants, 1):
        m = dataclasses.replace(base, mention_seq=i, **change)
        assert mentions_csv([m]) == _polars_lines([m]), change
    many = [dataclasses.replace(base, mention_seq=i) for i in (3, 1, 2)]
    assert mentions_csv(many) == _polars_lines(many)


def test_polars_free_columns_are_the_schema() -> None:
    """loaders/seedlines.py spells out RAW_METRICS_SCHEMA's columns to stay free of polars."""
    import polars as pl

    from loaders.schema import RAW_METRICS_SCHEMA
    from loaders.seedlines import COLUMNS, FLOAT_COLUMNS, header_line
    from loaders.seeds import header_csv

    assert COLUMNS == tuple(RAW_METRICS_SCHEMA)
    assert FLOAT_COLUMNS == {c for c, t in RAW_METRICS_SCHEMA.items() if t == pl.Float64}
    assert header_line() == header_csv(RAW_METRICS_SCHEMA)
