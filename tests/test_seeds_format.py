"""Each document's seed lines are formatted in Python (seeds.mentions_csv) for speed; they must
be the bytes polars writes for the same rows, which the warehouse and the cache were built on."""
from __future__ import annotations

import dataclasses
import datetime as dt
import random
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


def _cell_by_cell(mentions: list[Mention]) -> str | None:
    """The row formatter seedlines had before it went a column at a time: every cell through
    `_cell`, one line per mention. The reference the column-wise one must equal."""
    from loaders.seedlines import _FLOAT_AT, _ROW, _SEQ, _cell

    out: list[str] = []
    for m in sorted(mentions, key=_SEQ):
        cells = [_cell(v, i in _FLOAT_AT) for i, v in enumerate(_ROW(m))]
        if None in cells:
            return None
        out.append(",".join(cells))   # type: ignore[arg-type]
    out.append("")
    return "\n".join(out)


class _Text(str):
    """A str subclass: written as its text."""


def _awkward(rng: random.Random, kind: str) -> object:
    """A value a column could hold, biased to what quoting and number spelling get wrong."""
    pick = rng.random()
    if kind == "str" or pick < 0.1:
        parts = ["", ",", '"', "\n", "\r", " ", "中文", "a", '""', "，", "1,5"]
        text = "".join(rng.choice(parts) for _ in range(rng.randrange(4)))
        return _Text(text) if rng.random() < 0.05 else text
    if pick < 0.2:
        return None
    if kind == "int":
        return rng.choice([0, 1, -3, 2 ** 70, True, rng.randrange(10 ** 6)])
    if kind == "float":
        return rng.choice([0.1 + 0.2, 5, 0, -0.0, 1e16, 1e15, 8094000000.0, 71.75, 1e-05, float("nan"),
                           float("inf"), rng.random() * 10 ** rng.randrange(12), rng.randrange(10 ** 9)])
    return rng.choice([dt.date(2024, 2, 29), dt.date(1999, 12, 31), dt.datetime(2024, 1, 1, 5)])


def test_column_wise_lines_are_the_cell_by_cell_ones() -> None:
    """Random rows of awkward values (quotes, commas, line breaks, empty strings and None,
    floats and whole numbers in the float column, dates, a bool, a str subclass) give the same
    lines, or the same refusal (None: polars writes those), as the per-cell formatter."""
    from loaders.seedlines import _format_rows

    base = extract_corpus([BULLETINS], load_vocabulary()).mentions[0]
    kinds = {f.name: ("float" if f.name == "value" else "int" if f.type in ("int", "int | None")
                      else "date" if "date" in str(f.type) else "str") for f in dataclasses.fields(Mention)}
    rng = random.Random(17)
    refused = 0
    for trial in range(400):
        # few columns awkward per document, as in real rows, so that most documents have a line
        awkward = rng.sample(sorted(kinds), rng.randrange(1, 4))
        if rng.random() < 0.5:   # the one float column, whose spelling is the hardest to match
            awkward.append("value")
        mentions = [dataclasses.replace(base, mention_seq=rng.randrange(100),
                                        **{c: _awkward(rng, kinds[c]) for c in awkward if c != "mention_seq"})
                    for _ in range(rng.randrange(1, 6))]
        expected = _cell_by_cell(mentions)
        refused += expected is None
        assert _format_rows(mentions) == expected, (trial, awkward)
    assert 20 < refused < 380   # both outcomes were tried
