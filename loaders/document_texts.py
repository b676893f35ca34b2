"""The `document_texts` seed: each document's decoded text, the text its mentions' offsets
refer to (for a web page or a PDF file, the article text taken out of it).

Every raw_metrics row satisfies `quote == text[char_start:char_end]` (in SQL
`substr(text, char_start + 1, char_end - char_start)`) against its document's row here, so a
quote can be checked, and shown in its context, from the warehouse alone.
"""
from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from .documents import MAX_BYTES, TEXT_SUFFIXES, DocumentError, decode_bytes

DOCUMENT_TEXTS_SCHEMA: dict[str, pl.DataType] = {
    "doc_id": pl.String,   # file name without extension, as in documents and raw_metrics
    "text": pl.String,     # Document.text: what char_start/char_end index
}
SEED_NAME = "document_texts.csv"


# polars (CSV_OPTIONS, quote_style "necessary") quotes a string holding the separator, the quote
# character or a line break, and writes an empty string as "" (an empty cell is null)
_NEEDS_QUOTES = re.compile(r'[,"\r\n]')


def _cell(value: str) -> str:
    if not value:
        return '""'
    if _NEEDS_QUOTES.search(value):
        return '"' + value.replace('"', '""') + '"'
    return value


def text_row(doc_id: str, text: str) -> bytes:
    """One document's line of document_texts.csv: the bytes `document_texts.text_csv` writes
    through a polars frame, formatted in Python (a frame per document was 60 % of a run's
    extraction stage when every document came from the cache; tests/test_incremental_build.py
    holds the two to the same bytes). The extraction cache keeps it with the document's rows."""
    return (_cell(doc_id) + "," + _cell(text) + "\n").encode("utf-8")


def text_csv(doc_id: str, text: str) -> bytes:
    """One document's row of seeds/document_texts.csv (no header), formatted like every seed."""
    from .seeds import CSV_OPTIONS

    df = pl.DataFrame({"doc_id": [doc_id], "text": [text]}, schema=dict(DOCUMENT_TEXTS_SCHEMA))
    return df.write_csv(None, include_header=False, **CSV_OPTIONS).encode("utf-8")  # type: ignore[arg-type]


def header_csv() -> bytes:
    from .seeds import header_csv as header

    return header(DOCUMENT_TEXTS_SCHEMA)


def read_text(path: Path) -> str:
    """The decoded text of a document the extraction cache already holds (its rows, not its
    text): the same bytes give the same text as `load_document`, without extracting again."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentError(path, f"cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise DocumentError(path, f"file too large ({len(data)} bytes > {MAX_BYTES})")
    if path.suffix.lower() in TEXT_SUFFIXES or path.suffix.lower() not in (".html", ".htm", ".pdf"):
        return decode_bytes(data, path)[0]
    from .formats import read_source

    return read_source(path, data).text
